"""The ranges every value the application accepts must fall in.

A value outside them cannot describe a real loan, and some would break date arithmetic
(a notice of 10**11 hours overflows ``timedelta``) or the database's integers. Forms and
services refuse them with a message naming the limit; values already stored beyond them
are read through the clamping helpers below, so that they cannot break a page or a run.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

# A type's handling between two loans: up to a week (minutes).
MAX_TURNAROUND_MINUTES = 7 * 24 * 60
# A type's minimum notice: up to a year (hours).
MAX_NOTICE_HOURS = 366 * 24
# A type's longest loan: up to three years (days).
MAX_LOAN_DAYS = 3 * 366
# Items of one line, one pool or one stock.
MAX_QUANTITY = 100_000
# Primary keys are 32-bit integers (PostgreSQL ``integer``).
MAX_ID = 2**31 - 1
# Whole numbers typed in forms and query strings.
MAX_INT = 2**31 - 1
# By default, a request must end within this many days from now (``REQUEST_HORIZON_DAYS``).
DEFAULT_REQUEST_HORIZON_DAYS = 3 * 365 + 1
# Dates accepted anywhere (filters included): from 2000 to the end of 2099.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
FIRST_YEAR, LAST_YEAR = 2000, 2099


def is_sane_moment(moment: datetime) -> bool:
    """Whether an aware datetime lies in the years the application handles."""
    return EARLIEST <= moment < LATEST


def notice(hours: int | None) -> timedelta:
    """A stored minimum notice as a duration, clamped to ``0..MAX_NOTICE_HOURS``."""
    return timedelta(hours=min(max(hours or 0, 0), MAX_NOTICE_HOURS))


def notice_hours(hours: int | None) -> int:
    """A stored minimum notice in hours, clamped to ``0..MAX_NOTICE_HOURS``."""
    return min(max(hours or 0, 0), MAX_NOTICE_HOURS)


def turnaround_minutes(minutes: int | None) -> int:
    """A stored turnaround in minutes, clamped to ``0..MAX_TURNAROUND_MINUTES``."""
    return min(max(minutes or 0, 0), MAX_TURNAROUND_MINUTES)


def loan_days(days: int | None) -> int | None:
    """A stored longest loan in days (None: no limit), clamped to ``1..MAX_LOAN_DAYS``."""
    if days is None:
        return None
    return min(max(days, 1), MAX_LOAN_DAYS)
