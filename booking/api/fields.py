"""Marshmallow fields shared by the API schemas: ids, bounded text, aware datetimes."""

from __future__ import annotations

from datetime import UTC
from typing import Any
from zoneinfo import ZoneInfo

import marshmallow as ma

from booking.services.request_rules import MAX_ID

PARIS = ZoneInfo("Europe/Paris")
# Dates outside these years are refused before any rule runs: date arithmetic near the
# ends of the calendar (a flexibility added to year 9999) would overflow.
MIN_YEAR, MAX_YEAR = 2000, 2999


def _printable(value: str) -> None:
    """No NUL or other control characters but tab and line breaks (PostgreSQL refuses NUL)."""
    if any(ord(c) < 32 and c not in "\t\n\r" for c in value):
        raise ma.ValidationError("Control characters are not allowed.")


def _reasonable_year(value: Any) -> None:
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise ma.ValidationError(f"Give a date between the years {MIN_YEAR} and {MAX_YEAR}.")


def Id(**kwargs: Any) -> ma.fields.Integer:
    """A primary key: a positive 32-bit integer."""
    return ma.fields.Integer(validate=ma.validate.Range(min=1, max=MAX_ID), **kwargs)


def Text(max_length: int, **kwargs: Any) -> ma.fields.String:
    """Free text of at most ``max_length`` characters, without control characters."""
    return ma.fields.String(validate=[ma.validate.Length(max=max_length), _printable], **kwargs)


class _UtcAwareDateTime(ma.fields.AwareDateTime):
    """Read as aware, handed to the services in UTC (as the pages' ``from_local`` does)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        moment = super()._deserialize(value, attr, data, **kwargs)
        _reasonable_year(moment)
        return moment.astimezone(UTC)


def When(**kwargs: Any) -> ma.fields.AwareDateTime:
    """An ISO 8601 date-time; one without an offset is read as Paris time."""
    return _UtcAwareDateTime(default_timezone=PARIS, **kwargs)


class UtcDateTime(ma.fields.DateTime):
    """A stored datetime written in ISO 8601, always in UTC (``+00:00``)."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        if value is None:
            return None
        return value.astimezone(UTC).isoformat()
