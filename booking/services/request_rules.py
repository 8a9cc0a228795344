"""The business rules of a loan request, checked all at once.

``validate_request`` lists every problem of a request as it would be submitted or edited,
each with the form field it concerns, so that the technician sees them together and
keeps what they typed.

Priorities follow the solver spec: 1 low, 2 normal, 3 high, 4 imperative; 3 and 4 need
a reason the fleet manager can weigh.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from flask import current_app, has_app_context
from flask_babel import format_date
from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from booking import limits
from booking.db import utcnow
from booking.models import (
    Commune,
    EquipmentType,
    Pool,
    Role,
    Site,
    SiteKind,
    Unit,
    UnitStatus,
    User,
    type_substitutes,
)
from booking.services.access import STAFF_ROLES, can_access_commune
from booking.timeutil import to_local

PRIORITY_LOW, PRIORITY_NORMAL, PRIORITY_HIGH, PRIORITY_IMPERATIVE = 1, 2, 3, 4
PRIORITIES = (PRIORITY_LOW, PRIORITY_NORMAL, PRIORITY_HIGH, PRIORITY_IMPERATIVE)
# From this priority up the manager must be told why.
PRIORITY_NEEDS_REASON = PRIORITY_HIGH
# A request may be shifted by at most this many days either way.
MAX_FLEX_DAYS = 30
# Primary keys are 32-bit integers: larger ids cannot exist, and the databases refuse them.
MAX_ID = 2**31 - 1
# Who may ask for equipment (a technician for their own commune only).
REQUESTER_ROLES = (Role.TECHNICIAN, *STAFF_ROLES)

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


def units_by_type(session: Session, type_ids: Iterable[int]) -> dict[int, int]:
    """How many units, retired ones excluded, each of these types has (one query)."""
    return dict(
        session.execute(
            select(Unit.type_id, func.count(Unit.id))
            .where(Unit.type_id.in_(list(type_ids)), Unit.status != UnitStatus.RETIRED)
            .group_by(Unit.type_id)
        ).all()
    )


def pooled_by_type(session: Session, type_ids: Iterable[int]) -> dict[int, int]:
    """The quantity of all the pools of each of these types (one query)."""
    return dict(
        session.execute(
            select(Pool.type_id, func.coalesce(func.sum(Pool.quantity), 0))
            .where(Pool.type_id.in_(list(type_ids)))
            .group_by(Pool.type_id)
        ).all()
    )


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
    units = units_by_type(session, wanted)
    pooled = pooled_by_type(session, ids)
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
    latest = latest_end(now)
    if end_dt > latest:
        errors.append(
            (
                "end_dt",
                _(
                    "A loan must end within %(days)d days from today, by %(date)s.",
                    days=horizon_days(),
                    date=format_date(to_local(latest), "short"),
                ),
            )
        )
        return False
    return True


def horizon_days() -> int:
    """How far ahead a request may end (``REQUEST_HORIZON_DAYS``, default three years)."""
    if has_app_context():
        return int(
            current_app.config.get("REQUEST_HORIZON_DAYS") or limits.DEFAULT_REQUEST_HORIZON_DAYS
        )
    return limits.DEFAULT_REQUEST_HORIZON_DAYS


def latest_end(now: datetime) -> datetime:
    """The latest end a request submitted at ``now`` may have."""
    return min(now + timedelta(days=horizon_days()), limits.LATEST - timedelta(days=1))


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
    elif quantity > stock or quantity > limits.MAX_QUANTITY:
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
    notice = limits.notice(equipment_type.min_notice_hours)
    if start_dt is not None and start_dt >= now and start_dt - now < notice:
        errors.append(
            (
                "start_dt",
                _(
                    "%(type)s must be asked for at least %(hours)d hours in advance.",
                    type=name,
                    hours=limits.notice_hours(equipment_type.min_notice_hours),
                ),
            )
        )
    limit = limits.loan_days(equipment_type.max_loan_days)
    if dates_ok and limit is not None and end_dt - start_dt > timedelta(days=limit):  # type: ignore[operator]
        errors.append(
            (
                "end_dt",
                _("%(type)s may be lent for at most %(days)d days.", type=name, days=limit),
            )
        )
