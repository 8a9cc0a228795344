"""Running the optimiser as a job and storing its plan as a PROPOSED plan."""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select, update
from sqlalchemy.orm import Session

import solver
from booking.db import Database, rows_matched, utcnow
from booking.errors import Unavailable, ValidationError
from booking.models import (
    Assignment,
    AssignmentDraw,
    AssignmentUnit,
    JobStatus,
    LoanRequest,
    Plan,
    PlanStatus,
    RequestStatus,
    SolverJob,
    User,
)
from booking.services.access import require_staff
from booking.services.audit import record_event
from booking.services.jobs import JobRunner, get_runner
from booking.services.planning.data import expired_reason, rejected_reason
from booking.services.planning.ids import TIMEZONE
from booking.services.planning.km import commune_figures
from booking.services.planning.problem import (
    IdMaps,
    build_problem,
    km_per_served,
    problem_document,
    served_by_priority,
)
from solver.check import Violation, check_plan
from solver.explain import diagnose_unserved
from solver.io import FormatError, plan_to_json
from solver.options import Progress, SolveOptions

log = logging.getLogger(__name__)

MIN_TIME_LIMIT = 1
MAX_TIME_LIMIT = 600
# Progress is written at most this often (seconds): each write is a transaction.
PROGRESS_INTERVAL = 1.0
# Attempts at building a valid problem, each leaving out the open requests it refused.
MAX_REJECTION_ROUNDS = 5
# How a format error names a request: ``requests[14].site: unknown site``.
REQUEST_PATH = re.compile(r"requests\[(\d+)\]")
# Budget for explaining the unserved requests, out of the job's time limit (seconds).
EXPLAIN_SECONDS = 5.0


def propose_plan(
    session: Session,
    *,
    by: User,
    time_limit_seconds: float = 60,
    strategy: str = "cpsat",
    runner: JobRunner | None = None,
) -> SolverJob:
    """Queue a run of the optimiser over the current data; never waits for the solver.

    Args:
        session: the database session (committed here: the job row must be visible to
            the runner).
        by: who asks; a manager or an admin.
        time_limit_seconds: the solver's time limit, 1 to 600.
        strategy: one of ``solver.STRATEGIES``.
        runner: the job runner; default the application's (``jobs.get_runner()``).

    Returns:
        The job row; with an inline runner it has already finished.

    Raises:
        Forbidden: ``by`` is not staff.
        ValidationError: bad time limit or strategy.
        Unavailable: the job queue cannot be reached (the job is stored as FAILED).
    """
    require_staff(by)
    if strategy not in solver.STRATEGIES:
        raise ValidationError(_("Unknown strategy %(name)s.", name=strategy), field="strategy")
    if not MIN_TIME_LIMIT <= time_limit_seconds <= MAX_TIME_LIMIT:
        raise ValidationError(
            _(
                "The time limit must be between %(low)s and %(high)s seconds.",
                low=MIN_TIME_LIMIT,
                high=MAX_TIME_LIMIT,
            ),
            field="time_limit",
        )
    job = SolverJob(
        status=JobStatus.QUEUED,
        strategy=strategy,
        time_limit_seconds=float(time_limit_seconds),
        requested_by_id=by.id,
        stage="queued",
    )
    session.add(job)
    session.flush()
    record_event(
        session,
        by=by,
        action="plan.propose",
        object_type="solver_job",
        object_id=job.id,
        after={"strategy": strategy, "time_limit_seconds": float(time_limit_seconds)},
    )
    session.commit()
    try:
        (runner or get_runner()).submit(job.id)
    except Unavailable as error:
        # The job row stays, failed with the reason; requests and plans are untouched.
        job.status = JobStatus.FAILED
        job.finished_at = utcnow()
        job.message = error.message
        session.commit()
        raise
    session.refresh(job)
    return job


def plan_now(
    session: Session,
    *,
    by: User,
    now: datetime | None = None,
    strategy: str = "greedy",
    time_limit_seconds: float = 10,
    explain_seconds: float = EXPLAIN_SECONDS,
) -> Plan:
    """Build, solve, check, explain and store a PROPOSED plan in the caller's thread, as
    of ``now``, and commit. For scripts that replay a season, such as the demo data; the
    application runs the optimiser as a background job (:func:`propose_plan`).

    Args:
        session: the database session.
        by: who asks; a manager or an admin.
        now: the moment the plan is made (default: the clock); requests are placed after it.
        strategy: one of ``solver.STRATEGIES``; "greedy" repeats exactly.
        time_limit_seconds: the solver's time limit (one worker, seed 0).
        explain_seconds: the time given to explaining the unserved requests.

    Raises:
        Forbidden: ``by`` is not staff.
        ValueError: unknown strategy, or the plan breaks a rule (a solver bug).
        FormatError: the data cannot be turned into a valid problem.
    """
    require_staff(by)
    # A script's long-lived session may hold collections read before its own later
    # changes (a maintenance window added by a check-in): plan from the database.
    session.expire_all()
    problem, maps = build_problem(session, now=now)
    text, sha = problem_document(problem)
    options = SolveOptions(time_limit_seconds=time_limit_seconds, workers=1, seed=0)
    plan = solver.solve(problem, strategy, options, sha)
    baseline = solver.solve(problem, "baseline", SolveOptions(time_limit_seconds=60), sha)
    violations = check_plan(problem, plan, sha) + check_plan(problem, baseline, sha)
    if violations:
        raise ValueError(f"the plan breaks the rules: {violations[:5]}")
    reasons = diagnose_unserved(problem, plan.requests, explain_seconds)
    stored = _store_plan(session, problem, plan, baseline, text, sha, maps, reasons, by.id)
    session.commit()
    return stored


# --- the job ------------------------------------------------------------------------------


class _ProgressWriter:
    """Writes the solver's progress to the job row, at most once per interval."""

    def __init__(self, database: Database, job_id: int, time_limit: float) -> None:
        self.database = database
        self.job_id = job_id
        self.time_limit = max(time_limit, 1.0)
        self.started = time.monotonic()
        self.last = 0.0

    def stage(self, name: str, fraction: float, force: bool = True) -> None:
        now = time.monotonic()
        if not force and now - self.last < PROGRESS_INTERVAL:
            return
        self.last = now
        with self.database.session() as session:
            session.execute(
                update(SolverJob)
                .where(SolverJob.id == self.job_id, SolverJob.status == JobStatus.RUNNING)
                .values(stage=name, progress=min(max(fraction, 0.0), 0.99))
            )
            session.commit()

    def __call__(self, progress: Progress) -> None:
        now = time.monotonic()
        if now - self.last < PROGRESS_INTERVAL:
            return
        self.last = now
        fraction = 0.1 + 0.8 * min(progress.elapsed_seconds / self.time_limit, 1.0)
        with self.database.session() as session:
            session.execute(
                update(SolverJob)
                .where(SolverJob.id == self.job_id, SolverJob.status == JobStatus.RUNNING)
                .values(stage="solving", progress=fraction, best_objective=progress.served_value)
            )
            session.commit()


def _finish(database: Database, job_id: int, status: JobStatus, message: str) -> None:
    with database.session() as session:
        session.execute(
            update(SolverJob)
            .where(
                SolverJob.id == job_id,
                SolverJob.status.in_((JobStatus.QUEUED, JobStatus.RUNNING)),
            )
            .values(status=status, message=message, finished_at=utcnow())
        )
        session.commit()


@dataclass(frozen=True)
class _Claim:
    """The settings of a job this worker has moved from QUEUED to RUNNING."""

    job_id: int
    strategy: str
    time_limit: float
    by_id: int | None


def run_solver_job(
    database: Database,
    job_id: int,
    *,
    should_stop: Callable[[], bool] | None = None,
    workers: int = 2,
) -> None:
    """Run one queued job to its end: build, solve, check, explain, store.

    Each step uses its own short session, so that no transaction stays open while the
    solver runs. Any failure ends the job FAILED with a message for the manager (details
    in the log); a cancelled job stores nothing.

    Args:
        database: where the job and the data live.
        job_id: the SolverJob to run.
        should_stop: polled by the solver; True ends the solve early.
        workers: CP-SAT worker threads.
    """
    claim = _claim(database, job_id)
    if claim is None:
        return
    writer = _ProgressWriter(database, job_id, claim.time_limit)
    try:
        _run_claimed(database, claim, writer, should_stop, workers)
    except FormatError as error:
        log.warning("job %s: data cannot be planned: %s", job_id, error)
        _finish(database, job_id, JobStatus.FAILED, _unplannable_message(error))
    except Exception:
        log.exception("job %s failed", job_id)
        _finish(
            database,
            job_id,
            JobStatus.FAILED,
            _("The optimiser failed; the error has been logged. Nothing was changed."),
        )


def _claim(database: Database, job_id: int) -> _Claim | None:
    """Start the job if it is still queued; None if another worker (or a cancel) got it."""
    with database.session() as session:
        claimed = rows_matched(
            session.execute(
                update(SolverJob)
                .where(SolverJob.id == job_id, SolverJob.status == JobStatus.QUEUED)
                .values(
                    status=JobStatus.RUNNING, started_at=utcnow(), stage="building", progress=0.02
                )
            )
        )
        session.commit()
        if not claimed:
            return None
        job = session.get(SolverJob, job_id)
        assert job is not None
        return _Claim(job_id, job.strategy, job.time_limit_seconds, job.requested_by_id)


def _run_claimed(
    database: Database,
    claim: _Claim,
    writer: _ProgressWriter,
    should_stop: Callable[[], bool] | None,
    workers: int,
) -> None:
    """Build, solve, check, explain and store; ends the job unless an error escapes.

    Raises:
        FormatError: the data cannot be turned into a valid problem.
    """
    problem, maps, text, sha = _valid_problem(database)
    writer.stage("solving", 0.1)
    options = SolveOptions(
        time_limit_seconds=claim.time_limit,
        workers=workers,
        seed=0,
        on_progress=writer,
        should_stop=should_stop,
    )
    plan = solver.solve(problem, claim.strategy, options, sha)
    if should_stop is not None and should_stop():
        _finish(database, claim.job_id, JobStatus.CANCELLED, _("Cancelled before the end."))
        return
    writer.stage("checking", 0.92)
    baseline = solver.solve(
        problem, "baseline", SolveOptions(time_limit_seconds=60, should_stop=should_stop), sha
    )
    if should_stop is not None and should_stop():
        _finish(database, claim.job_id, JobStatus.CANCELLED, _("Cancelled before the end."))
        return
    violations = check_plan(problem, plan, sha) + check_plan(problem, baseline, sha)
    if violations:
        _fail_broken_rules(database, claim.job_id, violations)
        return
    writer.stage("explaining", 0.95)
    reasons = diagnose_unserved(problem, plan.requests, EXPLAIN_SECONDS)
    with database.session() as session:
        stored = _store_plan(
            session, problem, plan, baseline, text, sha, maps, reasons, claim.by_id
        )
        _succeed(session, claim.job_id, stored.id, plan)


def _valid_problem(database: Database) -> tuple[solver.Problem, IdMaps, str, str]:
    """The problem of the current data, without the open requests the format refuses.

    A request whose values the problem format refuses is left out, unserved with the
    reason, rather than failing the whole run; the problem is built again without it.

    Raises:
        FormatError: the data cannot be planned because of something other than open
            requests (an approved loan, the inventory).
    """
    rejected: dict[int, dict[str, Any]] = {}
    for _attempt in range(MAX_REJECTION_ROUNDS):
        with database.session() as session:
            problem, maps = build_problem(session, rejected=rejected)
            session.rollback()
        try:
            text, sha = problem_document(problem)
        except FormatError as error:
            culprits = _open_requests_named(error, problem, maps)
            if not culprits:
                raise
            for request_id, messages in culprits.items():
                log.warning("request %s left out of the run: %s", request_id, messages)
                rejected[request_id] = rejected_reason("; ".join(messages[:3]))
            continue
        return problem, maps, text, sha
    raise FormatError([_("Too many requests cannot be planned; correct them first.")])


def _open_requests_named(
    error: FormatError, problem: solver.Problem, maps: IdMaps
) -> dict[int, list[str]]:
    """The open requests (request id -> messages) that the format errors name; empty when
    any error concerns something else, which leaving requests out cannot mend."""
    named: dict[int, list[str]] = {}
    for message in error.errors:
        match = REQUEST_PATH.match(message)
        if match is None or int(match.group(1)) >= len(problem.requests):
            return {}
        key = problem.requests[int(match.group(1))].id
        if key in maps.locked or key not in maps.requests:
            return {}
        named.setdefault(maps.requests[key], []).append(message)
    return named


def _fail_broken_rules(database: Database, job_id: int, violations: list[Violation]) -> None:
    """End the job FAILED because a plan broke a rule: a solver bug, never stored."""
    log.error("job %s: plan breaks the rules: %s", job_id, violations)
    listed = "; ".join(str(v) for v in violations[:5])
    _finish(
        database,
        job_id,
        JobStatus.FAILED,
        _("The plan broke a rule and was not stored: %(detail)s", detail=listed),
    )


def _succeed(session: Session, job_id: int, plan_id: int, plan: solver.Plan) -> None:
    """End the job SUCCEEDED with its stored plan, or drop the plan if it was cancelled."""
    done = rows_matched(
        session.execute(
            update(SolverJob)
            .where(SolverJob.id == job_id, SolverJob.status == JobStatus.RUNNING)
            .values(
                status=JobStatus.SUCCEEDED,
                plan_id=plan_id,
                progress=1.0,
                stage="done",
                finished_at=utcnow(),
                best_objective=plan.metrics.served_value,
                message=None,
            )
        )
    )
    if not done:
        # Cancelled (or failed by a restart) while storing: keep nothing.
        session.rollback()
        return
    session.commit()


def _unplannable_message(error: FormatError) -> str:
    """Why the data cannot be planned, for the manager, with the first errors."""
    message = _("The data cannot be planned: %(detail)s", detail="; ".join(error.errors[:5]))
    if any(".locked" in e for e in error.errors):
        message = " ".join(
            (
                _(
                    "An approved loan no longer fits the inventory (a stock reduced or a "
                    "unit changed since it was approved): restore it or cancel the loan, "
                    "then run again."
                ),
                message,
            )
        )
    return message


def plan_summary(problem: solver.Problem, plan: solver.Plan) -> dict[str, Any]:
    """The headline figures of a plan, as stored on the Plan row."""
    summary: dict[str, Any] = asdict(plan.metrics)
    summary["status"] = plan.status.value
    summary["seconds"] = round(plan.solver.seconds, 2)
    summary["served_by_priority"] = served_by_priority(problem, plan.requests)
    summary["km_per_served"] = km_per_served(summary)
    summary["shifted"] = sum(
        1
        for a in plan.requests
        if a.served and a.start is not None and a.start != problem.request_by_id[a.id].start
    )
    summary["bound"] = list(plan.solver.bound) if plan.solver.bound else None
    summary["by_commune"] = commune_figures(problem, plan)
    return summary


def _store_plan(
    session: Session,
    problem: solver.Problem,
    plan: solver.Plan,
    baseline: solver.Plan,
    text: str,
    sha: str,
    maps: IdMaps,
    reasons: dict[str, Any],
    by_id: int | None,
) -> Plan:
    """Add the plan, its assignments and the diff; move its open requests to PLANNED."""
    row = Plan(
        status=PlanStatus.PROPOSED,
        strategy=plan.solver.strategy,
        problem_json=json.loads(text),
        plan_json=json.loads(plan_to_json(plan, TIMEZONE)),
        problem_sha=sha,
        metrics=plan_summary(problem, plan),
        baseline_metrics=plan_summary(problem, baseline),
        data_watermark=maps.watermark,
        data_fingerprint=maps.fingerprint,
        created_by_id=by_id,
    )
    session.add(row)
    for ra in plan.requests:
        request_id = maps.requests[ra.id]
        assignment = Assignment(
            request_id=request_id,
            is_served=ra.served,
            start_dt=ra.start,
            end_dt=ra.end,
            is_pinned=ra.id in maps.pinned,
        )
        if not ra.served:
            reason = reasons.get(ra.id)
            assignment.reason = reason.to_dict() if reason is not None else {"text": ra.reason}
        for line_id, la in zip(maps.lines[ra.id], ra.lines, strict=False):
            for code in la.units:
                assignment.units.append(AssignmentUnit(line_id=line_id, unit_id=maps.units[code]))
            for draw in la.pools:
                assignment.draws.append(
                    AssignmentDraw(
                        line_id=line_id, pool_id=maps.pools[draw.pool], quantity=draw.quantity
                    )
                )
        row.assignments.append(assignment)
    # Requests left out of the problem because their dates have passed: unserved, with why.
    for request_id, latest_start in sorted(maps.expired.items()):
        row.assignments.append(
            Assignment(request_id=request_id, is_served=False, reason=expired_reason(latest_start))
        )
    # Requests the optimiser could not take: unserved, with why; nothing of them is lost.
    for request_id, reason in sorted(maps.rejected.items()):
        row.assignments.append(Assignment(request_id=request_id, is_served=False, reason=reason))
    row.diff = plan_diff(session, maps.approved_plan_id, row.assignments)
    open_ids = [maps.requests[key] for key in maps.requests if key not in maps.locked]
    if open_ids:
        # Only requests still SUBMITTED: one cancelled during the solve stays cancelled.
        session.execute(
            update(LoanRequest)
            .where(LoanRequest.id.in_(open_ids), LoanRequest.status == RequestStatus.SUBMITTED)
            .values(status=RequestStatus.PLANNED)
            .execution_options(synchronize_session=False)
        )
    session.flush()
    return row


def _signature(a: Assignment) -> tuple[Any, ...]:
    return (
        a.is_served,
        a.start_dt,
        a.end_dt,
        tuple(sorted((u.line_id, u.unit_id) for u in a.units)),
        tuple(sorted((d.line_id, d.pool_id, d.quantity) for d in a.draws)),
    )


def plan_diff(
    session: Session, approved_plan_id: int | None, assignments: list[Assignment]
) -> dict[str, Any]:
    """What a plan changes against an approved one.

    Returns:
        ``{"against_plan_id", "new", "moved", "dropped"}``: request ids newly served,
        served at other times or with other units or pools, and no longer served.
    """
    before: dict[int, Assignment] = {}
    if approved_plan_id is not None:
        before = {
            a.request_id: a
            for a in session.scalars(
                select(Assignment).where(Assignment.plan_id == approved_plan_id)
            )
        }
    new, moved, dropped = [], [], []
    for a in assignments:
        old = before.get(a.request_id)
        was_served = old is not None and old.is_served
        if a.is_served and not was_served:
            new.append(a.request_id)
        elif not a.is_served and was_served:
            dropped.append(a.request_id)
        elif a.is_served and old is not None and _signature(a) != _signature(old):
            moved.append(a.request_id)
    return {
        "against_plan_id": approved_plan_id,
        "new": sorted(new),
        "moved": sorted(moved),
        "dropped": sorted(dropped),
    }
