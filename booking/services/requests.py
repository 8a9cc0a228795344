"""Loan requests on the technicians' side: submit, edit, cancel, list and read.

Every function takes a session and plain values, checks what ``by`` may do (a technician
acts only for the commune of their account; other communes' requests are reported as
missing so that their existence is not revealed), validates the business rules (a
``ValidationError`` names every problem at once, each with the field it concerns),
records an audit event for each state change and commits.

Priorities follow the solver spec: 1 low, 2 normal, 3 high, 4 imperative; 3 and 4 need
a reason the fleet manager can weigh.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import Select, func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.exc import StaleDataError

from booking.db import utcnow
from booking.errors import Conflict, NotFound, ValidationError
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
    RequestLine,
    RequestStatus,
    Role,
    Site,
    SiteKind,
    Unit,
    UnitStatus,
    User,
    type_substitutes,
)
from booking.services.access import STAFF_ROLES, can_access_commune, commune_filter, require_role
from booking.services.audit import record_event
from booking.services.notifications import notify
from booking.services.paging import Pager, make_pager
from booking.templating import REQUEST_STATUS_LABELS
from booking.timeutil import to_local

PRIORITY_LOW, PRIORITY_NORMAL, PRIORITY_HIGH, PRIORITY_IMPERATIVE = 1, 2, 3, 4
PRIORITIES = (PRIORITY_LOW, PRIORITY_NORMAL, PRIORITY_HIGH, PRIORITY_IMPERATIVE)
# From this priority up the manager must be told why.
PRIORITY_NEEDS_REASON = PRIORITY_HIGH
# A request may be shifted by at most this many days either way.
MAX_FLEX_DAYS = 30
# States in which the commune may still change its mind about the details.
EDITABLE = frozenset({RequestStatus.SUBMITTED, RequestStatus.PLANNED})
# States in which the request can still be withdrawn (the equipment has not left).
CANCELLABLE = frozenset({RequestStatus.SUBMITTED, RequestStatus.PLANNED, RequestStatus.APPROVED})
REQUESTER_ROLES = (Role.TECHNICIAN, *STAFF_ROLES)

# Primary keys are 32-bit integers: larger ids cannot exist, and the databases refuse them.
MAX_ID = 2**31 - 1
REQUESTS_PER_PAGE = 100

Errors = list[tuple[str | None, str]]
# (equipment type id, quantity)
Line = tuple[int, int]


# --- validation --------------------------------------------------------------------------


def is_valid_id(value: object) -> bool:
    """Whether ``value`` could be a primary key (a positive 32-bit integer)."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_ID


def merge_lines(lines: Iterable[Line]) -> list[Line]:
    """Add up the quantities of lines of the same type, keeping the order of first use."""
    merged: dict[int, int] = {}
    for type_id, quantity in lines:
        merged[type_id] = merged.get(type_id, 0) + quantity
    return list(merged.items())


def whole_stock(session: Session, type_ids: Iterable[int]) -> dict[int, int]:
    """What the fleet could ever lend for each type, whatever the dates.

    For a unit-tracked type: its units and its substitutes' units, retired ones excluded.
    For a pooled type: the sum of its pools. Three queries, whatever the number of types.
    """
    ids = {i for i in type_ids if is_valid_id(i)}
    if not ids:
        return {}
    subs: dict[int, set[int]] = {i: {i} for i in ids}
    for type_id, substitute_id in session.execute(
        select(type_substitutes.c.type_id, type_substitutes.c.substitute_id).where(
            type_substitutes.c.type_id.in_(ids)
        )
    ):
        subs[type_id].add(substitute_id)
    wanted = set().union(*subs.values())
    units = dict(
        session.execute(
            select(Unit.type_id, func.count(Unit.id))
            .where(Unit.type_id.in_(wanted), Unit.status != UnitStatus.RETIRED)
            .group_by(Unit.type_id)
        ).all()
    )
    pooled = dict(
        session.execute(
            select(Pool.type_id, func.coalesce(func.sum(Pool.quantity), 0))
            .where(Pool.type_id.in_(ids))
            .group_by(Pool.type_id)
        ).all()
    )
    return {i: int(pooled.get(i, 0)) + sum(int(units.get(s, 0)) for s in subs[i]) for i in ids}


def validate_request(
    session: Session,
    *,
    by: User,
    commune_id: int | None,
    site_id: int | None,
    start_dt: datetime | None,
    end_dt: datetime | None,
    flex_days_before: int | None = 0,
    flex_days_after: int | None = 0,
    lines: Sequence[Line] = (),
    priority: int | None = PRIORITY_NORMAL,
    priority_reason: str | None = None,
    now: datetime | None = None,
) -> Errors:
    """Every business rule a request breaks, as ``(field, message)`` pairs.

    ``None`` stands for a value the form could not read; the rules that need it are
    skipped, so that a form can show these messages next to its own. Lines of the same
    type are added up before the checks.

    Args:
        session: the database session.
        by: who submits (used for the commune check).
        commune_id: the commune asking.
        site_id: the delivery site; it must belong to the commune.
        start_dt: start of the loan (aware).
        end_dt: end of the loan (aware).
        flex_days_before: how many days earlier the loan may start.
        flex_days_after: how many days later it may end.
        lines: ``(type_id, quantity)`` pairs.
        priority: 1 (low) to 4 (imperative).
        priority_reason: required for priorities 3 and 4.
        now: the current time (default: the clock).

    Returns:
        The problems found; empty when the request is acceptable.
    """
    now = now or utcnow()
    # Each check appends to the same list, in the order the form shows its fields.
    errors: Errors = []
    _check_commune(session, errors, by=by, commune_id=commune_id)
    _check_site(session, errors, site_id=site_id, commune_id=commune_id)
    dates_ok = _check_dates(errors, start_dt=start_dt, end_dt=end_dt, now=now)
    _check_flexibility(
        errors,
        start_dt=start_dt,
        flex_days_before=flex_days_before,
        flex_days_after=flex_days_after,
        now=now,
    )
    _check_priority(errors, priority=priority, priority_reason=priority_reason)
    _check_lines(
        session, errors, lines=lines, start_dt=start_dt, end_dt=end_dt, dates_ok=dates_ok, now=now
    )
    return errors


def _check_commune(session: Session, errors: Errors, *, by: User, commune_id: int | None) -> None:
    """The commune must exist and ``by`` must act for it."""
    if not is_valid_id(commune_id) or session.get(Commune, commune_id) is None:
        errors.append(("commune_id", _("Choose the commune the equipment is for.")))
    elif not can_access_commune(by, commune_id):
        errors.append(("commune_id", _("You may only ask for equipment for your own commune.")))


def _check_site(
    session: Session, errors: Errors, *, site_id: int | None, commune_id: int | None
) -> None:
    """The site must be an active delivery site of the commune."""
    site = session.get(Site, site_id) if is_valid_id(site_id) else None
    if site is None:
        errors.append(("site_id", _("Choose the place where the equipment is needed.")))
    elif site.commune_id != commune_id or not site.is_active or site.kind is not SiteKind.DELIVERY:
        errors.append(("site_id", _("The chosen place is not an active site of this commune.")))


def _check_dates(
    errors: Errors, *, start_dt: datetime | None, end_dt: datetime | None, now: datetime
) -> bool:
    """Both dates must be given, the start not in the past, the end after the start.

    Returns:
        Whether both dates are given and in order, so that the loan has a length.
    """
    if start_dt is None:
        errors.append(("start_dt", _("Give the start date and time.")))
    elif start_dt < now:
        errors.append(("start_dt", _("The loan cannot start in the past.")))
    if end_dt is None:
        errors.append(("end_dt", _("Give the end date and time.")))
        return False
    if start_dt is None:
        return False
    if end_dt <= start_dt:
        errors.append(("end_dt", _("The loan must end after it starts.")))
        return False
    return True


def _check_flexibility(
    errors: Errors,
    *,
    start_dt: datetime | None,
    flex_days_before: int | None,
    flex_days_after: int | None,
    now: datetime,
) -> None:
    """Each flexibility is 0 to ``MAX_FLEX_DAYS`` days, and starting earlier stays future."""
    for field, days in (
        ("flex_days_before", flex_days_before),
        ("flex_days_after", flex_days_after),
    ):
        if days is None or not 0 <= days <= MAX_FLEX_DAYS:
            errors.append(
                (field, _("Flexibility is a number of days from 0 to %(max)d.", max=MAX_FLEX_DAYS))
            )
    # A start in the past or an out-of-range flexibility already has its own message.
    if (
        start_dt is not None
        and start_dt >= now
        and flex_days_before
        and 0 < flex_days_before <= MAX_FLEX_DAYS
        and start_dt - timedelta(days=flex_days_before) < now
    ):
        errors.append(
            (
                "flex_days_before",
                _("Starting %(days)d days earlier would be in the past.", days=flex_days_before),
            )
        )


def _check_priority(errors: Errors, *, priority: int | None, priority_reason: str | None) -> None:
    """The priority must be one of ``PRIORITIES``; high ones need a reason."""
    if priority not in PRIORITIES:
        errors.append(("priority", _("Choose a priority from 1 (low) to 4 (imperative).")))
    elif priority >= PRIORITY_NEEDS_REASON and not (priority_reason or "").strip():
        errors.append(
            ("priority_reason", _("Say why this request is of high or imperative priority."))
        )


def _check_lines(
    session: Session,
    errors: Errors,
    *,
    lines: Sequence[Line],
    start_dt: datetime | None,
    end_dt: datetime | None,
    dates_ok: bool,
    now: datetime,
) -> None:
    """At least one line; each of an existing type, within its stock, notice and length.

    ``dates_ok`` tells whether both dates are given and in order (see :func:`_check_dates`).
    A fixed number of queries (types, then their stock), whatever the number of lines.
    """
    merged = merge_lines(lines)
    if not merged:
        errors.append(("lines", _("Ask for at least one piece of equipment.")))
    types = {
        t.id: t
        for t in session.scalars(
            select(EquipmentType).where(
                EquipmentType.id.in_([t for t, _q in merged if is_valid_id(t)])
            )
        )
    }
    stock = whole_stock(session, types)
    for type_id, quantity in merged:
        equipment_type = types.get(type_id)
        if equipment_type is None:
            errors.append(("lines", _("Equipment type %(id)s does not exist.", id=type_id)))
            continue
        _check_quantity(errors, equipment_type, quantity=quantity, stock=stock[type_id])
        _check_type_dates(
            errors, equipment_type, start_dt=start_dt, end_dt=end_dt, dates_ok=dates_ok, now=now
        )


def _check_quantity(
    errors: Errors, equipment_type: EquipmentType, *, quantity: int, stock: int
) -> None:
    """A line asks for at least one and no more than the whole fleet has."""
    if quantity < 1:
        errors.append(("lines", _("Ask for at least 1 %(type)s.", type=equipment_type.name)))
    elif quantity > stock:
        errors.append(
            (
                "lines",
                _(
                    "You ask for %(quantity)d %(type)s but the whole fleet has %(stock)d.",
                    quantity=quantity,
                    type=equipment_type.name,
                    stock=stock,
                ),
            )
        )


def _check_type_dates(
    errors: Errors,
    equipment_type: EquipmentType,
    *,
    start_dt: datetime | None,
    end_dt: datetime | None,
    dates_ok: bool,
    now: datetime,
) -> None:
    """The type's minimum notice and longest loan (only for dates already found valid)."""
    name = equipment_type.name
    notice = timedelta(hours=equipment_type.min_notice_hours)
    if start_dt is not None and start_dt >= now and start_dt - now < notice:
        errors.append(
            (
                "start_dt",
                _(
                    "%(type)s must be asked for at least %(hours)d hours in advance.",
                    type=name,
                    hours=equipment_type.min_notice_hours,
                ),
            )
        )
    limit = equipment_type.max_loan_days
    if dates_ok and limit is not None and end_dt - start_dt > timedelta(days=limit):  # type: ignore[operator]
        errors.append(
            (
                "end_dt",
                _("%(type)s may be lent for at most %(days)d days.", type=name, days=limit),
            )
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
        actor=by,
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
    try:
        loan.status = RequestStatus.CANCELLED
        loan.sequence += 1
        session.flush()
        after = request_snapshot(loan) | {"cancel_reason": reason}
        record_event(
            session,
            actor=by,
            action="request.cancel",
            object_type="loan_request",
            object_id=loan.id,
            before=before,
            after=after,
        )
        _notify_cancelled(session, loan, by=by, was_approved=was_approved, reason=reason)
        session.commit()
    except (StaleDataError, OperationalError) as error:
        session.rollback()
        if isinstance(error, OperationalError) and not is_concurrent_write(error):
            raise
        raise Conflict(
            _("This request was changed at the same time; reload it and try again.")
        ) from error
    return loan


def is_concurrent_write(error: OperationalError) -> bool:
    """Whether a database error means another transaction got in the way.

    SQLite reports a write it could not get the lock for (or whose snapshot is out of
    date) as "database is locked"; PostgreSQL reports serialization failures, deadlocks
    and lock timeouts with their SQLSTATE.
    """
    code = getattr(error.orig, "sqlstate", None) or getattr(error.orig, "pgcode", None)
    if code in {"40001", "40P01", "55P03"}:
        return True
    message = str(error.orig).lower()
    return "database is locked" in message or "database is busy" in message


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


@dataclass(frozen=True)
class RequestFilters:
    """What a list of requests is narrowed to (None: no filter)."""

    commune_id: int | None = None
    status: RequestStatus | Iterable[RequestStatus] | None = None
    date_from: datetime | None = None  # loans still running at or after this time
    date_to: datetime | None = None  # loans starting before this time


def _requests_query(by: User, filters: RequestFilters) -> Select[tuple[LoanRequest]]:
    """The requests ``by`` may see that match ``filters``, unordered."""
    query = select(LoanRequest).where(commune_filter(by, LoanRequest.commune_id))
    if filters.commune_id is not None:
        query = query.where(LoanRequest.commune_id == filters.commune_id)
    if isinstance(filters.status, RequestStatus):
        query = query.where(LoanRequest.status == filters.status)
    elif filters.status is not None:
        query = query.where(LoanRequest.status.in_(list(filters.status)))
    if filters.date_from is not None:
        query = query.where(LoanRequest.requested_end_dt > filters.date_from)
    if filters.date_to is not None:
        query = query.where(LoanRequest.requested_start_dt < filters.date_to)
    return query


def _listed(query: Select[tuple[LoanRequest]]) -> Select[tuple[LoanRequest]]:
    """``query`` soonest first, with what a list shows loaded alongside."""
    return query.options(
        selectinload(LoanRequest.lines).selectinload(RequestLine.type),
        selectinload(LoanRequest.site),
        selectinload(LoanRequest.commune),
    ).order_by(LoanRequest.requested_start_dt, LoanRequest.id)


def list_requests(
    session: Session,
    *,
    by: User,
    commune_id: int | None = None,
    status: RequestStatus | Iterable[RequestStatus] | None = None,
    date_from: datetime | None = None,
    date_to: datetime | None = None,
) -> list[LoanRequest]:
    """The requests ``by`` may see, soonest first.

    Args:
        session: the database session.
        by: who asks; a technician sees only their commune's requests.
        commune_id: only this commune's (staff); ignored beyond what ``by`` may see.
        status: one state or several.
        date_from: only loans still running at or after this time.
        date_to: only loans starting before this time.

    Raises:
        Forbidden: if ``by`` is not signed in or disabled.
    """
    require_role(by)
    filters = RequestFilters(commune_id, status, date_from, date_to)
    return list(session.scalars(_listed(_requests_query(by, filters))))


def page_of_requests(
    session: Session,
    *,
    by: User,
    filters: RequestFilters,
    page: int | None = None,
    per_page: int | None = None,
) -> tuple[list[LoanRequest], Pager]:
    """One page of the requests ``by`` may see, soonest first, and where it stands.

    A page number beyond the last gives the last page; ``per_page`` defaults to
    ``REQUESTS_PER_PAGE``.

    Raises:
        Forbidden: if ``by`` is not signed in or disabled.
    """
    require_role(by)
    query = _requests_query(by, filters)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    pager = make_pager(page, per_page or REQUESTS_PER_PAGE, total)
    loans = session.scalars(_listed(query).offset(pager.offset).limit(pager.per_page))
    return list(loans), pager


# --- what the plans say ------------------------------------------------------------------


@dataclass(frozen=True)
class RequestOutcome:
    """What a plan decided for a request.

    ``is_proposed`` is True when the plan is only proposed (shown to staff only).
    """

    plan: Plan
    assignment: Assignment
    is_proposed: bool

    @property
    def units(self) -> list[AssignmentUnit]:
        return list(self.assignment.units)

    @property
    def draws(self) -> list[AssignmentDraw]:
        return list(self.assignment.draws)

    @property
    def reason_text(self) -> str | None:
        """The solver's reason as a sentence (reasons are strings or ``{"text": ...}``)."""
        reason = self.assignment.reason
        if reason is None or reason == "":
            return None
        if isinstance(reason, dict):
            return str(reason.get("text") or reason.get("message") or reason)
        return str(reason)


def request_outcome(session: Session, loan: LoanRequest, *, by: User) -> RequestOutcome | None:
    """The assignment of ``loan`` in the latest approved plan, else (staff only) proposed.

    Args:
        session: the database session.
        loan: a request ``by`` may see (from :func:`get_request`).
        by: who asks.

    Returns:
        The outcome, or ``None`` when no plan mentions the request yet.
    """
    statuses = [PlanStatus.APPROVED]
    if by.role in STAFF_ROLES:
        statuses.append(PlanStatus.PROPOSED)
    for plan_status in statuses:
        row = session.execute(
            select(Assignment, Plan)
            .join(Plan, Assignment.plan_id == Plan.id)
            .where(Assignment.request_id == loan.id, Plan.status == plan_status)
            .options(
                selectinload(Assignment.units).selectinload(AssignmentUnit.unit),
                selectinload(Assignment.units)
                .selectinload(AssignmentUnit.unit)
                .selectinload(Unit.home_depot),
                selectinload(Assignment.draws)
                .selectinload(AssignmentDraw.pool)
                .selectinload(Pool.depot),
            )
            .order_by(Plan.id.desc())
            .limit(1)
        ).first()
        if row is not None:
            assignment, plan = row
            return RequestOutcome(
                plan=plan, assignment=assignment, is_proposed=plan_status is PlanStatus.PROPOSED
            )
    return None


def requester_sites(session: Session, *, by: User, commune_id: int) -> list[Site]:
    """The active sites of ``commune_id`` a request can name, the town hall first.

    Raises:
        NotFound: if ``by`` may not act for the commune.
    """
    require_role(by)
    if not can_access_commune(by, commune_id):
        raise NotFound(_("Commune %(id)s does not exist.", id=commune_id))
    sites = list(
        session.scalars(
            select(Site)
            .where(
                Site.commune_id == commune_id,
                Site.is_active.is_(True),
                Site.kind == SiteKind.DELIVERY,
            )
            .order_by(Site.id)
        )
    )
    # The demo and the import name the town hall "Hôtel de ville" (or "Mairie").
    sites.sort(key=lambda s: (not _is_town_hall(s), s.name))
    return sites


def _is_town_hall(site: Site) -> bool:
    name = site.name.casefold()
    return "hôtel de ville" in name or "hotel de ville" in name or "mairie" in name


@dataclass(frozen=True)
class RequesterChoices:
    """What the request form offers ``by``: communes, their sites (town hall first), types."""

    communes: list[Commune]
    sites: list[Site]
    types: list[EquipmentType]


def requester_choices(session: Session, *, by: User) -> RequesterChoices:
    """The communes ``by`` may ask for, their active delivery sites, and every type.

    Raises:
        Forbidden: if ``by`` may not submit requests.
    """
    require_role(by, *REQUESTER_ROLES)
    communes = list(
        session.scalars(
            select(Commune).where(commune_filter(by, Commune.id)).order_by(Commune.name)
        )
    )
    order = {c.id: i for i, c in enumerate(communes)}
    sites = list(
        session.scalars(
            select(Site).where(
                Site.commune_id.in_(list(order)),
                Site.is_active.is_(True),
                Site.kind == SiteKind.DELIVERY,
            )
        )
    )
    sites.sort(key=lambda s: (order[s.commune_id or 0], not _is_town_hall(s), s.name, s.id))
    types = list(session.scalars(select(EquipmentType).order_by(EquipmentType.name)))
    return RequesterChoices(communes=communes, sites=sites, types=types)
