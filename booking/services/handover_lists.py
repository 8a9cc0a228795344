"""What is to be handed over or brought back, what is late, what is out of service, and
the hand-overs of a request, at the approved plan's (possibly shifted) dates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from booking.db import utcnow
from booking.models import (
    Assignment,
    Handover,
    HandoverKind,
    LoanRequest,
    Plan,
    PlanStatus,
    RequestStatus,
    Unavailability,
    Unit,
    UnitStatus,
    User,
)
from booking.services.access import commune_filter, require_role, require_staff
from booking.services.handovers import HANDOVER_ROLES, loan_items

# How far ahead the dashboards list the hand-overs to come.
UPCOMING_DAYS = 7


def _approved_window() -> Any:
    """(request id, served start, served end) of the approved plan's served assignments."""
    return (
        select(
            Assignment.request_id.label("request_id"),
            Assignment.start_dt.label("start_dt"),
            Assignment.end_dt.label("end_dt"),
        )
        .join(Plan, Assignment.plan_id == Plan.id)
        .where(Plan.status == PlanStatus.APPROVED, Assignment.is_served.is_(True))
        .subquery()
    )


@dataclass(frozen=True)
class ScheduledHandover:
    """A hand-over to come (``way`` "out" or "back") or a return that is late."""

    when: datetime
    way: str
    request: LoanRequest


def _scheduled(
    session: Session, by: User, statuses: tuple[RequestStatus, ...], condition: Any
) -> list[tuple[LoanRequest, datetime, datetime]]:
    window = _approved_window()
    start = func.coalesce(window.c.start_dt, LoanRequest.requested_start_dt)
    end = func.coalesce(window.c.end_dt, LoanRequest.requested_end_dt)
    rows = session.execute(
        select(LoanRequest, start, end)
        .outerjoin(window, window.c.request_id == LoanRequest.id)
        .where(
            LoanRequest.status.in_(statuses),
            commune_filter(by, LoanRequest.commune_id),
            condition(start, end),
        )
        .options(selectinload(LoanRequest.commune), selectinload(LoanRequest.site))
        .order_by(LoanRequest.id)
    ).all()
    return [(loan, _aware(s), _aware(e)) for loan, s, e in rows]


def _aware(value: datetime) -> datetime:
    # coalesce() loses the column type: SQLite gives back naive UTC (or text).
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=utcnow().tzinfo)


def list_overdue(
    session: Session, *, by: User, now: datetime | None = None
) -> list[ScheduledHandover]:
    """Handed-over loans whose served end has passed without a check-in, oldest first.

    Raises:
        Forbidden: if ``by`` may not hand equipment over (technicians see their commune's).
    """
    require_role(by, *HANDOVER_ROLES)
    now = now or utcnow()
    rows = _scheduled(session, by, (RequestStatus.HANDED_OVER,), lambda _start, end: end < now)
    found = [ScheduledHandover(end, "back", loan) for loan, _start, end in rows]
    return sorted(found, key=lambda h: (h.when, h.request.id))


def upcoming_handovers(
    session: Session, *, by: User, days: int = UPCOMING_DAYS, now: datetime | None = None
) -> list[ScheduledHandover]:
    """Check-outs and check-ins due within ``days``, soonest first.

    A check-out whose start has passed but that is not recorded yet stays in the list
    while the loan runs; returns already late are in :func:`list_overdue`.

    Raises:
        Forbidden: if ``by`` may not hand equipment over (technicians see their commune's).
    """
    require_role(by, *HANDOVER_ROLES)
    now = now or utcnow()
    soon = now + timedelta(days=days)
    found: list[ScheduledHandover] = []
    for loan, start, end in _scheduled(
        session,
        by,
        (RequestStatus.APPROVED, RequestStatus.HANDED_OVER),
        lambda start, end: or_(start < soon, end < soon) & (end >= now),
    ):
        if loan.status is RequestStatus.APPROVED and start < soon:
            found.append(ScheduledHandover(start, "out", loan))
        if end < soon:
            found.append(ScheduledHandover(end, "back", loan))
    return sorted(found, key=lambda h: (h.when, h.request.id, h.way != "out"))


@dataclass(frozen=True)
class UnitOutOfService:
    """A unit in maintenance: its status, and the window running now if any."""

    unit: Unit
    window: Unavailability | None


def units_in_maintenance(
    session: Session, *, by: User, now: datetime | None = None
) -> list[UnitOutOfService]:
    """Units with the MAINTENANCE status or inside an unavailability window now.

    Raises:
        Forbidden: unless ``by`` is staff.
    """
    require_staff(by)
    now = now or utcnow()
    current = list(
        session.scalars(
            select(Unavailability)
            .where(Unavailability.start_dt <= now, Unavailability.end_dt > now)
            .order_by(Unavailability.end_dt.desc())
        )
    )
    windows: dict[int, Unavailability] = {}
    for window in current:
        windows.setdefault(window.unit_id, window)
    units = session.scalars(
        select(Unit)
        .where(or_(Unit.status == UnitStatus.MAINTENANCE, Unit.id.in_(list(windows))))
        .options(selectinload(Unit.type))
        .order_by(Unit.code)
    )
    return [UnitOutOfService(unit, windows.get(unit.id)) for unit in units]


@dataclass(frozen=True)
class HistoryEntry:
    """One hand-over as people think of it: who, when, and the state of each item."""

    kind: HandoverKind
    at: datetime
    by: User | None
    taken_by: str | None
    notes: str | None
    rows: list[tuple[str, Handover]]


def history(session: Session, loan: LoanRequest) -> list[HistoryEntry]:
    """The check-outs and check-ins of ``loan`` (one the caller may see), oldest first."""
    served = loan_items(session, loan)
    pooled = {item.line.id: item for item in served.items if item.unit is None}
    entries: list[HistoryEntry] = []
    groups: dict[tuple[HandoverKind, datetime, int | None], list[Handover]] = {}
    for row in sorted(loan.handovers, key=lambda h: (h.at, h.id)):
        groups.setdefault((row.kind, row.at, row.by_id), []).append(row)
    for (kind, at, _by_id), rows in groups.items():
        labelled: list[tuple[str, Handover]] = []
        for row in rows:
            if row.unit is not None:
                labelled.append((f"{row.unit.name} ({row.unit.code})", row))
            else:
                item = pooled.get(row.line_id) if row.line_id is not None else None
                labelled.append((item.label if item is not None else "—", row))
        first = rows[0]
        entries.append(HistoryEntry(kind, at, first.by, first.taken_by, first.notes, labelled))
    return entries
