"""Sign-in sessions (Flask-Login) and CSRF protection (Flask-WTF)."""

from __future__ import annotations

from flask import Flask
from flask_babel import lazy_gettext as _l

from booking.db import get_session
from booking.extensions import csrf, login_manager
from booking.models import User


def init_app(app: Flask) -> None:
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Please sign in to see this page.")
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    """The account behind a session, if it still exists, is active, and has not ended its
    sessions since (``User.session_version``)."""
    number, _, version = user_id.partition(":")
    if not (number.isdigit() and version.isdigit()) or len(number) > 18:
        return None
    user = get_session().get(User, int(number))
    if user is None or not user.is_active_account or user.session_version != int(version):
        return None
    return user
