"""Request pages through the Flask test client: access, the form, CSRF, acting for a commune."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from booking.models import (
    Assignment,
    AssignmentUnit,
    Commune,
    EquipmentType,
    LoanRequest,
    Notification,
    Plan,
    PlanStatus,
    RequestStatus,
    Role,
    Site,
    Unit,
    User,
)
from tests.conftest import DEFAULT_START, AuthActions

# Paris wall-clock times of the form, two days from DEFAULT_START (a Monday 08:00).
START = "2030-06-03T08:00"
END = "2030-06-05T18:00"


@pytest.fixture
def world(
    commune: Commune,
    other_commune: Commune,
    make_site: Callable[..., Site],
    make_type: Callable[..., EquipmentType],
    make_unit: Callable[..., Unit],
    make_request: Callable[..., LoanRequest],
) -> dict[str, Any]:
    """Two communes with a town hall each, a two-unit podium type, a request each."""
    hall = make_site(commune=commune, name="Melun - Hôtel de ville")
    make_site(commune=commune, name="Stade")
    other_hall = make_site(commune=other_commune, name="Dammarie - Mairie")
    podium = make_type(code="podium", name="Podium", max_loan_days=5)
    make_unit(type=podium)
    make_unit(type=podium)
    own = make_request(commune=commune, site=hall, lines=[(podium, 1)])
    other = make_request(commune=other_commune, site=other_hall, lines=[(podium, 1)])
    return {
        "hall": hall,
        "other_hall": other_hall,
        "podium": podium,
        "own": own.id,
        "other": other.id,
    }


def _form(world: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "site_id": world["hall"].id,
        "title": "Fête de la musique",
        "start_dt": START,
        "end_dt": END,
        "flex_days_before": "1",
        "flex_days_after": "0",
        "lines-0-type_id": str(world["podium"].id),
        "lines-0-quantity": "2",
        "lines-1-type_id": "0",
        "lines-1-quantity": "",
        "priority": "2",
        "priority_reason": "",
        "notes": "",
        "submit": "Send the request",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


AVAILABILITY = f"/requests/availability?start={START}&end={END}"
PAGES = [
    ("GET", "/requests/", "any"),
    ("GET", "/requests/new", "any"),
    ("GET", AVAILABILITY, "any"),
    ("GET", "/requests/{own}", "own"),
    ("GET", "/requests/{own}/edit", "own"),
    ("GET", "/requests/{own}/cancel", "own"),
    ("GET", "/requests/{other}", "other"),
    ("GET", "/requests/{other}/edit", "other"),
    ("GET", "/requests/{other}/cancel", "other"),
    ("POST", "/requests/{other}/cancel", "other"),
    ("POST", "/requests/{other}/edit", "other"),
    ("GET", "/requests/999999", "missing"),
]
EXPECTED = {
    # role: {scope: status}
    "anonymous": {"any": 302, "own": 302, "other": 302, "missing": 302},
    "technician": {"any": 200, "own": 200, "other": 404, "missing": 404},
    "manager": {"any": 200, "own": 200, "other": 200, "missing": 404},
    "admin": {"any": 200, "own": 200, "other": 200, "missing": 404},
}


@pytest.mark.parametrize(("method", "path", "scope"), PAGES)
@pytest.mark.parametrize("role", list(EXPECTED))
def test_access_matrix(
    request: pytest.FixtureRequest,
    client: FlaskClient,
    auth: AuthActions,
    db_session: Session,
    world: dict[str, Any],
    method: str,
    path: str,
    scope: str,
    role: str,
) -> None:
    if role != "anonymous":
        auth.login(request.getfixturevalue(role))
    url = path.format(**world)
    if method == "GET":
        response = client.get(url)
    else:
        response = client.post(url, data=_form(world, site_id=world["other_hall"].id))
    expected = EXPECTED[role][scope]
    if method == "POST" and expected == 200:
        # Staff may act for any commune: the change goes through and redirects.
        expected = 302
    assert response.status_code == expected, response.data[:500]
    if expected == 302 and role == "anonymous":
        assert "/login" in response.headers["Location"]
    other = db_session.get(LoanRequest, world["other"])
    assert other is not None
    if role in ("anonymous", "technician"):
        assert other.status is RequestStatus.SUBMITTED
        assert other.version == 1


def test_technician_submits_and_sees_it_in_the_list(
    client: FlaskClient, auth: AuthActions, db_session: Session, technician: User, world: dict
) -> None:
    auth.login(technician)
    response = client.post("/requests/new", data=_form(world))
    assert response.status_code == 302
    loan = db_session.scalars(select(LoanRequest).order_by(LoanRequest.id.desc())).first()
    assert loan is not None and loan.commune_id == technician.commune_id
    assert response.headers["Location"].endswith(f"/requests/{loan.id}")
    # Paris summer time is UTC+2.
    assert loan.requested_start_dt == DEFAULT_START
    assert loan.earliest_start_dt == DEFAULT_START - timedelta(days=1)
    assert [(line.type_id, line.quantity) for line in loan.lines] == [(world["podium"].id, 2)]
    page = client.get("/requests/").get_data(as_text=True)
    assert f'id="request-{loan.id}"' in page and "Fête de la musique" in page
    assert f'id="request-{world["other"]}"' not in page


def test_bad_input_shows_every_message_and_keeps_the_values(
    client: FlaskClient, auth: AuthActions, db_session: Session, technician: User, world: dict
) -> None:
    auth.login(technician)
    count = len(db_session.scalars(select(LoanRequest)).all())
    response = client.post(
        "/requests/new",
        data=_form(
            world,
            end_dt="2030-06-12T18:00",
            flex_days_after="abc",
            **{"lines-0-quantity": "7", "lines-1-type_id": "0", "lines-1-quantity": "3"},
            priority="4",
            title="Marché de Noël",
        ),
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    for message in (
        "at most 5 days",  # longer than the type allows
        "whole fleet has 2",  # more than the stock
        "Choose the equipment.",  # a quantity without a type
        "Say why this request is of high or imperative priority.",
        "Not a valid integer value.",  # flexibility
    ):
        assert message in page, message
    assert 'id="form-errors"' in page
    assert 'value="Marché de Noël"' in page
    assert 'value="2030-06-12T18:00"' in page
    assert 'value="abc"' in page
    assert 'name="lines-0-quantity" type="number" value="7"' in page
    assert f'<option selected value="{world["podium"].id}">' in page
    assert len(db_session.scalars(select(LoanRequest)).all()) == count


def test_rules_only_the_service_knows_are_shown_too(
    client: FlaskClient, auth: AuthActions, technician: User, world: dict
) -> None:
    auth.login(technician)
    response = client.post(
        "/requests/new",
        data=_form(
            world,
            start_dt="2020-01-01T08:00",
            end_dt="2020-01-02T08:00",
            site_id=world["other_hall"].id,
        ),
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "The loan cannot start in the past." in page
    assert "not an active site of this commune" in page


def test_no_equipment_and_reversed_dates(
    client: FlaskClient, auth: AuthActions, technician: User, world: dict
) -> None:
    auth.login(technician)
    response = client.post(
        "/requests/new",
        data=_form(
            world, end_dt="2030-06-02T08:00", **{"lines-0-type_id": "0", "lines-0-quantity": ""}
        ),
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "The loan must end after it starts." in page
    assert "Ask for at least one piece of equipment." in page


def test_add_row_button_adds_a_row_and_keeps_values(
    client: FlaskClient, auth: AuthActions, technician: User, world: dict
) -> None:
    auth.login(technician)
    data = _form(world, add_row="Add a row")
    del data["submit"]
    response = client.post("/requests/new", data=data)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'name="lines-2-type_id"' in page
    assert 'value="Fête de la musique"' in page


def test_check_availability_without_javascript(
    client: FlaskClient, auth: AuthActions, technician: User, world: dict
) -> None:
    auth.login(technician)
    data = _form(world, check="Check availability")
    del data["submit"]
    page = client.post("/requests/new", data=data).get_data(as_text=True)
    assert (
        f'<tr data-type="{world["podium"].id}"><td>Podium</td><td class="free">2 / 2</td>' in page
    )


def test_availability_json(
    client: FlaskClient, auth: AuthActions, technician: User, world: dict
) -> None:
    auth.login(technician)
    body = client.get(AVAILABILITY).get_json()
    (podium,) = [t for t in body["types"] if t["type_id"] == world["podium"].id]
    # Our own request is ours; the other commune's pending one is only a count.
    assert podium["free"] == 2 and podium["stock"] == 2
    assert podium["requested_by_others"] == 1 and podium["requests_by_others"] == 1
    assert podium["requested_by_commune"] == 1
    assert "commune" not in str(body).replace("requested_by_commune", "")
    excluded = client.get(f"{AVAILABILITY}&exclude={world['own']}").get_json()
    (podium,) = [t for t in excluded["types"] if t["type_id"] == world["podium"].id]
    assert podium["requested_by_commune"] == 0


@pytest.mark.parametrize(
    "query", ["", "?start=2030-06-03T08:00", "?start=x&end=y", f"?start={END}&end={START}"]
)
def test_availability_json_refuses_bad_dates(
    client: FlaskClient, auth: AuthActions, technician: User, query: str
) -> None:
    auth.login(technician)
    response = client.get(f"/requests/availability{query}")
    assert response.status_code == 400
    assert response.get_json()["errors"]


def test_edit_prefills_and_saves(
    client: FlaskClient, auth: AuthActions, db_session: Session, technician: User, world: dict
) -> None:
    auth.login(technician)
    page = client.get(f"/requests/{world['own']}/edit").get_data(as_text=True)
    assert 'name="version" type="hidden" value="1"' in page
    assert 'value="2030-06-03T08:00"' in page
    response = client.post(
        f"/requests/{world['own']}/edit",
        data=_form(world, version="1", priority="3", priority_reason="Sécurité"),
    )
    assert response.status_code == 302
    loan = db_session.get(LoanRequest, world["own"])
    assert loan is not None and loan.priority == 3 and loan.lines[0].quantity == 2
    assert loan.sequence == 1


def test_edit_with_a_stale_version_is_refused(
    client: FlaskClient, auth: AuthActions, db_session: Session, technician: User, world: dict
) -> None:
    auth.login(technician)
    response = client.post(f"/requests/{world['own']}/edit", data=_form(world, version="0"))
    assert response.status_code == 302
    loan = db_session.get(LoanRequest, world["own"])
    assert loan is not None and loan.lines[0].quantity == 1
    assert "changed this request meanwhile" in client.get(response.headers["Location"]).get_data(
        as_text=True
    )


def test_approved_requests_cannot_be_edited(
    client: FlaskClient, auth: AuthActions, db_session: Session, technician: User, world: dict
) -> None:
    loan = db_session.get(LoanRequest, world["own"])
    assert loan is not None
    loan.status = RequestStatus.APPROVED
    db_session.commit()
    auth.login(technician)
    assert client.get(f"/requests/{loan.id}/edit").status_code == 302
    assert client.post(f"/requests/{loan.id}/edit", data=_form(world)).status_code == 302
    assert loan.lines[0].quantity == 1


def test_cancel_with_confirmation(
    client: FlaskClient,
    auth: AuthActions,
    db_session: Session,
    technician: User,
    manager: User,
    world: dict,
) -> None:
    auth.login(technician)
    confirm = client.get(f"/requests/{world['own']}/cancel").get_data(as_text=True)
    assert "Cancel the request for Podium" in confirm
    response = client.post(f"/requests/{world['own']}/cancel", data={"reason": "Pluie"})
    assert response.status_code == 302
    loan = db_session.get(LoanRequest, world["own"])
    assert loan is not None and loan.status is RequestStatus.CANCELLED
    note = db_session.scalars(select(Notification).where(Notification.user_id == manager.id)).one()
    assert "Pluie" in note.text
    # A second cancel is refused without an error page.
    again = client.post(f"/requests/{world['own']}/cancel", data={"reason": "again"})
    assert again.status_code == 302


def _token(client: FlaskClient, path: str) -> str:
    page = client.get(path).get_data(as_text=True)
    return page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]


def test_csrf_is_enforced(
    csrf_enabled: None,
    client: FlaskClient,
    db_session: Session,
    technician: User,
    world: dict,
) -> None:
    # Signing in needs a token too when CSRF is on: take it from the login page.
    client.post(
        "/login",
        data={
            "email": technician.email,
            "password": "correct horse battery",
            "csrf_token": _token(client, "/login"),
        },
    )
    count = len(db_session.scalars(select(LoanRequest)).all())
    response = client.post("/requests/new", data=_form(world))
    assert response.status_code == 400
    assert len(db_session.scalars(select(LoanRequest)).all()) == count
    response = client.post(f"/requests/{world['own']}/cancel", data={"reason": "x"})
    assert response.status_code == 400
    loan = db_session.get(LoanRequest, world["own"])
    assert loan is not None and loan.status is RequestStatus.SUBMITTED
    # With the token of the page, the same posts go through.
    response = client.post(
        "/requests/new", data=_form(world, csrf_token=_token(client, "/requests/new"))
    )
    assert response.status_code == 302
    assert len(db_session.scalars(select(LoanRequest)).all()) == count + 1
    cancel_path = f"/requests/{world['own']}/cancel"
    response = client.post(cancel_path, data={"csrf_token": _token(client, cancel_path)})
    assert response.status_code == 302
    assert loan.status is RequestStatus.CANCELLED


def test_manager_acts_for_a_commune(
    client: FlaskClient,
    auth: AuthActions,
    db_session: Session,
    manager: User,
    other_commune: Commune,
    world: dict,
) -> None:
    auth.login(manager)
    page = client.get("/requests/new").get_data(as_text=True)
    assert 'name="commune_id"' in page and "Dammarie-lès-Lys" in page
    # Sites are grouped by commune, the town hall first in each.
    group = page.split('<optgroup label="Dammarie-lès-Lys">')[1].split("</optgroup>")[0]
    assert f'data-commune="{other_commune.id}"' in group and "Dammarie - Mairie" in group
    missing = client.post("/requests/new", data=_form(world, site_id=world["other_hall"].id))
    assert missing.status_code == 400
    assert "Choose the commune" in missing.get_data(as_text=True)
    response = client.post(
        "/requests/new",
        data=_form(world, commune_id=other_commune.id, site_id=world["other_hall"].id),
    )
    assert response.status_code == 302
    loan = db_session.scalars(select(LoanRequest).order_by(LoanRequest.id.desc())).first()
    assert loan is not None
    assert (loan.commune_id, loan.submitted_by_id) == (other_commune.id, manager.id)
    listing = client.get("/requests/").get_data(as_text=True)
    assert f'id="request-{world["own"]}"' in listing and f'id="request-{loan.id}"' in listing
    only = client.get(f"/requests/?commune_id={other_commune.id}").get_data(as_text=True)
    assert f'id="request-{world["own"]}"' not in only and f'id="request-{loan.id}"' in only


def test_technician_cannot_post_for_another_commune(
    client: FlaskClient, auth: AuthActions, technician: User, other_commune: Commune, world: dict
) -> None:
    auth.login(technician)
    response = client.post(
        "/requests/new",
        data=_form(world, commune_id=other_commune.id, site_id=world["other_hall"].id),
    )
    assert response.status_code == 400
    assert "not an active site of this commune" in response.get_data(as_text=True)


def test_list_filters(
    client: FlaskClient,
    auth: AuthActions,
    technician: User,
    commune: Commune,
    make_request: Callable[..., LoanRequest],
    world: dict,
) -> None:
    later = make_request(
        commune=commune,
        site=world["hall"],
        start=DEFAULT_START + timedelta(days=40),
        status=RequestStatus.DECLINED,
    )
    auth.login(technician)
    page = client.get("/requests/?status=declined").get_data(as_text=True)
    assert f'id="request-{later.id}"' in page and f'id="request-{world["own"]}"' not in page
    page = client.get("/requests/?date_from=2030-07-01").get_data(as_text=True)
    assert f'id="request-{later.id}"' in page and f'id="request-{world["own"]}"' not in page
    page = client.get("/requests/?date_to=2030-06-04&status=nonsense&date_from=garbage")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert f'id="request-{world["own"]}"' in text and f'id="request-{later.id}"' not in text


def test_detail_shows_the_approved_assignment_and_hides_proposed_from_technicians(
    client: FlaskClient,
    auth: AuthActions,
    db_session: Session,
    technician: User,
    manager: User,
    world: dict,
) -> None:
    loan = db_session.get(LoanRequest, world["own"])
    assert loan is not None
    proposed = Plan(strategy="cpsat", problem_json={}, problem_sha="p", status=PlanStatus.PROPOSED)
    proposed.assignments.append(
        Assignment(request=loan, is_served=False, reason="podium: both units busy")
    )
    db_session.add(proposed)
    db_session.commit()
    auth.login(technician)
    page = client.get(f"/requests/{loan.id}").get_data(as_text=True)
    assert "No plan has dealt with this request yet." in page
    assert "both units busy" not in page
    auth.logout()
    auth.login(manager)
    page = client.get(f"/requests/{loan.id}").get_data(as_text=True)
    assert "both units busy" in page and "not approved yet" in page
    auth.logout()

    unit = world["podium"].units[0]
    approved = Plan(strategy="cpsat", problem_json={}, problem_sha="a", status=PlanStatus.APPROVED)
    served = Assignment(
        request=loan, is_served=True, start_dt=loan.requested_start_dt, end_dt=loan.requested_end_dt
    )
    served.units.append(AssignmentUnit(line=loan.lines[0], unit=unit))
    approved.assignments.append(served)
    loan.status = RequestStatus.APPROVED
    db_session.add(approved)
    db_session.commit()
    auth.login(technician)
    page = client.get(f"/requests/{loan.id}").get_data(as_text=True)
    assert unit.code in page and unit.home_depot.name in page
    assert "both units busy" not in page


def test_nav_link_appears_for_technicians(
    client: FlaskClient, auth: AuthActions, technician: User, make_user: Callable[..., User]
) -> None:
    auth.login(technician)
    assert 'href="/requests/"' in client.get("/").get_data(as_text=True)
    auth.logout()
    auth.login(make_user(role=Role.ADMIN))
    assert 'href="/requests/"' not in client.get("/admin/users").get_data(as_text=True)


@pytest.mark.parametrize(
    "overrides",
    [
        {"lines-0-type_id": "abc", "lines-0-quantity": "-4"},
        {"lines-0-type_id": "99999999999999999999", "lines-0-quantity": "1"},
        {"site_id": "99999999999999999999", "priority": "abc", "flex_days_before": "1e9"},
        {"site_id": "", "priority": "", "start_dt": "2030-02-30T08:00", "end_dt": "tomorrow"},
        {"flex_days_before": "30", "flex_days_after": "99999999999", "lines-7-type_id": "1"},
        {"commune_id": "abc", "version": "xyz", "lines-0-quantity": "1" * 30},
    ],
)
def test_nonsense_never_breaks_the_form(
    client: FlaskClient, auth: AuthActions, technician: User, world: dict, overrides: dict
) -> None:
    auth.login(technician)
    response = client.post("/requests/new", data=_form(world, **overrides))
    assert response.status_code == 400
    assert 'id="form-errors"' in response.get_data(as_text=True)


def test_ids_beyond_the_database_range_are_simply_missing(
    client: FlaskClient, auth: AuthActions, technician: User, world: dict
) -> None:
    auth.login(technician)
    huge = "99999999999999999999"
    assert client.get(f"/requests/{huge}").status_code == 404
    assert client.post(f"/requests/{huge}/cancel").status_code == 404
    assert client.get(f"{AVAILABILITY}&exclude={huge}").status_code == 200


def test_long_lists_come_a_page_at_a_time_and_keep_the_filters(
    client: FlaskClient,
    auth: AuthActions,
    manager: User,
    commune: Commune,
    make_request: Callable[..., LoanRequest],
    world: dict,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("booking.services.request_lists.REQUESTS_PER_PAGE", 2)
    declined = [
        make_request(
            commune=commune,
            site=world["hall"],
            start=DEFAULT_START + timedelta(days=10 + i),
            status=RequestStatus.DECLINED,
        ).id
        for i in range(5)
    ]
    auth.login(manager)

    def shown(url: str) -> list[int]:
        text = client.get(url).get_data(as_text=True)
        return [i for i in declined if f'id="request-{i}"' in text]

    first = client.get("/requests/?status=declined").get_data(as_text=True)
    assert "1–2 of 5" in first
    assert "/requests/?status=declined&amp;page=2" in first
    assert shown("/requests/?status=declined") == declined[:2]
    assert shown("/requests/?status=declined&page=3") == declined[4:]
    # Out-of-range or nonsense page numbers fall back to a page that exists.
    assert shown("/requests/?status=declined&page=99") == declined[4:]
    assert shown("/requests/?status=declined&page=-4") == declined[:2]
    assert shown("/requests/?status=declined&page=abc") == declined[:2]
