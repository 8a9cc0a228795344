"""Forms of the trucks (inventory) and of the rounds pages; each carries a CSRF token."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField, SubmitField, TimeField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from booking.forms.bounds import SaneIntegerField
from booking.forms.inventory import CoordinateField


class TruckForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    depot_id = SelectField(_l("Depot"), coerce=int, choices=[])
    capacity = SaneIntegerField(
        _l("Capacity (pallet places)"), validators=[InputRequired(), NumberRange(min=1, max=100)]
    )
    day_start = TimeField(_l("Driver's day starts"), validators=[InputRequired()])
    day_end = TimeField(_l("Driver's day ends"), validators=[InputRequired()])
    break_start = TimeField(_l("Break starts (empty: no break)"), validators=[Optional()])
    break_minutes = SaneIntegerField(
        _l("Break (minutes)"), default=0, validators=[InputRequired(), NumberRange(min=0, max=240)]
    )
    cost_per_km = CoordinateField(
        _l("Cost per km"), default=1.0, validators=[InputRequired(), NumberRange(min=0)]
    )
    is_active = BooleanField(_l("In service"), default=True)
    submit = SubmitField(_l("Save"))

    def validate(self, extra_validators: Any = None) -> bool:
        ok = super().validate(extra_validators)
        if not ok:
            return False
        start, end = self.day_start.data, self.day_end.data
        if start >= end:
            self.day_end.errors.append(_l("The driver's day must end after it starts."))
            ok = False
        minutes = self.break_minutes.data or 0
        if minutes and self.break_start.data is None:
            self.break_start.errors.append(_l("Give the time the break starts."))
            ok = False
        elif minutes and self.break_start.data is not None and start < end:
            begin = self.break_start.data.hour * 60 + self.break_start.data.minute
            if begin < start.hour * 60 + start.minute or begin + minutes > (
                end.hour * 60 + end.minute
            ):
                self.break_start.errors.append(
                    _l("The break must start and end within the driver's day.")
                )
                ok = False
        return ok
