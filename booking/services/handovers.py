"""Handing approved equipment over to a commune and taking it back.

A check-out turns an APPROVED request into HANDED_OVER, a check-in turns it into
RETURNED. Each writes one ``Handover`` row per item of the approved plan's assignment: one
per numbered unit (``unit_id`` set) and one per pooled line (``unit_id`` empty); every row
names its request line, and a check-out's rows name who took the equipment.

Technicians hand over their own commune's loans; managers and admins any commune's.
Other communes' requests are reported as missing. Every change is audited, raises the
request's calendar SEQUENCE (its row version rises with the write) and is notified to
the commune's technicians and the fleet managers, except the person who made it.

A damaged unit goes to maintenance in the same check-in: an unavailability window from
the return until the given date. The window alone takes the unit out of planning and
availability, so the unit comes back by itself when it ends; the manager shortens or
lengthens the window on the unit's page if the repair goes faster or slower. (The
MAINTENANCE status stays the manager's manual "out until further notice".)

What is due, late or out of service is listed by ``booking.services.handover_lists``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session, selectinload

from booking.db import utcnow
from booking.errors import Conflict, NotFound, ValidationError
from booking.i18n import local_datetime
from booking.models import (
    Assignment,
    AssignmentUnit,
    Condition,
    Handover,
    HandoverKind,
    LoanRequest,
    Plan,
    PlanStatus,
    RequestLine,
    RequestStatus,
    Role,
    Unavailability,
    Unit,
    UnitStatus,
    User,
)
from booking.services.access import STAFF_ROLES, commune_filter, require_role
from booking.services.audit import record_event
from booking.services.concurrency import conflict_on_concurrent_write
from booking.services.notifications import notify
from booking.services.request_rules import is_valid_id
from booking.services.rounds import refresh_after_change
from booking.services.waiting import offer_freed_capacity

HANDOVER_ROLES = (Role.TECHNICIAN, *STAFF_ROLES)
# A hand-over may be recorded a little ahead of the server's clock (a phone set fast).
CLOCK_TOLERANCE = timedelta(minutes=15)
# ... and at most this long after the fact.
MAX_BACKDATING = timedelta(days=90)
# The longest maintenance window set from a check-in.
MAX_MAINTENANCE = timedelta(days=366)
MAX_NAME = 200
MAX_TEXT = 2000

Errors = list[tuple[str | None, str]]


# --- what a request hands over -----------------------------------------------------------


@dataclass(frozen=True)
class HandoverItem:
    """One thing handed over: a numbered unit, or the items of a pooled line.

    ``key`` names it in forms and in :class:`ItemReport` mappings: ``unit-<unit id>`` or
    ``line-<line id>``. ``quantity`` is 1 for a unit.
    """

    key: str
    line: RequestLine
    unit: Unit | None
    quantity: int

    @property
    def label(self) -> str:
        if self.unit is not None:
            return f"{self.unit.name} ({self.unit.code})"
        return f"{self.quantity} × {self.line.type.name}"


@dataclass(frozen=True)
class ItemReport:
    """The state of one item at a hand-over.

    ``missing_quantity`` is how many items did not come back (check-in only).
    """

    condition: Condition = Condition.GOOD
    damage: str | None = None
    missing_quantity: int = 0


@dataclass(frozen=True)
class Loan:
    """A request with the window the approved plan serves and its items."""

    request: LoanRequest
    start_dt: datetime
    end_dt: datetime
    items: list[HandoverItem]


def _approved_assignment(session: Session, request_id: int) -> Assignment | None:
    return session.scalars(
        select(Assignment)
        .join(Plan, Assignment.plan_id == Plan.id)
        .where(
            Assignment.request_id == request_id,
            Assignment.is_served.is_(True),
            Plan.status == PlanStatus.APPROVED,
        )
        .options(
            selectinload(Assignment.units).selectinload(AssignmentUnit.unit),
            selectinload(Assignment.draws),
        )
        .order_by(Plan.id.desc())
        .limit(1)
    ).first()


def loan_items(session: Session, loan: LoanRequest) -> Loan:
    """The served window and the items of ``loan``, from the approved plan.

    Without an approved assignment (a request approved by hand), each line is one item of
    its requested quantity over the requested window.
    """
    assignment = _approved_assignment(session, loan.id)
    lines = sorted(loan.lines, key=lambda line: line.id)
    if assignment is None or assignment.start_dt is None or assignment.end_dt is None:
        items = [HandoverItem(f"line-{line.id}", line, None, line.quantity) for line in lines]
        return Loan(loan, loan.requested_start_dt, loan.requested_end_dt, items)
    drawn: dict[int, int] = {}
    for draw in assignment.draws:
        drawn[draw.line_id] = drawn.get(draw.line_id, 0) + draw.quantity
    items = []
    for line in lines:
        units = sorted(
            (u.unit for u in assignment.units if u.line_id == line.id), key=lambda u: u.code
        )
        items += [HandoverItem(f"unit-{unit.id}", line, unit, 1) for unit in units]
        if drawn.get(line.id):
            items.append(HandoverItem(f"line-{line.id}", line, None, drawn[line.id]))
    return Loan(loan, assignment.start_dt, assignment.end_dt, items)


def get_loan(session: Session, request_id: int, *, by: User) -> LoanRequest:
    """The request ``request_id`` if ``by`` may hand its equipment over.

    Raises:
        Forbidden: if ``by`` is not signed in or holds no role that hands over.
        NotFound: if there is no such request or it belongs to another commune.
    """
    require_role(by, *HANDOVER_ROLES)
    loan = None
    if is_valid_id(request_id):
        loan = session.scalars(
            select(LoanRequest)
            .where(LoanRequest.id == request_id, commune_filter(by, LoanRequest.commune_id))
            .options(
                selectinload(LoanRequest.lines).selectinload(RequestLine.type),
                selectinload(LoanRequest.commune),
                selectinload(LoanRequest.handovers),
            )
        ).one_or_none()
    if loan is None:
        raise NotFound(_("Request %(id)s does not exist.", id=request_id))
    return loan


# --- validation --------------------------------------------------------------------------


def _clean(text: str | None) -> str | None:
    return (text or "").strip() or None


def _check_time(at: datetime, now: datetime, errors: Errors) -> None:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"naive datetime {at.isoformat()} refused: give it a timezone")
    if at > now + CLOCK_TOLERANCE:
        errors.append(("at", _("The hand-over cannot be recorded in the future.")))
    elif at < now - MAX_BACKDATING:
        errors.append(
            ("at", _("A hand-over more than %(days)d days ago cannot be recorded.", days=90))
        )


def _check_reports(
    items: list[HandoverItem],
    reports: Mapping[str, ItemReport],
    *,
    returning: bool,
    errors: Errors,
) -> dict[str, ItemReport]:
    """Every item's report (GOOD by default), adding the problems found to ``errors``."""
    by_key = {item.key: item for item in items}
    for key in reports:
        if key not in by_key:
            errors.append((None, _("%(item)s is not part of this loan.", item=key)))
    checked: dict[str, ItemReport] = {}
    for item in items:
        report = reports.get(item.key, ItemReport())
        damage = _clean(report.damage)
        if report.condition is Condition.DAMAGED and damage is None:
            errors.append(
                (f"{item.key}:damage", _("Describe the damage to %(item)s.", item=item.label))
            )
        elif damage is not None and len(damage) > MAX_TEXT:
            errors.append(
                (
                    f"{item.key}:damage",
                    _("Describe the damage in at most %(max)d characters.", max=MAX_TEXT),
                )
            )
        missing = report.missing_quantity
        if not returning and missing:
            errors.append(
                (f"{item.key}:missing_quantity", _("Nothing can be missing at check-out."))
            )
        elif not 0 <= missing <= item.quantity:
            errors.append(
                (
                    f"{item.key}:missing_quantity",
                    _(
                        "The missing quantity of %(item)s is between 0 and %(max)d.",
                        item=item.label,
                        max=item.quantity,
                    ),
                )
            )
        checked[item.key] = ItemReport(report.condition, damage, missing)
    return checked


def _check_notes(notes: str | None, errors: Errors) -> str | None:
    notes = _clean(notes)
    if notes is not None and len(notes) > MAX_TEXT:
        errors.append(("notes", _("Write at most %(max)d characters.", max=MAX_TEXT)))
    return notes


# --- audit and notifications -------------------------------------------------------------


def _snapshot(loan: LoanRequest) -> dict[str, Any]:
    return {"status": loan.status.value, "sequence": loan.sequence}


def _rows_snapshot(rows: list[Handover]) -> list[dict[str, Any]]:
    return [
        {
            "unit_id": row.unit_id,
            "condition": row.condition.value,
            "damage": row.damage,
            "missing_quantity": row.missing_quantity,
        }
        for row in rows
    ]


def _audiences(session: Session, loan: LoanRequest, by: User) -> list[User]:
    """The commune's technicians and the managers, except ``by``."""
    return list(
        session.scalars(
            select(User)
            .where(
                User.is_active_account.is_(True),
                User.id != by.id,
                or_(
                    User.role == Role.MANAGER,
                    and_(User.role == Role.TECHNICIAN, User.commune_id == loan.commune_id),
                ),
            )
            .order_by(User.id)
        )
    )


def _write(session: Session, *, commit: bool) -> None:
    """Flush (or commit) the change; a concurrent hand-over of the same request loses.

    Raises:
        Conflict: if the request changed since it was read (row version, lock).
    """
    with conflict_on_concurrent_write(
        session, _("Someone changed this request meanwhile: reload it and try again.")
    ):
        if commit:
            session.commit()
        else:
            session.flush()


# --- recording a hand-over ---------------------------------------------------------------


def _add_rows(
    loan: LoanRequest,
    items: list[HandoverItem],
    checked: Mapping[str, ItemReport],
    *,
    kind: HandoverKind,
    by: User,
    at: datetime,
    notes: str | None,
    taken_by: str | None = None,
) -> list[Handover]:
    """Add one ``Handover`` row per item to ``loan``, with the item's checked report.

    At check-out the missing quantities are all 0: :func:`_check_reports` refuses others.
    """
    rows = [
        Handover(
            kind=kind,
            unit_id=item.unit.id if item.unit is not None else None,
            line_id=item.line.id,
            by_id=by.id,
            taken_by=taken_by,
            at=at,
            condition=checked[item.key].condition,
            damage=checked[item.key].damage,
            missing_quantity=checked[item.key].missing_quantity,
            notes=notes,
        )
        for item in items
    ]
    loan.handovers.extend(rows)
    return rows


def _record_transition(
    session: Session,
    loan: LoanRequest,
    status: RequestStatus,
    *,
    by: User,
    action: str,
    details: dict[str, Any],
    kind: str,
    message: Callable[[], str],
    payload: dict[str, Any],
) -> None:
    """Move ``loan`` to ``status``, audit the change and notify it, without committing.

    The SEQUENCE rises so that calendars pick the change up. The audit event's ``after``
    is the request's snapshot with ``details``; ``kind``, ``message`` and ``payload`` go to
    :func:`notify` for the commune's technicians and the managers, except ``by``.

    Raises:
        Conflict: if the request changed since it was read.
    """
    before = _snapshot(loan)
    loan.status = status
    loan.sequence += 1
    _write(session, commit=False)
    record_event(
        session,
        by=by,
        action=action,
        object_type="loan_request",
        object_id=loan.id,
        before=before,
        after=_snapshot(loan) | details,
    )
    notify(session, _audiences(session, loan, by), kind, message, payload)


# --- check-out ---------------------------------------------------------------------------


def _check_taken_by(taken_by: str, errors: Errors) -> str | None:
    name = _clean(taken_by)
    if name is None:
        errors.append(("taken_by", _("Give the name of the person who takes the equipment.")))
    elif len(name) > MAX_NAME:
        errors.append(("taken_by", _("Give a name of at most %(max)d characters.", max=MAX_NAME)))
    return name


def _handed_over_text(loan: LoanRequest, name: str, at: datetime) -> str:
    """The check-out's notification, in the current locale."""
    return _(
        "Handed over: request %(id)d (%(title)s) of %(commune)s, taken by %(name)s on %(at)s.",
        id=loan.id,
        title=loan.title,
        commune=loan.commune.name,
        name=name,
        at=local_datetime(at, "short"),
    )


def check_out(
    session: Session,
    request_id: int,
    *,
    by: User,
    taken_by: str,
    at: datetime | None = None,
    reports: Mapping[str, ItemReport] | None = None,
    notes: str | None = None,
    now: datetime | None = None,
) -> list[Handover]:
    """Record that an approved loan's equipment left, in what state and with whom.

    Args:
        session: the database session.
        request_id: the APPROVED request.
        by: a technician of its commune, or staff.
        taken_by: the name of the person who took the equipment (or received it).
        at: when (aware; default now); not in the future beyond a few minutes.
        reports: the state of each item by key (see :class:`HandoverItem`); items left
            out are in good condition.
        notes: free text.
        now: the current time (default: the clock).

    Returns:
        The hand-over rows written, one per item.

    Raises:
        Forbidden: if ``by`` may not hand equipment over.
        NotFound: if ``by`` may not see the request.
        Conflict: if the request is not approved, or changed meanwhile.
        ValidationError: listing every problem with the input.
    """
    loan = get_loan(session, request_id, by=by)
    if loan.status is not RequestStatus.APPROVED:
        raise Conflict(_("Only an approved request can be handed over."))
    now = now or utcnow()
    at = at or now
    errors: Errors = []
    _check_time(at, now, errors)
    name = _check_taken_by(taken_by, errors)
    notes = _check_notes(notes, errors)
    items = loan_items(session, loan).items
    checked = _check_reports(items, reports or {}, returning=False, errors=errors)
    if errors:
        raise ValidationError(errors=errors)
    assert name is not None
    rows = _add_rows(
        loan, items, checked, kind=HandoverKind.CHECK_OUT, by=by, at=at, notes=notes, taken_by=name
    )
    _record_transition(
        session,
        loan,
        RequestStatus.HANDED_OVER,
        by=by,
        action="request.check_out",
        details={
            "at": at.isoformat(),
            "taken_by": name,
            "notes": notes,
            "items": _rows_snapshot(rows),
        },
        kind="request.handed_over",
        message=lambda: _handed_over_text(loan, name, at),
        payload={"request_id": loan.id},
    )
    _write(session, commit=True)
    refresh_after_change(session)
    return rows


# --- check-in ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckInResult:
    """What a check-in wrote, and the approved loans its maintenance windows clash with."""

    handovers: list[Handover]
    maintenance: list[Unavailability]
    clashes: list[LoanRequest] = field(default_factory=list)
    missing_units: list[Unit] = field(default_factory=list)


def _maintenance_reason(loan: LoanRequest, report: ItemReport) -> str:
    if report.damage:
        text = _(
            "Damaged on return of request %(id)d: %(damage)s", id=loan.id, damage=report.damage
        )
    else:
        text = _("Checked after return of request %(id)d.", id=loan.id)
    return text[:255]


def _clashes(
    session: Session, unit_ids: Collection[int], start: datetime, end: datetime, loan_id: int
) -> list[LoanRequest]:
    """Approved loans of the approved plan that use ``unit_ids`` between start and end."""
    if not unit_ids:
        return []
    return list(
        session.scalars(
            select(LoanRequest)
            .join(Assignment, Assignment.request_id == LoanRequest.id)
            .join(Plan, Assignment.plan_id == Plan.id)
            .join(AssignmentUnit, AssignmentUnit.assignment_id == Assignment.id)
            .where(
                Plan.status == PlanStatus.APPROVED,
                AssignmentUnit.unit_id.in_(list(unit_ids)),
                LoanRequest.status == RequestStatus.APPROVED,
                LoanRequest.id != loan_id,
                Assignment.start_dt < end,
                Assignment.end_dt > start,
            )
            .distinct()
            .order_by(LoanRequest.id)
        )
    )


def _missing_units(items: list[HandoverItem], checked: Mapping[str, ItemReport]) -> list[Unit]:
    return [
        item.unit for item in items if item.unit is not None and checked[item.key].missing_quantity
    ]


def _take_out_missing(session: Session, by: User, loan: LoanRequest, units: list[Unit]) -> None:
    """A unit that did not come back is out of service until the manager finds it: its
    status becomes MAINTENANCE, which nothing plans, and the dashboards list it."""
    for unit in units:
        before = unit.status.value
        unit.status = UnitStatus.MAINTENANCE
        record_event(
            session,
            by=by,
            action="unit.missing",
            object_type="unit",
            object_id=unit.id,
            before={"status": before},
            after={"status": unit.status.value, "request_id": loan.id},
        )


def _check_after_check_out(loan: LoanRequest, at: datetime, errors: Errors) -> None:
    out = [h.at for h in loan.handovers if h.kind is HandoverKind.CHECK_OUT]
    if out and at < max(out):
        errors.append(("at", _("The equipment cannot come back before it left.")))


def _loan_units(items: list[HandoverItem]) -> dict[int, Unit]:
    """The numbered units among ``items``, by id."""
    return {item.unit.id: item.unit for item in items if item.unit is not None}


def _check_maintenance(
    items: list[HandoverItem],
    missing: list[Unit],
    send_to_maintenance: Collection[int],
    until: datetime | None,
    since: datetime,
    errors: Errors,
) -> set[int]:
    """The ids of the units to send to maintenance, adding the problems found to ``errors``.

    Only the loan's units that came back can go, and ``until`` must fall after ``since``
    (the later of the return and now), at most a year after it.

    Raises:
        ValueError: if ``until`` is naive while units are sent.
    """
    wanted = set(send_to_maintenance)
    if wanted - set(_loan_units(items)):
        errors.append(
            ("send_to_maintenance", _("Only this loan's units can be sent to maintenance."))
        )
    for unit in missing:
        if unit.id in wanted:
            errors.append(
                (
                    f"unit-{unit.id}:maintenance",
                    _("%(unit)s did not come back: it cannot go to maintenance.", unit=unit.code),
                )
            )
    if wanted:
        if until is None:
            errors.append(("maintenance_until", _("Say until when the units are in maintenance.")))
        elif until.tzinfo is None or until.utcoffset() is None:
            raise ValueError("maintenance_until must be aware")
        elif until <= since:
            errors.append(("maintenance_until", _("The maintenance must end in the future.")))
        elif until > since + MAX_MAINTENANCE:
            errors.append(("maintenance_until", _("A maintenance window lasts at most a year.")))
    return wanted


def _open_maintenance(
    session: Session,
    by: User,
    loan: LoanRequest,
    items: list[HandoverItem],
    checked: Mapping[str, ItemReport],
    unit_ids: Collection[int],
    start: datetime,
    end: datetime | None,
) -> list[Unavailability]:
    """One unavailability window from ``start`` to ``end`` per unit, each audited.

    The units (checked by :func:`_check_maintenance`) are taken in id order.
    """
    units = _loan_units(items)
    windows: list[Unavailability] = []
    for unit_id in sorted(unit_ids):
        unit = units[unit_id]
        assert end is not None  # _check_maintenance requires it once units are sent
        window = Unavailability(
            unit_id=unit.id,
            start_dt=start,
            end_dt=end,
            reason=_maintenance_reason(loan, checked[f"unit-{unit.id}"]),
        )
        session.add(window)
        windows.append(window)
        record_event(
            session,
            by=by,
            action="unit.maintenance",
            object_type="unit",
            object_id=unit.id,
            before=None,
            after={
                "from": start.isoformat(),
                "until": end.isoformat(),
                "request_id": loan.id,
                "reason": window.reason,
            },
        )
    return windows


def _returned_text(loan: LoanRequest, at: datetime, problems: int) -> str:
    """The check-in's notification, in the current locale; ``problems`` counts the items
    damaged or missing."""
    return _(
        "Returned: request %(id)d (%(title)s) of %(commune)s on %(at)s.",
        id=loan.id,
        title=loan.title,
        commune=loan.commune.name,
        at=local_datetime(at, "short"),
    ) + (
        " " + _("%(count)d item(s) damaged or missing: see the request.", count=problems)
        if problems
        else ""
    )


def check_in(
    session: Session,
    request_id: int,
    *,
    by: User,
    at: datetime | None = None,
    reports: Mapping[str, ItemReport] | None = None,
    notes: str | None = None,
    send_to_maintenance: Collection[int] = (),
    maintenance_until: datetime | None = None,
    now: datetime | None = None,
) -> CheckInResult:
    """Record that a handed-over loan came back, its state, and what is missing.

    Args:
        session: the database session.
        request_id: the HANDED_OVER request.
        by: a technician of its commune, or staff.
        at: when (aware; default now); after the check-out, not in the future.
        reports: each item's condition, damage (required when damaged) and missing
            quantity (0 to the item's quantity), by key; items left out are good. A
            missing unit is taken out of service (status MAINTENANCE).
        notes: free text.
        send_to_maintenance: ids of the loan's units to take out of service.
        maintenance_until: end of their maintenance window (required with units).
        now: the current time (default: the clock).

    Returns:
        The rows written and any approved loan the maintenance windows clash with.

    Raises:
        Forbidden: if ``by`` may not hand equipment over.
        NotFound: if ``by`` may not see the request.
        Conflict: if the request is not handed over, or changed meanwhile.
        ValidationError: listing every problem with the input.
    """
    loan = get_loan(session, request_id, by=by)
    if loan.status is not RequestStatus.HANDED_OVER:
        raise Conflict(_("Only equipment that was handed over can be checked in."))
    now = now or utcnow()
    at = at or now
    errors: Errors = []
    _check_time(at, now, errors)
    _check_after_check_out(loan, at, errors)
    notes = _check_notes(notes, errors)
    items = loan_items(session, loan).items
    checked = _check_reports(items, reports or {}, returning=True, errors=errors)
    missing = _missing_units(items, checked)
    wanted = _check_maintenance(
        items, missing, send_to_maintenance, maintenance_until, max(at, now), errors
    )
    if errors:
        raise ValidationError(errors=errors)
    rows = _add_rows(loan, items, checked, kind=HandoverKind.CHECK_IN, by=by, at=at, notes=notes)
    windows = _open_maintenance(session, by, loan, items, checked, wanted, at, maintenance_until)
    _take_out_missing(session, by, loan, missing)
    problems = sum(1 for r in rows if r.condition is Condition.DAMAGED or r.missing_quantity)
    _record_transition(
        session,
        loan,
        RequestStatus.RETURNED,
        by=by,
        action="request.check_in",
        details={
            "at": at.isoformat(),
            "notes": notes,
            "items": _rows_snapshot(rows),
            "maintenance": sorted(wanted),
        },
        kind="request.returned",
        message=lambda: _returned_text(loan, at, problems),
        payload={"request_id": loan.id, "damaged_or_missing": problems},
    )
    clashes = (
        _clashes(session, wanted, at, maintenance_until, loan.id)
        if wanted and maintenance_until is not None  # required with units, checked above
        else []
    )
    _write(session, commit=True)
    if at < loan.requested_end_dt:
        offer_freed_capacity(
            session, by=by, cause=lambda: _("Request %(id)d came back early.", id=loan.id)
        )
    refresh_after_change(session)
    return CheckInResult(
        handovers=rows, maintenance=windows, clashes=clashes, missing_units=missing
    )
