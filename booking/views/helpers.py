"""Small helpers shared by the views."""

from __future__ import annotations

from flask import flash
from flask_login import current_user
from flask_wtf import FlaskForm

from booking.errors import BookingError, ValidationError
from booking.models import User


def current() -> User:
    """The signed-in user (views are behind ``login_required``)."""
    user: User = current_user._get_current_object()
    return user


def flash_error(error: BookingError, form: FlaskForm | None = None) -> None:
    """Show a business error; attach field messages to ``form`` fields when they exist."""
    if isinstance(error, ValidationError):
        for field, message in error.errors:
            target = getattr(form, field, None) if form is not None and field else None
            if target is not None and hasattr(target, "errors"):
                target.errors = [*list(target.errors), message]
            else:
                flash(message, "error")
    else:
        flash(error.message, "error")
