"""Recurring requests through the Flask test client: the form, the series page, scopes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from booking.models import (
    Commune,
    EquipmentType,
    LoanRequest,
    RequestSeries,
    RequestStatus,
    Site,
    Unit,
    User,
)
from booking.services import series as series_service
from booking.services.series import Frequency, Recurrence
from booking.timeutil import to_local
from tests.conftest import DEFAULT_START, AuthActions


@pytest.fixture(autouse=True)
def long_horizon(app: Flask) -> None:
    """The tests' dates are years ahead (DEFAULT_START): let series run ten years."""
    app.config["PLANNING_HORIZON_DAYS"] = 3650


@pytest.fixture
def world(
    commune: Commune,
    other_commune: Commune,
    make_site: Callable[..., Site],
    make_type: Callable[..., EquipmentType],
    make_unit: Callable[..., Unit],
) -> dict[str, Any]:
    hall = make_site(commune=commune, name="Melun - Hôtel de ville")
    other_hall = make_site(commune=other_commune, name="Dammarie - Mairie")
    podium = make_type(code="podium", name="Podium", max_loan_days=5)
    make_unit(type=podium)
    return {"hall": hall, "other_hall": other_hall, "podium": podium}


def _form(world: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "site_id": world["hall"].id,
        "title": "Marché",
        "start_dt": "2030-06-03T08:00",
        "end_dt": "2030-06-03T18:00",
        "flex_days_before": "0",
        "flex_days_after": "0",
        "lines-0-type_id": str(world["podium"].id),
        "lines-0-quantity": "1",
        "priority": "2",
        "repeat": "weekly",
        "repeat_until": "2030-06-24",
        "submit": "Send the request",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def _series(db_session: Session, by: User, world: dict[str, Any]) -> RequestSeries:
    return series_service.submit_series(
        db_session,
        by=by,
        commune_id=world["hall"].commune_id,
        site_id=world["hall"].id,
        start_dt=DEFAULT_START,
        end_dt=DEFAULT_START.replace(hour=18),
        recurrence=Recurrence(Frequency.WEEKLY, until=date(2030, 6, 24)),
        lines=[(world["podium"].id, 1)],
        title="Marché",
        now=DEFAULT_START.replace(year=2030, month=5),
    )


def test_the_form_sends_a_weekly_series(
    client: FlaskClient,
    auth: AuthActions,
    technician: User,
    world: dict[str, Any],
    db_session: Session,
):
    auth.login(technician)
    response = client.post("/requests/new", data=_form(world))
    assert response.status_code == 302
    series = db_session.scalars(select(RequestSeries)).one()
    assert response.headers["Location"] == f"/requests/series/{series.id}"
    assert [to_local(r.requested_start_dt).day for r in series.requests] == [3, 10, 17, 24]
    page = client.get(f"/requests/series/{series.id}").get_data(as_text=True)
    assert "Series of 4 requests sent." in page
    assert page.count('<tr id="request-') == 4
    assert "Every week" in page


def test_listed_dates_with_an_exception(
    client: FlaskClient,
    auth: AuthActions,
    technician: User,
    world: dict[str, Any],
    db_session: Session,
):
    auth.login(technician)
    data = _form(
        world,
        repeat="dates",
        repeat_until="",
        repeat_dates="14/07/2030\n2030-08-15",
        repeat_except="03/06/2030",
    )
    assert client.post("/requests/new", data=data).status_code == 302
    series = db_session.scalars(select(RequestSeries)).one()
    assert [to_local(r.requested_start_dt).date() for r in series.requests] == [
        date(2030, 7, 14),
        date(2030, 8, 15),
    ]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"repeat_until": "2099-01-01"}, "A series may run at most 3650 days ahead, until"),
        ({"repeat_until": ""}, "Say until when the loan repeats."),
        (
            {"repeat_until": "2030-06-09", "repeat_except": "03/06/2030"},
            "These repeat settings give no date: check the end date and the exceptions.",
        ),
        (
            {"repeat": "dates", "repeat_dates": "bientôt"},
            "These are not dates (dd/mm/yyyy): bientôt",
        ),
        ({"repeat": "yearly"}, "Not a valid choice"),
    ],
)
def test_bad_series_are_explained_without_saving(
    client: FlaskClient,
    auth: AuthActions,
    technician: User,
    world: dict[str, Any],
    db_session: Session,
    overrides: dict[str, str],
    message: str,
):
    auth.login(technician)
    response = client.post("/requests/new", data=_form(world, **overrides))
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert db_session.scalar(select(LoanRequest.id)) is None


def test_the_horizon_is_a_setting(
    app: Flask,
    client: FlaskClient,
    auth: AuthActions,
    technician: User,
    world: dict[str, Any],
):
    app.config["PLANNING_HORIZON_DAYS"] = 30
    auth.login(technician)
    response = client.post("/requests/new", data=_form(world, start_dt="2030-06-03T08:00"))
    # DEFAULT_START is years ahead: even the first date is beyond 30 days.
    assert response.status_code == 400
    assert "A series may run at most 30 days ahead" in response.get_data(as_text=True)


def test_cancel_this_and_following_from_the_page(
    client: FlaskClient,
    auth: AuthActions,
    technician: User,
    world: dict[str, Any],
    db_session: Session,
):
    series = _series(db_session, technician, world)
    first, second, third, fourth = series.requests
    auth.login(technician)
    page = client.get(f"/requests/{second.id}/cancel").get_data(as_text=True)
    assert "This one and the following ones" in page
    response = client.post(
        f"/requests/{second.id}/cancel", data={"scope": "following", "reason": ""}
    )
    assert response.status_code == 302
    db_session.expire_all()
    assert [r.status for r in (first, second, third, fourth)] == [
        RequestStatus.SUBMITTED,
        RequestStatus.CANCELLED,
        RequestStatus.CANCELLED,
        RequestStatus.CANCELLED,
    ]
    assert "3 requests of the series cancelled." in client.get(f"/requests/{second.id}").get_data(
        as_text=True
    )


def test_edit_all_from_the_form(
    client: FlaskClient,
    auth: AuthActions,
    technician: User,
    world: dict[str, Any],
    db_session: Session,
):
    series = _series(db_session, technician, world)
    first = series.requests[0]
    auth.login(technician)
    page = client.get(f"/requests/{first.id}/edit").get_data(as_text=True)
    assert "Apply the change to" in page
    assert 'name="repeat"' not in page
    data = _form(world, start_dt="2030-06-03T10:00", end_dt="2030-06-03T12:00", scope="all")
    response = client.post(f"/requests/{first.id}/edit", data=data)
    assert response.status_code == 302
    db_session.expire_all()
    assert [to_local(r.requested_start_dt).hour for r in series.requests] == [10, 10, 10, 10]


def test_a_plain_request_has_no_scope(
    client: FlaskClient,
    auth: AuthActions,
    technician: User,
    world: dict[str, Any],
    make_request: Callable[..., LoanRequest],
):
    loan = make_request(commune=technician.commune, site=world["hall"])
    auth.login(technician)
    assert 'name="scope"' not in client.get(f"/requests/{loan.id}/cancel").get_data(as_text=True)
    assert 'name="scope"' not in client.get(f"/requests/{loan.id}/edit").get_data(as_text=True)


@pytest.mark.parametrize("path", ["/requests/series/{id}", "/requests/{first}/cancel"])
def test_technicians_see_only_their_communes_series(
    client: FlaskClient,
    auth: AuthActions,
    technician: User,
    other_technician: User,
    manager: User,
    world: dict[str, Any],
    db_session: Session,
    path: str,
):
    series = _series(db_session, technician, world)
    url = path.format(id=series.id, first=series.requests[0].id)
    auth.login(other_technician)
    assert client.get(url).status_code == 404
    auth.logout()
    auth.login(manager)
    assert client.get(url).status_code == 200
    auth.logout()
    auth.login(technician)
    assert client.get(url).status_code == 200
    assert client.get("/requests/series/999999").status_code == 404


def test_forms_need_a_csrf_token(
    app: Flask,
    csrf_enabled: None,
    client: FlaskClient,
    technician: User,
    world: dict[str, Any],
    db_session: Session,
):
    from tests.conftest import DEFAULT_PASSWORD

    series = _series(db_session, technician, world)
    app.config["WTF_CSRF_ENABLED"] = False
    client.post("/login", data={"email": technician.email, "password": DEFAULT_PASSWORD})
    app.config["WTF_CSRF_ENABLED"] = True
    response = client.post(
        f"/requests/{series.requests[0].id}/cancel", data={"scope": "all", "reason": ""}
    )
    assert response.status_code == 400
    assert client.post("/requests/new", data=_form(world)).status_code == 400
    db_session.expire_all()
    assert all(r.status is RequestStatus.SUBMITTED for r in series.requests)
    assert db_session.scalar(select(RequestSeries.id).where(RequestSeries.id != series.id)) is None
