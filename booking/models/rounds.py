"""Trucks and the delivery rounds computed for them, day by day.

Loads are stored in tenths of a pallet place (``LOAD_SCALE`` per pallet place): the
rounds optimiser counts whole load units, and a chair or a barrier takes less than a
pallet place. Capacities are entered in whole pallet places.
"""

from __future__ import annotations

import enum
from datetime import date, datetime, time
from typing import TYPE_CHECKING

from sqlalchemy import Date, Enum, ForeignKey, Index, String, Text, Time, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from booking.db import Base, UTCDateTime, utcnow

if TYPE_CHECKING:
    from booking.models.inventory import EquipmentType, Site
    from booking.models.loans import LoanRequest

# Load units per pallet place: loads are whole tenths of a pallet place.
LOAD_SCALE = 10


class Truck(Base):
    """A vehicle with its driver's day, which delivers and collects equipment.

    Times of the driver's day are wall-clock times in Europe/Paris, the same every
    working day.
    """

    __tablename__ = "trucks"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    depot_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    capacity: Mapped[int]  # pallet places
    day_start: Mapped[time] = mapped_column(Time())
    day_end: Mapped[time] = mapped_column(Time())
    break_start: Mapped[time | None] = mapped_column(Time())
    break_minutes: Mapped[int] = mapped_column(default=0)
    cost_per_km: Mapped[float] = mapped_column(default=1.0)
    is_active: Mapped[bool] = mapped_column(default=True)

    depot: Mapped[Site] = relationship()

    def __repr__(self) -> str:
        return f"<Truck {self.id} {self.name!r} {self.capacity} pallet places>"


class RoundDayStatus(enum.Enum):
    """How the rounds of a day were last computed."""

    DONE = "done"
    # The optimiser or its checker failed: the day shows the message, no rounds.
    FAILED = "failed"


class RoundDay(Base):
    """The rounds of one day: computed together, replaced together."""

    __tablename__ = "round_days"

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date(), unique=True)
    status: Mapped[RoundDayStatus] = mapped_column(
        Enum(RoundDayStatus, native_enum=False, length=20), default=RoundDayStatus.DONE
    )
    # SHA-256 of the rounds problem the rounds were computed from: when the loans or the
    # trucks change, the problem of the day changes and so does its fingerprint.
    fingerprint: Mapped[str] = mapped_column(String(64))
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    message: Mapped[str | None] = mapped_column(Text)
    km: Mapped[float] = mapped_column(default=0.0)
    time_limit_seconds: Mapped[float] = mapped_column(default=0.0)

    rounds: Mapped[list[Round]] = relationship(
        back_populates="day_row", cascade="all, delete-orphan", order_by="Round.id"
    )
    stops: Mapped[list[RoundStop]] = relationship(
        back_populates="day_row", cascade="all, delete-orphan", order_by="RoundStop.id"
    )

    def __repr__(self) -> str:
        return f"<RoundDay {self.day} {self.status.value}>"


class Round(Base):
    """One truck's round on one day: depot, stops in order, depot."""

    __tablename__ = "rounds"
    __table_args__ = (UniqueConstraint("day_id", "truck_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    day_id: Mapped[int] = mapped_column(ForeignKey("round_days.id", ondelete="CASCADE"), index=True)
    truck_id: Mapped[int] = mapped_column(ForeignKey("trucks.id", ondelete="CASCADE"), index=True)
    depart_dt: Mapped[datetime] = mapped_column(UTCDateTime())
    return_dt: Mapped[datetime] = mapped_column(UTCDateTime())
    km: Mapped[float]
    load_at_depot: Mapped[int]  # tenths of a pallet place
    break_start_dt: Mapped[datetime | None] = mapped_column(UTCDateTime())
    break_end_dt: Mapped[datetime | None] = mapped_column(UTCDateTime())

    day_row: Mapped[RoundDay] = relationship(back_populates="rounds")
    truck: Mapped[Truck] = relationship()
    stops: Mapped[list[RoundStop]] = relationship(
        back_populates="round", order_by="RoundStop.position"
    )

    def __repr__(self) -> str:
        return f"<Round {self.id} truck={self.truck_id} day={self.day_id}>"


class RoundStop(Base):
    """A delivery or collection of one loan on one day, in a round or not served.

    A served stop has its round, position (from 1) and planned times; an unserved one
    has none of them and the optimiser's ``reason`` code with its English ``detail``.
    """

    __tablename__ = "round_stops"
    __table_args__ = (Index("ix_round_stops_loan_kind", "loan_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    day_id: Mapped[int] = mapped_column(ForeignKey("round_days.id", ondelete="CASCADE"), index=True)
    round_id: Mapped[int | None] = mapped_column(
        ForeignKey("rounds.id", ondelete="CASCADE"), index=True
    )
    loan_id: Mapped[int] = mapped_column(ForeignKey("loan_requests.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))  # "delivery" or "collection"
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    position: Mapped[int | None]
    arrival_dt: Mapped[datetime | None] = mapped_column(UTCDateTime())
    departure_dt: Mapped[datetime | None] = mapped_column(UTCDateTime())
    load: Mapped[int]  # tenths of a pallet place
    reason: Mapped[str | None] = mapped_column(String(40))
    detail: Mapped[str | None] = mapped_column(Text)

    day_row: Mapped[RoundDay] = relationship(back_populates="stops")
    round: Mapped[Round | None] = relationship(back_populates="stops")
    loan: Mapped[LoanRequest] = relationship()
    site: Mapped[Site] = relationship()
    lines: Mapped[list[RoundStopLine]] = relationship(
        back_populates="stop", cascade="all, delete-orphan", order_by="RoundStopLine.id"
    )

    def __repr__(self) -> str:
        return f"<RoundStop {self.id} {self.kind} loan={self.loan_id} round={self.round_id}>"


class RoundStopLine(Base):
    """``quantity`` items of one type unloaded (delivery) or loaded (collection) at a stop."""

    __tablename__ = "round_stop_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    stop_id: Mapped[int] = mapped_column(
        ForeignKey("round_stops.id", ondelete="CASCADE"), index=True
    )
    type_id: Mapped[int] = mapped_column(ForeignKey("equipment_types.id"), index=True)
    quantity: Mapped[int]
    load: Mapped[int]  # tenths of a pallet place

    stop: Mapped[RoundStop] = relationship(back_populates="lines")
    type: Mapped[EquipmentType] = relationship()

    def __repr__(self) -> str:
        return f"<RoundStopLine stop={self.stop_id} type={self.type_id} x{self.quantity}>"
