"""The filter form of the audit trail page (read from the query string)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, IntegerField, SelectChoice, SelectField, StringField, SubmitField
from wtforms.validators import Length, NumberRange, Optional

from booking import limits
from booking.services.audit import MAX_ID, MAX_TEXT, AuditFilters

FILTER_FIELDS = (
    "action",
    "object_type",
    "object_id",
    "actor",
    "date_from",
    "date_to",
    "commune_id",
)


class LocalDateField(DateField):
    """A date (YYYY-MM-DD) whose error message says which form is expected."""

    def process_formdata(self, valuelist: Sequence[Any]) -> None:
        try:
            super().process_formdata(valuelist)
        except ValueError as error:
            raise ValueError(_l("Give the date as YYYY-MM-DD, for example 2030-06-03.")) from error


class WholeNumberField(IntegerField):
    """An integer whose error message names the expected form."""

    def process_formdata(self, valuelist: Sequence[Any]) -> None:
        try:
            super().process_formdata(valuelist)
        except ValueError as error:
            raise ValueError(_l("Give a whole number, such as 12.")) from error


class AuditDateField(LocalDateField):
    """A filter date in the years the trail can hold (2000-2099)."""

    def process_formdata(self, valuelist: Sequence[Any]) -> None:
        super().process_formdata(valuelist)
        if self.data is not None and not limits.FIRST_YEAR <= self.data.year <= limits.LAST_YEAR:
            raise ValueError(
                _l(
                    "Give a date between %(first)d and %(last)d.",
                    first=limits.FIRST_YEAR,
                    last=limits.LAST_YEAR,
                )
            )


def _optional_id(value: Any) -> int:
    """Blank select values read as 0 ("any")."""
    if value in (None, ""):
        return 0
    number = int(value)
    if not 0 <= number <= MAX_ID:
        raise ValueError(f"{number} is not an id")
    return number


class AuditFilterForm(FlaskForm):
    """The trail's filters (no CSRF: reading changes nothing)."""

    class Meta:
        csrf = False

    action = StringField(_l("Action starts with"), validators=[Optional(), Length(max=MAX_TEXT)])
    object_type = StringField(_l("Object type"), validators=[Optional(), Length(max=MAX_TEXT)])
    object_id = WholeNumberField(
        _l("Object id"), validators=[Optional(), NumberRange(min=1, max=MAX_ID)]
    )
    actor = StringField(_l("Who (e-mail or name)"), validators=[Optional(), Length(max=MAX_TEXT)])
    date_from = AuditDateField(_l("From"), validators=[Optional()])
    date_to = AuditDateField(_l("Until"), validators=[Optional()])
    commune_id = SelectField(
        _l("Commune"), coerce=_optional_id, choices=[SelectChoice(0, "—")], validate_choice=False
    )
    submit = SubmitField(_l("Filter"))

    def to_filters(self) -> AuditFilters:
        """The filters of the fields that were read without error."""

        def value(name: str) -> Any:
            field = getattr(self, name)
            return None if field.errors else field.data

        return AuditFilters(
            action=value("action") or "",
            object_type=value("object_type") or "",
            object_id=value("object_id"),
            actor=value("actor") or "",
            date_from=value("date_from"),
            date_to=value("date_to"),
            commune_id=value("commune_id") or None,
        )
