"""Database plumbing: declarative base, engine and a request-scoped session."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from flask import Flask, current_app, g
from sqlalchemy import DateTime, MetaData, create_engine, event
from sqlalchemy.engine import CursorResult, Dialect, Engine, Result
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

# Stable constraint names so Alembic migrations are reproducible on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base of every model."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime stored in UTC.

    Naive datetimes are refused on the way in: their meaning would depend on the
    server's clock. SQLite drops the offset, so values are re-tagged as UTC on the
    way out; every backend returns aware UTC datetimes.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} refused: give it a timezone")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    """The current time as an aware UTC datetime."""
    return datetime.now(UTC)


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine; make SQLite behave like PostgreSQL where it matters.

    Elsewhere, pooled connections are checked before use (``pool_pre_ping``).
    On SQLite: foreign keys are enforced, the file uses write-ahead logging (readers do
    not block the writer), and SQLAlchemy rather than the driver begins transactions, so
    that SAVEPOINTs (``begin_nested``) and transactional DDL work.
    """
    if not url.startswith("sqlite"):
        # A connection the server closed (restart, pg_terminate_backend, idle timeout) is
        # replaced before use instead of failing the request that draws it.
        kwargs.setdefault("pool_pre_ping", True)
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        in_memory = engine.url.database in (None, "", ":memory:")

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            # The driver's own transaction handling would defeat SAVEPOINTs.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            if not in_memory:
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(connection: Any) -> None:
            connection.exec_driver_sql("BEGIN")

    return engine


class Database:
    """The engine and session factory of one application.

    Request code gets its session from :func:`get_session`; it lives as long as the
    application context and is closed at teardown. Code outside a request (job threads)
    uses :meth:`session` as a context manager. Tests set ``override`` so that requests
    and the test share one session, and bind ``sessionmaker`` to the test's connection;
    both live inside a transaction rolled back after the test.
    """

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.engine = make_engine(url, **engine_kwargs)
        self.sessionmaker = sessionmaker(bind=self.engine, expire_on_commit=False)
        self.override: Session | None = None

    def init_app(self, app: Flask) -> None:
        app.extensions["booking_db"] = self
        app.teardown_appcontext(self._teardown)

    def session(self) -> Session:
        """A new session for work outside a request; use it as a context manager."""
        return self.sessionmaker()

    def _teardown(self, _exc: BaseException | None) -> None:
        session: Session | None = g.pop("db_session", None)
        if session is None:
            return
        if session is self.override:
            # Undo whatever the request left uncommitted, as closing would in production.
            session.rollback()
        else:
            session.close()


def get_db(app: Flask | None = None) -> Database:
    """The :class:`Database` of ``app`` (default: the current application)."""
    return (app or current_app).extensions["booking_db"]


def get_session() -> Session:
    """The session of the current application context, opened on first use."""
    if "db_session" not in g:
        database = get_db()
        g.db_session = database.override or database.sessionmaker()
    return g.db_session


def rows_matched(result: Result[Any]) -> int:
    """How many rows an UPDATE or DELETE matched (its result is a ``CursorResult``)."""
    return cast("CursorResult[Any]", result).rowcount
