"""Flask-WTF forms of the request pages; every state-changing one carries a CSRF token."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    FieldList,
    Form,
    FormField,
    HiddenField,
    RadioField,
    SelectChoice,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from booking.forms.bounds import SaneDateField, SaneDateTimeLocalField, SaneIntegerField
from booking.models import RequestStatus
from booking.services.request_rules import MAX_FLEX_DAYS, MAX_ID
from booking.services.series import Frequency, Recurrence, Scope, parse_dates
from booking.templating import REQUEST_STATUS_LABELS

# Blank rows offered without JavaScript; "add a row" adds one more per click.
BLANK_ROWS = 3
MAX_ROWS = 40
DATETIME_FORMAT = "%Y-%m-%dT%H:%M"

PRIORITY_LABELS = {
    1: _l("1 · Low"),
    2: _l("2 · Normal"),
    3: _l("3 · High"),
    4: _l("4 · Imperative (safety, elections)"),
}


def _optional_int(value: Any) -> int:
    """Blank select values read as 0 ("nothing chosen")."""
    if value in (None, ""):
        return 0
    number = int(value)
    if not 0 <= number <= MAX_ID:
        raise ValueError(f"{number} is not an id")
    return number


class LineForm(Form):
    """One row of equipment: a type and a quantity (both blank: the row is ignored)."""

    type_id = SelectField(_l("Equipment"), coerce=_optional_int, choices=[], validate_choice=False)
    quantity = SaneIntegerField(
        _l("Quantity"), validators=[Optional(), NumberRange(min=1, max=1_000_000)]
    )

    @property
    def is_blank(self) -> bool:
        return not self.type_id.data and self.quantity.data is None and not self.quantity.errors


REPEAT_LABELS = {
    "": _l("Does not repeat"),
    Frequency.WEEKLY.value: _l("Every week"),
    Frequency.MONTHLY.value: _l("Every month, on the same day"),
    Frequency.DATES.value: _l("On the dates I list"),
}
SCOPE_LABELS = {
    Scope.ONE.value: _l("Only this one"),
    Scope.FOLLOWING.value: _l("This one and the following ones"),
    Scope.ALL.value: _l("Every request of the series"),
}


def _scope_field(label: Any) -> RadioField:
    return RadioField(
        label,
        choices=[SelectChoice(k, v) for k, v in SCOPE_LABELS.items()],
        default=Scope.ONE.value,
    )


class RequestForm(FlaskForm):
    """The request form; the commune selector is removed for technicians.

    The repeat fields exist on a new request only; ``scope`` on an occurrence of a series.
    """

    commune_id = SelectField(_l("Commune"), coerce=_optional_int, choices=[], validate_choice=False)
    site_id = SelectField(
        _l("Delivery place"), coerce=_optional_int, choices=[], validate_choice=False
    )
    title = StringField(_l("Occasion"), validators=[Optional(), Length(max=200)])
    start_dt = SaneDateTimeLocalField(
        _l("From"), format=DATETIME_FORMAT, validators=[InputRequired(_l("Give the start."))]
    )
    end_dt = SaneDateTimeLocalField(
        _l("Until"), format=DATETIME_FORMAT, validators=[InputRequired(_l("Give the end."))]
    )
    flex_days_before = SaneIntegerField(
        _l("May start up to (days earlier)"),
        default=0,
        validators=[InputRequired(), NumberRange(min=0, max=MAX_FLEX_DAYS)],
    )
    flex_days_after = SaneIntegerField(
        _l("May end up to (days later)"),
        default=0,
        validators=[InputRequired(), NumberRange(min=0, max=MAX_FLEX_DAYS)],
    )
    lines = FieldList(FormField(LineForm), min_entries=BLANK_ROWS, max_entries=MAX_ROWS)
    priority = SelectField(
        _l("Priority"),
        coerce=_optional_int,
        choices=[SelectChoice(k, v) for k, v in PRIORITY_LABELS.items()],
        default=2,
    )
    priority_reason = TextAreaField(
        _l("Why this priority (required for high and imperative)"),
        validators=[Optional(), Length(max=1000)],
    )
    notes = TextAreaField(
        _l("Notes for the fleet manager"), validators=[Optional(), Length(max=2000)]
    )
    repeat = SelectField(
        _l("Repeat"), choices=[SelectChoice(k, v) for k, v in REPEAT_LABELS.items()], default=""
    )
    repeat_until = SaneDateField(_l("Repeat until (included)"), validators=[Optional()])
    repeat_dates = TextAreaField(
        _l("Other dates (dd/mm/yyyy, one per line)"), validators=[Optional(), Length(max=4000)]
    )
    repeat_except = TextAreaField(
        _l("Except on (dd/mm/yyyy, one per line)"), validators=[Optional(), Length(max=4000)]
    )
    scope = _scope_field(_l("Apply the change to"))
    version = HiddenField()
    add_row = SubmitField(_l("Add a row"))
    check = SubmitField(_l("Check availability"))
    submit = SubmitField(_l("Send the request"))

    def set_type_choices(self, choices: list[tuple[int, str]]) -> None:
        """Offer ``choices`` on every row, after a blank one."""
        for entry in self.lines:
            entry.form.type_id.choices = [
                SelectChoice(0, "—"),
                *[SelectChoice(v, label) for v, label in choices],
            ]

    def line_values(self) -> list[tuple[int, int]]:
        """The filled rows as ``(type_id, quantity)`` pairs."""
        return [
            (entry.form.type_id.data, entry.form.quantity.data)
            for entry in self.lines
            if entry.form.type_id.data and entry.form.quantity.data is not None
        ]

    def validate(self, extra_validators: Any = None) -> bool:
        ok = super().validate(extra_validators)
        for entry in self.lines:
            row = entry.form
            if row.type_id.data and row.quantity.data is None and not row.quantity.errors:
                row.quantity.errors = [*row.quantity.errors, _l("Give a quantity.")]
                ok = False
            elif not row.type_id.data and row.quantity.data is not None:
                row.type_id.errors = [*row.type_id.errors, _l("Choose the equipment.")]
                ok = False
        if (
            self.start_dt.data is not None
            and self.end_dt.data is not None
            and self.end_dt.data <= self.start_dt.data
        ):
            self.end_dt.errors = [*self.end_dt.errors, _l("The loan must end after it starts.")]
            ok = False
        if self.repeat is not None:
            for name in ("repeat_dates", "repeat_except"):
                bad = parse_dates(getattr(self, name).data)[1]
                if bad:
                    field = getattr(self, name)
                    message = _l("These are not dates (dd/mm/yyyy): %(words)s")
                    field.errors = [*field.errors, message % {"words": ", ".join(bad[:5])}]
                    ok = False
        return ok

    def recurrence(self) -> Recurrence | None:
        """How the request repeats, ``None`` when it does not (or has no repeat fields)."""
        if self.repeat is None or not self.repeat.data:
            return None
        return Recurrence(
            frequency=Frequency(self.repeat.data),
            until=self.repeat_until.data,
            dates=tuple(parse_dates(self.repeat_dates.data)[0]),
            exceptions=tuple(parse_dates(self.repeat_except.data)[0]),
        )


class CancelForm(FlaskForm):
    """Cancel a request; ``scope`` is removed unless it belongs to a series."""

    scope = _scope_field(_l("Cancel"))
    reason = TextAreaField(_l("Why (optional)"), validators=[Optional(), Length(max=1000)])
    submit = SubmitField(_l("Cancel the request"))


class FilterForm(FlaskForm):
    """The list's filters, read from the query string (no CSRF: it changes nothing)."""

    class Meta:
        csrf = False

    status = SelectField(
        _l("Status"),
        choices=[
            SelectChoice("", _l("All")),
            *[SelectChoice(s.value, label) for s, label in REQUEST_STATUS_LABELS.items()],
        ],
        validators=[Optional()],
    )
    commune_id = SelectField(_l("Commune"), coerce=_optional_int, choices=[], validate_choice=False)
    date_from = SaneDateField(_l("From"), validators=[Optional()])
    date_to = SaneDateField(_l("Until"), validators=[Optional()])
    submit = SubmitField(_l("Filter"))

    def status_value(self) -> RequestStatus | None:
        try:
            return RequestStatus(self.status.data) if self.status.data else None
        except ValueError:
            return None
