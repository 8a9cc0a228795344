"""Languages (French by default, English) and the display of times in Europe/Paris."""

from __future__ import annotations

from datetime import datetime

from flask import Flask, current_app, has_request_context, session
from flask_babel import Babel, format_date, format_datetime, get_locale
from flask_login import current_user

from booking.timeutil import to_local


def select_locale() -> str:
    """The session's choice, else the account's, else French."""
    if not has_request_context():
        # Services called from the CLI, jobs or tests have no session or user.
        return str(current_app.config["BABEL_DEFAULT_LOCALE"])
    languages: list[str] = current_app.config["LANGUAGES"]
    chosen = session.get("locale")
    if chosen in languages:
        return str(chosen)
    if current_user and current_user.is_authenticated and current_user.locale in languages:
        return str(current_user.locale)
    return str(current_app.config["BABEL_DEFAULT_LOCALE"])


def local_datetime(value: datetime | None, format: str = "medium") -> str:
    """A stored (UTC) datetime as Paris wall-clock time in the user's language."""
    if value is None:
        return ""
    return format_datetime(to_local(value), format, rebase=False)


def local_date(value: datetime | None, format: str = "medium") -> str:
    """The Paris calendar date of a stored datetime."""
    if value is None:
        return ""
    return format_date(to_local(value), format)


def init_app(app: Flask) -> None:
    # One Babel per application: its translation cache is keyed by locale only.
    babel = Babel()
    babel.init_app(
        app,
        locale_selector=select_locale,
        default_translation_directories="translations",
        default_domain="messages",
    )
    app.jinja_env.filters["localdt"] = local_datetime
    app.jinja_env.filters["localdate"] = local_date

    @app.context_processor
    def inject_locale() -> dict[str, object]:
        return {"current_locale": str(get_locale()), "languages": app.config["LANGUAGES"]}
