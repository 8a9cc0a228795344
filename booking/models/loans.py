"""Loan requests, their lines, and the hand-overs of equipment."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy import CheckConstraint, Enum, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from booking.db import Base, UTCDateTime, utcnow

if TYPE_CHECKING:
    from booking.models.inventory import EquipmentType, Site, Unit
    from booking.models.people import Commune, User
    from booking.models.series import RequestSeries


class RequestStatus(enum.Enum):
    """Life cycle of a request.

    SUBMITTED -> PLANNED (in a proposed plan) -> APPROVED or WAITING when a plan is
    approved; WAITING stays plannable until a later plan serves it (APPROVED) or its dates
    pass (DECLINED); the manager may also decline it; APPROVED -> HANDED_OVER -> RETURNED;
    CANCELLED at any point before hand-over.
    """

    SUBMITTED = "submitted"
    PLANNED = "planned"
    APPROVED = "approved"
    DECLINED = "declined"
    CANCELLED = "cancelled"
    HANDED_OVER = "handed_over"
    RETURNED = "returned"
    # Left unserved by the approved plan, on the waiting list until its dates pass.
    WAITING = "waiting"


# Requests the optimiser may place, and approved loans it must keep as they are.
OPEN_STATUSES = (RequestStatus.SUBMITTED, RequestStatus.PLANNED, RequestStatus.WAITING)
LOCKED_STATUSES = (RequestStatus.APPROVED, RequestStatus.HANDED_OVER)


class HandoverKind(enum.Enum):
    CHECK_OUT = "check_out"
    CHECK_IN = "check_in"


class Condition(enum.Enum):
    GOOD = "good"
    WORN = "worn"
    DAMAGED = "damaged"


class LoanRequest(Base):
    """A commune's request for equipment at one site over a window."""

    __tablename__ = "loan_requests"
    __table_args__ = (
        CheckConstraint("priority BETWEEN 1 AND 4", name="priority_range"),
        Index("ix_loan_requests_window", "requested_start_dt", "requested_end_dt"),
        Index("ix_loan_requests_flex_window", "earliest_start_dt", "latest_end_dt"),
        # Pending requests still running after a date (availability).
        Index("ix_loan_requests_status_end", "status", "requested_end_dt"),
        # A commune's requests in date order (its request list).
        Index("ix_loan_requests_commune_start", "commune_id", "requested_start_dt"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    commune_id: Mapped[int] = mapped_column(ForeignKey("communes.id"), index=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    title: Mapped[str] = mapped_column(String(200), default="")
    requested_start_dt: Mapped[datetime] = mapped_column(UTCDateTime())
    requested_end_dt: Mapped[datetime] = mapped_column(UTCDateTime())
    # Flexibility: the loan may be shifted within [earliest_start_dt, latest_end_dt].
    earliest_start_dt: Mapped[datetime | None] = mapped_column(UTCDateTime())
    latest_end_dt: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # As in the solver spec: 1 low, 2 normal, 3 high, 4 imperative (safety, elections);
    # 3 and 4 need a priority_reason.
    priority: Mapped[int] = mapped_column(default=2)
    priority_reason: Mapped[str | None] = mapped_column(Text)
    notes: Mapped[str | None] = mapped_column(Text)
    status: Mapped[RequestStatus] = mapped_column(
        Enum(RequestStatus, native_enum=False, length=20),
        default=RequestStatus.SUBMITTED,
        index=True,
    )
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    decline_reason: Mapped[str | None] = mapped_column(Text)
    # iCalendar SEQUENCE of the request's events: raised on each change subscribers see.
    sequence: Mapped[int] = mapped_column(default=0)
    # Optimistic lock: a concurrent edit of the same row raises StaleDataError.
    version: Mapped[int] = mapped_column(default=1)
    # The recurring request this one is an occurrence of, if any.
    series_id: Mapped[int | None] = mapped_column(ForeignKey("request_series.id"), index=True)

    # SQLAlchemy's typing declares __mapper_args__ as an instance attribute; it is a class
    # setting, and ruff (RUF012) wants mutable class attributes marked ClassVar.
    __mapper_args__: ClassVar[dict[str, Any]] = {"version_id_col": version}  # type: ignore[misc]

    commune: Mapped[Commune] = relationship()
    site: Mapped[Site] = relationship()
    submitted_by: Mapped[User | None] = relationship()
    series: Mapped[RequestSeries | None] = relationship(back_populates="requests")
    lines: Mapped[list[RequestLine]] = relationship(
        back_populates="request", cascade="all, delete-orphan", order_by="RequestLine.id"
    )
    handovers: Mapped[list[Handover]] = relationship(
        back_populates="request", cascade="all, delete-orphan", order_by="Handover.at"
    )

    def __repr__(self) -> str:
        return f"<LoanRequest {self.id} commune={self.commune_id} {self.status.value}>"


class RequestLine(Base):
    """``quantity`` items of one equipment type within a request."""

    __tablename__ = "request_lines"
    __table_args__ = (CheckConstraint("quantity >= 1", name="quantity_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(
        ForeignKey("loan_requests.id", ondelete="CASCADE"), index=True
    )
    type_id: Mapped[int] = mapped_column(ForeignKey("equipment_types.id"), index=True)
    quantity: Mapped[int] = mapped_column(default=1)

    request: Mapped[LoanRequest] = relationship(back_populates="lines")
    type: Mapped[EquipmentType] = relationship()

    def __repr__(self) -> str:
        return f"<RequestLine {self.id} type={self.type_id} x{self.quantity}>"


class Handover(Base):
    """A check-out or check-in of a request's equipment, with its condition."""

    __tablename__ = "handovers"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(
        ForeignKey("loan_requests.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[HandoverKind] = mapped_column(Enum(HandoverKind, native_enum=False, length=20))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    # The pooled line a row without a unit reports on (set on unit rows too).
    line_id: Mapped[int | None] = mapped_column(
        ForeignKey("request_lines.id", ondelete="CASCADE"), index=True
    )
    by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    # Who took the equipment away at a check-out (a commune's agent, often not a user).
    taken_by: Mapped[str | None] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    condition: Mapped[Condition] = mapped_column(
        Enum(Condition, native_enum=False, length=20), default=Condition.GOOD
    )
    damage: Mapped[str | None] = mapped_column(Text)
    missing_quantity: Mapped[int] = mapped_column(default=0)
    notes: Mapped[str | None] = mapped_column(Text)

    request: Mapped[LoanRequest] = relationship(back_populates="handovers")
    unit: Mapped[Unit | None] = relationship()
    line: Mapped[RequestLine | None] = relationship()
    by: Mapped[User | None] = relationship()

    def __repr__(self) -> str:
        return f"<Handover {self.id} {self.kind.value} request={self.request_id}>"
