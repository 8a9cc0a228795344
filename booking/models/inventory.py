"""Sites, equipment types, units, pools and unavailability windows."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Column, Enum, ForeignKey, Index, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from booking.db import Base, UTCDateTime

if TYPE_CHECKING:
    from booking.models.people import Commune


class SiteKind(enum.Enum):
    """A depot holds equipment; a delivery site receives it."""

    DEPOT = "depot"
    DELIVERY = "delivery"


class UnitStatus(enum.Enum):
    """Whether a unit can be lent at all (dated windows are in Unavailability)."""

    AVAILABLE = "available"
    MAINTENANCE = "maintenance"
    RETIRED = "retired"


type_substitutes = Table(
    "type_substitutes",
    Base.metadata,
    Column("type_id", ForeignKey("equipment_types.id", ondelete="CASCADE"), primary_key=True),
    Column("substitute_id", ForeignKey("equipment_types.id", ondelete="CASCADE"), primary_key=True),
)


class Site(Base):
    """A place equipment leaves from or goes to."""

    __tablename__ = "sites"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[SiteKind] = mapped_column(Enum(SiteKind, native_enum=False, length=20))
    commune_id: Mapped[int | None] = mapped_column(ForeignKey("communes.id"), index=True)
    address: Mapped[str | None] = mapped_column(String(255))
    lat: Mapped[float]
    lon: Mapped[float]
    is_active: Mapped[bool] = mapped_column(default=True)

    commune: Mapped[Commune | None] = relationship(back_populates="sites")
    units: Mapped[list[Unit]] = relationship(back_populates="home_depot")
    pools: Mapped[list[Pool]] = relationship(back_populates="depot")

    def __repr__(self) -> str:
        return f"<Site {self.id} {self.kind.value} {self.name!r}>"


class EquipmentType(Base):
    """A kind of equipment, lent as individual units or drawn from pools."""

    __tablename__ = "equipment_types"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str | None] = mapped_column(Text)
    # Minutes a unit needs between two loans (cleaning, checks, refuelling).
    turnaround_minutes: Mapped[int] = mapped_column(default=0)
    min_notice_hours: Mapped[int] = mapped_column(default=0)
    max_loan_days: Mapped[int | None]
    # True: the agglomeration drives it to the site and back; False: the commune collects it.
    is_delivered: Mapped[bool] = mapped_column(default=False)
    # True: interchangeable stock counted per depot (chairs); False: numbered units.
    is_pooled: Mapped[bool] = mapped_column(default=False)
    # Longest direct unit transfer between two loans without a return to the depot.
    max_direct_transfer_hours: Mapped[float | None]
    # Pallet places one item takes on a truck (delivered types; None: not set yet).
    load_per_item: Mapped[float | None]

    units: Mapped[list[Unit]] = relationship(back_populates="type")
    pools: Mapped[list[Pool]] = relationship(back_populates="type")
    substitutes: Mapped[list[EquipmentType]] = relationship(
        secondary=type_substitutes,
        primaryjoin=lambda: EquipmentType.id == type_substitutes.c.type_id,
        secondaryjoin=lambda: EquipmentType.id == type_substitutes.c.substitute_id,
    )

    def __repr__(self) -> str:
        return f"<EquipmentType {self.id} {self.code}>"


class Unit(Base):
    """One numbered piece of equipment (a minibus, a stage)."""

    __tablename__ = "units"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    type_id: Mapped[int] = mapped_column(ForeignKey("equipment_types.id"), index=True)
    home_depot_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    status: Mapped[UnitStatus] = mapped_column(
        Enum(UnitStatus, native_enum=False, length=20), default=UnitStatus.AVAILABLE
    )
    notes: Mapped[str | None] = mapped_column(Text)

    type: Mapped[EquipmentType] = relationship(back_populates="units")
    home_depot: Mapped[Site] = relationship(back_populates="units")
    unavailabilities: Mapped[list[Unavailability]] = relationship(
        back_populates="unit", cascade="all, delete-orphan"
    )

    def __repr__(self) -> str:
        return f"<Unit {self.id} {self.code} {self.status.value}>"


class Pool(Base):
    """A stock of interchangeable items of one type held at one depot."""

    __tablename__ = "pools"
    __table_args__ = (UniqueConstraint("type_id", "depot_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    type_id: Mapped[int] = mapped_column(ForeignKey("equipment_types.id"), index=True)
    depot_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    quantity: Mapped[int]

    type: Mapped[EquipmentType] = relationship(back_populates="pools")
    depot: Mapped[Site] = relationship(back_populates="pools")

    def __repr__(self) -> str:
        return f"<Pool {self.id} type={self.type_id} depot={self.depot_id} x{self.quantity}>"


class Unavailability(Base):
    """A window when a unit cannot be lent (maintenance, inspection, repair)."""

    __tablename__ = "unavailabilities"
    __table_args__ = (Index("ix_unavailabilities_unit_window", "unit_id", "start_dt", "end_dt"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"), index=True)
    start_dt: Mapped[datetime] = mapped_column(UTCDateTime())
    end_dt: Mapped[datetime] = mapped_column(UTCDateTime())
    reason: Mapped[str | None] = mapped_column(String(255))

    unit: Mapped[Unit] = relationship(back_populates="unavailabilities")

    def __repr__(self) -> str:
        window = f"{self.start_dt:%Y-%m-%d}..{self.end_dt:%Y-%m-%d}"
        return f"<Unavailability unit={self.unit_id} {window}>"
