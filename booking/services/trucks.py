"""Trucks: the vehicles that deliver and collect equipment, with their driver's day.

Every function checks that ``by`` is a manager or an admin, validates the whole input
(a ``ValidationError`` lists every problem with its field), records an audit event and
commits. A truck changes the rounds of the coming days: they are computed again after
the change (``rounds.refresh_after_change``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from booking.errors import Conflict, ValidationError
from booking.models import Site, SiteKind, Truck, User
from booking.services.access import get_or_404, require_staff
from booking.services.audit import record_event
from booking.services.concurrency import conflict_on_concurrent_write
from booking.services.rounds import refresh_after_change

NAME_MAX = 120
# A 44 t articulated lorry takes 33 pallet places; leave room for trailers.
MAX_CAPACITY = 100
MAX_BREAK_MINUTES = 240

Errors = list[tuple[str | None, str]]


@dataclass(frozen=True)
class TruckData:
    """The editable fields of a truck; times are wall-clock times in Europe/Paris."""

    name: str
    depot_id: int
    capacity: int  # pallet places
    day_start: time
    day_end: time
    break_start: time | None = None
    break_minutes: int = 0
    cost_per_km: float = 1.0
    is_active: bool = True


def truck_snapshot(truck: Truck) -> dict[str, Any]:
    """The audited values of a truck."""
    return {
        "name": truck.name,
        "depot_id": truck.depot_id,
        "capacity": truck.capacity,
        "day_start": truck.day_start.isoformat("minutes"),
        "day_end": truck.day_end.isoformat("minutes"),
        "break_start": truck.break_start.isoformat("minutes") if truck.break_start else None,
        "break_minutes": truck.break_minutes,
        "cost_per_km": truck.cost_per_km,
        "is_active": truck.is_active,
    }


def list_trucks(session: Session, *, by: User, active_only: bool = False) -> list[Truck]:
    """Trucks by name, with their depot.

    Raises:
        Forbidden: ``by`` is not a manager or an admin.
    """
    require_staff(by)
    stmt = select(Truck).options(selectinload(Truck.depot)).order_by(Truck.name)
    if active_only:
        stmt = stmt.where(Truck.is_active.is_(True))
    return list(session.scalars(stmt))


def get_truck(session: Session, truck_id: int, *, by: User) -> Truck:
    """One truck.

    Raises:
        Forbidden: ``by`` is not a manager or an admin.
        NotFound: no such truck.
    """
    require_staff(by)
    return get_or_404(session, Truck, truck_id)


def _minutes(moment: time) -> int:
    return moment.hour * 60 + moment.minute


def _check(session: Session, data: TruckData, current: Truck | None) -> None:
    errors: Errors = []
    name = " ".join(data.name.split())
    if not name:
        errors.append(("name", _("Enter a name.")))
    elif len(name) > NAME_MAX:
        errors.append(("name", _("The name is longer than %(n)d characters.", n=NAME_MAX)))
    depot = session.get(Site, data.depot_id)
    if depot is None or depot.kind is not SiteKind.DEPOT:
        errors.append(("depot_id", _("Choose a depot.")))
    if not 0 < data.capacity <= MAX_CAPACITY:
        errors.append(
            (
                "capacity",
                _("The capacity must be between 1 and %(max)d pallet places.", max=MAX_CAPACITY),
            )
        )
    if not (math.isfinite(data.cost_per_km) and data.cost_per_km >= 0):
        errors.append(("cost_per_km", _("The cost per km cannot be negative.")))
    start, end = _minutes(data.day_start), _minutes(data.day_end)
    if start >= end:
        errors.append(("day_end", _("The driver's day must end after it starts.")))
    if not 0 <= data.break_minutes <= MAX_BREAK_MINUTES:
        errors.append(
            (
                "break_minutes",
                _("The break lasts between 0 and %(max)d minutes.", max=MAX_BREAK_MINUTES),
            )
        )
    elif data.break_minutes and data.break_start is None:
        errors.append(("break_start", _("Give the time the break starts.")))
    elif data.break_minutes and data.break_start is not None and start < end:
        begin = _minutes(data.break_start)
        if begin < start or begin + data.break_minutes > end:
            errors.append(
                ("break_start", _("The break must start and end within the driver's day."))
            )
    if errors:
        raise ValidationError(errors=errors)
    same = session.scalar(select(Truck).where(func.lower(Truck.name) == name.lower()))
    if same is not None and same is not current:
        raise Conflict(_name_taken(name))


def _name_taken(name: str) -> str:
    return _("Another truck is already called %(name)s.", name=name)


def _fill(truck: Truck, data: TruckData) -> None:
    truck.name = " ".join(data.name.split())
    truck.depot_id = data.depot_id
    truck.capacity = data.capacity
    truck.day_start = data.day_start.replace(second=0, microsecond=0)
    truck.day_end = data.day_end.replace(second=0, microsecond=0)
    truck.break_minutes = data.break_minutes
    truck.break_start = (
        data.break_start.replace(second=0, microsecond=0)
        if data.break_minutes and data.break_start is not None
        else None
    )
    truck.cost_per_km = data.cost_per_km
    truck.is_active = data.is_active


def create_truck(
    session: Session, data: TruckData, *, by: User, now: datetime | None = None
) -> Truck:
    """Add a truck, then compute the rounds of the coming days again.

    Raises:
        Forbidden: ``by`` is not a manager or an admin.
        ValidationError: a field is missing or out of range: capacity not above 0, the
            day ending before it starts, a break outside the day, a site that is not a depot.
        Conflict: another truck has the same name.
    """
    require_staff(by)
    _check(session, data, None)
    truck = Truck()
    _fill(truck, data)
    with conflict_on_concurrent_write(session, duplicate=_name_taken(truck.name)):
        session.add(truck)
        session.flush()
        record_event(
            session,
            by=by,
            action="truck.create",
            object_type="truck",
            object_id=truck.id,
            after=truck_snapshot(truck),
        )
        session.commit()
    refresh_after_change(session, now=now)
    return truck


def update_truck(
    session: Session, truck_id: int, data: TruckData, *, by: User, now: datetime | None = None
) -> Truck:
    """Change a truck, then compute the rounds of the coming days again.

    Raises:
        Forbidden: ``by`` is not a manager or an admin.
        NotFound: no such truck.
        ValidationError: as ``create_truck``.
        Conflict: another truck has the same name.
    """
    truck = get_truck(session, truck_id, by=by)
    _check(session, data, truck)
    before = truck_snapshot(truck)
    _fill(truck, data)
    after = truck_snapshot(truck)
    with conflict_on_concurrent_write(session, duplicate=_name_taken(truck.name)):
        if before != after:
            record_event(
                session,
                by=by,
                action="truck.update",
                object_type="truck",
                object_id=truck.id,
                before=before,
                after=after,
            )
        session.commit()
    refresh_after_change(session, now=now)
    return truck
