"""Secret-token calendar feeds."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import DDL, Date, Enum, ForeignKey, String, event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from booking.db import Base, UTCDateTime, utcnow

if TYPE_CHECKING:
    from booking.models.people import User


class FeedKind(enum.Enum):
    """What a feed shows; ``target_id`` names the commune, unit, type or truck (none for others)."""

    COMMUNE = "commune"
    UNIT = "unit"
    TYPE = "type"
    ROUND = "round"
    MANAGER = "manager"
    # The stops of one truck's rounds, for its driver.
    TRUCK = "truck"


class FeedToken(Base):
    """A calendar subscription URL; only a hash of its secret token is stored."""

    __tablename__ = "feed_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    kind: Mapped[FeedKind] = mapped_column(Enum(FeedKind, native_enum=False, length=20))
    target_id: Mapped[int | None]
    name: Mapped[str] = mapped_column(String(120))
    token_hash: Mapped[str] = mapped_column(String(128), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    owner: Mapped[User] = relationship()

    def __repr__(self) -> str:
        return f"<FeedToken {self.id} {self.kind.value} target={self.target_id}>"


class FeedGeneration(Base):
    """One row counting changes to anything a calendar shows.

    Raised in the same transaction as the change (see ``booking.services.feeds_cache``), so
    that a feed can tell in one query that nothing it shows has changed since it was built.
    """

    __tablename__ = "feed_generation"

    id: Mapped[int] = mapped_column(primary_key=True)
    generation: Mapped[int] = mapped_column(default=0)

    def __repr__(self) -> str:
        return f"<FeedGeneration {self.generation}>"


class FeedWatermark(Base):
    """What a token's feed last looked like: its ETag and a Last-Modified that only grows."""

    __tablename__ = "feed_watermarks"

    token_id: Mapped[int] = mapped_column(
        ForeignKey("feed_tokens.id", ondelete="CASCADE"), primary_key=True
    )
    etag: Mapped[str] = mapped_column(String(80))
    last_modified: Mapped[datetime] = mapped_column(UTCDateTime())
    # The feed generation and UTC day the body was built for (the day moves the window).
    generation: Mapped[int]
    built_for: Mapped[date] = mapped_column(Date())

    def __repr__(self) -> str:
        return f"<FeedWatermark token={self.token_id} {self.etag}>"


class FeedEventState(Base):
    """The last state subscribers saw of one event, to raise its SEQUENCE on every change.

    ``kind`` is "loan", "delivery" or "collection"; ``audience`` is "staff" (sees tentative
    loans) or "commune". ``state_hash`` covers times, units and status.
    """

    __tablename__ = "feed_event_states"

    loan_id: Mapped[int] = mapped_column(
        ForeignKey("loan_requests.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    audience: Mapped[str] = mapped_column(String(20), primary_key=True)
    state_hash: Mapped[str] = mapped_column(String(64))
    sequence: Mapped[int] = mapped_column(default=0)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    def __repr__(self) -> str:
        return f"<FeedEventState {self.loan_id} {self.kind} {self.audience} #{self.sequence}>"


# The single row exists from the start, so that raising the generation is always an UPDATE
# (concurrent first INSERTs would collide). Alembic's revision 0003 inserts it too.
event.listen(
    FeedGeneration.__table__,
    "after_create",
    DDL("INSERT INTO feed_generation (id, generation) VALUES (1, 0)"),
)
