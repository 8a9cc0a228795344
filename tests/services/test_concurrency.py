"""The one policy for writes that lose a race, on real databases.

Each test makes the database itself refuse a write (a lock held by another connection,
a row changed under a repeatable-read snapshot, a duplicate key) and checks which
refusals become a ``Conflict`` and which propagate. SQLite always; PostgreSQL too when
``TEST_DATABASE_URL`` is set, each run in its own schema, dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Column, Engine, Integer, MetaData, String, Table, insert, select, text
from sqlalchemy import update as sql_update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from booking.db import make_engine
from booking.errors import Conflict
from booking.services.concurrency import conflict_on_concurrent_write, is_concurrent_write

BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("TEST_DATABASE_URL") else [])
MESSAGE = "Someone changed this meanwhile."
DUPLICATE = "The code is taken."

metadata = MetaData()
things = Table(
    "things",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("code", String(20), unique=True, nullable=False),
    Column("n", Integer, nullable=False, default=0),
)


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A database holding one row of ``things`` (code "A"), committed for real."""
    if request.param == "sqlite":
        # A short busy timeout: the locked write fails at once instead of after 5 s.
        engine = make_engine(
            f"sqlite:///{tmp_path / 'race.sqlite3'}", connect_args={"timeout": 0.05}
        )
        metadata.create_all(engine)
        with engine.begin() as connection:
            connection.execute(insert(things).values(id=1, code="A"))
        yield engine
        engine.dispose()
        return
    base = os.environ["TEST_DATABASE_URL"]
    schema = f"concurrency_{uuid.uuid4().hex[:12]}"
    admin = make_engine(base)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    engine = make_engine(url.render_as_string(hide_password=False))
    try:
        metadata.create_all(engine)
        with engine.begin() as connection:
            connection.execute(insert(things).values(id=1, code="A"))
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _hold_write_lock(engine: Engine, session: Session) -> None:
    """Make ``session``'s next write wait for a lock another connection holds."""
    if engine.dialect.name == "sqlite":
        session.connection().exec_driver_sql("SELECT 1")  # BEGIN (deferred)
        return
    session.execute(text("SET LOCAL lock_timeout = '50ms'"))


def test_a_write_blocked_by_another_writers_lock_is_a_conflict(engine):
    with engine.connect() as holder, Session(engine) as session:
        _hold_write_lock(engine, session)
        # The other writer takes the lock first and keeps it until the end of the test.
        holder.execute(sql_update(things).where(things.c.id == 1).values(n=1))

        with pytest.raises(Conflict) as caught, conflict_on_concurrent_write(session, MESSAGE):
            session.execute(sql_update(things).where(things.c.id == 1).values(n=2))
            session.commit()

        assert caught.value.message == MESSAGE
        assert isinstance(caught.value.__cause__, OperationalError)
        assert is_concurrent_write(caught.value.__cause__)
        # The session was rolled back and can be used again.
        assert not session.in_transaction()
        holder.rollback()
        assert session.scalar(select(things.c.n).where(things.c.id == 1)) == 0


def test_a_write_on_an_out_of_date_snapshot_is_a_conflict(engine):
    """The reader's snapshot predates another transaction's commit of the same row.

    SQLite refuses to upgrade the read to a write (busy snapshot); PostgreSQL, in
    repeatable read, reports a serialization failure (40001).
    """
    with Session(engine) as session, engine.connect() as other:
        if engine.dialect.name == "postgresql":
            session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        assert session.scalar(select(things.c.n).where(things.c.id == 1)) == 0
        other.execute(sql_update(things).where(things.c.id == 1).values(n=1))
        other.commit()

        with pytest.raises(Conflict) as caught, conflict_on_concurrent_write(session, MESSAGE):
            session.execute(sql_update(things).where(things.c.id == 1).values(n=2))
            session.commit()

        assert isinstance(caught.value.__cause__, OperationalError)
        assert session.scalar(select(things.c.n).where(things.c.id == 1)) == 1


def test_a_duplicate_is_a_conflict_only_where_the_service_says_so(engine):
    with Session(engine) as session:
        with (
            pytest.raises(Conflict) as caught,
            conflict_on_concurrent_write(session, MESSAGE, duplicate=DUPLICATE),
        ):
            session.execute(insert(things).values(id=2, code="A"))
            session.commit()
        assert caught.value.message == DUPLICATE
        assert isinstance(caught.value.__cause__, IntegrityError)
        assert not is_concurrent_write(caught.value.__cause__)
        assert is_concurrent_write(caught.value.__cause__, unique=True)

        with pytest.raises(IntegrityError), conflict_on_concurrent_write(session, MESSAGE):
            session.execute(insert(things).values(id=2, code="A"))
        assert not session.in_transaction()


def test_other_database_errors_propagate(engine):
    with Session(engine) as session:
        # A missing value is a bug, not a race, even where duplicates are races.
        with (
            pytest.raises(IntegrityError) as caught,
            conflict_on_concurrent_write(session, MESSAGE, duplicate=DUPLICATE),
        ):
            session.execute(insert(things).values(id=2, code=None))
        assert not is_concurrent_write(caught.value, unique=True)
        # no such table: OperationalError or ProgrammingError
        with pytest.raises(DBAPIError), conflict_on_concurrent_write(session, MESSAGE):
            session.execute(text("SELECT * FROM no_such_table"))
        assert not session.in_transaction()


def test_a_stale_row_version_is_a_conflict():
    assert is_concurrent_write(StaleDataError("UPDATE expected 1 row, matched 0"))
    assert not is_concurrent_write(ValueError("database is locked"))
