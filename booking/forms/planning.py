"""Forms of the planning pages; each carries a CSRF token."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange

from booking.forms.bounds import SaneIntegerField
from booking.services.planning import MAX_TIME_LIMIT, MIN_TIME_LIMIT


class RunForm(FlaskForm):
    time_limit = SaneIntegerField(
        _l("Time limit (seconds)"),
        default=60,
        validators=[DataRequired(), NumberRange(min=MIN_TIME_LIMIT, max=MAX_TIME_LIMIT)],
    )
    submit = SubmitField(_l("Run the optimiser"))


class ForceUnitForm(FlaskForm):
    request_id = HiddenField(validators=[DataRequired()])
    line_id = HiddenField(validators=[DataRequired()])
    replace_unit_id = HiddenField()
    # Rendered as a select of the eligible units by the template.
    unit_id = SaneIntegerField(_l("Unit"), validators=[DataRequired()])
    submit = SubmitField(_l("Give this unit"))


class DeclineForm(FlaskForm):
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(), Length(max=1000)])
    plan_id = HiddenField()
    submit = SubmitField(_l("Decline"))
