"""Extreme inputs are refused with a message, and stored ones cannot spoil a run."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from booking.models import Assignment, JobStatus, LoanRequest, RequestStatus, SiteKind
from booking.services import planning
from booking.services.request_rules import validate_request
from tests.conftest import DEFAULT_PASSWORD, DEFAULT_START, PARIS


def _login(client: FlaskClient, user) -> None:
    client.post("/login", data={"email": user.email, "password": DEFAULT_PASSWORD})


@pytest.fixture
def hall(make_site, commune):
    return make_site(commune=commune, name="Salle des fêtes")


@pytest.fixture
def podium(make_type, make_unit):
    podium = make_type(code="podium", name="Podium", min_notice_hours=0)
    make_unit(type=podium)
    return podium


def _request_form(hall, podium, start: str, end: str) -> dict[str, str]:
    return {
        "site_id": str(hall.id),
        "title": "Fête",
        "start_dt": start,
        "end_dt": end,
        "flex_days_before": "0",
        "flex_days_after": "0",
        "lines-0-type_id": str(podium.id),
        "lines-0-quantity": "1",
        "priority": "2",
    }


def test_a_request_dated_9999_is_refused_with_the_limit(
    client, technician, hall, podium, db_session
):
    _login(client, technician)
    page = client.post(
        "/requests/new", data=_request_form(hall, podium, "9999-12-31T08:00", "9999-12-31T18:00")
    )
    assert page.status_code in (200, 400)
    assert "between 2000 and 2099" in page.text
    assert db_session.scalars(select(LoanRequest)).all() == []


def test_a_request_must_end_within_the_horizon(app, db_session: Session, technician, hall, podium):
    now = datetime(2030, 1, 1, 8, tzinfo=PARIS)
    start = now + timedelta(days=5 * 365)
    app.config["REQUEST_HORIZON_DAYS"] = 1096
    with app.app_context():
        errors = validate_request(
            db_session,
            by=technician,
            commune_id=technician.commune_id,
            site_id=hall.id,
            start_dt=start,
            end_dt=start + timedelta(days=1),
            lines=[(podium.id, 1)],
            now=now,
        )
    messages = [m for field, m in errors if field == "end_dt"]
    assert messages and messages[0].startswith("A loan must end within 1096 days from today, by")


def test_availability_far_in_the_past_or_future_is_a_clear_400(client, technician):
    _login(client, technician)
    for year in ("0001", "9999"):
        response = client.get(
            f"/requests/availability?start={year}-01-01T00:00&end={year}-01-01T01:00"
        )
        assert response.status_code == 400
        assert "between 2000 and 2099" in response.json["error"]


@pytest.mark.parametrize(
    "path",
    [
        "/requests/?date_from=9999-12-31&date_to=9999-12-31",
        "/requests/?date_from=0001-01-01",
        "/audit/?date_from=9999-12-31&date_to=0001-01-01",
        "/planning/?day=9999-12-31",
    ],
)
def test_filters_at_the_ends_of_time_answer(client, manager, path):
    _login(client, manager)
    assert client.get(path).status_code in (200, 400)


@pytest.mark.parametrize(
    "path", ["/requests/{}", "/requests/{}/edit", "/planning/plans/{}", "/inventory/types/{}"]
)
@pytest.mark.parametrize("number", [2**31, 2**63 - 1, 2**63, 10**30])
def test_ids_beyond_the_database_range_are_404(client, manager, path, number):
    _login(client, manager)
    assert client.get(path.format(number)).status_code == 404


def test_a_nul_character_anywhere_is_a_400(client, manager):
    _login(client, manager)
    assert client.post("/login", data={"email": "\x00", "password": "x"}).status_code == 400
    assert client.get("/requests/?q=%00").status_code == 400
    assert client.get("/units/%00").status_code in (400, 404)


def test_a_type_form_refuses_absurd_numbers(client, manager, podium):
    _login(client, manager)
    page = client.post(
        f"/inventory/types/{podium.id}",
        data={
            "code": "podium",
            "name": "Podium",
            "tracking": "unit",
            "turnaround_minutes": str(10**11),
            "min_notice_hours": "99999999",
            "max_loan_days": "5",
        },
    )
    assert page.status_code in (200, 400)
    assert "at most" in page.text


def test_stored_absurd_values_spoil_no_page_and_no_run(
    app,
    client,
    db_session,
    technician,
    manager,
    commune,
    hall,
    podium,
    make_type,
    make_unit,
    make_request,
    make_site,
):
    # Rows as an older version, a bulk import or a console could have stored them.
    # As large as the integer columns hold (PostgreSQL ``integer``).
    huge = 2**31 - 1
    wild = make_type(code="wild", name="Wild", min_notice_hours=huge, turnaround_minutes=huge)
    wild.max_loan_days = huge
    make_unit(type=wild)
    make_site(kind=SiteKind.DEPOT)
    good = make_request(commune=commune, site=hall, lines=[(podium, 1)])
    far = make_request(
        commune=commune,
        site=hall,
        lines=[(podium, 1)],
        start=datetime(9999, 12, 1, 8, tzinfo=PARIS),
    )
    odd = make_request(commune=commune, site=hall, lines=[])  # no line: the format refuses it
    uses_wild = make_request(
        commune=commune, site=hall, lines=[(wild, 1)], start=DEFAULT_START + timedelta(days=20)
    )
    db_session.commit()

    _login(client, technician)
    for path in ("/requests/", f"/requests/{far.id}", f"/requests/{uses_wild.id}", "/requests/new"):
        assert client.get(path).status_code == 200, path
    start = DEFAULT_START.strftime("%Y-%m-%dT%H:%M")
    end = (DEFAULT_START + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    assert client.get(f"/requests/availability?start={start}&end={end}").status_code == 200
    assert (
        client.post("/requests/new", data=_request_form(hall, wild, start, end)).status_code < 500
    )

    with app.app_context():
        job = planning.propose_plan(db_session, by=manager, time_limit_seconds=5, strategy="greedy")

    assert job.status is JobStatus.SUCCEEDED, job.message
    assignments = {
        a.request_id: a
        for a in db_session.scalars(select(Assignment).where(Assignment.plan_id == job.plan_id))
    }
    assert assignments[good.id].is_served
    assert not assignments[far.id].is_served
    assert "planning horizon" in assignments[far.id].reason["text"]
    assert not assignments[odd.id].is_served
    assert "cannot take it" in assignments[odd.id].reason["text"]
    assert uses_wild.id in assignments
    # Nothing stored is lost: the requests left out are still there, still to decide.
    for loan in (far, odd):
        db_session.refresh(loan)
        assert loan.status is RequestStatus.SUBMITTED
    staff = app.test_client()
    _login(staff, manager)
    review = staff.get(f"/planning/plans/{job.plan_id}")
    assert review.status_code == 200
    assert "planning horizon" in review.text
