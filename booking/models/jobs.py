"""Background solver jobs, stored so any process can report their progress."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Enum, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from booking.db import Base, UTCDateTime, utcnow

if TYPE_CHECKING:
    from booking.models.people import User
    from booking.models.plans import Plan


class JobStatus(enum.Enum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class SolverJob(Base):
    """A request to run the optimiser, and how far it got."""

    __tablename__ = "solver_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    status: Mapped[JobStatus] = mapped_column(
        Enum(JobStatus, native_enum=False, length=20), default=JobStatus.QUEUED, index=True
    )
    strategy: Mapped[str] = mapped_column(default="cpsat")
    # Progress as the solver reports it: a stage name, a fraction 0..1, the best objective.
    stage: Mapped[str | None]
    progress: Mapped[float] = mapped_column(default=0.0)
    best_objective: Mapped[float | None]
    message: Mapped[str | None] = mapped_column(Text)
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("plans.id"), index=True)
    time_limit_seconds: Mapped[float] = mapped_column(default=60.0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    # The process that holds the job ("host:pid"), and when it last said it was alive. A job
    # whose heartbeat is older than the lease is declared interrupted by whoever notices.
    owner: Mapped[str | None] = mapped_column(String(255))
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    plan: Mapped[Plan | None] = relationship()
    requested_by: Mapped[User | None] = relationship()

    def __repr__(self) -> str:
        return f"<SolverJob {self.id} {self.status.value}>"
