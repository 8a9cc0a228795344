"""Printable labels for the fleet: one per numbered unit and one per pool (type × depot).

Each label carries the address of the equipment's page as a QR code and its code in
clear. The page address is built by the caller (a view knows the site's URL); this module
chooses what to label and draws the QR code as inline SVG with ``segno``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import segno
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from booking.models import EquipmentType, Pool, Site, SiteKind, Unit, UnitStatus, User
from booking.services.access import require_staff

# Modules (dark squares) of quiet zone around the code: the standard asks for four, the
# label's own white margin adds to it, and a phone reads two comfortably.
QR_BORDER = 2


class LabelKind(enum.Enum):
    """Which labels to print."""

    ALL = "all"
    UNITS = "units"
    POOLS = "pools"


@dataclass(frozen=True)
class LabelFilter:
    """What the manager chose: ``type_id`` and ``depot_id`` 0 mean any."""

    kind: LabelKind = LabelKind.ALL
    type_id: int = 0
    depot_id: int = 0


@dataclass(frozen=True)
class LabelTarget:
    """One label: a unit (``unit`` set) or a pool (``pool`` set).

    ``code`` is printed in clear under the QR code: the unit's code, or for a pool its
    type's code and the depot's name.
    """

    code: str
    title: str
    detail: str
    unit: Unit | None = None
    pool: Pool | None = None


def label_choices(session: Session, *, by: User) -> tuple[list[EquipmentType], list[Site]]:
    """The equipment types and depots the manager may filter the labels by.

    Raises:
        Forbidden: unless ``by`` is staff.
    """
    require_staff(by)
    types = list(session.scalars(select(EquipmentType).order_by(EquipmentType.name)))
    depots = list(
        session.scalars(select(Site).where(Site.kind == SiteKind.DEPOT).order_by(Site.name))
    )
    return types, depots


def list_labels(session: Session, choice: LabelFilter, *, by: User) -> list[LabelTarget]:
    """The labels to print: units (not retired) then pools, each sorted by code.

    Args:
        session: the database session.
        choice: units, pools or both, of one type and one depot or of all.
        by: the acting user.

    Raises:
        Forbidden: unless ``by`` is staff.
    """
    require_staff(by)
    labels: list[LabelTarget] = []
    if choice.kind in (LabelKind.ALL, LabelKind.UNITS):
        query = (
            select(Unit)
            .where(Unit.status != UnitStatus.RETIRED)
            .options(selectinload(Unit.type), selectinload(Unit.home_depot))
            .order_by(Unit.code)
        )
        if choice.type_id:
            query = query.where(Unit.type_id == choice.type_id)
        if choice.depot_id:
            query = query.where(Unit.home_depot_id == choice.depot_id)
        labels += [
            LabelTarget(
                code=unit.code,
                title=unit.name,
                detail=f"{unit.type.name} · {unit.home_depot.name}",
                unit=unit,
            )
            for unit in session.scalars(query)
        ]
    if choice.kind in (LabelKind.ALL, LabelKind.POOLS):
        pools = (
            select(Pool)
            .join(EquipmentType, Pool.type_id == EquipmentType.id)
            .options(selectinload(Pool.type), selectinload(Pool.depot))
            .order_by(EquipmentType.code, Pool.id)
        )
        if choice.type_id:
            pools = pools.where(Pool.type_id == choice.type_id)
        if choice.depot_id:
            pools = pools.where(Pool.depot_id == choice.depot_id)
        labels += [
            LabelTarget(
                code=f"{pool.type.code} · {pool.depot.name}",
                title=pool.type.name,
                detail=pool.depot.name,
                pool=pool,
            )
            for pool in session.scalars(pools)
        ]
    return labels


def qr_svg(data: str) -> str:
    """``data`` as a QR code in an inline ``<svg>`` element, without size or script.

    The element has a ``viewBox`` and no width or height, so the stylesheet sizes it;
    it is drawn with one path and presentation attributes (no ``style``), so a strict
    Content-Security-Policy leaves it alone. Error correction is at least M (15 %):
    labels get scratched.
    """
    code = segno.make(data, error="m", micro=False)
    svg: str = code.svg_inline(
        scale=1, border=QR_BORDER, omitsize=True, svgclass="qr", lineclass=None
    )
    return svg
