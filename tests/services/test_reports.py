"""The figures of the activity reports, and the km each loan of a plan accounts for."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from booking.errors import Forbidden, NotFound, ValidationError
from booking.models import (
    Assignment,
    AssignmentDraw,
    AssignmentUnit,
    Commune,
    EquipmentType,
    LoanRequest,
    Plan,
    PlanStatus,
    Pool,
    RequestStatus,
    Role,
    Site,
    SiteKind,
    Unavailability,
    Unit,
    User,
)
from booking.services import reports
from booking.services.planning.km import _attribute
from solver import SolveOptions, solve
from solver.io import read_problem
from solver.itinerary import plan_km
from tests.conftest import PARIS

TODAY = date(2031, 2, 1)
YEAR = reports.Period(date(2030, 1, 1), date(2030, 12, 31))
DATA = Path(__file__).resolve().parents[1] / "data" / "solver"


@pytest.fixture(autouse=True)
def app_context(app: Flask) -> Iterator[None]:
    with app.app_context():
        yield


# --- the period --------------------------------------------------------------------------


def test_the_year_is_this_one_by_default() -> None:
    assert reports.choose_period(None, None, None, today=TODAY) == reports.Period(
        date(2031, 1, 1), date(2031, 12, 31)
    )
    period = reports.choose_period(2030, None, None, today=TODAY)
    assert period == YEAR and period.days == 365 and period.is_year


def test_a_period_counts_both_its_days_in_paris() -> None:
    period = reports.choose_period(None, date(2030, 3, 30), date(2030, 3, 31), today=TODAY)
    assert period.days == 2 and not period.is_year
    # Midnight in Paris; the clocks go forward on 31 March 2030, a 23-hour day.
    assert period.start_dt == datetime(2030, 3, 30, tzinfo=PARIS)
    assert period.end_dt - period.start_dt == timedelta(hours=47)


@pytest.mark.parametrize(
    ("year", "start", "end", "field"),
    [
        (1999, None, None, "year"),
        (2101, None, None, "year"),
        (-5, None, None, "year"),
        (None, date(2030, 5, 2), date(2030, 5, 1), "end"),
        (None, date(2030, 5, 2), None, "end"),
        (None, None, date(2030, 5, 2), "start"),
        (None, date(1900, 1, 1), date(2030, 1, 1), "start"),
        (None, date(2030, 1, 1), date(9999, 12, 31), "end"),
        (None, date(2000, 1, 1), date(2010, 1, 1), "end"),
    ],
)
def test_a_bad_period_is_refused_naming_the_field(
    year: int | None, start: date | None, end: date | None, field: str
) -> None:
    with pytest.raises(ValidationError) as raised:
        reports.choose_period(year, start, end, today=TODAY)
    assert raised.value.errors[0][0] == field


# --- the figures -------------------------------------------------------------------------


def _plan(session: Session, **metrics: dict[str, float]) -> Plan:
    plan = Plan(
        status=PlanStatus.APPROVED,
        strategy="cpsat",
        problem_json={},
        problem_sha="0" * 64,
        approved_at=datetime(2030, 5, 20, 9, tzinfo=PARIS),
        **metrics,
    )
    session.add(plan)
    return plan


def build_activity(
    db_session: Session,
    commune: Commune,
    other_commune: Commune,
    make_site: Callable[..., Site],
    make_type: Callable[..., EquipmentType],
    make_unit: Callable[..., Unit],
    make_pool: Callable[..., Pool],
    make_request: Callable[..., LoanRequest],
) -> SimpleNamespace:
    """Melun in 2030: one loan served, one refused by the plan, one by the manager, one
    cancelled, one pending; Dammarie: one loan served; one Melun loan in 2029."""
    depot = make_site(kind=SiteKind.DEPOT)
    podium = make_type(code="podium", name="Podium")
    chair = make_type(code="chair", name="Chaise", is_pooled=True)
    pods = [make_unit(type=podium, home_depot=depot, code=f"POD-{n}") for n in (1, 2)]
    chairs = make_pool(type=chair, depot=depot, quantity=50)
    db_session.add(
        Unavailability(
            unit=pods[1],
            start_dt=datetime(2030, 2, 1, tzinfo=PARIS),
            end_dt=datetime(2030, 2, 11, tzinfo=PARIS),
        )
    )
    plan = _plan(
        db_session,
        metrics={
            "served": 2,
            "km": 40.0,
            "by_commune": {commune.slug: {"served": 1, "km": 22.5}, "other": {"served": 1}},
        },
        baseline_metrics={
            "served": 1,
            "km": 55.5,
            "by_commune": {"other": {"served": 1, "km": 55.5}},
        },
    )
    june = datetime(2030, 6, 3, 8, tzinfo=PARIS)

    def loan(status: RequestStatus, who: Commune = commune, start: datetime = june) -> LoanRequest:
        return make_request(
            commune=who, status=status, start=start, lines=[(podium, 1), (chair, 20)]
        )

    served = loan(RequestStatus.RETURNED)
    served_there = loan(
        RequestStatus.APPROVED, other_commune, datetime(2030, 7, 1, 8, tzinfo=PARIS)
    )
    busy = loan(RequestStatus.DECLINED)
    manual = loan(RequestStatus.DECLINED)
    loan(RequestStatus.CANCELLED)
    loan(RequestStatus.SUBMITTED)
    loan(RequestStatus.RETURNED, start=datetime(2029, 6, 3, 8, tzinfo=PARIS))
    for one, start, units, draws in (
        # Served a day longer than asked: 3 June 08:00 to 6 June 08:00, four days.
        (served, june, [pods[0]], 20),
        (served_there, served_there.requested_start_dt, [pods[1]], 0),
    ):
        lines = {line.type_id: line for line in one.lines}
        assignment = Assignment(
            request=one, is_served=True, start_dt=start, end_dt=start + timedelta(days=3)
        )
        if one is served_there:
            assignment.end_dt = start + timedelta(hours=30)  # two days
        assignment.units = [AssignmentUnit(line=lines[podium.id], unit=u) for u in units]
        if draws:
            assignment.draws = [AssignmentDraw(line=lines[chair.id], pool=chairs, quantity=draws)]
        plan.assignments.append(assignment)
    plan.assignments.append(Assignment(request=busy, reason={"kind": "BUSY", "type_id": "podium"}))
    manual.decline_reason = "Pas cette fois."
    db_session.commit()
    return SimpleNamespace(podium=podium, chair=chair, plan=plan)


@pytest.fixture
def activity(
    db_session: Session,
    commune: Commune,
    other_commune: Commune,
    make_site: Callable[..., Site],
    make_type: Callable[..., EquipmentType],
    make_unit: Callable[..., Unit],
    make_pool: Callable[..., Pool],
    make_request: Callable[..., LoanRequest],
) -> SimpleNamespace:
    """See :func:`build_activity`."""
    return build_activity(
        db_session, commune, other_commune, make_site, make_type, make_unit, make_pool, make_request
    )


def test_a_communes_year(db_session: Session, technician: User, activity: SimpleNamespace) -> None:
    report = reports.build_report(db_session, YEAR, by=technician)
    assert report.commune is not None and report.commune.id == technician.commune_id
    assert (report.made, report.served, report.refused, report.cancelled, report.pending) == (
        5,
        1,
        2,
        1,
        1,
    )
    assert [(r.key, r.count) for r in report.refusals] == [("BUSY", 1), ("MANUAL", 1)]
    uses = {use.type.code: use for use in report.types}
    # The podium and 20 chairs out four days; two podiums all year but ten days.
    assert uses["podium"].days_used == 4 and uses["podium"].days_available == 730 - 10
    assert uses["chair"].days_used == 80 and uses["chair"].days_available == 50 * 365
    assert uses["podium"].occupancy == pytest.approx(4 / 720)
    # The commune's own part of the plan, against first come, first served, which did not
    # serve it at all.
    assert [(p.served, p.fcfs_served, p.km, p.fcfs_km) for p in report.plans] == [(1, 0, 22.5, 0.0)]
    assert report.served_gain == 1 and report.has_data


def test_the_agglomerations_year(
    db_session: Session, manager: User, activity: SimpleNamespace
) -> None:
    report = reports.build_report(db_session, YEAR, by=manager)
    assert report.commune is None
    assert (report.made, report.served) == (6, 2)
    uses = {use.type.code: use for use in report.types}
    assert uses["podium"].days_used == 4 + 2
    assert [(p.served, p.fcfs_served, p.km, p.fcfs_km) for p in report.plans] == [
        (2, 1, 40.0, 55.5)
    ]
    assert report.served_gain == 1 and report.km_saved == pytest.approx(15.5)


def test_a_period_clips_the_days_of_use(
    db_session: Session, manager: User, activity: SimpleNamespace
) -> None:
    period = reports.Period(date(2030, 6, 4), date(2030, 6, 30))
    report = reports.build_report(db_session, period, by=manager)
    # The loans start before the period: none was made in it, but two days are in it.
    assert report.made == 0
    assert {u.type.code: u.days_used for u in report.types}["podium"] == 3
    assert report.has_data


def test_an_empty_period_has_no_data(
    db_session: Session, manager: User, activity: SimpleNamespace
) -> None:
    report = reports.build_report(
        db_session, reports.Period(date(2001, 1, 1), date(2001, 12, 31)), by=manager
    )
    assert not report.has_data and report.made == 0


def test_a_technician_reads_only_their_commune(
    db_session: Session,
    technician: User,
    other_commune: Commune,
    make_user: Callable[..., User],
    activity: SimpleNamespace,
) -> None:
    with pytest.raises(NotFound):
        reports.build_report(db_session, YEAR, other_commune.id, by=technician)
    with pytest.raises(NotFound):
        reports.build_report(db_session, YEAR, 999_999, by=technician)
    assert [c.id for c in reports.report_communes(db_session, by=technician)] == [
        technician.commune_id
    ]
    admin = make_user(role=Role.ADMIN)
    assert reports.build_report(db_session, YEAR, other_commune.id, by=admin).made == 1
    with pytest.raises(Forbidden):
        reports.build_report(
            db_session, YEAR, by=User(role=Role.TECHNICIAN, is_active_account=False)
        )


def test_the_csv_is_inert_in_a_spreadsheet(
    db_session: Session, manager: User, activity: SimpleNamespace
) -> None:
    activity.podium.name = '=HYPERLINK("http://evil.example")'
    db_session.commit()
    text = reports.report_csv(reports.build_report(db_session, YEAR, by=manager), {})
    assert text.startswith("\ufeffSection;Item;Value;Reference\r\n")
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff")), delimiter=";"))
    assert ["Days of use", '\'=HYPERLINK("http://evil.example")', "6", "720"] in rows
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)
    assert "Requests;Requests made;6;\r\n" in text
    assert "Refusal reasons;BUSY;1;\r\n" in text


# --- km per loan -------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["spec-example.json", "camvs-july.json"])
def test_each_loans_km_add_up_to_the_plans(name: str) -> None:
    problem, sha = read_problem(DATA / name)
    plan = solve(problem, "baseline", SolveOptions(time_limit_seconds=5, workers=1, seed=1), sha)
    shares = _attribute(problem, plan)
    assert shares and all(km >= 0 for km in shares.values())
    assert set(shares) <= {a.id for a in plan.requests if a.served}
    assert sum(shares.values()) == pytest.approx(plan_km(problem, plan.requests))
