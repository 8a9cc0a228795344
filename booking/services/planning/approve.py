"""Approving a proposed plan, and the manager's adjustments before approval."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import delete, insert, select, text
from sqlalchemy.orm import Session

from booking import limits
from booking.db import utcnow
from booking.errors import Conflict, NotFound, ValidationError
from booking.i18n import local_datetime
from booking.models import (
    LOCKED_STATUSES,
    OPEN_STATUSES,
    Assignment,
    AssignmentDraw,
    AssignmentUnit,
    LoanRequest,
    Plan,
    PlanStatus,
    RequestStatus,
    Role,
    Unit,
    UnitOccupation,
    User,
)
from booking.services.access import get_or_404, require_staff
from booking.services.audit import record_event
from booking.services.concurrency import conflict_on_concurrent_write
from booking.services.notifications import notify
from booking.services.planning.data import data_fingerprint, stale_message
from booking.services.planning.ids import TIMEZONE, request_key
from booking.services.planning.problem import km_per_served
from booking.services.planning.reasons import describe_reason
from booking.services.rounds import refresh_after_change
from solver.check import Violation, check_assignments, compute_metrics
from solver.io import plan_from_json, plan_to_json, problem_from_json
from solver.plan import LineAssignment

DECLINABLE = (
    RequestStatus.SUBMITTED,
    RequestStatus.PLANNED,
    RequestStatus.WAITING,
    RequestStatus.APPROVED,
)


def _lock_for_approval(session: Session, plan_id: int) -> None:
    """Serialise approvals and the changes they race with.

    The caller's transaction is ended first, so that the next statement opens a fresh one.
    On SQLite, a write as the first statement takes the database's write lock at once
    (like BEGIN IMMEDIATE); on PostgreSQL, SELECT ... FOR UPDATE locks every proposed and
    approved plan (so two approvals queue up) and every open or approved request (so a
    cancellation waits for the approval, then fails its version check, or wins first and
    makes the plan stale).
    """
    session.commit()
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text("UPDATE plans SET status = status WHERE id = :id"), {"id": plan_id})
        return
    session.execute(
        select(Plan.id)
        .where(Plan.status.in_((PlanStatus.PROPOSED, PlanStatus.APPROVED)))
        .order_by(Plan.id)
        .with_for_update()
    ).all()
    session.execute(
        select(LoanRequest.id)
        .where(LoanRequest.status.in_(OPEN_STATUSES + LOCKED_STATUSES))
        .order_by(LoanRequest.id)
        .with_for_update()
    ).all()


def _technicians(session: Session, commune_id: int) -> list[User]:
    return list(
        session.scalars(
            select(User).where(
                User.role == Role.TECHNICIAN,
                User.commune_id == commune_id,
                User.is_active_account.is_(True),
            )
        )
    )


def _moved(old: Assignment, new: Assignment) -> bool:
    """Whether a loan's new assignment has other times, units or pool draws."""
    return (
        old.start_dt != new.start_dt
        or old.end_dt != new.end_dt
        or sorted((u.line_id, u.unit_id) for u in old.units)
        != sorted((u.line_id, u.unit_id) for u in new.units)
        or sorted((d.line_id, d.pool_id, d.quantity) for d in old.draws)
        != sorted((d.line_id, d.pool_id, d.quantity) for d in new.draws)
    )


def _equipment(assignment: Assignment) -> str:
    """'Minibus 9 places (MB-1), 120 x Chaise pliante' for a served assignment."""
    parts: list[str] = []
    for line in assignment.request.lines:
        codes = [u.unit.code for u in assignment.units if u.line_id == line.id]
        if codes:
            parts.append(f"{line.type.name} ({', '.join(codes)})")
        else:
            parts.append(f"{line.quantity} × {line.type.name}")
    return ", ".join(parts)


def _notify(
    session: Session,
    loan: LoanRequest,
    kind: str,
    message: Callable[[], str],
    payload: dict[str, Any],
) -> None:
    """Tell the commune's technicians, each in their own language (and by e-mail)."""
    notify(session, _technicians(session, loan.commune_id), kind, message, payload)


def _started_since_proposed(session: Session, plan: Plan, now: datetime) -> list[int]:
    """Open requests the plan serves from a start that has already passed."""
    return list(
        session.scalars(
            select(Assignment.request_id)
            .join(LoanRequest, Assignment.request_id == LoanRequest.id)
            .where(
                Assignment.plan_id == plan.id,
                Assignment.is_served.is_(True),
                Assignment.start_dt < now,
                LoanRequest.status.in_(OPEN_STATUSES),
            )
            .order_by(Assignment.request_id)
        )
    )


def approve_plan(session: Session, plan_id: int, *, by: User, now: datetime | None = None) -> Plan:
    """Approve a proposed plan, in one transaction.

    The plan becomes APPROVED and the approved one SUPERSEDED (other proposals are
    DISCARDED); its open requests become APPROVED (served), WAITING (unserved, with the
    reason; they stay plannable) or DECLINED (unserved because their dates have passed);
    the SEQUENCE of every request whose status, times or units change is raised; the
    commune's technicians are notified; an audit event is written.

    Raises:
        Forbidden: ``by`` is not staff.
        NotFound: no such plan.
        Conflict: the plan is not a proposal any more, or the data changed since it was
            proposed (it must be re-run), or a loan it would approve was to start before
            ``now`` (time passed since it was proposed), or a concurrent change got in first.
    """
    require_staff(by)
    lost_race = _("Someone changed the data at the same moment. %(hint)s", hint=stale_message())
    try:
        with conflict_on_concurrent_write(session, lost_race, duplicate=lost_race):
            _lock_for_approval(session, plan_id)
            plan = session.scalars(
                select(Plan).where(Plan.id == plan_id).execution_options(populate_existing=True)
            ).first()
            if plan is None:
                raise NotFound(_("Plan %(id)s does not exist.", id=plan_id))
            if plan.status is not PlanStatus.PROPOSED:
                raise Conflict(_("This plan cannot be approved: it is no longer a proposal."))
            if data_fingerprint(session, horizon=None) != plan.data_fingerprint:
                raise Conflict(stale_message())
            late = _started_since_proposed(session, plan, now or utcnow())
            if late:
                raise Conflict(
                    _(
                        "This plan would approve loans whose start has passed since it was "
                        "proposed (requests %(ids)s). Run the optimiser again and approve the "
                        "new plan.",
                        ids=", ".join(f"n° {i}" for i in late),
                    )
                )
            summary = _apply(session, plan, by, now or utcnow())
            record_event(
                session,
                by=by,
                action="plan.approve",
                object_type="plan",
                object_id=plan.id,
                before={"status": PlanStatus.PROPOSED.value},
                after={"status": PlanStatus.APPROVED.value, **summary},
            )
            session.commit()
    except (Conflict, NotFound):
        session.rollback()
        raise
    refresh_after_change(session, now=now)
    return plan


def _apply(session: Session, plan: Plan, by: User, now: datetime) -> dict[str, Any]:
    """Make ``plan`` the approved one and settle each of its open requests.

    Returns:
        The audit summary: ``{"approved", "declined", "waiting", "changed"}``, lists of
        request ids approved as before, declined (dates passed), put on (or kept on) the
        waiting list, and approved with other times, units or draws.
    """
    before = _retire_plans(session, plan, by)
    approved: list[int] = []
    declined: list[int] = []
    waiting: list[int] = []
    changed: list[int] = []
    for assignment in plan.assignments:
        loan = assignment.request
        if loan.status not in OPEN_STATUSES:
            continue  # approved loans were locked: unchanged
        if not assignment.is_served:
            if _has_expired(assignment, now):
                _decline_unserved(session, plan, assignment)
                declined.append(loan.id)
            else:
                _wait_unserved(session, plan, assignment)
                waiting.append(loan.id)
        elif _approve_served(session, plan, assignment, before.get(loan.id)):
            changed.append(loan.id)
        else:
            approved.append(loan.id)
    _keep_left_out(plan, before)
    session.flush()
    _record_occupations(session, plan)
    return {"approved": approved, "declined": declined, "waiting": waiting, "changed": changed}


def _record_occupations(session: Session, plan: Plan) -> None:
    """Replace the occupations of the plans no longer approved by those of ``plan``.

    Only the rows of plans this approval retired are removed: a row another approval
    wrote meanwhile stays, and on PostgreSQL the exclusion constraint then refuses the
    overlapping rows of ``plan`` (an ``IntegrityError``, reported as a conflict).
    """
    session.execute(
        delete(UnitOccupation).where(
            UnitOccupation.assignment_id.in_(
                select(Assignment.id)
                .join(Plan, Assignment.plan_id == Plan.id)
                .where(Plan.status != PlanStatus.APPROVED)
            )
        )
    )
    rows = []
    for assignment in plan.assignments:
        if not assignment.is_served or assignment.request.status not in LOCKED_STATUSES:
            continue
        if assignment.start_dt is None or assignment.end_dt is None:
            continue
        for au in assignment.units:
            pad = timedelta(minutes=limits.turnaround_minutes(au.unit.type.turnaround_minutes))
            rows.append(
                {
                    "unit_id": au.unit_id,
                    "assignment_id": assignment.id,
                    "request_id": assignment.request_id,
                    "start_dt": assignment.start_dt,
                    "end_dt": assignment.end_dt + pad,
                }
            )
    if rows:
        session.execute(insert(UnitOccupation), rows)


def _retire_plans(session: Session, plan: Plan, by: User) -> dict[int, Assignment]:
    """Supersede the approved plan, discard the other proposals, approve ``plan``.

    Returns:
        The served assignments of the plan approved until now, by request id.
    """
    previous = session.scalars(select(Plan).where(Plan.status == PlanStatus.APPROVED)).all()
    before: dict[int, Assignment] = {}
    for old in previous:
        before.update({a.request_id: a for a in old.assignments if a.is_served})
        old.status = PlanStatus.SUPERSEDED
    for other in session.scalars(
        select(Plan).where(Plan.status == PlanStatus.PROPOSED, Plan.id != plan.id)
    ):
        other.status = PlanStatus.DISCARDED
    plan.status = PlanStatus.APPROVED
    plan.approved_by_id = by.id
    plan.approved_at = utcnow()
    return before


def _times_and_units(assignment: Assignment) -> dict[str, Any]:
    """The part of a notification payload that says when and with which units."""
    return {
        "start": assignment.start_dt.isoformat() if assignment.start_dt else None,
        "end": assignment.end_dt.isoformat() if assignment.end_dt else None,
        "units": sorted(u.unit.code for u in assignment.units),
    }


def _approve_served(
    session: Session, plan: Plan, assignment: Assignment, old: Assignment | None
) -> bool:
    """Approve an open request the plan serves, and tell its commune's technicians.

    Args:
        old: its served assignment in the plan approved until now, if any.

    Returns:
        Whether the loan was approved before with other times, units or pool draws.
    """
    loan = assignment.request
    loan.status = RequestStatus.APPROVED
    loan.decline_reason = None
    loan.sequence += 1
    payload = {"request_id": loan.id, "plan_id": plan.id, **_times_and_units(assignment)}
    equipment = _equipment(assignment)

    # Called under each technician's locale: the dates are formatted in their language.
    def values() -> dict[str, str]:
        return {
            "title": assignment.request.title,
            "start": local_datetime(assignment.start_dt),
            "end": local_datetime(assignment.end_dt),
            "equipment": equipment,
        }

    if old is not None and _moved(old, assignment):
        payload["previous"] = _times_and_units(old)
        _notify_changed(session, loan, old, values, payload)
        return True
    _notify(
        session,
        loan,
        "request.approved",
        lambda: _("Approved: %(title)s from %(start)s to %(end)s, with %(equipment)s.", **values()),
        payload,
    )
    return False


def _notify_changed(
    session: Session,
    loan: LoanRequest,
    old: Assignment,
    values: Callable[[], dict[str, str]],
    payload: dict[str, Any],
) -> None:
    """Tell the technicians that the new plan moved an approved loan, and from where."""
    was = _equipment(old)

    def changed_text() -> str:
        return _(
            "Changed by the new plan: %(title)s now from %(start)s to %(end)s, "
            "with %(equipment)s (before: from %(old_start)s to %(old_end)s, "
            "with %(old_equipment)s).",
            **values(),
            old_start=local_datetime(old.start_dt),
            old_end=local_datetime(old.end_dt),
            old_equipment=was,
        )

    _notify(session, loan, "request.changed", changed_text, payload)


def _decline_unserved(session: Session, plan: Plan, assignment: Assignment) -> None:
    """Decline an open request the plan leaves unserved, telling its technicians why."""
    loan = assignment.request
    _decline(
        session,
        loan,
        describe_reason(session, assignment.reason),
        # The reason is described again under each technician's locale.
        lambda: describe_reason(session, assignment.reason),
        {"plan_id": plan.id},
    )


def _has_expired(assignment: Assignment, now: datetime) -> bool:
    """Whether an unserved request can no longer be served: its dates have passed."""
    reason = assignment.reason
    if isinstance(reason, dict) and reason.get("latest_start"):
        return True
    loan = assignment.request
    return (loan.latest_end_dt or loan.requested_end_dt) <= now


def _wait_unserved(session: Session, plan: Plan, assignment: Assignment) -> None:
    """Put an open request the plan leaves unserved on the waiting list.

    Its technicians are told why once, when it joins the list; a request already waiting
    only gets the new reason.
    """
    loan = assignment.request
    reason = describe_reason(session, assignment.reason)
    loan.decline_reason = reason
    if loan.status is RequestStatus.WAITING:
        return
    loan.status = RequestStatus.WAITING
    loan.sequence += 1
    _notify(
        session,
        loan,
        "request.waiting",
        lambda: _(
            "On the waiting list: %(title)s. %(reason)s You will be told if equipment "
            "becomes free in time.",
            title=loan.title,
            reason=describe_reason(session, assignment.reason),
        ),
        {"request_id": loan.id, "plan_id": plan.id, "reason": reason},
    )


def _decline(
    session: Session,
    loan: LoanRequest,
    reason: str,
    reason_text: Callable[[], str],
    payload: dict[str, Any],
) -> None:
    """Decline ``loan`` for ``reason`` and tell its technicians, each in their language."""
    loan.status = RequestStatus.DECLINED
    loan.decline_reason = reason
    loan.sequence += 1
    _notify(
        session,
        loan,
        "request.declined",
        lambda: _("Declined: %(title)s. %(reason)s", title=loan.title, reason=reason_text()),
        {"request_id": loan.id, **payload, "reason": reason},
    )


def _keep_left_out(plan: Plan, before: dict[int, Assignment]) -> None:
    """Copy into ``plan`` the approved loans left out of its horizon, as they were."""
    in_plan = {a.request_id for a in plan.assignments}
    for request_id, old in before.items():
        if request_id in in_plan or old.request.status not in LOCKED_STATUSES:
            continue
        copy = Assignment(
            request_id=request_id,
            is_served=True,
            start_dt=old.start_dt,
            end_dt=old.end_dt,
            units=[AssignmentUnit(line_id=u.line_id, unit_id=u.unit_id) for u in old.units],
        )
        copy.draws = [
            AssignmentDraw(line_id=d.line_id, pool_id=d.pool_id, quantity=d.quantity)
            for d in old.draws
        ]
        plan.assignments.append(copy)


# --- adjustments ------------------------------------------------------------------------


def _proposed_assignment(
    session: Session, plan_id: int, request_id: int
) -> tuple[Plan, Assignment]:
    plan = get_or_404(session, Plan, plan_id)
    if plan.status is not PlanStatus.PROPOSED:
        raise Conflict(_("Only a proposed plan can be adjusted."))
    assignment = next((a for a in plan.assignments if a.request_id == request_id), None)
    if assignment is None:
        raise NotFound(_("Request %(id)s is not in this plan.", id=request_id))
    return plan, assignment


def _set_pin(session: Session, plan_id: int, request_id: int, pinned: bool, by: User) -> None:
    require_staff(by)
    _plan, assignment = _proposed_assignment(session, plan_id, request_id)
    if pinned and not assignment.is_served:
        raise Conflict(_("Only a served request can be pinned."))
    assignment.is_pinned = pinned
    record_event(
        session,
        by=by,
        action="plan.pin" if pinned else "plan.unpin",
        object_type="plan",
        object_id=plan_id,
        after={"request_id": request_id},
    )
    session.commit()


def pin_assignment(session: Session, plan_id: int, request_id: int, *, by: User) -> None:
    """Pin a served assignment: the next run keeps it exactly (as ``locked``).

    Raises:
        Forbidden, NotFound; Conflict: the plan is not a proposal or the request unserved.
    """
    _set_pin(session, plan_id, request_id, True, by)


def unpin_assignment(session: Session, plan_id: int, request_id: int, *, by: User) -> None:
    """Undo ``pin_assignment``.

    Raises:
        Forbidden, NotFound; Conflict: the plan is not a proposal.
    """
    _set_pin(session, plan_id, request_id, False, by)


def explain_violation(violation: Violation, unit_code: str) -> str:
    """A broken rule in words, with the checker's details."""
    lead = {
        "1": _("the loan would fall outside its window or the planning period"),
        "2": _(
            "%(unit)s is not of the requested type nor a substitute, or is already named "
            "for this request",
            unit=unit_code,
        ),
        "3": _(
            "%(unit)s is busy then, in maintenance, or cannot get there in time "
            "(turnaround and travel)",
            unit=unit_code,
        ),
        "4": _("the pool does not hold enough items then"),
        "5": _("this request is an approved loan and must stay as it is"),
    }.get(violation.rule, _("the plan would break a rule"))
    return _("Not possible: %(lead)s (%(detail)s).", lead=lead, detail=violation.message)


def force_unit(
    session: Session,
    plan_id: int,
    request_id: int,
    line_id: int,
    unit_id: int,
    *,
    by: User,
    replace_unit_id: int | None = None,
) -> Plan:
    """Give ``unit_id`` to one line of a served assignment of a proposed plan.

    The change is checked at once against the plan's problem with
    ``solver.check.check_assignments``; the plan's metrics are recomputed.

    Args:
        replace_unit_id: the unit it replaces; default the line's first unit.

    Raises:
        Forbidden, NotFound.
        Conflict: the plan is not a proposal, the request is unserved or an approved loan.
        ValidationError: the change breaks a rule; the message says which, in words.
    """
    require_staff(by)
    plan, assignment = _proposed_assignment(session, plan_id, request_id)
    if not assignment.is_served:
        raise Conflict(_("This request is not served in the plan: nothing to change."))
    loan = assignment.request
    if loan.status in LOCKED_STATUSES:
        raise Conflict(_("This request is an approved loan; its units cannot change here."))
    line_index = next((i for i, line in enumerate(loan.lines) if line.id == line_id), None)
    if line_index is None:
        raise NotFound(_("This line is not part of the request."))
    unit = get_or_404(session, Unit, unit_id)
    current = [u for u in assignment.units if u.line_id == line_id]
    if not current:
        raise ValidationError(_("This line is served from a pool, not by numbered units."))
    if any(u.unit_id == unit_id for u in current):
        raise ValidationError(_("%(unit)s is already given to this line.", unit=unit.code))
    target = next((u for u in current if u.unit_id == replace_unit_id), current[0])

    problem = problem_from_json(json.dumps(plan.problem_json))
    solver_plan = plan_from_json(json.dumps(plan.plan_json))
    if unit.code not in problem.unit_by_id:
        raise ValidationError(
            _("%(unit)s cannot be lent in this period (retired or not planned).", unit=unit.code)
        )
    key = request_key(request_id)
    changed = []
    for ra in solver_plan.requests:
        if ra.id == key:
            lines = list(ra.lines)
            old = lines[line_index]
            units = tuple(unit.code if c == target.unit.code else c for c in old.units)
            lines[line_index] = LineAssignment(type=old.type, units=units, pools=old.pools)
            ra = replace(ra, lines=tuple(lines))
        changed.append(ra)
    violations = check_assignments(problem, changed)
    if violations:
        raise ValidationError(explain_violation(violations[0], unit.code), field="unit_id")
    target.unit_id = unit.id
    new_plan = replace(solver_plan, requests=tuple(changed))
    new_plan = replace(new_plan, metrics=compute_metrics(problem, new_plan.requests))
    plan.plan_json = json.loads(plan_to_json(new_plan, TIMEZONE))
    metrics = {**(plan.metrics or {}), "km": new_plan.metrics.km}
    plan.metrics = {**metrics, "km_per_served": km_per_served(metrics)}
    record_event(
        session,
        by=by,
        action="plan.force_unit",
        object_type="plan",
        object_id=plan.id,
        after={"request_id": request_id, "line_id": line_id, "unit": unit.code},
    )
    session.commit()
    return plan


def decline_request(session: Session, request_id: int, reason: str, *, by: User) -> LoanRequest:
    """Decline a request now, with a reason its commune's technicians are told.

    Raises:
        Forbidden, NotFound.
        ValidationError: the reason is empty.
        Conflict: the request cannot be declined in its state.
    """
    require_staff(by)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError(_("Give the reason for declining."), field="reason")
    loan = get_or_404(session, LoanRequest, request_id)
    if loan.status not in DECLINABLE:
        raise Conflict(_("This request can no longer be declined."))
    before = loan.status.value
    _decline(session, loan, reason, lambda: reason, {})
    record_event(
        session,
        by=by,
        action="request.decline",
        object_type="loan_request",
        object_id=loan.id,
        before={"status": before},
        after={"status": loan.status.value, "reason": reason},
    )
    with conflict_on_concurrent_write(
        session, _("The request changed meanwhile; reload and try again.")
    ):
        session.commit()
    refresh_after_change(session)
    return loan
