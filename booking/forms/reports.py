"""The choice of a report: a commune (or the agglomeration) and a year or a period."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, SubmitField
from wtforms.validators import Optional

from booking.forms.audit import LocalDateField, WholeNumberField

REPORT_FIELDS = ("commune", "year", "start", "end")


class ReportForm(FlaskForm):
    """Read from the query string (no CSRF: reading changes nothing).

    The commune's choices are the communes the user may read; another id is not refused
    here but by the service, which answers that there is no such report.
    """

    class Meta:
        csrf = False

    commune = SelectField(_l("Commune"), coerce=int, default=0, validate_choice=False)
    year = WholeNumberField(_l("Year"), validators=[Optional()])
    start = LocalDateField(_l("Or from"), validators=[Optional()])
    end = LocalDateField(_l("to"), validators=[Optional()])
    submit = SubmitField(_l("Show the report"))
