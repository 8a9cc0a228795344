"""Signing in and out, and choosing the interface language."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user
from werkzeug.wrappers import Response

from booking.db import get_session
from booking.errors import BookingError
from booking.forms.auth import LanguageForm, LoginForm
from booking.services import users as user_service

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str | None:
    """Only same-site paths are followed after sign-in (no open redirects)."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


@bp.route("/login", methods=["GET", "POST"])
def login() -> str | Response | tuple[str, int]:
    """Sign in with an e-mail and a password."""
    if current_user.is_authenticated:
        return redirect(url_for("main.home"))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        try:
            user = user_service.authenticate(
                get_session(),
                form.email.data or "",
                form.password.data or "",
                request.remote_addr or "unknown",
                throttle=user_service.Throttle(
                    max_failures=current_app.config["LOGIN_MAX_FAILURES"],
                    window=current_app.config["LOGIN_WINDOW"],
                    per_address=current_app.config["LOGIN_MAX_FAILURES_PER_ADDRESS"],
                    per_account=current_app.config["LOGIN_MAX_FAILURES_PER_ACCOUNT"],
                ),
            )
        except BookingError as error:
            flash(error.message, "error")
            status = error.status_code if error.status_code == 429 else 401
        else:
            session.clear()
            login_user(user)
            if user.locale:
                session["locale"] = user.locale
            return redirect(_safe_next(request.args.get("next")) or url_for("main.home"))
    elif request.method == "POST":
        status = 400
    return render_template("auth/login.html", form=form), status


@bp.route("/logout", methods=["POST"])
def logout() -> Response:
    """Sign out."""
    logout_user()
    session.clear()
    flash(_("You are signed out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/language", methods=["POST"])
def language() -> Response:
    """Switch the interface language, for this session and the signed-in account."""
    form = LanguageForm()
    if form.validate_on_submit():
        locale = form.locale.data or "fr"
        session["locale"] = locale
        if current_user.is_authenticated:
            try:
                user_service.set_locale(
                    get_session(),
                    current_user._get_current_object(),
                    locale,
                    allowed=current_app.config["LANGUAGES"],
                )
            except BookingError as error:
                flash(error.message, "error")
    else:
        flash(_("Unknown language."), "error")
    return redirect(_safe_next(request.form.get("next")) or url_for("main.home"))
