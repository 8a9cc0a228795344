"""One policy for writes that lose a race with another transaction.

A service reads, checks its rules, then writes; another transaction may commit between
the read and the write. The database then refuses the write, and the user should see
"someone changed this, reload and try again" (a :class:`~booking.errors.Conflict`),
never a server error. Which refusals mean that is decided here, once:

- SQLAlchemy's ``StaleDataError``: the row's version (``version_id_col``) changed.
- SQLite: the write lock could not be had within the busy timeout, or the reader's
  snapshot is out of date (``SQLITE_BUSY``, ``SQLITE_LOCKED``: "database is locked").
- PostgreSQL, by SQLSTATE: serialization failure (40001), deadlock (40P01), lock not
  available (55P03).
- PostgreSQL's exclusion violation (23P01): the exclusion constraints (a unit lent twice,
  see ``UnitOccupation``) guard against writes that raced past the application's checks.
- Optionally, a unique violation (SQLite ``UNIQUE constraint failed``, PostgreSQL
  23505): only where the service checked the value was free just before, so that a
  duplicate can only come from a concurrent insert.

Any other database error is a bug or an outage and propagates unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask_babel import gettext as _
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from booking.errors import Conflict

# PostgreSQL SQLSTATEs of a transaction that lost a race and may simply be retried.
RETRYABLE_SQLSTATES = frozenset({"40001", "40P01", "55P03"})
UNIQUE_VIOLATION_SQLSTATE = "23505"
EXCLUSION_VIOLATION_SQLSTATE = "23P01"
# SQLite primary result codes (the low byte of the extended code).
SQLITE_BUSY = 5
SQLITE_LOCKED = 6
SQLITE_UNIQUE_CODES = frozenset({1555, 2067})  # SQLITE_CONSTRAINT_PRIMARYKEY, _UNIQUE
SQLITE_LOCK_MESSAGES = ("database is locked", "database is busy", "database table is locked")


def _sqlstate(error: DBAPIError) -> str | None:
    """The PostgreSQL SQLSTATE of ``error`` (psycopg 3 or psycopg2), if any."""
    return getattr(error.orig, "sqlstate", None) or getattr(error.orig, "pgcode", None)


def _sqlite_code(error: DBAPIError) -> int | None:
    """The extended SQLite result code of ``error`` (Python 3.11+), if any."""
    code = getattr(error.orig, "sqlite_errorcode", None)
    return code if isinstance(code, int) else None


def _is_lock_failure(error: DBAPIError) -> bool:
    if _sqlstate(error) in RETRYABLE_SQLSTATES:
        return True
    code = _sqlite_code(error)
    if code is not None and code & 0xFF in (SQLITE_BUSY, SQLITE_LOCKED):
        return True
    message = str(error.orig).lower()
    return any(text in message for text in SQLITE_LOCK_MESSAGES)


def _is_unique_violation(error: DBAPIError) -> bool:
    if not isinstance(error, IntegrityError):
        return False
    if _sqlstate(error) == UNIQUE_VIOLATION_SQLSTATE:
        return True
    if _sqlite_code(error) in SQLITE_UNIQUE_CODES:
        return True
    return "unique constraint failed" in str(error.orig).lower()


def is_concurrent_write(error: BaseException, *, unique: bool = False) -> bool:
    """Whether ``error`` means another transaction changed the data first.

    Args:
        error: an exception raised by a flush or a commit.
        unique: whether a unique violation counts too; pass ``True`` only where the
            service checked, in the same transaction, that the value was free.

    Returns:
        ``True`` for a stale row version, a lock or serialization failure, an exclusion
        violation (and a unique violation if ``unique``); ``False`` for any other error.
    """
    if isinstance(error, StaleDataError):
        return True
    if not isinstance(error, DBAPIError):
        return False
    if _sqlstate(error) == EXCLUSION_VIOLATION_SQLSTATE:
        return True
    return _is_lock_failure(error) or (unique and _is_unique_violation(error))


@contextmanager
def conflict_on_concurrent_write(
    session: Session, message: str | None = None, *, duplicate: str | None = None
) -> Iterator[None]:
    """Turn a write that lost a race, inside the block, into a :class:`Conflict`.

    Any database error rolls ``session`` back (the transaction is unusable after it);
    those :func:`is_concurrent_write` accepts become a ``Conflict``, chained to the
    database error; the others propagate unchanged.

    Args:
        session: the session whose flush or commit the block runs.
        message: what the user reads, e.g. "Someone changed this request meanwhile:
            reload it and try again."; by default, :func:`changed_meanwhile`.
        duplicate: if given, a unique violation is a lost race too and the user reads
            this instead (e.g. "Another unit already has the code X."); give it only
            where the service checked, in the same transaction, that the value was free.

    Raises:
        Conflict: the write lost a race with another transaction.
    """
    try:
        yield
    except (StaleDataError, DBAPIError) as error:
        session.rollback()
        if duplicate is not None and isinstance(error, DBAPIError) and _is_unique_violation(error):
            raise Conflict(duplicate) from error
        if not is_concurrent_write(error):
            raise
        raise Conflict(message or changed_meanwhile()) from error


def changed_meanwhile() -> str:
    """The message of a lost race that names nothing in particular."""
    return _("Someone changed the data at the same moment: reload the page and try again.")
