"""Secret-token calendar feeds."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Enum, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from booking.db import Base, UTCDateTime, utcnow

if TYPE_CHECKING:
    from booking.models.people import User


class FeedKind(enum.Enum):
    """What a feed shows; ``target_id`` names the commune, unit or type (none for others)."""

    COMMUNE = "commune"
    UNIT = "unit"
    TYPE = "type"
    ROUND = "round"
    MANAGER = "manager"


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
