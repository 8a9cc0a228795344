"""Inventory management: equipment types, units and their windows, pools, sites.

Every function takes a session and plain values, checks that ``by`` is a
manager or an admin, validates the business rules (a ``ValidationError`` lists
every problem with the field it concerns), records an audit event for each
change and commits, unless ``commit=False``: the CSV import makes many changes
in one transaction.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from booking import limits
from booking.errors import Conflict, ValidationError
from booking.models import (
    Commune,
    EquipmentType,
    Pool,
    Site,
    SiteKind,
    Unavailability,
    Unit,
    UnitStatus,
    User,
)
from booking.services.access import get_or_404, require_staff
from booking.services.audit import record_event
from booking.services.concurrency import changed_meanwhile, conflict_on_concurrent_write
from booking.services.waiting import offer_freed_capacity
from booking.timeutil import to_local

# Codes appear in CSV files, calendar names and the solver's problem files.
CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,59}$")
NAME_MAX = 120
# The most pallet places one item may take (a large stage takes about twenty).
MAX_LOAD_PER_ITEM = 100

Errors = list[tuple[str | None, str]]


@dataclass(frozen=True)
class TypeData:
    """The editable fields of an equipment type; substitutes are type codes."""

    code: str
    name: str
    turnaround_minutes: int = 0
    min_notice_hours: int = 0
    max_loan_days: int | None = None
    is_delivered: bool = False
    is_pooled: bool = False
    substitute_codes: tuple[str, ...] = ()
    description: str | None = None
    # Pallet places one item takes on a truck (None: not set).
    load_per_item: float | None = None


@dataclass(frozen=True)
class UnitData:
    """The editable fields of a unit."""

    code: str
    name: str
    type_id: int
    home_depot_id: int
    status: UnitStatus = UnitStatus.AVAILABLE
    notes: str | None = None


@dataclass(frozen=True)
class SiteData:
    """The editable fields of a site; ``commune_id`` is required for delivery sites."""

    name: str
    kind: SiteKind
    lat: float
    lon: float
    commune_id: int | None = None
    address: str | None = None
    is_active: bool = True


# --- snapshots for the audit trail -------------------------------------------------------


def type_snapshot(t: EquipmentType) -> dict[str, Any]:
    """The audited values of an equipment type."""
    return {
        "code": t.code,
        "name": t.name,
        "description": t.description,
        "turnaround_minutes": t.turnaround_minutes,
        "min_notice_hours": t.min_notice_hours,
        "max_loan_days": t.max_loan_days,
        "is_delivered": t.is_delivered,
        "is_pooled": t.is_pooled,
        "substitutes": sorted(s.code for s in t.substitutes),
        "load_per_item": t.load_per_item,
    }


def unit_snapshot(u: Unit) -> dict[str, Any]:
    """The audited values of a unit."""
    return {
        "code": u.code,
        "name": u.name,
        "type_id": u.type_id,
        "home_depot_id": u.home_depot_id,
        "status": u.status.value,
        "notes": u.notes,
    }


def site_snapshot(s: Site) -> dict[str, Any]:
    """The audited values of a site."""
    return {
        "name": s.name,
        "kind": s.kind.value,
        "commune_id": s.commune_id,
        "address": s.address,
        "lat": s.lat,
        "lon": s.lon,
        "is_active": s.is_active,
    }


def _window_snapshot(w: Unavailability) -> dict[str, Any]:
    return {
        "unit_id": w.unit_id,
        "start_dt": w.start_dt.isoformat(),
        "end_dt": w.end_dt.isoformat(),
        "reason": w.reason,
    }


def _record(
    session: Session,
    by: User,
    action: str,
    obj: Any,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    commit: bool,
) -> None:
    # An edit that changes nothing leaves no event, so the trail shows real changes only.
    if before is None or before != after:
        record_event(
            session,
            by=by,
            action=action,
            object_type=action.split(".")[0],
            object_id=obj.id,
            before=before,
            after=after,
        )
    if commit:
        session.commit()
    else:
        session.flush()


def _type_code_taken(code: str) -> str:
    return _("Another equipment type already has the code %(code)s.", code=code)


def _unit_code_taken(code: str) -> str:
    return _("Another unit already has the code %(code)s.", code=code)


# --- look-ups ---------------------------------------------------------------------------


def list_types(session: Session, *, by: User) -> list[EquipmentType]:
    """All equipment types by name.

    Raises:
        Forbidden: ``by`` is not a manager or an admin.
    """
    require_staff(by)
    stmt = select(EquipmentType).options(
        selectinload(EquipmentType.substitutes),
        selectinload(EquipmentType.units),
        selectinload(EquipmentType.pools),
    )
    return list(session.scalars(stmt.order_by(EquipmentType.name)))


def get_type(session: Session, type_id: int, *, by: User) -> EquipmentType:
    """One equipment type.

    Raises:
        Forbidden: ``by`` is not a manager or an admin.
        NotFound: no such type.
    """
    require_staff(by)
    return get_or_404(session, EquipmentType, type_id)


def list_units(session: Session, *, by: User) -> list[Unit]:
    """All units, by type name then code.

    Raises:
        Forbidden: ``by`` is not a manager or an admin.
    """
    require_staff(by)
    stmt = (
        select(Unit)
        .join(Unit.type)
        .options(selectinload(Unit.type), selectinload(Unit.home_depot))
        .order_by(EquipmentType.name, Unit.code)
    )
    return list(session.scalars(stmt))


def get_unit(session: Session, unit_id: int, *, by: User) -> Unit:
    """One unit (its ``unavailabilities`` are the maintenance windows).

    Raises:
        Forbidden: ``by`` is not a manager or an admin.
        NotFound: no such unit.
    """
    require_staff(by)
    return get_or_404(session, Unit, unit_id)


def list_sites(session: Session, *, by: User, kind: SiteKind | None = None) -> list[Site]:
    """Sites, depots first then by name; only those of ``kind`` when given.

    Raises:
        Forbidden: ``by`` is not a manager or an admin.
    """
    require_staff(by)
    stmt = select(Site).options(selectinload(Site.commune)).order_by(Site.kind, Site.name)
    if kind is not None:
        stmt = stmt.where(Site.kind == kind)
    return list(session.scalars(stmt))


def get_site(session: Session, site_id: int, *, by: User) -> Site:
    """One site.

    Raises:
        Forbidden: ``by`` is not a manager or an admin.
        NotFound: no such site.
    """
    require_staff(by)
    return get_or_404(session, Site, site_id)


def list_pools(session: Session, *, by: User) -> list[Pool]:
    """All pools, by type name then depot name.

    Raises:
        Forbidden: ``by`` is not a manager or an admin.
    """
    require_staff(by)
    stmt = (
        select(Pool)
        .join(Pool.type)
        .join(Pool.depot)
        .options(selectinload(Pool.type), selectinload(Pool.depot))
        .order_by(EquipmentType.name, Site.name)
    )
    return list(session.scalars(stmt))


# --- equipment types --------------------------------------------------------------------


def _check_code(code: str, errors: Errors) -> None:
    if not code:
        errors.append(("code", _("Enter a code.")))
    elif not CODE_RE.match(code):
        errors.append(
            (
                "code",
                _(
                    "The code %(code)s is not valid: up to 60 letters, digits, dots, dashes or "
                    "underscores, without spaces.",
                    code=code,
                ),
            )
        )


def _check_name(name: str, errors: Errors) -> None:
    if not name:
        errors.append(("name", _("Enter a name.")))
    elif len(name) > NAME_MAX:
        errors.append(("name", _("The name is longer than %(n)d characters.", n=NAME_MAX)))


def _check_type(
    session: Session, data: TypeData, current: EquipmentType | None
) -> list[EquipmentType]:
    """Validates ``data`` for ``current`` (None for a new type); returns its substitutes."""
    errors: Errors = []
    code = data.code.strip()
    _check_code(code, errors)
    _check_name(data.name.strip(), errors)
    if data.turnaround_minutes < 0:
        errors.append(("turnaround_minutes", _("The turnaround cannot be negative.")))
    elif data.turnaround_minutes > limits.MAX_TURNAROUND_MINUTES:
        errors.append(
            (
                "turnaround_minutes",
                _(
                    "The turnaround is at most %(max)d minutes (a week).",
                    max=limits.MAX_TURNAROUND_MINUTES,
                ),
            )
        )
    if data.min_notice_hours < 0:
        errors.append(("min_notice_hours", _("The minimum notice cannot be negative.")))
    elif data.min_notice_hours > limits.MAX_NOTICE_HOURS:
        errors.append(
            (
                "min_notice_hours",
                _(
                    "The minimum notice is at most %(max)d hours (a year).",
                    max=limits.MAX_NOTICE_HOURS,
                ),
            )
        )
    if data.max_loan_days is not None and data.max_loan_days < 1:
        errors.append(("max_loan_days", _("The longest loan must be at least one day.")))
    elif data.max_loan_days is not None and data.max_loan_days > limits.MAX_LOAN_DAYS:
        errors.append(
            (
                "max_loan_days",
                _(
                    "The longest loan is at most %(max)d days (three years).",
                    max=limits.MAX_LOAN_DAYS,
                ),
            )
        )
    if data.load_per_item is not None and not (
        math.isfinite(data.load_per_item) and 0 < data.load_per_item <= MAX_LOAD_PER_ITEM
    ):
        errors.append(
            (
                "load_per_item",
                _(
                    "The load of one item must be more than 0 and at most %(max)s pallet places.",
                    max=MAX_LOAD_PER_ITEM,
                ),
            )
        )
    codes = list(dict.fromkeys(c.strip() for c in data.substitute_codes if c.strip()))
    substitutes = list(session.scalars(select(EquipmentType).where(EquipmentType.code.in_(codes))))
    missing = [c for c in codes if c not in {s.code for s in substitutes}]
    if missing:
        errors.append(("substitutes", _("Unknown type(s): %(codes)s.", codes=", ".join(missing))))
    if data.is_pooled and codes:
        errors.append(("substitutes", _("A pooled type has no substitutes: any item serves.")))
    if code in codes:
        errors.append(("substitutes", _("A type cannot substitute for itself.")))
    pooled = [s.code for s in substitutes if s.is_pooled]
    if pooled:
        errors.append(
            (
                "substitutes",
                _(
                    "Only unit-tracked types can substitute; pooled: %(codes)s.",
                    codes=", ".join(pooled),
                ),
            )
        )
    if current is not None and data.is_pooled and current.units:
        errors.append(
            (
                "is_pooled",
                _(
                    "%(code)s has %(n)d units, so it cannot be pooled: a type is tracked either by "
                    "unit or by quantity.",
                    code=current.code,
                    n=len(current.units),
                ),
            )
        )
    if current is not None and not data.is_pooled and any(p.quantity for p in current.pools):
        errors.append(
            (
                "is_pooled",
                _(
                    "%(code)s has stock in pools: set its quantities to 0 before tracking it by "
                    "unit.",
                    code=current.code,
                ),
            )
        )
    if current is not None and data.is_pooled:
        replaced = session.scalars(
            select(EquipmentType.code).where(EquipmentType.substitutes.contains(current))
        ).all()
        if replaced:
            errors.append(
                (
                    "is_pooled",
                    _(
                        "%(code)s substitutes for %(others)s, so it must stay tracked by unit.",
                        code=current.code,
                        others=", ".join(sorted(replaced)),
                    ),
                )
            )
    if errors:
        raise ValidationError(errors=errors)
    same = session.scalar(select(EquipmentType).where(EquipmentType.code == code))
    if same is not None and same is not current:
        raise Conflict(_type_code_taken(code))
    return substitutes


def _fill_type(t: EquipmentType, data: TypeData, substitutes: list[EquipmentType]) -> None:
    t.code = data.code.strip()
    t.name = data.name.strip()
    t.description = (data.description or "").strip() or None
    t.turnaround_minutes = data.turnaround_minutes
    t.min_notice_hours = data.min_notice_hours
    t.max_loan_days = data.max_loan_days
    t.is_delivered = data.is_delivered
    t.is_pooled = data.is_pooled
    t.substitutes = substitutes
    t.load_per_item = data.load_per_item


def create_type(
    session: Session, data: TypeData, *, by: User, commit: bool = True
) -> EquipmentType:
    """Creates an equipment type.

    Raises:
        Forbidden: ``by`` is not a manager or an admin.
        ValidationError: a field is missing or out of range, or a substitute is unknown,
            pooled or the type itself.
        Conflict: the code is taken.
    """
    require_staff(by)
    substitutes = _check_type(session, data, None)
    t = EquipmentType()
    _fill_type(t, data, substitutes)
    with conflict_on_concurrent_write(session, duplicate=_type_code_taken(t.code)):
        session.add(t)
        session.flush()
        _record(session, by, "type.create", t, None, type_snapshot(t), commit)
    return t


def update_type(
    session: Session, type_id: int, data: TypeData, *, by: User, commit: bool = True
) -> EquipmentType:
    """Changes an equipment type.

    Raises:
        Forbidden: ``by`` is not a manager or an admin.
        NotFound: no such type.
        ValidationError: as ``create_type``, or the tracking mode cannot change because
            the type has units, stock, or substitutes for another type.
        Conflict: the code is taken.
    """
    t = get_type(session, type_id, by=by)
    substitutes = _check_type(session, data, t)
    before = type_snapshot(t)
    _fill_type(t, data, substitutes)
    with conflict_on_concurrent_write(session, duplicate=_type_code_taken(t.code)):
        _record(session, by, "type.update", t, before, type_snapshot(t), commit)
    return t


# --- units and their unavailability windows ---------------------------------------------


def _check_unit(session: Session, data: UnitData, current: Unit | None) -> None:
    errors: Errors = []
    code = data.code.strip()
    _check_code(code, errors)
    _check_name(data.name.strip(), errors)
    t = session.get(EquipmentType, data.type_id)
    if t is None:
        errors.append(("type_id", _("Unknown equipment type.")))
    elif t.is_pooled:
        errors.append(
            (
                "type_id",
                _("%(code)s is pooled: set its quantities by depot instead.", code=t.code),
            )
        )
    depot = session.get(Site, data.home_depot_id)
    if depot is None or depot.kind is not SiteKind.DEPOT:
        errors.append(("home_depot_id", _("A unit's home must be a depot.")))
    if errors:
        raise ValidationError(errors=errors)
    same = session.scalar(select(Unit).where(Unit.code == code))
    if same is not None and same is not current:
        raise Conflict(_unit_code_taken(code))


def _fill_unit(session: Session, u: Unit, data: UnitData) -> None:
    u.code = data.code.strip()
    u.name = data.name.strip()
    # Relationships rather than ids, so that loaded objects see the change at once.
    u.type = session.get_one(EquipmentType, data.type_id)
    u.home_depot = session.get_one(Site, data.home_depot_id)
    u.status = data.status
    u.notes = (data.notes or "").strip() or None


def create_unit(session: Session, data: UnitData, *, by: User, commit: bool = True) -> Unit:
    """Creates a unit of a unit-tracked type, kept at a depot.

    Raises:
        Forbidden: ``by`` is not a manager or an admin.
        ValidationError: missing code or name, pooled or unknown type, home not a depot.
        Conflict: the code is taken.
    """
    require_staff(by)
    _check_unit(session, data, None)
    u = Unit()
    _fill_unit(session, u, data)
    with conflict_on_concurrent_write(session, duplicate=_unit_code_taken(u.code)):
        session.add(u)
        session.flush()
        _record(session, by, "unit.create", u, None, unit_snapshot(u), commit)
    if commit and u.status is UnitStatus.AVAILABLE:
        offer_freed_capacity(session, by=by, cause=lambda: _("New unit %(code)s.", code=u.code))
    return u


def update_unit(
    session: Session, unit_id: int, data: UnitData, *, by: User, commit: bool = True
) -> Unit:
    """Changes a unit (code, name, type, home depot, status, notes).

    Raises:
        Forbidden: ``by`` is not a manager or an admin.
        NotFound: no such unit.
        ValidationError: as ``create_unit``.
        Conflict: the code is taken.
    """
    u = get_unit(session, unit_id, by=by)
    _check_unit(session, data, u)
    before = unit_snapshot(u)
    was_available = u.status is UnitStatus.AVAILABLE
    _fill_unit(session, u, data)
    with conflict_on_concurrent_write(session, duplicate=_unit_code_taken(u.code)):
        session.flush()
        _record(session, by, "unit.update", u, before, unit_snapshot(u), commit)
    if commit and not was_available and u.status is UnitStatus.AVAILABLE:
        offer_freed_capacity(
            session, by=by, cause=lambda: _("Unit %(code)s is back in service.", code=u.code)
        )
    return u


def add_unavailability(
    session: Session,
    unit_id: int,
    start_dt: datetime,
    end_dt: datetime,
    reason: str | None = None,
    *,
    by: User,
    commit: bool = True,
) -> Unavailability:
    """Blocks a unit over ``[start_dt, end_dt)`` (maintenance, inspection, repair).

    Raises:
        Forbidden: ``by`` is not a manager or an admin.
        NotFound: no such unit.
        ValidationError: a naive datetime, or the window does not end after it starts.
        Conflict: the window overlaps another window of the unit.
    """
    u = get_unit(session, unit_id, by=by)
    if start_dt.tzinfo is None or end_dt.tzinfo is None:
        raise ValidationError(_("Window times need a time zone."), field="start_dt")
    if end_dt <= start_dt:
        raise ValidationError(_("The window must end after it starts."), field="end_dt")
    for other in u.unavailabilities:
        if other.start_dt < end_dt and start_dt < other.end_dt:
            shown = [
                to_local(dt).strftime("%d/%m/%Y %H:%M") for dt in (other.start_dt, other.end_dt)
            ]
            raise Conflict(
                _(
                    "This window overlaps the one from %(start)s to %(end)s.",
                    start=shown[0],
                    end=shown[1],
                )
            )
    w = Unavailability(start_dt=start_dt, end_dt=end_dt, reason=(reason or "").strip() or None)
    u.unavailabilities.append(w)
    with conflict_on_concurrent_write(session):
        session.flush()
        _record(session, by, "unavailability.create", w, None, _window_snapshot(w), commit)
    return w


def remove_unavailability(
    session: Session, window_id: int, *, by: User, commit: bool = True
) -> Unit:
    """Deletes an unavailability window; returns its unit.

    Raises:
        Forbidden: ``by`` is not a manager or an admin.
        NotFound: no such window.
    """
    require_staff(by)
    w = get_or_404(session, Unavailability, window_id)
    unit = w.unit
    before = _window_snapshot(w)
    unit.unavailabilities.remove(w)
    with conflict_on_concurrent_write(session):
        session.flush()
        _record(session, by, "unavailability.delete", w, before, None, commit)
    if commit:
        offer_freed_capacity(
            session,
            by=by,
            cause=lambda: _("A maintenance window of %(code)s was removed.", code=unit.code),
        )
    return unit


# --- pools ------------------------------------------------------------------------------


def set_pool_quantity(
    session: Session,
    type_id: int,
    depot_id: int,
    quantity: int,
    *,
    by: User,
    commit: bool = True,
) -> Pool:
    """Sets how many items of a pooled type a depot holds, creating the pool if needed.

    Raises:
        Forbidden: ``by`` is not a manager or an admin.
        NotFound: no such type or site.
        ValidationError: a negative quantity, a type tracked by unit, or a site that is
            not a depot.
    """
    require_staff(by)
    t = get_or_404(session, EquipmentType, type_id)
    depot = get_or_404(session, Site, depot_id)
    errors: Errors = []
    if quantity < 0:
        errors.append(("quantity", _("A quantity cannot be negative.")))
    elif quantity > limits.MAX_QUANTITY:
        errors.append(("quantity", _("A quantity is at most %(max)d.", max=limits.MAX_QUANTITY)))
    if not t.is_pooled:
        errors.append(
            ("type_id", _("%(code)s is tracked by unit: add units instead.", code=t.code))
        )
    if depot.kind is not SiteKind.DEPOT:
        errors.append(("depot_id", _("Stock can only be held at a depot.")))
    if errors:
        raise ValidationError(errors=errors)
    pool = session.scalar(select(Pool).where(Pool.type_id == t.id, Pool.depot_id == depot.id))
    before = None if pool is None else {"quantity": pool.quantity}
    added = quantity - (pool.quantity if pool is not None else 0)
    if pool is None:
        pool = Pool(type=t, depot=depot, quantity=quantity)
        session.add(pool)
    pool.quantity = quantity
    action = "pool.create" if before is None else "pool.update"
    # Two first quantities for the same pool: the second one lost the race.
    with conflict_on_concurrent_write(session, duplicate=changed_meanwhile()):
        session.flush()
        _record(session, by, action, pool, before, {"quantity": quantity}, commit)
    if commit and added > 0:
        offer_freed_capacity(
            session,
            by=by,
            cause=lambda: _("%(count)d more %(type)s in stock.", count=added, type=t.name),
        )
    return pool


# --- sites ------------------------------------------------------------------------------


def _check_site(session: Session, data: SiteData, current: Site | None) -> None:
    errors: Errors = []
    name = data.name.strip()
    _check_name(name, errors)
    if not (math.isfinite(data.lat) and -90 <= data.lat <= 90):
        errors.append(("lat", _("The latitude must be between -90 and 90 degrees.")))
    if not (math.isfinite(data.lon) and -180 <= data.lon <= 180):
        errors.append(("lon", _("The longitude must be between -180 and 180 degrees.")))
    if data.commune_id is not None and session.get(Commune, data.commune_id) is None:
        errors.append(("commune_id", _("Unknown commune.")))
    if data.kind is SiteKind.DELIVERY and data.commune_id is None:
        errors.append(("commune_id", _("A delivery site belongs to a commune: choose one.")))
    if (
        current is not None
        and current.kind is SiteKind.DEPOT
        and data.kind is not SiteKind.DEPOT
        and (current.units or current.pools)
    ):
        errors.append(
            ("kind", _("%(name)s holds units or stock: it must stay a depot.", name=current.name))
        )
    if errors:
        raise ValidationError(errors=errors)
    same = session.scalar(select(Site).where(func.lower(Site.name) == name.lower()))
    if same is not None and same is not current:
        raise Conflict(_("Another site is already called %(name)s.", name=name))


def _fill_site(session: Session, s: Site, data: SiteData) -> None:
    s.name = data.name.strip()
    s.kind = data.kind
    s.commune = None if data.commune_id is None else session.get_one(Commune, data.commune_id)
    s.address = (data.address or "").strip() or None
    s.lat = data.lat
    s.lon = data.lon
    s.is_active = data.is_active


def create_site(session: Session, data: SiteData, *, by: User, commit: bool = True) -> Site:
    """Creates a depot or a delivery site.

    Raises:
        Forbidden: ``by`` is not a manager or an admin.
        ValidationError: coordinates out of range, unknown commune, or a delivery site
            without a commune.
        Conflict: another site has the same name (names identify sites in CSV files).
    """
    require_staff(by)
    _check_site(session, data, None)
    s = Site()
    _fill_site(session, s, data)
    with conflict_on_concurrent_write(session):
        session.add(s)
        session.flush()
        _record(session, by, "site.create", s, None, site_snapshot(s), commit)
    return s


def update_site(
    session: Session, site_id: int, data: SiteData, *, by: User, commit: bool = True
) -> Site:
    """Changes a site.

    Raises:
        Forbidden: ``by`` is not a manager or an admin.
        NotFound: no such site.
        ValidationError: as ``create_site``, or a depot holding equipment would stop
            being a depot.
        Conflict: another site has the same name.
    """
    s = get_site(session, site_id, by=by)
    _check_site(session, data, s)
    before = site_snapshot(s)
    _fill_site(session, s, data)
    with conflict_on_concurrent_write(session):
        session.flush()
        _record(session, by, "site.update", s, before, site_snapshot(s), commit)
    return s
