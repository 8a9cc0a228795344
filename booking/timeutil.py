"""Time zones: stored in UTC, shown in Europe/Paris."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Europe/Paris")


def to_local(value: datetime) -> datetime:
    """``value`` in Europe/Paris; naive values are refused."""
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value.isoformat()} has no time zone")
    return value.astimezone(LOCAL_TZ)


def from_local(value: datetime) -> datetime:
    """A wall-clock time in Europe/Paris (naive, as a form gives it) as aware UTC.

    Raises:
        ValueError: if ``value`` already carries a time zone.
    """
    if value.tzinfo is not None:
        raise ValueError("expected a naive wall-clock time")
    return value.replace(tzinfo=LOCAL_TZ).astimezone(UTC)
