"""The form of the API tokens page."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField, SubmitField
from wtforms.validators import DataRequired, Length

from booking.services.api_tokens import NAME_MAX


class TokenForm(FlaskForm):
    name = StringField(
        _l("Name"),
        validators=[DataRequired(_l("Give the token a name.")), Length(max=NAME_MAX)],
    )
    read_only = BooleanField(_l("Read only (it cannot change anything)"))
    submit = SubmitField(_l("Make a token"))
