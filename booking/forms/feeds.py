"""Flask-WTF forms of the "My calendars" page; every one carries a CSRF token."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, Length

from booking.services.feeds import NAME_MAX


class FeedCreateForm(FlaskForm):
    what = SelectField(_l("Calendar"), validators=[DataRequired()])
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=NAME_MAX)])
    submit = SubmitField(_l("Create the link"))


class FeedRenameForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=NAME_MAX)])
    submit = SubmitField(_l("Rename"))
