"""Open requests are never planned in the past, nor earlier than their minimum notice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

import solver
from booking.models import (
    Assignment,
    JobStatus,
    Plan,
    RequestStatus,
    SiteKind,
    Unavailability,
)
from booking.services import planning
from booking.services.planning import notice_start, plannable_window
from solver.check import check_plan
from solver.options import SolveOptions
from tests.conftest import DEFAULT_START, PARIS

DAY = timedelta(days=1)
# Long before every request of these tests: neither the clock nor the notice binds.
LONG_AGO = datetime(2029, 1, 1, tzinfo=UTC)


@pytest.fixture(autouse=True)
def app_context(app):
    """Services run here as in a job: inside an application context, without a request."""
    app.config["JOB_RUNNER"] = "inline"
    app.extensions.pop("job_runner", None)
    with app.app_context():
        yield
    app.extensions.pop("job_runner", None)


@pytest.fixture
def fleet(make_site, make_type, make_unit, make_pool, commune):
    """One minibus (72 hours' notice) at a depot, 50 chairs (no notice), a commune site."""
    depot = make_site(kind=SiteKind.DEPOT, name="Centre technique")
    minibus = make_type(code="minibus-9", name="Minibus 9 places", min_notice_hours=72)
    chair = make_type(code="chair", name="Chaise", is_pooled=True, min_notice_hours=0)
    unit = make_unit(code="MB-1", type=minibus, home_depot=depot)
    make_pool(type=chair, depot=depot, quantity=50)
    site = make_site(commune=commune, name="Salle des fêtes")
    return SimpleNamespace(minibus=minibus, chair=chair, unit=unit, site=site)


@pytest.fixture
def ask(make_request, fleet, commune):
    """``ask(before=0, after=0, minibus=True, chairs=0, **attrs)``: a two-day request from
    ``DEFAULT_START`` that may start ``before`` days earlier and end ``after`` days later."""

    def make(before: int = 0, after: int = 0, minibus: bool = True, chairs: int = 0, **params):
        start = params.pop("start", DEFAULT_START)
        lines = ([(fleet.minibus, 1)] if minibus else []) + (
            [(fleet.chair, chairs)] if chairs else []
        )
        params.setdefault("submitted_at", LONG_AGO)
        params.setdefault("earliest_start_dt", start - before * DAY)
        params.setdefault("latest_end_dt", start + 2 * DAY + after * DAY)
        return make_request(commune=commune, site=fleet.site, lines=lines, start=start, **params)

    return make


def _request(problem, loan):
    return problem.request_by_id[f"R-{loan.id}"]


def _solve(problem):
    _text, sha = planning.problem_document(problem)  # the command line accepts it
    plan = solver.solve(
        problem, "cpsat", SolveOptions(time_limit_seconds=10, workers=1, seed=0), sha
    )
    assert check_plan(problem, plan, sha) == []
    return {a.id: a for a in plan.requests}


# --- the clock --------------------------------------------------------------------------


def test_a_window_reaching_into_the_past_starts_now(db_session, ask):
    loan = ask(before=5)
    now = datetime(2030, 6, 1, 10, 0, 30, tzinfo=UTC)  # 12:00:30 in Paris

    problem, maps = planning.build_problem(db_session, now=now)

    request = _request(problem, loan)
    # Rounded up to the minute: never a few seconds in the past.
    assert request.earliest_start == datetime(2030, 6, 1, 12, 1, tzinfo=PARIS)
    assert request.start == DEFAULT_START
    assert request.latest_end == DEFAULT_START + 2 * DAY
    assert problem.horizon.start == datetime(2030, 6, 1, tzinfo=PARIS)
    assert maps.expired == {}
    planning.problem_document(problem)


def test_without_the_clock_binding_the_window_is_kept(db_session, ask):
    loan = ask(before=5, after=1)
    problem, _maps = planning.build_problem(db_session, now=LONG_AGO)
    request = _request(problem, loan)
    assert request.earliest_start == DEFAULT_START - 5 * DAY
    assert request.latest_end == DEFAULT_START + 3 * DAY


def test_a_request_whose_start_has_passed_is_planned_later_within_its_window(db_session, ask):
    loan = ask(after=3)
    now = DEFAULT_START + DAY  # the requested start was a day ago

    problem, maps = planning.build_problem(db_session, now=now)

    request = _request(problem, loan)
    assert request.start == DEFAULT_START
    assert request.earliest_start == now
    assert maps.expired == {}
    placed = _solve(problem)[request.id]
    assert placed.served
    assert placed.start is not None and placed.start >= now
    assert placed.end is not None and placed.end <= DEFAULT_START + 5 * DAY


def test_a_request_whose_latest_placement_has_passed_is_left_out_and_reported(db_session, ask):
    gone = ask(after=1)
    kept = ask(start=DEFAULT_START + 10 * DAY)
    now = DEFAULT_START + DAY + timedelta(minutes=1)  # one minute after its latest start

    problem, maps = planning.build_problem(db_session, now=now)

    assert f"R-{gone.id}" not in problem.request_by_id
    assert maps.expired == {gone.id: DEFAULT_START + DAY}
    assert f"R-{kept.id}" in problem.request_by_id
    planning.problem_document(problem)  # no window shorter than its request


def test_the_latest_placement_exactly_now_is_still_planned(db_session, ask):
    loan = ask(after=1)
    problem, maps = planning.build_problem(db_session, now=DEFAULT_START + DAY)
    assert maps.expired == {}
    assert _request(problem, loan).earliest_start == DEFAULT_START + DAY
    assert _solve(problem)[f"R-{loan.id}"].start == DEFAULT_START + DAY


def test_when_every_request_has_passed_the_problem_is_empty_but_valid(db_session, ask):
    gone = ask()
    problem, maps = planning.build_problem(db_session, now=DEFAULT_START + 3 * DAY)
    assert problem.requests == ()
    assert list(maps.expired) == [gone.id]
    planning.problem_document(problem)


def test_a_past_request_is_declined_with_its_reason_on_approval(
    db_session, make_request, fleet, commune, manager
):
    # Through the real job and clock: a request of 2020 was never planned in time.
    past = make_request(
        commune=commune,
        site=fleet.site,
        lines=[(fleet.chair, 5)],
        start=datetime(2020, 6, 1, 8, 0, tzinfo=PARIS),
        submitted_at=datetime(2020, 5, 1, tzinfo=UTC),
    )
    future = make_request(commune=commune, site=fleet.site, lines=[(fleet.chair, 5)])

    job = planning.propose_plan(db_session, by=manager, time_limit_seconds=5)

    assert job.status is JobStatus.SUCCEEDED, job.message
    plan = db_session.get(Plan, job.plan_id)
    assert plan is not None
    by_request = {a.request_id: a for a in plan.assignments}
    assert by_request[future.id].is_served
    stored: Assignment = by_request[past.id]
    assert not stored.is_served and stored.start_dt is None
    assert "Its dates have passed" in stored.reason["text"]
    assert f"R-{past.id}" not in {r["id"] for r in plan.problem_json["requests"]}

    planning.approve_plan(db_session, plan.id, by=manager)

    db_session.refresh(past)
    assert past.status is RequestStatus.DECLINED
    assert past.decline_reason is not None and "Its dates have passed" in past.decline_reason


def test_a_pin_that_now_starts_in_the_past_is_dropped(db_session, ask, manager):
    loan = ask(after=4)
    job = planning.propose_plan(db_session, by=manager, time_limit_seconds=5)
    assert job.status is JobStatus.SUCCEEDED, job.message
    planning.pin_assignment(db_session, job.plan_id, loan.id, by=manager)
    start = next(a for a in db_session.get(Plan, job.plan_id).assignments).start_dt

    _problem, maps = planning.build_problem(db_session, now=start - DAY)
    assert f"R-{loan.id}" in maps.pinned

    problem, maps = planning.build_problem(db_session, now=start + timedelta(hours=1))
    assert maps.pinned == set()
    request = _request(problem, loan)
    assert request.locked is None
    assert request.earliest_start >= start + timedelta(hours=1)


# --- minimum notice ---------------------------------------------------------------------


def test_moving_earlier_keeps_the_minimum_notice_from_submission(db_session, ask):
    submitted = datetime(2030, 5, 30, 8, 0, tzinfo=PARIS)  # 4 days before the start
    loan = ask(before=3, submitted_at=submitted)

    problem, _maps = planning.build_problem(db_session, now=submitted + timedelta(hours=1))

    # 3 days earlier would give 1 day's notice; the minibus needs 72 hours.
    assert _request(problem, loan).earliest_start == submitted + timedelta(hours=72)


def test_the_longest_notice_of_the_request_types_applies(db_session, ask, fleet):
    submitted = datetime(2030, 5, 30, 8, 0, tzinfo=PARIS)
    chairs_only = ask(before=3, minibus=False, chairs=10, submitted_at=submitted)
    both = ask(before=3, chairs=10, submitted_at=submitted)
    assert notice_start(chairs_only, {fleet.chair.id: fleet.chair}) == submitted
    problem, _maps = planning.build_problem(db_session, now=submitted)
    assert _request(problem, chairs_only).earliest_start == DEFAULT_START - 3 * DAY
    assert _request(problem, both).earliest_start == submitted + timedelta(hours=72)


def test_the_notice_never_pushes_a_request_past_its_requested_start(db_session, ask, fleet):
    # Accepted when the notice was shorter; raising it since does not move the loan later.
    submitted = datetime(2030, 6, 2, 8, 0, tzinfo=PARIS)  # only 24 hours ahead
    loan = ask(before=2, after=2, submitted_at=submitted)
    problem, _maps = planning.build_problem(db_session, now=submitted)
    request = _request(problem, loan)
    assert request.earliest_start == request.start == DEFAULT_START


def test_the_clock_and_the_notice_combine(db_session, ask, fleet):
    submitted = datetime(2030, 5, 25, 8, 0, tzinfo=PARIS)
    loan = ask(before=8, submitted_at=submitted)
    now = datetime(2030, 5, 29, 8, 0, tzinfo=PARIS)
    window = plannable_window(loan, {fleet.minibus.id: fleet.minibus}, now)
    # Notice alone: 2030-05-28 08:00; the clock is later and wins.
    assert window.earliest == now
    problem, _maps = planning.build_problem(db_session, now=now)
    assert _request(problem, loan).earliest_start == now


def test_the_optimiser_does_not_move_a_loan_inside_the_notice(db_session, ask, fleet):
    # The minibus is in maintenance over the requested days: only moving earlier helps.
    db_session.add(
        Unavailability(
            unit_id=fleet.unit.id,
            start_dt=DEFAULT_START - timedelta(hours=12),
            end_dt=DEFAULT_START + 10 * DAY,
            reason="Contrôle technique",
        )
    )
    db_session.commit()
    submitted = datetime(2030, 5, 29, 8, 0, tzinfo=PARIS)  # 5 days ahead
    early_enough = ask(before=4, submitted_at=submitted - 5 * DAY)
    placed = _solve(planning.build_problem(db_session, now=submitted)[0])
    assert placed[f"R-{early_enough.id}"].served
    # Moved as little as possible: to end before the maintenance, turnaround included...
    start = placed[f"R-{early_enough.id}"].start
    assert start == datetime(2030, 5, 31, 19, 0, tzinfo=PARIS)
    # ...which is sooner than 72 hours after a submission on 2030-05-29 08:00.
    assert start < submitted + timedelta(hours=72)

    early_enough.status = RequestStatus.CANCELLED
    too_late = ask(before=4, submitted_at=submitted)
    db_session.commit()
    placed = _solve(planning.build_problem(db_session, now=submitted)[0])
    # Submitted later, the same placement would give less than 72 hours' notice; from the
    # notice's limit (2030-06-01 08:00) the loan meets the maintenance.
    assert not placed[f"R-{too_late.id}"].served
