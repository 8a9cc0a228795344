"""Series of recurring requests: one request per occurrence, grouped under a rule."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from booking.db import Base, UTCDateTime, utcnow

if TYPE_CHECKING:
    from booking.models.loans import LoanRequest
    from booking.models.people import Commune, User


class RequestSeries(Base):
    """A commune's recurring request: the rule it was made from and its occurrences.

    ``rule`` is iCalendar text read by ``dateutil.rrule.rrulestr``: a ``DTSTART`` in local
    wall-clock time (Europe/Paris, no zone, so that 08:00 stays 08:00 across the change
    of summer time), then an ``RRULE`` or an ``RDATE`` list, then any ``EXDATE``.
    """

    __tablename__ = "request_series"

    id: Mapped[int] = mapped_column(primary_key=True)
    commune_id: Mapped[int] = mapped_column(ForeignKey("communes.id"), index=True)
    # "weekly", "monthly" or "dates" (listed dates): how the technician described it.
    frequency: Mapped[str] = mapped_column(String(20))
    rule: Mapped[str] = mapped_column(Text)
    title: Mapped[str] = mapped_column(String(200), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    commune: Mapped[Commune] = relationship()
    created_by: Mapped[User | None] = relationship()
    requests: Mapped[list[LoanRequest]] = relationship(
        back_populates="series", order_by="LoanRequest.requested_start_dt"
    )

    def __repr__(self) -> str:
        return f"<RequestSeries {self.id} commune={self.commune_id} {self.frequency}>"
