"""Check-out, check-in and the overdue list through the Flask test client."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, time, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from booking.db import utcnow
from booking.models import (
    Assignment,
    AuditEvent,
    Commune,
    Condition,
    EquipmentType,
    Handover,
    HandoverKind,
    LoanRequest,
    Pool,
    RequestStatus,
    Site,
    SiteKind,
    Unavailability,
    Unit,
    UnitStatus,
    User,
)
from booking.timeutil import to_local
from tests.conftest import PARIS, AuthActions
from tests.services.test_handovers import approve


def local(moment: Any) -> str:
    """A datetime as the form's Paris wall-clock value."""
    return to_local(moment).strftime("%Y-%m-%dT%H:%M")


@pytest.fixture
def world(
    db_session: Session,
    commune: Commune,
    make_site: Callable[..., Site],
    make_type: Callable[..., EquipmentType],
    make_unit: Callable[..., Unit],
    make_pool: Callable[..., Pool],
    make_request: Callable[..., LoanRequest],
) -> SimpleNamespace:
    """A Melun loan of one podium and 20 chairs, approved, from yesterday to tomorrow."""
    depot = make_site(kind=SiteKind.DEPOT, name="Dépôt")
    hall = make_site(commune=commune, name="Melun - Hôtel de ville")
    podium = make_type(code="podium", name="Podium")
    chair = make_type(code="chair", name="Chaise", is_pooled=True)
    unit = make_unit(type=podium, home_depot=depot, code="POD-1", name="Podium 1")
    pool = make_pool(type=chair, depot=depot, quantity=50)
    now = utcnow()
    loan = make_request(
        commune=commune,
        site=hall,
        lines=[(podium, 1), (chair, 20)],
        start=now - timedelta(days=1),
        title="Fête",
    )
    approve(
        db_session,
        loan,
        units=[unit],
        draws=[(pool, 20)],
        start=now - timedelta(days=1),
        end=now + timedelta(days=1),
    )
    return SimpleNamespace(loan=loan, unit=unit, now=now)


def token(page: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert match, "no CSRF token on the page"
    return match[1]


def check_out_data(world: SimpleNamespace, **overrides: Any) -> dict[str, Any]:
    data = {
        "taken_by": "Jean Dupont",
        "at": local(world.now - timedelta(hours=1)),
        "items-0-key": f"unit-{world.unit.id}",
        "items-0-condition": "good",
        "items-0-damage": "",
        "items-1-key": f"line-{world.loan.lines[1].id}",
        "items-1-condition": "good",
        "items-1-damage": "",
        "notes": "",
    }
    data.update(overrides)
    return data


def check_in_data(world: SimpleNamespace, **overrides: Any) -> dict[str, Any]:
    data = {
        "at": local(world.now),
        "items-0-key": f"unit-{world.unit.id}",
        "items-0-condition": "good",
        "items-0-damage": "",
        "items-0-missing_quantity": "0",
        "items-1-key": f"line-{world.loan.lines[1].id}",
        "items-1-condition": "good",
        "items-1-damage": "",
        "items-1-missing_quantity": "0",
        "maintenance_until": "",
        "notes": "",
    }
    data.update(overrides)
    return data


def handed_over(client: FlaskClient, world: SimpleNamespace) -> None:
    response = client.post(f"/handovers/{world.loan.id}/check-out", data=check_out_data(world))
    assert response.status_code == 302, response.text


# --- check-out ------------------------------------------------------------------------------


def test_request_page_leads_to_the_check_out(
    client: FlaskClient, auth: AuthActions, technician: User, world: SimpleNamespace
) -> None:
    auth.login(technician)
    page = client.get(f"/requests/{world.loan.id}").text
    assert f'href="/handovers/{world.loan.id}/check-out"' in page
    assert "The equipment has not been handed over yet." in page
    form = client.get(f"/handovers/{world.loan.id}/check-out").text
    assert "Podium 1 (POD-1)" in form
    assert "20 × Chaise" in form
    assert 'name="taken_by"' in form
    assert '<option selected value="good">Good</option>' in form


def test_check_out_with_csrf(
    client: FlaskClient,
    auth: AuthActions,
    technician: User,
    world: SimpleNamespace,
    db_session: Session,
    csrf_enabled: None,
) -> None:
    login_page = client.get("/login").text
    client.post(
        "/login",
        data={
            "email": technician.email,
            "password": "correct horse battery",
            "csrf_token": token(login_page),
        },
    )
    url = f"/handovers/{world.loan.id}/check-out"
    refused = client.post(url, data=check_out_data(world))
    assert refused.status_code == 400
    assert "The form has expired" in refused.text
    assert world.loan.status is RequestStatus.APPROVED

    data = check_out_data(
        world, csrf_token=token(client.get(url).text), **{"items-0-condition": "worn"}
    )
    response = client.post(url, data=data)
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/requests/{world.loan.id}")
    db_session.refresh(world.loan)
    assert world.loan.status is RequestStatus.HANDED_OVER
    rows = db_session.scalars(select(Handover).order_by(Handover.id)).all()
    assert [(r.kind, r.unit_id, r.condition) for r in rows] == [
        (HandoverKind.CHECK_OUT, world.unit.id, Condition.WORN),
        (HandoverKind.CHECK_OUT, None, Condition.GOOD),
    ]
    page = client.get(f"/requests/{world.loan.id}").text
    assert f"Request {world.loan.id} is handed over." in page
    assert "Taken by Jean Dupont." in page
    assert "Podium 1 (POD-1) — Worn" in page
    assert f'href="/handovers/{world.loan.id}/check-in"' in page


@pytest.mark.parametrize("method", ["get", "post"])
def test_other_communes_technician_gets_404(
    client: FlaskClient,
    auth: AuthActions,
    other_technician: User,
    world: SimpleNamespace,
    method: str,
) -> None:
    auth.login(other_technician)
    for action in ("check-out", "check-in"):
        url = f"/handovers/{world.loan.id}/{action}"
        response = getattr(client, method)(url, data=check_out_data(world))
        assert response.status_code == 404
    assert world.loan.status is RequestStatus.APPROVED


def test_bad_input_keeps_what_was_typed(
    client: FlaskClient, auth: AuthActions, technician: User, world: SimpleNamespace
) -> None:
    auth.login(technician)
    data = check_out_data(
        world,
        taken_by="Marie Curie",
        notes="Sangles fournies",
        **{"items-0-condition": "damaged", "items-0-damage": ""},
    )
    response = client.post(f"/handovers/{world.loan.id}/check-out", data=data)
    assert response.status_code == 400
    assert "Describe the damage to Podium 1 (POD-1)." in response.text
    assert 'value="Marie Curie"' in response.text
    assert "Sangles fournies" in response.text
    assert world.loan.status is RequestStatus.APPROVED


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"taken_by": ""}, "Give the name of the person who takes the equipment."),
        ({"at": "tomorrow"}, "Not a valid datetime value."),
        ({"items-0-condition": "broken"}, "Not a valid choice."),
    ],
)
def test_check_out_form_errors(
    client: FlaskClient,
    auth: AuthActions,
    technician: User,
    world: SimpleNamespace,
    overrides: dict[str, str],
    message: str,
) -> None:
    auth.login(technician)
    response = client.post(
        f"/handovers/{world.loan.id}/check-out", data=check_out_data(world, **overrides)
    )
    assert response.status_code == 400
    assert message in response.text
    assert world.loan.status is RequestStatus.APPROVED


def test_check_out_in_the_future_is_refused(
    client: FlaskClient, auth: AuthActions, technician: User, world: SimpleNamespace
) -> None:
    auth.login(technician)
    data = check_out_data(world, at=local(world.now + timedelta(days=1)))
    response = client.post(f"/handovers/{world.loan.id}/check-out", data=data)
    assert response.status_code == 400
    assert "The hand-over cannot be recorded in the future." in response.text


def test_a_submitted_request_cannot_go_out(
    client: FlaskClient,
    auth: AuthActions,
    technician: User,
    world: SimpleNamespace,
    db_session: Session,
) -> None:
    world.loan.status = RequestStatus.SUBMITTED
    db_session.commit()
    auth.login(technician)
    response = client.get(f"/handovers/{world.loan.id}/check-out", follow_redirects=True)
    assert "Only an approved request can be handed over." in response.text
    assert f'href="/handovers/{world.loan.id}/' not in response.text


# --- check-in -------------------------------------------------------------------------------


def test_damaged_unit_goes_to_maintenance_from_the_check_in(
    client: FlaskClient,
    auth: AuthActions,
    manager: User,
    world: SimpleNamespace,
    db_session: Session,
) -> None:
    auth.login(manager)
    handed_over(client, world)
    until = to_local(world.now + timedelta(days=5)).date()
    data = check_in_data(
        world,
        maintenance_until=until.isoformat(),
        **{
            "items-0-condition": "damaged",
            "items-0-damage": "Plancher fendu",
            "items-0-maintenance": "y",
            "items-1-missing_quantity": "3",
        },
    )
    response = client.post(f"/handovers/{world.loan.id}/check-in", data=data, follow_redirects=True)
    assert response.status_code == 200
    assert f"Request {world.loan.id} is returned." in response.text
    assert "1 unit(s) sent to maintenance." in response.text
    assert "Plancher fendu" in response.text
    assert "3 missing" in response.text
    assert world.loan.status is RequestStatus.RETURNED
    # The dated window takes the unit out; its status stays, so it comes back by itself.
    assert world.unit.status is UnitStatus.AVAILABLE
    window = db_session.scalars(select(Unavailability)).one()
    assert to_local(window.end_dt) == datetime.combine(until, time(23, 59), tzinfo=PARIS)
    home = client.get("/").text
    assert "Podium 1 (<code>POD-1</code>)" in home


def test_a_unit_not_returned_is_taken_out_of_service(
    client: FlaskClient,
    auth: AuthActions,
    technician: User,
    world: SimpleNamespace,
    db_session: Session,
) -> None:
    auth.login(technician)
    handed_over(client, world)
    page = client.get(f"/handovers/{world.loan.id}/check-in").text
    assert 'name="items-0-missing_quantity" value="1"' in page and "Not returned" in page

    data = check_in_data(world, **{"items-0-missing_quantity": "1"})
    response = client.post(f"/handovers/{world.loan.id}/check-in", data=data, follow_redirects=True)

    assert "Not returned: POD-1." in response.text
    assert world.loan.status is RequestStatus.RETURNED
    assert world.unit.status is UnitStatus.MAINTENANCE
    event = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "unit.missing")).one()
    assert (event.object_id, event.after) == (
        world.unit.id,
        {"status": "maintenance", "request_id": world.loan.id},
    )
    returned = select(Handover).where(
        Handover.kind == HandoverKind.CHECK_IN, Handover.unit_id.is_not(None)
    )
    row = db_session.scalars(returned).one()
    assert row.missing_quantity == 1


def test_a_unit_not_returned_cannot_go_to_maintenance(
    client: FlaskClient, auth: AuthActions, technician: User, world: SimpleNamespace
) -> None:
    auth.login(technician)
    handed_over(client, world)
    until = to_local(world.now + timedelta(days=5)).date().isoformat()
    data = check_in_data(
        world,
        maintenance_until=until,
        **{"items-0-missing_quantity": "1", "items-0-maintenance": "y"},
    )
    response = client.post(f"/handovers/{world.loan.id}/check-in", data=data)
    assert response.status_code == 400
    assert "POD-1 did not come back: it cannot go to maintenance." in response.text
    assert world.loan.status is RequestStatus.HANDED_OVER
    assert world.unit.status is UnitStatus.AVAILABLE


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"items-0-maintenance": "y"}, "Say until when the units are in maintenance."),
        ({"items-1-missing_quantity": "21"}, "between 0 and 20"),
        ({"items-1-missing_quantity": "-2"}, "The missing quantity cannot be negative."),
        ({"items-1-condition": "damaged"}, "Describe the damage to 20 × Chaise."),
    ],
)
def test_check_in_errors_are_explained(
    client: FlaskClient,
    auth: AuthActions,
    technician: User,
    world: SimpleNamespace,
    overrides: dict[str, str],
    message: str,
) -> None:
    auth.login(technician)
    handed_over(client, world)
    data = check_in_data(world, notes="Rendu propre", **overrides)
    response = client.post(f"/handovers/{world.loan.id}/check-in", data=data)
    assert response.status_code == 400
    assert message in response.text
    assert "Rendu propre" in response.text
    assert world.loan.status is RequestStatus.HANDED_OVER
    assert world.unit.status is UnitStatus.AVAILABLE


def test_check_in_before_check_out_redirects(
    client: FlaskClient, auth: AuthActions, technician: User, world: SimpleNamespace
) -> None:
    auth.login(technician)
    response = client.post(
        f"/handovers/{world.loan.id}/check-in", data=check_in_data(world), follow_redirects=True
    )
    assert "Only equipment that was handed over can be checked in." in response.text
    assert world.loan.status is RequestStatus.APPROVED


# --- overdue --------------------------------------------------------------------------------


@pytest.fixture
def overdue(
    db_session: Session,
    world: SimpleNamespace,
    other_commune: Commune,
    make_request: Callable[..., LoanRequest],
) -> SimpleNamespace:
    """The Melun loan handed over and due yesterday; a Dammarie loan as well."""
    late = world.now - timedelta(days=1)
    db_session.scalars(
        select(Assignment).where(Assignment.request_id == world.loan.id)
    ).one().end_dt = late
    world.loan.status = RequestStatus.HANDED_OVER
    other = make_request(commune=other_commune, start=late - timedelta(days=2), title="Brocante")
    approve(db_session, other, start=late - timedelta(days=2), end=late)
    other.status = RequestStatus.HANDED_OVER
    db_session.commit()
    return SimpleNamespace(own=world.loan, other=other)


def test_overdue_list_per_role(
    client: FlaskClient,
    auth: AuthActions,
    technician: User,
    other_technician: User,
    manager: User,
    overdue: SimpleNamespace,
) -> None:
    auth.login(technician)
    page = client.get("/handovers/overdue").text
    assert "Overdue returns (1)" in page
    assert "Fête" in page and "Brocante" not in page
    assert f'href="/handovers/{overdue.own.id}/check-in"' in page
    auth.logout()
    auth.login(other_technician)
    page = client.get("/handovers/overdue").text
    assert "Overdue returns (1)" in page
    assert "Brocante" in page and "Fête" not in page
    auth.logout()
    auth.login(manager)
    page = client.get("/handovers/overdue").text
    assert "Overdue returns (2)" in page
    home = client.get("/").text
    assert "Overdue returns (2)" in home


def test_technician_home_shows_their_overdue(
    client: FlaskClient, auth: AuthActions, technician: User, overdue: SimpleNamespace
) -> None:
    auth.login(technician)
    home = client.get("/").text
    assert "Overdue returns (1)" in home
    assert f"n° {overdue.own.id} Fête" in home


def test_pages_need_an_account(client: FlaskClient, world: SimpleNamespace) -> None:
    response = client.get("/handovers/overdue")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


@pytest.mark.parametrize("role", ["technician", "manager"])
def test_home_page_lists_the_coming_hand_overs(
    client: FlaskClient,
    auth: AuthActions,
    world: SimpleNamespace,
    request: pytest.FixtureRequest,
    role: str,
) -> None:
    auth.login(request.getfixturevalue(role))
    home = client.get("/").text
    section = home.split('id="upcoming-handovers"')[1].split("</section>")[0]
    assert "Hand-overs of the next 7 days" in section
    # Not collected yet (it started yesterday), and due back tomorrow.
    assert section.count(f"n° {world.loan.id} Fête") == 2
    assert "goes out" in section and "comes back" in section


def test_the_menu_leads_technicians_and_managers_to_the_overdue_list(
    client, auth, technician, manager, admin
):
    for user in (technician, manager):
        auth.login(user)
        assert 'href="/handovers/overdue"' in client.get("/feeds/").text
        auth.logout()
    auth.login(admin)
    assert 'href="/handovers/overdue"' not in client.get("/feeds/").text
