"""Business errors raised by services and turned into messages by the views.

Every error carries a message meant for the user (already translated when raised in a
request) and an HTTP status the views and the API use.
"""

from __future__ import annotations

from collections.abc import Iterable


class BookingError(Exception):
    """Base class of every business rule violation."""

    status_code = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class NotFound(BookingError):
    """The object does not exist (or the user may not know it exists)."""

    status_code = 404


class Forbidden(BookingError):
    """The user may not see or change this object."""

    status_code = 403


class Conflict(BookingError):
    """The change clashes with the current state (duplicate, stale version, taken slot)."""

    status_code = 409


class TooManyAttempts(BookingError):
    """Too many recent failures; the action is refused for a while."""

    status_code = 429


class Unavailable(BookingError):
    """A service the action needs (the job queue, the database) does not answer."""

    status_code = 503


class ValidationError(BookingError):
    """Input breaks a business rule.

    ``errors`` lists ``(field, message)`` pairs; ``field`` is ``None`` for messages about
    the whole input. The error's own message is the first one.
    """

    status_code = 400

    def __init__(
        self,
        message: str | None = None,
        *,
        field: str | None = None,
        errors: Iterable[tuple[str | None, str]] = (),
    ) -> None:
        collected = list(errors)
        if message is not None:
            collected.insert(0, (field, message))
        if not collected:
            raise ValueError("ValidationError needs at least one message")
        super().__init__(collected[0][1])
        self.errors: list[tuple[str | None, str]] = collected

    @property
    def messages(self) -> list[str]:
        """The messages alone, in order."""
        return [message for _field, message in self.errors]

    def for_field(self, field: str) -> list[str]:
        """The messages about ``field``."""
        return [message for name, message in self.errors if name == field]
