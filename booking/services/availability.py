"""How much of each equipment type is free over a period, for the request form.

A fixed handful of aggregate queries, whatever the number of types, units or requests:
the form asks again each time its dates change. Other communes' requests are only ever
counted, never described.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from booking import limits
from booking.errors import ValidationError
from booking.models import (
    Assignment,
    AssignmentDraw,
    AssignmentUnit,
    EquipmentType,
    LoanRequest,
    Plan,
    PlanStatus,
    Pool,
    RequestLine,
    RequestStatus,
    Unavailability,
    Unit,
    UnitStatus,
    User,
)
from booking.services.access import can_access_commune, require_role
from booking.services.request_rules import is_valid_id, pooled_by_type, units_by_type

# Requests that hold equipment in the approved schedule (cancelled ones have left it).
SCHEDULED = (RequestStatus.APPROVED, RequestStatus.HANDED_OVER)
# Requests still waiting for a plan.
PENDING = (RequestStatus.SUBMITTED, RequestStatus.PLANNED)


@dataclass(frozen=True)
class TypeAvailability:
    """Quantities of one type over a period.

    ``stock``: what could be lent over the period: units neither retired, in maintenance
    nor in an unavailability window overlapping it (those are ``out_of_service``), or the
    pooled quantity. ``planned``: units (or the peak pooled quantity) held by approved
    loans overlapping the period, turnaround included. ``free`` = stock - planned, never
    below 0.
    ``requested_by_others``: quantity asked by other communes' pending requests overlapping
    the period, from ``requests_by_others`` requests; ``requested_by_commune``: the same
    for the commune's own other pending requests.
    """

    type_id: int
    code: str
    name: str
    is_pooled: bool
    stock: int
    out_of_service: int
    planned: int
    free: int
    requested_by_others: int
    requests_by_others: int
    requested_by_commune: int

    def as_dict(self) -> dict[str, object]:
        """JSON-ready values."""
        return {
            "type_id": self.type_id,
            "code": self.code,
            "name": self.name,
            "is_pooled": self.is_pooled,
            "stock": self.stock,
            "out_of_service": self.out_of_service,
            "planned": self.planned,
            "free": self.free,
            "requested_by_others": self.requested_by_others,
            "requests_by_others": self.requests_by_others,
            "requested_by_commune": self.requested_by_commune,
        }


def _peak(intervals: Iterable[tuple[datetime, datetime, int]]) -> int:
    """The largest sum of quantities held at one instant; intervals are half-open."""
    # Ends sort before starts at the same instant: [a, b) and [b, c) do not overlap.
    events = sorted(
        [(start, 1, quantity) for start, _end, quantity in intervals]
        + [(end, 0, -quantity) for _start, end, quantity in intervals]
    )
    current = peak = 0
    for _at, _kind, delta in events:
        current += delta
        peak = max(peak, current)
    return peak


@dataclass(frozen=True)
class _Stock:
    """What each type owns over the period, by type id.

    ``units``: units not retired; ``pooled``: the sum of its pools' quantities; ``down``:
    the ids of units out of service over the period (in maintenance or in an
    unavailability window overlapping it), retired ones excluded.
    """

    units: dict[int, int]
    pooled: dict[int, int]
    down: dict[int, set[int]]


@dataclass(frozen=True)
class _Held:
    """What approved loans hold over the period, by type id.

    ``units``: ids of the units lent, turnaround included; ``draws``: pooled quantities
    drawn, as ``(start, end, quantity)`` clipped to the period, ends half-open.
    """

    units: dict[int, set[int]]
    draws: dict[int, list[tuple[datetime, datetime, int]]]


def availability(
    session: Session,
    *,
    by: User,
    start_dt: datetime,
    end_dt: datetime,
    type_ids: Iterable[int] | None = None,
    commune_id: int | None = None,
    exclude_request_id: int | None = None,
) -> list[TypeAvailability]:
    """Stock, planned and requested quantities of each type over ``[start_dt, end_dt)``.

    Args:
        session: the database session.
        by: who asks (any signed-in user).
        start_dt: start of the period (aware).
        end_dt: end of the period (aware), after ``start_dt``.
        type_ids: only these types (default: all), in name order.
        commune_id: the commune whose own requests are told apart from others'
            (default: ``by``'s commune).
        exclude_request_id: a request left out of the counts (the one being edited);
            ignored unless ``by`` may see it.

    Returns:
        One entry per type, by name.

    Raises:
        Forbidden: if ``by`` is not signed in or disabled.
        ValidationError: if the period is empty or reversed.
    """
    require_role(by)
    if end_dt <= start_dt:
        raise ValidationError(_("The period must end after it starts."), field="end_dt")
    commune_id = commune_id if commune_id is not None else by.commune_id
    exclude_request_id = _visible_exclusion(session, by, exclude_request_id)
    types = _types_asked(session, type_ids)
    if not types:
        return []
    ids = [t.id for t in types]
    stock = _stock(session, ids, start_dt, end_dt)
    held = _held(session, types, start_dt, end_dt, exclude_request_id)
    requested = _requested(session, ids, start_dt, end_dt, commune_id, exclude_request_id)
    return [_type_availability(t, stock, held, requested) for t in types]


def _visible_exclusion(session: Session, by: User, request_id: int | None) -> int | None:
    """``request_id`` if it may be left out of the counts for ``by``, else ``None``."""
    if not is_valid_id(request_id):
        return None
    request_commune = session.scalar(
        select(LoanRequest.commune_id).where(LoanRequest.id == request_id)
    )
    # Leaving out another commune's request would reveal its dates and quantities.
    return request_id if can_access_commune(by, request_commune) else None


def _types_asked(session: Session, type_ids: Iterable[int] | None) -> list[EquipmentType]:
    """The types ``type_ids`` names (all when ``None``), by name."""
    type_query = select(EquipmentType).order_by(EquipmentType.name, EquipmentType.id)
    if type_ids is not None:
        type_query = type_query.where(EquipmentType.id.in_([i for i in type_ids if is_valid_id(i)]))
    return list(session.scalars(type_query))


def _stock(session: Session, ids: list[int], start_dt: datetime, end_dt: datetime) -> _Stock:
    """Units, pooled quantities and out-of-service units of types ``ids`` (three queries)."""
    units = units_by_type(session, ids)
    pooled = pooled_by_type(session, ids)
    return _Stock(units=units, pooled=pooled, down=_out_of_service(session, ids, start_dt, end_dt))


def _out_of_service(
    session: Session, ids: list[int], start_dt: datetime, end_dt: datetime
) -> dict[int, set[int]]:
    """Ids of the units of types ``ids`` in maintenance or unavailable during the period."""
    window_overlaps = (
        select(Unavailability.id)
        .where(
            Unavailability.unit_id == Unit.id,
            Unavailability.start_dt < end_dt,
            Unavailability.end_dt > start_dt,
        )
        .exists()
    )
    down: dict[int, set[int]] = defaultdict(set)
    for type_id, unit_id in session.execute(
        select(Unit.type_id, Unit.id).where(
            Unit.type_id.in_(ids),
            or_(Unit.status == UnitStatus.MAINTENANCE, window_overlaps),
            Unit.status != UnitStatus.RETIRED,
        )
    ):
        down[type_id].add(unit_id)
    return down


def _held(
    session: Session,
    types: list[EquipmentType],
    start_dt: datetime,
    end_dt: datetime,
    exclude_request_id: int | None,
) -> _Held:
    """Units and pooled quantities held by approved loans over the period (two queries)."""
    turnaround = {
        t.id: timedelta(minutes=limits.turnaround_minutes(t.turnaround_minutes)) for t in types
    }
    # Approved loans: the assignments of the approved plan whose requests still hold
    # equipment. The period is widened by the longest turnaround so that a loan ending
    # just before it still counts; _lent_units and _pooled_draws apply each type's own.
    held: tuple[ColumnElement[bool], ...] = (
        Plan.status == PlanStatus.APPROVED,
        Assignment.is_served.is_(True),
        LoanRequest.status.in_(SCHEDULED),
        Assignment.start_dt < end_dt,
        Assignment.end_dt > start_dt - max(turnaround.values()),
    )
    if exclude_request_id is not None:
        held += (LoanRequest.id != exclude_request_id,)
    return _Held(
        units=_lent_units(session, held, turnaround, start_dt),
        draws=_pooled_draws(session, held, turnaround, start_dt, end_dt),
    )


def _lent_units(
    session: Session,
    held: tuple[ColumnElement[bool], ...],
    turnaround: dict[int, timedelta],
    start_dt: datetime,
) -> dict[int, set[int]]:
    """Ids of the units lent by the loans ``held`` selects, still away at ``start_dt``.

    ``turnaround`` maps every type asked to its turnaround.
    """
    units: dict[int, set[int]] = defaultdict(set)
    for type_id, unit_id, loan_end in session.execute(
        select(Unit.type_id, AssignmentUnit.unit_id, Assignment.end_dt)
        .join(Assignment, AssignmentUnit.assignment_id == Assignment.id)
        .join(Plan, Assignment.plan_id == Plan.id)
        .join(LoanRequest, Assignment.request_id == LoanRequest.id)
        .join(Unit, AssignmentUnit.unit_id == Unit.id)
        .where(Unit.type_id.in_(list(turnaround)), *held)
    ):
        if loan_end is None:
            continue  # never: an assignment that names units is served, so it has times
        if loan_end + turnaround[type_id] > start_dt:
            units[type_id].add(unit_id)
    return units


def _pooled_draws(
    session: Session,
    held: tuple[ColumnElement[bool], ...],
    turnaround: dict[int, timedelta],
    start_dt: datetime,
    end_dt: datetime,
) -> dict[int, list[tuple[datetime, datetime, int]]]:
    """Pooled quantities drawn by the loans ``held`` selects, clipped to the period."""
    draws: dict[int, list[tuple[datetime, datetime, int]]] = defaultdict(list)
    for type_id, loan_start, loan_end, quantity in session.execute(
        select(Pool.type_id, Assignment.start_dt, Assignment.end_dt, AssignmentDraw.quantity)
        .join(Assignment, AssignmentDraw.assignment_id == Assignment.id)
        .join(Plan, Assignment.plan_id == Plan.id)
        .join(LoanRequest, Assignment.request_id == LoanRequest.id)
        .join(Pool, AssignmentDraw.pool_id == Pool.id)
        .where(Pool.type_id.in_(list(turnaround)), *held)
    ):
        if loan_start is None or loan_end is None:
            continue  # never: an assignment that draws from pools is served, so it has times
        held_until = loan_end + turnaround[type_id]
        if held_until > start_dt:
            draws[type_id].append((max(loan_start, start_dt), min(held_until, end_dt), quantity))
    return draws


def _requested(
    session: Session,
    ids: list[int],
    start_dt: datetime,
    end_dt: datetime,
    commune_id: int | None,
    exclude_request_id: int | None,
) -> dict[tuple[int, bool], tuple[int, int]]:
    """Quantity and number of pending requests overlapping the period (one query).

    Keyed by ``(type id, whether the requests are commune_id's)``, valued by
    ``(total quantity, number of requests)``.
    """
    pending: tuple[ColumnElement[bool], ...] = (
        LoanRequest.status.in_(PENDING),
        LoanRequest.requested_start_dt < end_dt,
        LoanRequest.requested_end_dt > start_dt,
        RequestLine.type_id.in_(ids),
    )
    if exclude_request_id is not None:
        pending += (LoanRequest.id != exclude_request_id,)
    # Per (type, commune): a request belongs to one commune, so counts add up exactly.
    requested: dict[tuple[int, bool], tuple[int, int]] = {}
    for type_id, request_commune, quantity, count in session.execute(
        select(
            RequestLine.type_id,
            LoanRequest.commune_id,
            func.sum(RequestLine.quantity),
            func.count(func.distinct(LoanRequest.id)),
        )
        .join(LoanRequest, RequestLine.request_id == LoanRequest.id)
        .where(*pending)
        .group_by(RequestLine.type_id, LoanRequest.commune_id)
    ):
        key = (type_id, commune_id is not None and request_commune == commune_id)
        total, requests = requested.get(key, (0, 0))
        requested[key] = (total + int(quantity or 0), requests + int(count or 0))
    return requested


def _type_availability(
    t: EquipmentType,
    owned: _Stock,
    held: _Held,
    requested: dict[tuple[int, bool], tuple[int, int]],
) -> TypeAvailability:
    """The figures of type ``t`` out of what the queries found."""
    down = len(owned.down[t.id])
    if t.is_pooled:
        stock = int(owned.pooled.get(t.id) or 0)
        planned = _peak(held.draws[t.id])
    else:
        stock = int(owned.units.get(t.id, 0)) - down
        # A unit both down and lent is counted once, as down.
        planned = len(held.units[t.id] - owned.down[t.id])
    others, others_count = requested.get((t.id, False), (0, 0))
    own, _own_count = requested.get((t.id, True), (0, 0))
    return TypeAvailability(
        type_id=t.id,
        code=t.code,
        name=t.name,
        is_pooled=t.is_pooled,
        stock=stock,
        out_of_service=down,
        planned=planned,
        free=max(0, stock - planned),
        requested_by_others=others,
        requests_by_others=others_count,
        requested_by_commune=own,
    )
