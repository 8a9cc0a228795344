"""Form fields that refuse values no loan can have, with a message naming the limit.

Dates must fall in 2000-2099 (``booking.limits``): a year 1 or 9999 date would overflow
time zone arithmetic, and no loan is planned that far. Whole numbers must fit the
database's integers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask_babel import lazy_gettext as _l
from wtforms import DateField, DateTimeLocalField, IntegerField

from booking import limits


def _year_error() -> ValueError:
    return ValueError(
        _l(
            "Give a date between %(first)d and %(last)d.",
            first=limits.FIRST_YEAR,
            last=limits.LAST_YEAR,
        )
    )


class SaneDateField(DateField):
    """A date in the years the application handles."""

    def process_formdata(self, valuelist: Sequence[Any]) -> None:
        super().process_formdata(valuelist)
        if self.data is not None and not limits.FIRST_YEAR <= self.data.year <= limits.LAST_YEAR:
            raise _year_error()


class SaneDateTimeLocalField(DateTimeLocalField):
    """A date and time in the years the application handles."""

    def process_formdata(self, valuelist: Sequence[Any]) -> None:
        super().process_formdata(valuelist)
        if self.data is not None and not limits.FIRST_YEAR <= self.data.year <= limits.LAST_YEAR:
            raise _year_error()


class SaneIntegerField(IntegerField):
    """A whole number that fits the database's integers."""

    def process_formdata(self, valuelist: Sequence[Any]) -> None:
        super().process_formdata(valuelist)
        if self.data is not None and abs(self.data) > limits.MAX_INT:
            raise ValueError(_l("Give a number of at most %(max)d.", max=limits.MAX_INT))
