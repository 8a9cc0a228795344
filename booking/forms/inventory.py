"""Flask-WTF forms of the inventory pages; every one carries a CSRF token."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    FloatField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from booking.forms.bounds import SaneDateTimeLocalField, SaneIntegerField
from booking.models import SiteKind, UnitStatus

CODE_HINT = _l("Letters, digits, dots, dashes or underscores, without spaces.")

UNIT_STATUS_LABELS = {
    UnitStatus.AVAILABLE: _l("Available"),
    UnitStatus.MAINTENANCE: _l("In maintenance"),
    UnitStatus.RETIRED: _l("Retired"),
}
SITE_KIND_LABELS = {SiteKind.DEPOT: _l("Depot"), SiteKind.DELIVERY: _l("Delivery site")}
KIND_LABELS = {
    "types": _l("Equipment types"),
    "units": _l("Units"),
    "pools": _l("Pooled stock"),
    "sites": _l("Sites"),
}


class CoordinateField(FloatField):
    """A float that also takes a decimal comma, as French phone keyboards type it."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        super().process_formdata(
            [v.replace(",", ".") if isinstance(v, str) else v for v in valuelist]
        )


class TypeForm(FlaskForm):
    code = StringField(_l("Code"), validators=[DataRequired(), Length(max=60)])
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    description = TextAreaField(_l("Description"), validators=[Optional()])
    is_pooled = RadioField(
        _l("Tracking"),
        choices=[("unit", _l("By unit (numbered)")), ("pool", _l("By quantity per depot"))],
        default="unit",
    )
    is_delivered = RadioField(
        _l("Transport"),
        choices=[
            ("delivered", _l("Delivered and collected by us")),
            ("collected", _l("Collected by the commune")),
        ],
        default="collected",
    )
    turnaround_minutes = SaneIntegerField(
        _l("Turnaround (minutes)"), default=0, validators=[InputRequired(), NumberRange(min=0)]
    )
    min_notice_hours = SaneIntegerField(
        _l("Minimum notice (hours)"), default=0, validators=[InputRequired(), NumberRange(min=0)]
    )
    max_loan_days = SaneIntegerField(
        _l("Longest loan (days, empty: no limit)"), validators=[Optional(), NumberRange(min=1)]
    )
    substitutes = SelectMultipleField(_l("Substitutes (types that can replace it)"), choices=[])
    load_per_item = CoordinateField(
        _l("Load of one item on a truck (pallet places, empty: not set)"),
        validators=[Optional(), NumberRange(min=0.01, max=100)],
    )
    submit = SubmitField(_l("Save"))

    def __init__(self, *args: Any, unit_count: int = 0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.unit_count = unit_count

    def validate(self, extra_validators: Any = None) -> bool:
        ok = super().validate(extra_validators)
        if self.is_pooled.data == "pool":
            if self.substitutes.data:
                self.substitutes.errors.append(
                    _l("A pooled type has no substitutes: any item serves.")
                )
                ok = False
            if self.unit_count:
                self.is_pooled.errors.append(
                    _l("This type has units: a type cannot be both pooled and have units.")
                )
                ok = False
        return ok


class UnitForm(FlaskForm):
    code = StringField(_l("Code"), validators=[DataRequired(), Length(max=60)])
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    type_id = SelectField(_l("Type"), coerce=int, choices=[])
    home_depot_id = SelectField(_l("Home depot"), coerce=int, choices=[])
    status = SelectField(
        _l("Status"), choices=[(s.value, label) for s, label in UNIT_STATUS_LABELS.items()]
    )
    notes = TextAreaField(_l("Notes"), validators=[Optional()])
    submit = SubmitField(_l("Save"))


class WindowForm(FlaskForm):
    start_dt = SaneDateTimeLocalField(
        _l("From"), format="%Y-%m-%dT%H:%M", validators=[InputRequired()]
    )
    end_dt = SaneDateTimeLocalField(
        _l("Until"), format="%Y-%m-%dT%H:%M", validators=[InputRequired()]
    )
    reason = StringField(_l("Reason"), validators=[Optional(), Length(max=255)])
    submit = SubmitField(_l("Add the window"))

    def validate(self, extra_validators: Any = None) -> bool:
        ok = super().validate(extra_validators)
        if ok and self.end_dt.data <= self.start_dt.data:
            self.end_dt.errors.append(_l("The window must end after it starts."))
            ok = False
        return ok


class PoolForm(FlaskForm):
    type_id = SelectField(_l("Type"), coerce=int, choices=[])
    depot_id = SelectField(_l("Depot"), coerce=int, choices=[])
    quantity = SaneIntegerField(_l("Quantity"), validators=[InputRequired(), NumberRange(min=0)])
    submit = SubmitField(_l("Set the quantity"))


class SiteForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    kind = SelectField(
        _l("Kind"), choices=[(k.value, label) for k, label in SITE_KIND_LABELS.items()]
    )
    commune_id = SelectField(_l("Commune"), coerce=int, choices=[])
    address = StringField(_l("Address"), validators=[Optional(), Length(max=255)])
    lat = CoordinateField(
        _l("Latitude (degrees)"), validators=[InputRequired(), NumberRange(min=-90, max=90)]
    )
    lon = CoordinateField(
        _l("Longitude (degrees)"), validators=[InputRequired(), NumberRange(min=-180, max=180)]
    )
    is_active = BooleanField(_l("Active"), default=True)
    submit = SubmitField(_l("Save"))

    def validate(self, extra_validators: Any = None) -> bool:
        ok = super().validate(extra_validators)
        if self.kind.data == SiteKind.DELIVERY.value and not self.commune_id.data:
            self.commune_id.errors.append(_l("A delivery site belongs to a commune: choose one."))
            ok = False
        return ok


class ImportForm(FlaskForm):
    kind = SelectField(_l("What the file holds"), choices=list(KIND_LABELS.items()))
    file = FileField(_l("CSV file"), validators=[FileRequired(_l("Choose a file."))])
    submit = SubmitField(_l("Import"))
