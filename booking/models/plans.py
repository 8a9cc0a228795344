"""Plans proposed by the optimiser and their assignments."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import DDL, JSON, Enum, ForeignKey, Index, String, Text, event, text
from sqlalchemy.dialects.postgresql import ExcludeConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from booking.db import Base, UTCDateTime, utcnow

if TYPE_CHECKING:
    from booking.models.inventory import Pool, Unit
    from booking.models.loans import LoanRequest, RequestLine
    from booking.models.people import User


# The name of the PostgreSQL constraint against a unit lent twice (see UnitOccupation).
OCCUPATION_EXCLUSION = "ex_unit_occupations_no_overlap"


class PlanStatus(enum.Enum):
    PROPOSED = "proposed"
    APPROVED = "approved"
    SUPERSEDED = "superseded"
    DISCARDED = "discarded"


class Plan(Base):
    """One run of a strategy over a problem; at most one is APPROVED at a time."""

    __tablename__ = "plans"

    id: Mapped[int] = mapped_column(primary_key=True)
    status: Mapped[PlanStatus] = mapped_column(
        Enum(PlanStatus, native_enum=False, length=20), default=PlanStatus.PROPOSED, index=True
    )
    # "cpsat" or "baseline" (first-come-first-served).
    strategy: Mapped[str] = mapped_column(String(40))
    # The solver problem and plan documents, as in docs/file-formats.md.
    problem_json: Mapped[dict[str, Any]] = mapped_column(JSON)
    plan_json: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    problem_sha: Mapped[str] = mapped_column(String(64), index=True)
    metrics: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    baseline_metrics: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Latest change to requests/inventory seen when the problem was built: a plan whose
    # watermark is older than the data is stale and cannot be approved as is.
    data_watermark: Mapped[datetime | None] = mapped_column(UTCDateTime())
    notes: Mapped[str | None] = mapped_column(Text)
    # SHA-256 of the planning data read for the problem (requests, approved loans and
    # inventory): approval recomputes it and refuses the plan when it differs.
    data_fingerprint: Mapped[str | None] = mapped_column(String(64))
    # What changed against the plan approved when this one was proposed (new, moved,
    # dropped request ids, and that plan's id).
    diff: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    approved_by: Mapped[User | None] = relationship(foreign_keys=[approved_by_id])
    assignments: Mapped[list[Assignment]] = relationship(
        back_populates="plan", cascade="all, delete-orphan", order_by="Assignment.id"
    )

    def __repr__(self) -> str:
        return f"<Plan {self.id} {self.strategy} {self.status.value}>"


class Assignment(Base):
    """What a plan decides for one request: served or not, when, with what."""

    __tablename__ = "assignments"
    __table_args__ = (
        Index("ix_assignments_window", "start_dt", "end_dt"),
        # A plan's loans in date order (review pages, timelines).
        Index("ix_assignments_plan_start", "plan_id", "is_served", "start_dt"),
        # The approved plan's loans still running after a date (availability).
        Index("ix_assignments_plan_end", "plan_id", "end_dt"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), index=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("loan_requests.id"), index=True)
    is_served: Mapped[bool] = mapped_column(default=False)
    start_dt: Mapped[datetime | None] = mapped_column(UTCDateTime())
    end_dt: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Why a request is unserved (or shifted), as the solver's reason objects.
    reason: Mapped[Any | None] = mapped_column(JSON)
    is_pinned: Mapped[bool] = mapped_column(default=False)

    plan: Mapped[Plan] = relationship(back_populates="assignments")
    request: Mapped[LoanRequest] = relationship()
    units: Mapped[list[AssignmentUnit]] = relationship(
        back_populates="assignment", cascade="all, delete-orphan"
    )
    draws: Mapped[list[AssignmentDraw]] = relationship(
        back_populates="assignment", cascade="all, delete-orphan"
    )

    def __repr__(self) -> str:
        return f"<Assignment {self.id} plan={self.plan_id} request={self.request_id}>"


class AssignmentUnit(Base):
    """A numbered unit given to one line of an assignment."""

    __tablename__ = "assignment_units"

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(
        ForeignKey("assignments.id", ondelete="CASCADE"), index=True
    )
    line_id: Mapped[int] = mapped_column(ForeignKey("request_lines.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)

    assignment: Mapped[Assignment] = relationship(back_populates="units")
    line: Mapped[RequestLine] = relationship()
    unit: Mapped[Unit] = relationship()

    def __repr__(self) -> str:
        return f"<AssignmentUnit assignment={self.assignment_id} unit={self.unit_id}>"


class AssignmentDraw(Base):
    """``quantity`` items drawn from a pool for one line of an assignment."""

    __tablename__ = "assignment_draws"

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(
        ForeignKey("assignments.id", ondelete="CASCADE"), index=True
    )
    line_id: Mapped[int] = mapped_column(ForeignKey("request_lines.id"), index=True)
    pool_id: Mapped[int] = mapped_column(ForeignKey("pools.id"), index=True)
    quantity: Mapped[int]

    assignment: Mapped[Assignment] = relationship(back_populates="draws")
    line: Mapped[RequestLine] = relationship()
    pool: Mapped[Pool] = relationship()

    def __repr__(self) -> str:
        return (
            f"<AssignmentDraw assignment={self.assignment_id} pool={self.pool_id} x{self.quantity}>"
        )


class UnitOccupation(Base):
    """A unit held by a loan of the approved plan, from its start to its end plus the
    type's turnaround.

    Written at each approval from the approved plan's served assignments, removed when
    the loan is cancelled or its plan superseded. On PostgreSQL an exclusion constraint
    forbids two rows of one unit whose times overlap: a unit lent twice cannot be
    stored, even by a code path that forgets the approval lock.
    """

    __tablename__ = "unit_occupations"
    __table_args__ = (
        ExcludeConstraint(
            ("unit_id", "="),
            (text("tstzrange(start_dt, end_dt, '[)')"), "&&"),
            using="gist",
            name=OCCUPATION_EXCLUSION,
        ).ddl_if(dialect="postgresql"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    assignment_id: Mapped[int] = mapped_column(
        ForeignKey("assignments.id", ondelete="CASCADE"), index=True
    )
    request_id: Mapped[int] = mapped_column(ForeignKey("loan_requests.id"), index=True)
    start_dt: Mapped[datetime] = mapped_column(UTCDateTime())
    # The loan's end plus the type's turnaround.
    end_dt: Mapped[datetime] = mapped_column(UTCDateTime())

    def __repr__(self) -> str:
        return f"<UnitOccupation unit={self.unit_id} request={self.request_id}>"


# btree_gist gives the integer column a GiST operator class; in ``public``, so that the
# constraints of every schema share it.
event.listen(
    UnitOccupation.__table__,
    "before_create",
    DDL("CREATE EXTENSION IF NOT EXISTS btree_gist WITH SCHEMA public").execute_if(
        dialect="postgresql"
    ),
)
