"""Flask-WTF forms of the check-out and check-in pages (each carries a CSRF token).

One row per item handed over (a numbered unit or a pooled line), named by the item's key
in a hidden field; the service checks that every key belongs to the loan.
"""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    SelectChoice,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from booking.forms.bounds import SaneDateField, SaneDateTimeLocalField, SaneIntegerField
from booking.models import Condition
from booking.services.handovers import MAX_NAME, MAX_TEXT

DATETIME_FORMAT = "%Y-%m-%dT%H:%M"

CONDITION_LABELS = {
    Condition.GOOD: _l("Good"),
    Condition.WORN: _l("Worn"),
    Condition.DAMAGED: _l("Damaged"),
}


def _condition(value: Any) -> Condition | None:
    """A condition from its value; an unknown one reads as ``None`` ("Not a valid choice")."""
    if isinstance(value, Condition):
        return value
    try:
        return Condition(value or Condition.GOOD.value)
    except ValueError:
        return None


class ItemForm(Form):
    """The state of one item."""

    key = HiddenField()
    condition = SelectField(
        _l("Condition"),
        coerce=_condition,
        choices=[SelectChoice(c.value, label) for c, label in CONDITION_LABELS.items()],
        default=Condition.GOOD,
    )
    damage = TextAreaField(
        _l("Damage (required when damaged)"), validators=[Optional(), Length(max=MAX_TEXT)]
    )
    missing_quantity = SaneIntegerField(
        _l("Missing"),
        default=0,
        validators=[
            Optional(),
            NumberRange(min=0, message=_l("The missing quantity cannot be negative.")),
        ],
    )
    maintenance = BooleanField(_l("Send to maintenance"))


class CheckOutForm(FlaskForm):
    """Who takes the equipment, when, and its state as it leaves."""

    taken_by = StringField(
        _l("Taken by (name)"),
        validators=[
            InputRequired(_l("Give the name of the person who takes the equipment.")),
            Length(max=MAX_NAME),
        ],
    )
    at = SaneDateTimeLocalField(
        _l("When"),
        format=DATETIME_FORMAT,
        validators=[InputRequired(_l("Give the date and time."))],
    )
    items = FieldList(FormField(ItemForm))
    notes = TextAreaField(_l("Notes"), validators=[Optional(), Length(max=MAX_TEXT)])
    submit = SubmitField(_l("Record the check-out"))


class CheckInForm(FlaskForm):
    """When the equipment came back, its state, what is missing, what goes to maintenance."""

    at = SaneDateTimeLocalField(
        _l("When"),
        format=DATETIME_FORMAT,
        validators=[InputRequired(_l("Give the date and time."))],
    )
    items = FieldList(FormField(ItemForm))
    maintenance_until = SaneDateField(_l("In maintenance until"), validators=[Optional()])
    notes = TextAreaField(_l("Notes"), validators=[Optional(), Length(max=MAX_TEXT)])
    submit = SubmitField(_l("Record the check-in"))
