"""The waiting list: requests the approved plan left unserved, offered freed capacity.

When a cancellation, an early return, a repaired unit or more stock frees capacity,
:func:`offer_freed_capacity` queues a quick run of the optimiser (the usual job, with a
short time limit). ``build_problem`` locks every approved loan, so the proposal changes
none of them; the manager sees on its review page which waiting requests now fit
(:func:`waiting_served`) and approving it tells their communes.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from flask import current_app, has_app_context
from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from booking.db import utcnow
from booking.models import (
    Assignment,
    JobStatus,
    LoanRequest,
    Plan,
    RequestStatus,
    Role,
    SolverJob,
    User,
)
from booking.services.audit import record_event
from booking.services.jobs import get_runner
from booking.services.notifications import notify

# The quick re-plan's time limit (seconds), unless ``WAITING_REPLAN_SECONDS`` says otherwise.
QUICK_REPLAN_SECONDS = 10.0


def waiting_ids(session: Session, *, now: datetime) -> list[int]:
    """The waiting requests that could still be served (their latest end is ahead)."""
    latest_end = func.coalesce(LoanRequest.latest_end_dt, LoanRequest.requested_end_dt)
    return list(
        session.scalars(
            select(LoanRequest.id)
            .where(LoanRequest.status == RequestStatus.WAITING, latest_end > now)
            .order_by(LoanRequest.id)
        )
    )


def _job_pending(session: Session) -> bool:
    return (
        session.scalar(
            select(SolverJob.id)
            .where(SolverJob.status.in_((JobStatus.QUEUED, JobStatus.RUNNING)))
            .limit(1)
        )
        is not None
    )


def offer_freed_capacity(
    session: Session, *, by: User | None, cause: Callable[[], str], now: datetime | None = None
) -> SolverJob | None:
    """Queue a quick re-plan for the waiting list after capacity was freed.

    Call it once the change that freed capacity is committed. Nothing happens outside an
    application (no job runner), when no waiting request can still be served, or when a
    run of the optimiser is already queued or running (it will see the freed capacity).

    Args:
        session: the database session (committed here when a job is queued).
        by: who freed the capacity (for the audit trail); any role.
        cause: what freed it, as a sentence built under each manager's locale.
        now: the current time (default: the clock).

    Returns:
        The queued job (already finished with an inline runner), or None.
    """
    if not has_app_context():
        return None
    waiting = waiting_ids(session, now=now or utcnow())
    if not waiting or _job_pending(session):
        return None
    seconds = float(current_app.config.get("WAITING_REPLAN_SECONDS") or QUICK_REPLAN_SECONDS)
    job = SolverJob(
        status=JobStatus.QUEUED,
        strategy="cpsat",
        time_limit_seconds=seconds,
        requested_by_id=None,
        stage="queued",
    )
    session.add(job)
    session.flush()
    record_event(
        session,
        by=by,
        action="plan.propose_for_waiting_list",
        object_type="solver_job",
        object_id=job.id,
        after={"waiting": waiting, "time_limit_seconds": seconds},
    )
    managers = session.scalars(
        select(User).where(User.role == Role.MANAGER, User.is_active_account.is_(True))
    ).all()
    notify(
        session,
        managers,
        "plan.waiting_list",
        lambda: " ".join(
            (
                cause(),
                _(
                    "A quick re-plan that keeps every approved loan is running for the "
                    "%(count)d requests on the waiting list: review it on the Planning page.",
                    count=len(waiting),
                ),
            )
        ),
        {"job_id": job.id, "waiting": waiting},
    )
    session.commit()
    get_runner().submit(job.id)
    session.refresh(job)
    return job


def waiting_served(session: Session, plan: Plan) -> list[LoanRequest]:
    """The waiting requests ``plan`` serves, soonest first (what a re-plan offers)."""
    return list(
        session.scalars(
            select(LoanRequest)
            .join(Assignment, Assignment.request_id == LoanRequest.id)
            .where(
                Assignment.plan_id == plan.id,
                Assignment.is_served.is_(True),
                LoanRequest.status == RequestStatus.WAITING,
            )
            .order_by(LoanRequest.requested_start_dt, LoanRequest.id)
        )
    )
