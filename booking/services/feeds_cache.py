"""Knowing cheaply whether anything a calendar shows has changed.

A feed poll that changes nothing must be answered from one or two indexed reads, so every
transaction that writes a row a calendar shows (requests, plans, assignments, inventory,
communes, accounts, tokens) raises a single counter, ``feed_generation.generation``, as
its last statement before COMMIT. A feed remembers the generation it was built for
(:class:`FeedWatermark`); while the counter has not moved, its ETag and Last-Modified hold.

Statements that bypass the ORM unit of work are covered too when they go through a
``Session`` (``session.execute(update(LoanRequest)...)``); raw SQL on a bare connection is
not, which is why the body is also rebuilt when the UTC day changes.

The second cache here holds serialised events in memory, keyed by everything that goes
into them, so a key can never serve stale text; it is bounded and simply cleared when full.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import threading
from collections.abc import Hashable
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Connection, Engine, Table, event, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import ORMExecuteState, Session

from booking.models import (
    Assignment,
    AssignmentDraw,
    AssignmentUnit,
    Commune,
    EquipmentType,
    FeedToken,
    LoanRequest,
    Plan,
    Pool,
    RequestLine,
    Round,
    RoundDay,
    RoundStop,
    Site,
    Truck,
    Unit,
    User,
)
from booking.models.feeds import FeedGeneration

# Rows whose change may change some calendar.
WATCHED: tuple[type[Any], ...] = (
    LoanRequest,
    RequestLine,
    Plan,
    Assignment,
    AssignmentUnit,
    AssignmentDraw,
    Site,
    Unit,
    EquipmentType,
    Pool,
    Commune,
    User,
    # Revoking or regenerating a token must end the validators remembered for it.
    FeedToken,
    # The round and truck feeds show the planned stops.
    Truck,
    RoundDay,
    Round,
    RoundStop,
)
WATCHED_TABLES = frozenset(model.__table__.name for model in WATCHED)
# Columns that change without changing any calendar (sign-ins would rebuild every feed).
IGNORED_COLUMNS = {
    User: frozenset({"last_login_at"}),
    FeedToken: frozenset({"last_used_at"}),
}
GENERATION_ROW = 1
_PENDING = "feeds_generation_pending"
_COMMITTING = "feeds_generation_committing"


def current_generation(session: Session) -> int:
    """The current feed generation (0 before the first change)."""
    value = session.scalar(
        select(FeedGeneration.generation).where(FeedGeneration.id == GENERATION_ROW)
    )
    return int(value or 0)


def read_generation(connection: Connection) -> int:
    """The current feed generation read on a bare connection (the 304 path: no ORM)."""
    value = connection.exec_driver_sql(GENERATION_SQL).scalar()
    return int(value or 0)


def bump_generation(session: Session) -> None:
    """Raise the feed generation inside the session's transaction."""
    connection = session.connection()
    table = cast(Table, FeedGeneration.__table__)  # declared as a FromClause
    result = connection.execute(
        update(table).where(table.c.id == GENERATION_ROW).values(generation=table.c.generation + 1)
    )
    if result.rowcount:
        return
    # The row is made by the migration (and at table creation); should it be missing, two
    # writers may both try to make it: the loser raises the winner's row instead.
    try:
        with connection.begin_nested():
            connection.execute(table.insert().values(id=GENERATION_ROW, generation=1))
    except IntegrityError:
        connection.execute(
            update(table)
            .where(table.c.id == GENERATION_ROW)
            .values(generation=table.c.generation + 1)
        )


def _is_visible_change(obj: Any, session: Session) -> bool:
    if not isinstance(obj, WATCHED):
        return False
    if obj in session.new or obj in session.deleted:
        return True
    ignored = IGNORED_COLUMNS.get(type(obj), frozenset())
    state = obj._sa_instance_state
    return any(attr.key not in ignored and attr.history.has_changes() for attr in state.attrs)


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _context: Any) -> None:
    changed = (*session.new, *session.dirty, *session.deleted)
    if any(_is_visible_change(obj, session) for obj in changed):
        if session.info.get(_COMMITTING):
            bump_generation(session)
        else:
            session.info[_PENDING] = True


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    # Raised last, once the transaction's other rows are written and locked: a writer
    # waiting for the generation row then never holds a row its holder still needs.
    session.flush()
    if session.info.pop(_PENDING, False):
        bump_generation(session)
    session.info[_COMMITTING] = True


@event.listens_for(Session, "after_transaction_end")
def _after_transaction_end(session: Session, transaction: Any) -> None:
    if transaction.parent is None:
        session.info.pop(_COMMITTING, None)
        session.info.pop(_PENDING, None)


@event.listens_for(Session, "do_orm_execute")
def _on_bulk(state: ORMExecuteState) -> None:
    if not (state.is_update or state.is_delete or state.is_insert):
        return
    table = getattr(state.statement, "table", None)
    if table is not None and getattr(table, "name", None) in WATCHED_TABLES:
        state.session.info[_PENDING] = True


class GenerationReader:
    """Reads the feed generation on a DBAPI connection kept by each thread, in autocommit.

    The 304 path runs for nearly every poll; going through a Session (pool checkout,
    BEGIN, ROLLBACK, close) costs more than the rest of the answer. A plain cursor on a
    connection held for the thread costs a few tens of microseconds. Any error drops the
    connection; the next poll opens another.
    """

    def __init__(self) -> None:
        self._local = threading.local()

    def read(self, engine: Engine) -> int:
        """The committed generation, as any new transaction would see it."""
        held = getattr(self._local, "held", None)
        if held is None or held[0] is not engine:
            held = (engine, self._connect(engine))
            self._local.held = held
        try:
            cursor = held[1].cursor()
            try:
                cursor.execute(GENERATION_SQL)
                row = cursor.fetchone()
            finally:
                cursor.close()
        except Exception:
            self._local.held = None
            with contextlib.suppress(Exception):
                held[1].close()
            raise
        return int(row[0]) if row else 0

    @staticmethod
    def _connect(engine: Engine) -> Any:
        pooled = engine.raw_connection()
        driver: Any = pooled.driver_connection  # the DBAPI connection of whichever driver
        # Kept for the thread's life: out of the pool, and reading without a transaction.
        pooled.detach()
        if engine.dialect.name == "sqlite":
            driver.isolation_level = None
        elif hasattr(driver, "autocommit"):
            driver.autocommit = True
        return driver


GENERATION_SQL = f"SELECT generation FROM feed_generation WHERE id = {GENERATION_ROW}"
GENERATION_READER = GenerationReader()


class BoundedCache:
    """A dict that forgets everything once it holds ``limit`` entries (cheap and safe)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._data: dict[Hashable, Any] = {}

    def get(self, key: Hashable) -> Any | None:
        return self._data.get(key)

    def put(self, key: Hashable, value: Any) -> None:
        if len(self._data) >= self.limit:
            self._data.clear()
        self._data[key] = value

    def clear(self) -> None:
        self._data.clear()

    def __len__(self) -> int:
        return len(self._data)


# Per (labels, UID domain, URL pattern): serialised VEVENTs keyed by their full content
# (about 1 kB each; each inner dict is cleared past ``limit`` entries).
EVENT_CACHE = BoundedCache(50_000)
# Whole feed bodies keyed by (token id, token hash, name, generation, day, domain, URL).
BODY_CACHE = BoundedCache(200)
# Token hash -> (generation, UTC day, ETag, Last-Modified) of a token checked valid (known,
# not revoked, owner active and allowed) at that generation: while the generation and the
# day hold, a poll is answered from this and one read of the generation.
VALIDATORS = BoundedCache(10_000)


class BodyStore:
    """Feed bodies on disk, shared by the server's worker processes.

    A body is stored under its token id, a digest of the UID domain and URL pattern it was
    written with, and its ETag; it is checked against the ETag when read, so a file can
    only be served for the exact validators it was built for. Writing a new body for a
    token removes its older ones.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @staticmethod
    def _variant(domain: str, request_url: str) -> str:
        return hashlib.sha256(f"{domain} {request_url}".encode()).hexdigest()[:12]

    def _path(self, token_id: int, variant: str, etag: str) -> Path:
        return self.folder / f"{token_id}-{variant}-{etag.strip(chr(34))}.ics"

    def get(self, token_id: int, etag: str, *, domain: str, request_url: str) -> bytes | None:
        """The body whose ETag is ``etag``, if stored and intact."""
        path = self._path(token_id, self._variant(domain, request_url), etag)
        try:
            body = path.read_bytes()
        except OSError:
            return None
        if hashlib.sha256(body).hexdigest()[:40] != etag.strip(chr(34)):
            return None
        return body

    def put(self, token_id: int, etag: str, body: bytes, *, domain: str, request_url: str) -> None:
        """Store a body; failures are ignored (the store only saves time)."""
        variant = self._variant(domain, request_url)
        path = self._path(token_id, variant, etag)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            for old in self.folder.glob(f"{token_id}-{variant}-*.ics"):
                if old != path:
                    old.unlink(missing_ok=True)
            handle, temporary = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
            with os.fdopen(handle, "wb") as out:
                out.write(body)
            os.replace(temporary, path)
        except OSError:
            return
