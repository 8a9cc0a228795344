"""Personal API tokens and their per-window request counts."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from booking.db import Base, UTCDateTime, utcnow

if TYPE_CHECKING:
    from booking.models.people import User


class ApiToken(Base):
    """A bearer token for ``/api/v1``; only a hash of its secret is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    token_hash: Mapped[str] = mapped_column(String(128), unique=True)
    # The first characters of the secret, so that the owner can tell tokens apart.
    prefix: Mapped[str] = mapped_column(String(16))
    is_read_only: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship()

    def __repr__(self) -> str:
        mode = "read-only" if self.is_read_only else "read-write"
        return f"<ApiToken {self.id} user={self.user_id} {mode}>"


class ApiRateWindow(Base):
    """How many requests one token made in one fixed window (shared by every worker)."""

    __tablename__ = "api_rate_windows"

    token_id: Mapped[int] = mapped_column(
        ForeignKey("api_tokens.id", ondelete="CASCADE"), primary_key=True
    )
    window_start: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    count: Mapped[int] = mapped_column(default=0)

    def __repr__(self) -> str:
        return f"<ApiRateWindow token={self.token_id} {self.window_start:%H:%M:%S} x{self.count}>"
