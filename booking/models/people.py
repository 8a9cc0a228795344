"""Communes and user accounts."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar

from sqlalchemy import Enum, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from booking.db import Base, UTCDateTime, utcnow

if TYPE_CHECKING:
    from booking.models.inventory import Site


class Role(enum.Enum):
    """What a user may do: technicians act for one commune."""

    TECHNICIAN = "technician"
    MANAGER = "manager"
    ADMIN = "admin"


class Commune(Base):
    """A member commune of the agglomeration."""

    __tablename__ = "communes"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    lat: Mapped[float | None]
    lon: Mapped[float | None]

    users: Mapped[list[User]] = relationship(back_populates="commune")
    sites: Mapped[list[Site]] = relationship(back_populates="commune")

    def __repr__(self) -> str:
        return f"<Commune {self.id} {self.slug}>"


class User(Base):
    """A person who signs in; ``commune_id`` is set for technicians only."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(Enum(Role, native_enum=False, length=20))
    commune_id: Mapped[int | None] = mapped_column(ForeignKey("communes.id"), index=True)
    is_active_account: Mapped[bool] = mapped_column(default=True)
    locale: Mapped[str | None] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Part of the id a session holds: raising it (password reset, deactivation) ends every
    # session and remember-me cookie of the account, on every server.
    session_version: Mapped[int] = mapped_column(default=1, server_default="1")

    commune: Mapped[Commune | None] = relationship(back_populates="users")

    # werkzeug hashing method; the tests lower its cost, nothing else should change it.
    password_method: ClassVar[str] = "scrypt"

    # Flask-Login protocol.
    @property
    def is_active(self) -> bool:
        return self.is_active_account

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        """The id in the session: "<id>:<session_version>" (Flask-Login's alternative id)."""
        return f"{self.id}:{self.session_version}"

    def end_sessions(self) -> None:
        """Sign the account out everywhere: existing sessions no longer load it."""
        self.session_version = (self.session_version or 1) + 1

    def set_password(self, password: str) -> None:
        """Store a salted hash of ``password``."""
        self.password_hash = generate_password_hash(password, method=self.password_method)

    def check_password(self, password: str) -> bool:
        """Whether ``password`` matches the stored hash."""
        return check_password_hash(self.password_hash, password)

    @property
    def is_technician(self) -> bool:
        return self.role is Role.TECHNICIAN

    @property
    def is_manager(self) -> bool:
        return self.role is Role.MANAGER

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email} {self.role.value}>"


class LoginAttempt(Base):
    """A failed sign-in, kept in the database so throttling works across processes."""

    __tablename__ = "login_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), index=True)
    ip: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)

    def __repr__(self) -> str:
        return f"<LoginAttempt {self.email} {self.ip} {self.at:%Y-%m-%d %H:%M}>"
