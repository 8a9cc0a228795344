"""Loan requests on the technicians' side: submit, edit, read and cancel.

Every function takes a session and plain values, checks what ``by`` may do (a technician
acts only for the commune of their account; other communes' requests are reported as
missing so that their existence is not revealed), validates the business rules (a
``ValidationError`` names every problem at once, each with the field it concerns),
records an audit event for each state change and commits.

The rules are in ``booking.services.request_rules``; lists and outcomes in
``booking.services.request_lists``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, selectinload

from booking.db import utcnow
from booking.errors import Conflict, NotFound, ValidationError
from booking.models import (
    LoanRequest,
    RequestLine,
    RequestStatus,
    Role,
    UnitOccupation,
    User,
)
from booking.services.access import commune_filter, require_role
from booking.services.audit import record_event
from booking.services.concurrency import conflict_on_concurrent_write
from booking.services.notifications import notify
from booking.services.request_rules import (
    PRIORITY_NORMAL,
    REQUESTER_ROLES,
    Line,
    is_valid_id,
    merge_lines,
    validate_request,
)
from booking.services.rounds import refresh_after_change
from booking.services.waiting import offer_freed_capacity
from booking.templating import REQUEST_STATUS_LABELS
from booking.timeutil import to_local

# States in which the commune may still change its mind about the details.
EDITABLE = frozenset({RequestStatus.SUBMITTED, RequestStatus.PLANNED, RequestStatus.WAITING})
# States in which the request can still be withdrawn (the equipment has not left).
CANCELLABLE = frozenset(
    {
        RequestStatus.SUBMITTED,
        RequestStatus.PLANNED,
        RequestStatus.WAITING,
        RequestStatus.APPROVED,
    }
)


# --- snapshots ---------------------------------------------------------------------------


def request_snapshot(loan: LoanRequest) -> dict[str, Any]:
    """The audited values of a request."""

    def iso(value: datetime | None) -> str | None:
        return value.isoformat() if value is not None else None

    return {
        "commune_id": loan.commune_id,
        "site_id": loan.site_id,
        "status": loan.status.value,
        "requested_start_dt": iso(loan.requested_start_dt),
        "requested_end_dt": iso(loan.requested_end_dt),
        "earliest_start_dt": iso(loan.earliest_start_dt),
        "latest_end_dt": iso(loan.latest_end_dt),
        "priority": loan.priority,
        "priority_reason": loan.priority_reason,
        "notes": loan.notes,
        "title": loan.title,
        "lines": [[line.type_id, line.quantity] for line in loan.lines],
        "sequence": loan.sequence,
    }


def flex_days(loan: LoanRequest) -> tuple[int, int]:
    """How many whole days earlier and later ``loan`` may move."""
    before = loan.requested_start_dt - (loan.earliest_start_dt or loan.requested_start_dt)
    after = (loan.latest_end_dt or loan.requested_end_dt) - loan.requested_end_dt
    return before.days, after.days


@dataclass(frozen=True)
class _Details:
    """What the requester fills in, as :func:`submit_request` and :func:`update_request` take it.

    ``title=None`` keeps the stored title.
    """

    site_id: int
    start_dt: datetime
    end_dt: datetime
    flex_days_before: int
    flex_days_after: int
    lines: Sequence[Line]
    priority: int
    priority_reason: str | None
    notes: str | None
    title: str | None


def _apply(loan: LoanRequest, details: _Details) -> None:
    """Write ``details`` onto ``loan``, its lines included."""
    loan.site_id = details.site_id
    loan.requested_start_dt = details.start_dt
    loan.requested_end_dt = details.end_dt
    loan.earliest_start_dt = details.start_dt - timedelta(days=details.flex_days_before)
    loan.latest_end_dt = details.end_dt + timedelta(days=details.flex_days_after)
    loan.priority = details.priority
    reason = (details.priority_reason or "").strip()
    loan.priority_reason = reason or None
    loan.notes = (details.notes or "").strip() or None
    if details.title is not None:
        loan.title = details.title.strip()[:200]
    wanted = dict(merge_lines(details.lines))
    # Keep the rows of types still asked for: assignments of a proposed plan point at them.
    for line in list(loan.lines):
        if line.type_id in wanted:
            line.quantity = wanted.pop(line.type_id)
        else:
            loan.lines.remove(line)
    for type_id, quantity in wanted.items():
        loan.lines.append(RequestLine(type_id=type_id, quantity=quantity))


def _check_times(*values: datetime) -> None:
    for value in values:
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} refused: give it a timezone")


def _require_valid(
    session: Session, *, by: User, commune_id: int, details: _Details, now: datetime | None
) -> None:
    """Check ``details`` with :func:`validate_request`.

    Raises:
        ValidationError: listing every rule they break.
    """
    errors = validate_request(
        session,
        by=by,
        commune_id=commune_id,
        site_id=details.site_id,
        start_dt=details.start_dt,
        end_dt=details.end_dt,
        flex_days_before=details.flex_days_before,
        flex_days_after=details.flex_days_after,
        lines=details.lines,
        priority=details.priority,
        priority_reason=details.priority_reason,
        now=now,
    )
    if errors:
        raise ValidationError(errors=errors)


def _check_editable(loan: LoanRequest, expected_version: int | None) -> None:
    """``loan`` is still the version the user edited, in a state that allows changes.

    Raises:
        Conflict: if it was changed meanwhile, or is no longer SUBMITTED or PLANNED.
    """
    if expected_version is not None and loan.version != expected_version:
        raise Conflict(_("Someone changed this request meanwhile: reload it and try again."))
    if loan.status not in EDITABLE:
        raise Conflict(
            _(
                "This request can no longer be changed: it is %(status)s.",
                status=REQUEST_STATUS_LABELS[loan.status],
            )
        )


def _record_change(
    session: Session,
    *,
    by: User,
    action: str,
    loan: LoanRequest,
    before: dict[str, Any] | None = None,
) -> None:
    """Audit ``action`` on ``loan``, its values now as the after-state."""
    record_event(
        session,
        by=by,
        action=action,
        object_type="loan_request",
        object_id=loan.id,
        before=before,
        after=request_snapshot(loan),
    )


# --- operations --------------------------------------------------------------------------


def submit_request(
    session: Session,
    *,
    by: User,
    commune_id: int,
    site_id: int,
    start_dt: datetime,
    end_dt: datetime,
    flex_days_before: int = 0,
    flex_days_after: int = 0,
    lines: Sequence[Line],
    priority: int = PRIORITY_NORMAL,
    priority_reason: str | None = None,
    notes: str | None = None,
    title: str = "",
    now: datetime | None = None,
) -> LoanRequest:
    """Store a new SUBMITTED request for the optimiser to plan.

    Args:
        session: the database session.
        by: the technician of the commune, or a manager acting for it.
        commune_id: the commune asking.
        site_id: delivery site of the commune.
        start_dt: start of the loan (aware).
        end_dt: end of the loan (aware).
        flex_days_before: the loan may start up to this many days earlier.
        flex_days_after: the loan may end up to this many days later.
        lines: ``(type_id, quantity)`` pairs; lines of the same type are added up.
        priority: 1 (low) to 4 (imperative).
        priority_reason: required for priorities 3 and 4.
        notes: free text for the fleet manager.
        title: a short name for the occasion (shown in calendars).
        now: the current time (default: the clock).

    Returns:
        The stored request.

    Raises:
        Forbidden: if ``by`` may not submit requests.
        ValidationError: listing every rule the request breaks.
    """
    require_role(by, *REQUESTER_ROLES)
    _check_times(start_dt, end_dt)
    details = _Details(
        site_id=site_id,
        start_dt=start_dt,
        end_dt=end_dt,
        flex_days_before=flex_days_before,
        flex_days_after=flex_days_after,
        lines=lines,
        priority=priority,
        priority_reason=priority_reason,
        notes=notes,
        title=title,
    )
    _require_valid(session, by=by, commune_id=commune_id, details=details, now=now)
    loan = LoanRequest(
        commune_id=commune_id,
        status=RequestStatus.SUBMITTED,
        submitted_by_id=by.id,
        submitted_at=now or utcnow(),
        title="",
    )
    _apply(loan, details)
    session.add(loan)
    session.flush()
    _record_change(session, by=by, action="request.submit", loan=loan)
    session.commit()
    return loan


def get_request(session: Session, request_id: int, *, by: User) -> LoanRequest:
    """The request ``request_id`` with its lines, site and commune.

    Raises:
        Forbidden: if ``by`` is not signed in or disabled.
        NotFound: if there is no such request or it belongs to a commune ``by`` may not
            see (the two are not told apart).
    """
    require_role(by)
    if not is_valid_id(request_id):
        raise NotFound(_("Request %(id)s does not exist.", id=request_id))
    loan = session.scalars(
        select(LoanRequest)
        .where(LoanRequest.id == request_id, commune_filter(by, LoanRequest.commune_id))
        .options(
            selectinload(LoanRequest.lines).selectinload(RequestLine.type),
            selectinload(LoanRequest.site),
            selectinload(LoanRequest.commune),
        )
    ).one_or_none()
    if loan is None:
        raise NotFound(_("Request %(id)s does not exist.", id=request_id))
    return loan


def update_request(
    session: Session,
    request_id: int,
    *,
    by: User,
    site_id: int,
    start_dt: datetime,
    end_dt: datetime,
    flex_days_before: int = 0,
    flex_days_after: int = 0,
    lines: Sequence[Line],
    priority: int = PRIORITY_NORMAL,
    priority_reason: str | None = None,
    notes: str | None = None,
    title: str | None = None,
    expected_version: int | None = None,
    now: datetime | None = None,
) -> LoanRequest:
    """Change a request that no plan has approved yet (SUBMITTED or PLANNED).

    A PLANNED request goes back to SUBMITTED: the proposed plan no longer matches it.
    The calendar SEQUENCE is raised; the row version rises with every write.

    Args:
        session: the database session.
        request_id: the request to change.
        by: a technician of its commune or a manager.
        expected_version: the version the user edited; another one means someone
            changed the request meanwhile.
        now: the current time (default: the clock).
        site_id, start_dt, end_dt, flex_days_before, flex_days_after, lines, priority,
            priority_reason, notes, title: as in :func:`submit_request` (``title=None``
            keeps it).

    Returns:
        The changed request.

    Raises:
        NotFound: if ``by`` may not see the request.
        Conflict: if it was approved, declined, cancelled or changed meanwhile.
        ValidationError: listing every rule the new values break.
    """
    require_role(by, *REQUESTER_ROLES)
    _check_times(start_dt, end_dt)
    loan = get_request(session, request_id, by=by)
    _check_editable(loan, expected_version)
    details = _Details(
        site_id=site_id,
        start_dt=start_dt,
        end_dt=end_dt,
        flex_days_before=flex_days_before,
        flex_days_after=flex_days_after,
        lines=lines,
        priority=priority,
        priority_reason=priority_reason,
        notes=notes,
        title=title,
    )
    _require_valid(session, by=by, commune_id=loan.commune_id, details=details, now=now)
    before = request_snapshot(loan)
    _apply(loan, details)
    with conflict_on_concurrent_write(
        session, _("Someone changed this request meanwhile: reload it and try again.")
    ):
        loan.status = RequestStatus.SUBMITTED
        loan.sequence += 1
        session.flush()
        _record_change(session, by=by, action="request.update", loan=loan, before=before)
        session.commit()
    return loan


def cancel_request(
    session: Session, request_id: int, *, by: User, reason: str | None = None
) -> LoanRequest:
    """Withdraw a request before its equipment is handed over, and tell the managers.

    An approved loan leaves the schedule with the request: every reader of the approved
    plan (availability, planning, calendars) ignores cancelled requests, so its units and
    stock are free again. The calendar SEQUENCE is raised so subscribers see the event
    cancelled.

    Args:
        session: the database session.
        request_id: the request to cancel.
        by: a technician of its commune or a manager.
        reason: why, for the managers and the audit trail.

    Returns:
        The cancelled request.

    Raises:
        NotFound: if ``by`` may not see the request.
        Conflict: if it is already handed over, returned, declined or cancelled, or if
            another change to it (a plan approval) was written at the same time.
    """
    require_role(by, *REQUESTER_ROLES)
    loan = get_request(session, request_id, by=by)
    if loan.status not in CANCELLABLE:
        raise Conflict(
            _(
                "This request can no longer be cancelled: it is %(status)s.",
                status=REQUEST_STATUS_LABELS[loan.status],
            )
        )
    before = request_snapshot(loan)
    was_approved = loan.status is RequestStatus.APPROVED
    reason = (reason or "").strip() or None
    with conflict_on_concurrent_write(
        session, _("This request was changed at the same time; reload it and try again.")
    ):
        loan.status = RequestStatus.CANCELLED
        loan.sequence += 1
        # The units it held are free again.
        session.execute(delete(UnitOccupation).where(UnitOccupation.request_id == loan.id))
        session.flush()
        after = request_snapshot(loan) | {"cancel_reason": reason}
        record_event(
            session,
            by=by,
            action="request.cancel",
            object_type="loan_request",
            object_id=loan.id,
            before=before,
            after=after,
        )
        _notify_cancelled(session, loan, by=by, was_approved=was_approved, reason=reason)
        session.commit()
    if was_approved:
        offer_freed_capacity(
            session,
            by=by,
            cause=lambda: _("Approved request %(id)d was cancelled.", id=loan.id),
        )
        refresh_after_change(session)
    return loan


def _notify_cancelled(
    session: Session, loan: LoanRequest, *, by: User, was_approved: bool, reason: str | None
) -> None:
    """Tell the active managers, each in their own language, that ``loan`` was cancelled."""
    managers = session.scalars(
        select(User).where(User.role == Role.MANAGER, User.is_active_account.is_(True))
    ).all()
    start = to_local(loan.requested_start_dt).strftime("%d/%m/%Y %H:%M")

    def message() -> str:
        text = _(
            "%(who)s cancelled request %(id)d of %(commune)s (%(start)s).",
            who=by.name,
            id=loan.id,
            commune=loan.commune.name,
            start=start,
        )
        if was_approved:
            text += " " + _("It was approved: its equipment is free again.")
        if reason:
            text += " " + _("Reason: %(reason)s", reason=reason)
        return text

    notify(
        session,
        managers,
        "request.cancelled",
        message,
        {"request_id": loan.id, "was_approved": was_approved, "reason": reason},
    )
