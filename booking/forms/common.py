"""Forms shared by several blueprints."""

from __future__ import annotations

from flask_wtf import FlaskForm


class ActionForm(FlaskForm):
    """A form with nothing but its CSRF token, for buttons that change state."""
