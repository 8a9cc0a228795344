"""Planning services: problem building, proposals, approval and adjustments."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import select

import solver
from booking.db import utcnow
from booking.errors import Conflict, Forbidden, ValidationError
from booking.models import (
    AuditEvent,
    JobStatus,
    LoanRequest,
    Notification,
    Plan,
    PlanStatus,
    RequestStatus,
    SiteKind,
    SolverJob,
    Unavailability,
    UnitStatus,
)
from booking.services import jobs, planning
from booking.services.planning import describe_reason, run_solver_job
from solver.check import check_plan
from solver.io import plan_from_json, problem_from_json, sha256_hex
from tests.conftest import DEFAULT_START


class RecordingRunner:
    """A runner that only remembers what it was given."""

    def __init__(self) -> None:
        self.submitted: list[int] = []
        self.cancelled: list[int] = []

    def submit(self, job_id: int) -> None:
        self.submitted.append(job_id)

    def cancel(self, job_id: int) -> None:
        self.cancelled.append(job_id)


@pytest.fixture(autouse=True)
def inline_runner(app):
    app.config["JOB_RUNNER"] = "inline"
    app.config["SOLVER_WORKERS"] = 1
    app.extensions.pop("job_runner", None)
    yield
    app.extensions.pop("job_runner", None)


@pytest.fixture(autouse=True)
def app_context(app):
    """Services run here as in a job: inside an application context, without a request."""
    with app.app_context():
        yield


@pytest.fixture
def fleet(make_site, make_type, make_unit, make_pool, commune, technician):
    """A depot with two minibuses and 100 chairs, and a site of the commune."""
    depot = make_site(kind=SiteKind.DEPOT, name="Centre technique")
    minibus = make_type(code="minibus-9", name="Minibus 9 places", turnaround_minutes=60)
    chair = make_type(code="chair", name="Chaise pliante", is_pooled=True)
    units = [make_unit(code=f"MB-{n}", type=minibus, home_depot=depot) for n in (1, 2)]
    pool = make_pool(type=chair, depot=depot, quantity=100)
    site = make_site(commune=commune, name="Salle des fêtes")
    return SimpleNamespace(
        depot=depot, minibus=minibus, chair=chair, units=units, pool=pool, site=site
    )


@pytest.fixture
def ask(make_request, fleet, commune):
    """``ask(minibuses=1, chairs=0, day=0, **attrs)``: a request of the commune."""

    def make(minibuses: int = 1, chairs: int = 0, day: int = 0, **params):
        lines = []
        if minibuses:
            lines.append((fleet.minibus, minibuses))
        if chairs:
            lines.append((fleet.chair, chairs))
        params.setdefault("commune", commune)
        params.setdefault("site", fleet.site)
        return make_request(lines=lines, start=DEFAULT_START + timedelta(days=day), **params)

    return make


def propose(db_session, manager, strategy="cpsat"):
    job = planning.propose_plan(db_session, by=manager, time_limit_seconds=5, strategy=strategy)
    assert job.status is JobStatus.SUCCEEDED, job.message
    plan = db_session.get(Plan, job.plan_id)
    assert plan is not None
    return plan


# --- build_problem ------------------------------------------------------------------------


def test_build_problem_maps_rows(db_session, fleet, ask, make_unit, make_type, commune):
    big = make_type(code="minibus-12", name="Minibus 12 places")
    fleet.minibus.substitutes = [big]
    make_unit(code="MB12-1", type=big, home_depot=fleet.depot, status=UnitStatus.MAINTENANCE)
    make_unit(code="MB-OLD", type=fleet.minibus, home_depot=fleet.depot, status=UnitStatus.RETIRED)
    db_session.add(
        Unavailability(
            unit=fleet.units[0],
            start_dt=DEFAULT_START - timedelta(days=1),
            end_dt=DEFAULT_START + timedelta(hours=4),
        )
    )
    loan = ask(
        minibuses=1,
        chairs=30,
        priority=4,
        earliest_start_dt=DEFAULT_START - timedelta(days=1),
        latest_end_dt=DEFAULT_START + timedelta(days=3),
    )
    db_session.commit()

    problem, maps = planning.build_problem(db_session)

    request = problem.request_by_id[f"R-{loan.id}"]
    assert maps.requests[request.id] == loan.id
    assert request.priority == 4
    assert request.commune == commune.slug
    assert request.site == f"site-{fleet.site.id}"
    assert [(line.type, line.quantity) for line in request.lines] == [
        ("minibus-9", 1),
        ("chair", 30),
    ]
    assert request.earliest_start == DEFAULT_START - timedelta(days=1)
    assert request.latest_end == DEFAULT_START + timedelta(days=3)
    assert request.locked is None
    assert problem.type_by_id["minibus-9"].substitutes == ("minibus-12",)
    assert problem.type_by_id["minibus-9"].turnaround_minutes == 60
    assert "MB-OLD" not in problem.unit_by_id
    # In maintenance: unavailable over the whole horizon.
    (blackout,) = problem.unit_by_id["MB12-1"].unavailable
    assert (blackout.start, blackout.end) == (problem.horizon.start, problem.horizon.end)
    (window,) = problem.unit_by_id["MB-1"].unavailable
    assert window.end == DEFAULT_START + timedelta(hours=4)
    assert problem.pool_by_id[f"chair@site-{fleet.depot.id}"].quantity == 100
    assert problem.unit_by_id["MB-1"].home == f"site-{fleet.depot.id}"
    assert problem.previous is None
    # The document is one the command line accepts.
    text, sha = planning.problem_document(problem)
    assert problem_from_json(text).requests == problem.requests
    assert sha == sha256_hex(text.encode())


def test_build_problem_locks_approved_loans_and_sets_previous(db_session, fleet, ask, manager):
    first = ask()
    plan = propose(db_session, manager, "greedy")
    planning.approve_plan(db_session, plan.id, by=manager)
    second = ask(day=1)

    problem, maps = planning.build_problem(db_session)

    locked = problem.request_by_id[f"R-{first.id}"].locked
    assert locked is not None and locked.served
    served = next(a for a in plan.assignments if a.request_id == first.id)
    assert locked.lines[0].units == (served.units[0].unit.code,)
    assert locked.start == served.start_dt
    assert f"R-{first.id}" in maps.locked
    assert problem.request_by_id[f"R-{second.id}"].locked is None
    assert problem.previous is not None
    assert [a.id for a in problem.previous.requests] == [f"R-{first.id}"]
    assert maps.approved_plan_id == plan.id


def test_maintenance_window_added_over_an_approved_loan_keeps_the_loan(
    db_session, fleet, ask, manager
):
    loan = ask()
    plan = propose(db_session, manager, "greedy")
    planning.approve_plan(db_session, plan.id, by=manager)
    unit = next(a for a in plan.assignments if a.request_id == loan.id).units[0].unit
    unit.status = UnitStatus.MAINTENANCE
    db_session.commit()
    ask(day=5)

    problem, _maps = planning.build_problem(db_session)

    planning.problem_document(problem)  # raises if the locked loan no longer fitted
    blackouts = problem.unit_by_id[unit.code].unavailable
    loan_end = DEFAULT_START + timedelta(days=2)
    assert all(b.end <= DEFAULT_START or b.start >= loan_end for b in blackouts)


# --- proposing ------------------------------------------------------------------------------


def test_propose_stores_a_checked_plan(db_session, fleet, ask, manager):
    loans = [ask(priority=2), ask(priority=4), ask(priority=3, chairs=40)]
    plan = propose(db_session, manager)

    problem = problem_from_json(json.dumps(plan.problem_json))
    solver_plan = plan_from_json(json.dumps(plan.plan_json))
    assert check_plan(problem, solver_plan, plan.problem_sha) == []
    assert sha256_hex(planning.stored_problem_text(plan).encode()) == plan.problem_sha
    assert plan.status is PlanStatus.PROPOSED
    # Two minibuses, three requests at the same time: the lowest priority is left out.
    served = {a.request_id for a in plan.assignments if a.is_served}
    assert served == {loans[1].id, loans[2].id}
    unserved = next(a for a in plan.assignments if not a.is_served)
    assert unserved.reason["kind"] == "BUSY"
    assert plan.metrics["served"] == 2
    assert plan.metrics["served_by_priority"] == {"1": 0, "2": 0, "3": 1, "4": 1}
    assert plan.baseline_metrics["served"] == 2
    # Each commune's part of the plan and of first come, first served adds up to the whole.
    for metrics in (plan.metrics, plan.baseline_metrics):
        parts = metrics["by_commune"].values()
        assert sum(part["served"] for part in parts) == metrics["served"]
        assert sum(part["km"] for part in parts) == pytest.approx(metrics["km"], abs=0.05)
    assert set(plan.metrics["by_commune"]) == {loans[1].commune.slug}
    assert plan.diff == {
        "against_plan_id": None,
        "new": sorted(served),
        "moved": [],
        "dropped": [],
    }
    draws = [d for a in plan.assignments for d in a.draws]
    assert [(d.pool_id, d.quantity) for d in draws] == [(fleet.pool.id, 40)]
    for loan in loans:
        db_session.refresh(loan)
        assert loan.status is RequestStatus.PLANNED
    job = db_session.scalars(select(SolverJob)).one()
    assert job.progress == 1.0 and job.finished_at is not None


def test_the_stored_problem_file_gives_the_same_plan_from_the_command_line(
    db_session, fleet, ask, manager, tmp_path
):
    ask(priority=4)
    ask(priority=2, chairs=10)
    ask(priority=1, day=1)
    plan = propose(db_session, manager)
    path = tmp_path / "problem.json"
    path.write_text(planning.stored_problem_text(plan), encoding="utf-8")
    command = [sys.executable, "-m", "solver", "solve", str(path), "--time-limit", "5"]
    done = subprocess.run(
        [*command, "--workers", "1", "--seed", "0"],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(solver.__file__).resolve().parents[1],
    )
    from_cli = json.loads(done.stdout)
    assert from_cli["problem"] == plan.problem_sha
    assert from_cli["requests"] == plan.plan_json["requests"]
    assert from_cli["metrics"] == plan.plan_json["metrics"]


def test_propose_is_for_staff(db_session, fleet, technician):
    with pytest.raises(Forbidden):
        planning.propose_plan(db_session, by=technician)


def test_propose_refuses_a_bad_time_limit(db_session, manager):
    with pytest.raises(ValidationError):
        planning.propose_plan(db_session, by=manager, time_limit_seconds=0)


# --- approving ------------------------------------------------------------------------------


def test_approve_moves_requests_notifies_and_audits(
    db_session, fleet, ask, manager, technician, other_technician
):
    low = ask(priority=1, title="Brocante")
    high = [ask(priority=4, title="Élections"), ask(priority=3, title="Marché")]
    plan = propose(db_session, manager)

    planning.approve_plan(db_session, plan.id, by=manager)

    db_session.refresh(plan)
    assert plan.status is PlanStatus.APPROVED and plan.approved_by_id == manager.id
    for loan in high:
        db_session.refresh(loan)
        assert loan.status is RequestStatus.APPROVED
        assert loan.sequence == 1
    db_session.refresh(low)
    # Unserved: on the waiting list, with why, until its dates pass.
    assert low.status is RequestStatus.WAITING
    assert low.sequence == 1
    assert "Élections" in low.decline_reason or "Marché" in low.decline_reason
    notes = db_session.scalars(select(Notification).order_by(Notification.id)).all()
    assert {n.user_id for n in notes} == {technician.id}
    assert sorted(n.kind for n in notes) == [
        "request.approved",
        "request.approved",
        "request.waiting",
    ]
    approved_note = next(n for n in notes if n.payload["request_id"] == high[0].id)
    assert "Élections" in approved_note.text and approved_note.payload["units"]
    event = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "plan.approve")).one()
    assert event.object_id == plan.id
    assert event.after["waiting"] == [low.id]
    assert event.after["declined"] == []


def test_a_new_approved_plan_supersedes_and_keeps_loans(db_session, fleet, ask, manager):
    first = ask()
    plan = propose(db_session, manager, "greedy")
    planning.approve_plan(db_session, plan.id, by=manager)
    second = ask(day=1)
    newer = propose(db_session, manager, "greedy")
    planning.approve_plan(db_session, newer.id, by=manager)

    db_session.refresh(plan)
    assert plan.status is PlanStatus.SUPERSEDED
    db_session.refresh(first)
    db_session.refresh(second)
    assert first.status is RequestStatus.APPROVED and first.sequence == 1
    assert second.status is RequestStatus.APPROVED and second.sequence == 1
    old = next(a for a in plan.assignments if a.request_id == first.id)
    kept = next(a for a in newer.assignments if a.request_id == first.id)
    assert [u.unit_id for u in kept.units] == [u.unit_id for u in old.units]
    assert newer.diff["new"] == [second.id] and newer.diff["against_plan_id"] == plan.id


@pytest.mark.parametrize("change", ["edit", "cancel", "new", "lines"])
def test_approve_refuses_a_stale_plan(db_session, fleet, ask, manager, change):
    loan = ask()
    plan = propose(db_session, manager, "greedy")
    if change == "edit":
        loan.requested_end_dt = loan.requested_end_dt + timedelta(hours=2)
    elif change == "cancel":
        loan.status = RequestStatus.CANCELLED
    elif change == "new":
        ask(day=3)
    else:
        loan.lines[0].quantity = 2
    db_session.commit()

    with pytest.raises(Conflict, match="Run the optimiser again"):
        planning.approve_plan(db_session, plan.id, by=manager)
    db_session.refresh(plan)
    assert plan.status is PlanStatus.PROPOSED
    assert db_session.scalars(select(Notification)).all() == []


def test_approve_refuses_a_plan_whose_loans_started_meanwhile(db_session, fleet, ask, manager):
    early, later = ask(), ask(day=3)
    plan = propose(db_session, manager, "greedy")
    starts = {a.request_id: a.start_dt for a in plan.assignments}

    # Approved the morning after the first loan was to start: nothing is approved.
    with pytest.raises(Conflict, match=f"requests n° {early.id}\\). Run the optimiser again"):
        planning.approve_plan(
            db_session, plan.id, by=manager, now=starts[early.id] + timedelta(hours=1)
        )
    db_session.refresh(plan)
    db_session.refresh(early)
    assert plan.status is PlanStatus.PROPOSED and early.status is RequestStatus.PLANNED
    # Approved in time: the same plan goes through.
    planning.approve_plan(db_session, plan.id, by=manager, now=starts[early.id])
    db_session.refresh(later)
    assert later.status is RequestStatus.APPROVED


def test_approve_refuses_a_plan_that_is_not_proposed(db_session, fleet, ask, manager):
    ask()
    plan = propose(db_session, manager, "greedy")
    planning.approve_plan(db_session, plan.id, by=manager)
    with pytest.raises(Conflict):
        planning.approve_plan(db_session, plan.id, by=manager)


def test_approve_is_for_staff(db_session, fleet, ask, manager, technician):
    ask()
    plan = propose(db_session, manager, "greedy")
    with pytest.raises(Forbidden):
        planning.approve_plan(db_session, plan.id, by=technician)


# --- adjustments ----------------------------------------------------------------------------


def test_force_unit_explains_a_broken_rule(db_session, fleet, ask, manager):
    a, b = ask(), ask()
    plan = propose(db_session, manager, "greedy")
    other = next(x for x in plan.assignments if x.request_id == b.id).units[0].unit

    with pytest.raises(ValidationError) as caught:
        planning.force_unit(db_session, plan.id, a.id, a.lines[0].id, other.id, by=manager)
    assert other.code in caught.value.message
    assert "rule 3" not in caught.value.message  # worded, not the checker's label


def test_force_unit_applies_a_valid_change(db_session, fleet, ask, manager, make_unit):
    loan = ask()
    plan = propose(db_session, manager, "greedy")
    spare = make_unit(code="MB-3", type=fleet.minibus, home_depot=fleet.depot)
    # The spare is not in the plan's problem: refused with a clear message.
    with pytest.raises(ValidationError, match="MB-3"):
        planning.force_unit(db_session, plan.id, loan.id, loan.lines[0].id, spare.id, by=manager)
    assignment = next(x for x in plan.assignments if x.request_id == loan.id)
    current = assignment.units[0].unit
    other = next(u for u in fleet.units if u.id != current.id)

    planning.force_unit(db_session, plan.id, loan.id, loan.lines[0].id, other.id, by=manager)

    db_session.refresh(assignment)
    assert [u.unit_id for u in assignment.units] == [other.id]
    served = next(r for r in plan.plan_json["requests"] if r["id"] == f"R-{loan.id}")
    assert served["lines"][0]["units"] == [other.code]
    problem = problem_from_json(json.dumps(plan.problem_json))
    assert check_plan(problem, plan_from_json(json.dumps(plan.plan_json))) == []


def test_pinned_assignment_is_locked_on_the_next_run(db_session, fleet, ask, manager):
    loan = ask(
        earliest_start_dt=DEFAULT_START - timedelta(days=2),
        latest_end_dt=DEFAULT_START + timedelta(days=5),
    )
    plan = propose(db_session, manager, "greedy")
    planning.pin_assignment(db_session, plan.id, loan.id, by=manager)
    pinned = next(a for a in plan.assignments if a.request_id == loan.id)

    problem, maps = planning.build_problem(db_session)
    locked = problem.request_by_id[f"R-{loan.id}"].locked
    assert locked is not None
    assert locked.start == pinned.start_dt
    assert locked.lines[0].units == (pinned.units[0].unit.code,)
    assert f"R-{loan.id}" in maps.pinned

    rerun = propose(db_session, manager)
    again = next(a for a in rerun.assignments if a.request_id == loan.id)
    assert again.is_pinned
    assert [u.unit_id for u in again.units] == [u.unit_id for u in pinned.units]

    planning.unpin_assignment(db_session, rerun.id, loan.id, by=manager)
    problem, _maps = planning.build_problem(db_session)
    assert problem.request_by_id[f"R-{loan.id}"].locked is None


def test_decline_request(db_session, fleet, ask, manager, technician):
    loan = ask()
    with pytest.raises(ValidationError):
        planning.decline_request(db_session, loan.id, "  ", by=manager)
    planning.decline_request(db_session, loan.id, "Matériel réservé aux élections", by=manager)
    db_session.refresh(loan)
    assert loan.status is RequestStatus.DECLINED
    assert loan.decline_reason == "Matériel réservé aux élections"
    assert loan.sequence == 1
    note = db_session.scalars(select(Notification)).one()
    assert note.user_id == technician.id and "élections" in note.text
    with pytest.raises(Conflict):
        planning.decline_request(db_session, loan.id, "again", by=manager)


def test_unserved_reason_is_worded_with_names(db_session, fleet, ask, manager):
    ask(priority=4, title="Élections")
    ask(priority=4, title="Conseil")
    low = ask(priority=1, title="Brocante")
    plan = propose(db_session, manager)
    unserved = next(a for a in plan.assignments if a.request_id == low.id)
    text = describe_reason(db_session, unserved.reason)
    assert "Minibus 9 places" in text
    assert "Élections" in text and "Conseil" in text
    assert "R-" not in text


# --- jobs ---------------------------------------------------------------------------------


def test_a_sweep_fails_expired_jobs_and_keeps_the_data(app, db_session, fleet, ask, manager):
    loan = ask()
    plan = propose(db_session, manager, "greedy")
    long_ago = utcnow() - timedelta(hours=2)
    running = SolverJob(
        status=JobStatus.RUNNING, strategy="cpsat", owner="web-1:12", heartbeat_at=long_ago
    )
    queued = SolverJob(status=JobStatus.QUEUED, strategy="cpsat", created_at=long_ago)
    alive = SolverJob(
        status=JobStatus.RUNNING, strategy="cpsat", owner="web-2:13", heartbeat_at=utcnow()
    )
    db_session.add_all([running, queued, alive])
    db_session.commit()

    with app.app_context():
        assert jobs.sweep_expired_jobs(db_session) == 2

    for job in (running, queued):
        db_session.refresh(job)
        assert job.status is JobStatus.FAILED
    db_session.refresh(alive)
    assert alive.status is JobStatus.RUNNING
    db_session.refresh(loan)
    db_session.refresh(plan)
    assert loan.status is RequestStatus.PLANNED and plan.status is PlanStatus.PROPOSED


def test_cancel_a_queued_job(app, db_session, fleet, ask, manager):
    ask()
    recorder = RecordingRunner()
    app.extensions["job_runner"] = recorder
    job = planning.propose_plan(db_session, by=manager, time_limit_seconds=5)
    assert recorder.submitted == [job.id] and job.status is JobStatus.QUEUED

    jobs.cancel_job(db_session, job.id, by=manager)
    assert recorder.cancelled == [job.id]
    from booking.db import get_db

    run_solver_job(get_db(app), job.id, workers=1)
    db_session.refresh(job)
    assert job.status is JobStatus.CANCELLED and job.plan_id is None
    assert db_session.scalars(select(Plan)).all() == []
    with pytest.raises(Conflict):
        jobs.cancel_job(db_session, job.id, by=manager)


def test_a_stop_request_during_the_solve_stores_nothing(app, db_session, fleet, ask, manager):
    ask()
    app.extensions["job_runner"] = RecordingRunner()
    job = planning.propose_plan(db_session, by=manager, time_limit_seconds=5)
    from booking.db import get_db

    run_solver_job(get_db(app), job.id, should_stop=lambda: True, workers=1)
    db_session.refresh(job)
    assert job.status is JobStatus.CANCELLED
    assert db_session.scalars(select(Plan)).all() == []
    loan = db_session.scalars(select(LoanRequest)).one()
    assert loan.status is RequestStatus.SUBMITTED


def test_notifications_use_each_technicians_language(
    app, compiled_translations, db_session, fleet, ask, manager, technician, make_user, commune
):
    app.extensions["babel"].translation_directories = [str(compiled_translations)]
    technician.locale = "fr"
    english = make_user(commune=commune, locale="en")
    db_session.commit()
    ask(title="Fête")
    plan = propose(db_session, manager, "greedy")

    planning.approve_plan(db_session, plan.id, by=manager)

    texts = {n.user_id: n.text for n in db_session.scalars(select(Notification)).all()}
    assert texts[technician.id].startswith("Approuvé")
    assert texts[english.id].startswith("Approved: Fête")


def test_a_reopened_loan_moved_by_a_new_plan_is_notified_as_changed(
    db_session, fleet, ask, manager, technician
):
    loan = ask(
        earliest_start_dt=DEFAULT_START - timedelta(days=3),
        latest_end_dt=DEFAULT_START + timedelta(days=5),
    )
    first = propose(db_session, manager, "greedy")
    planning.approve_plan(db_session, first.id, by=manager)
    # The commune edits its approved request: it is open again and must be re-planned.
    loan.status = RequestStatus.SUBMITTED
    # Its minibus breaks down meanwhile: the new plan must lend the other one.
    held = next(a for a in first.assignments if a.request_id == loan.id).units[0].unit
    db_session.add(
        Unavailability(
            unit=held,
            start_dt=DEFAULT_START - timedelta(days=4),
            end_dt=DEFAULT_START + timedelta(days=6),
        )
    )
    db_session.commit()
    problem, _maps = planning.build_problem(db_session)
    assert [a.id for a in problem.previous.requests] == [f"R-{loan.id}"]

    second = propose(db_session, manager, "greedy")
    planning.approve_plan(db_session, second.id, by=manager)

    db_session.refresh(loan)
    assert loan.status is RequestStatus.APPROVED and loan.sequence == 2
    kinds = [n.kind for n in db_session.scalars(select(Notification).order_by(Notification.id))]
    assert kinds == ["request.approved", "request.changed"]


def test_dashboard_and_review_figures(db_session, fleet, ask, manager, make_request, make_site):
    other_site = make_site(name="Stade")
    ask(title="Fête")
    ask(title="Marché")
    ask(title="Brocante", priority=1)
    make_request(lines=[(fleet.minibus, 1)], site=other_site, commune=other_site.commune)
    plan = propose(db_session, manager)

    review = planning.review_plan(db_session, plan.id, by=manager)
    assert not review.is_stale
    assert len(review.reasons) == 2
    assert {row.label.split(" ")[0] for row in review.unit_rows} == {"MB-1", "MB-2"}
    assert sum(len(row.bars) for row in review.unit_rows) == 2
    shares = {c.name: (c.requests, c.served) for c in review.communes}
    assert sum(r for r, _s in shares.values()) == 4 and sum(s for _r, s in shares.values()) == 2

    planning.approve_plan(db_session, plan.id, by=manager)
    board = planning.dashboard(db_session, by=manager, now=DEFAULT_START - timedelta(days=1))
    assert board.approved is not None and board.approved.id == plan.id
    # The two unserved requests stay on the waiting list, still to be planned.
    assert {r.status for r in board.waiting} == {RequestStatus.WAITING}
    assert len(board.waiting) == 2 and board.proposed == []
    assert [h.way for h in board.handovers.upcoming].count("out") == 2


def test_data_that_cannot_be_planned_fails_the_job_with_a_message(db_session, fleet, ask, manager):
    loan = ask(minibuses=0, chairs=40)
    plan = propose(db_session, manager, "greedy")
    planning.approve_plan(db_session, plan.id, by=manager)
    # The stock shrinks below what an approved loan holds: the locked loan cannot be kept.
    fleet.pool.quantity = 10
    db_session.commit()
    ask(day=1)

    job = planning.propose_plan(db_session, by=manager, time_limit_seconds=5, strategy="greedy")

    assert job.status is JobStatus.FAILED
    assert job.message.startswith("An approved loan no longer fits the inventory")
    assert "The data cannot be planned" in job.message
    assert f"R-{loan.id}" in job.message
    assert "Traceback" not in job.message
    db_session.refresh(plan)
    assert plan.status is PlanStatus.APPROVED
    assert db_session.scalars(select(Plan)).all() == [plan]
