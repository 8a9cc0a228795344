"""Friendly error pages (HTML) and bodies (JSON) instead of stack traces."""

from __future__ import annotations

import logging

from flask import Flask, g, jsonify, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from markupsafe import escape
from werkzeug.exceptions import HTTPException, InternalServerError
from werkzeug.wrappers import Response

from booking.errors import BookingError, ValidationError

log = logging.getLogger(__name__)


def _wants_json() -> bool:
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def status_titles() -> dict[int, str]:
    """The short title of each HTTP error status the application answers with."""
    return {
        400: _("The request could not be understood"),
        401: _("Please sign in"),
        403: _("Access refused"),
        404: _("Page not found"),
        405: _("Method not allowed"),
        409: _("Conflict"),
        422: _("The input breaks some rules"),
        429: _("Too many attempts"),
        500: _("Something went wrong"),
    }


def _respond(status: int, message: str, errors: list[str] | None = None) -> Response:
    title = status_titles().get(status, _("Error"))
    response: Response  # werkzeug's: jsonify gives Flask's subclass of it
    if _wants_json():
        body: dict[str, object] = {"error": title, "message": message}
        if errors:
            body["errors"] = errors
        response = jsonify(body)
    else:
        response = Response(_page(status, title, message), mimetype="text/html")
    response.status_code = status
    return response


def _reset_session() -> None:
    """Roll back the request's session, so that drawing the page (the signed-in user, in
    the menu) starts on a fresh connection rather than the one that just failed."""
    if "db_session" not in g:
        return
    try:
        g.db_session.rollback()
    except Exception:
        log.warning("the session could not be rolled back after an error", exc_info=True)


def _page(status: int, title: str, message: str) -> str:
    """The error page; a bare one when the full page cannot be drawn.

    The full page needs the URL adapter (missing for an untrusted host), the signed-in
    user (a query through a session whose connection may be the cause of the error) and
    the translations. The error page itself must never fail.
    """
    try:
        return render_template("errors/error.html", status=status, title=title, message=message)
    except Exception:
        log.exception("the error page could not be drawn; sending the bare one")
        return BARE_PAGE.format(status=status, title=escape(title), message=escape(message))


BARE_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>{status} {title}</title></head>
<body><h1>{title}</h1><p>{message}</p></body></html>
"""


def _carries_nul() -> bool:
    """Whether the address, the query or a form field holds a NUL character."""
    values = [request.path, *request.args.keys(), *request.args.values()]
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        values += [*request.form.keys(), *request.form.values()]
    return any("\x00" in value for value in values)


def init_app(app: Flask) -> None:
    @app.before_request
    def refuse_nul() -> None:
        # PostgreSQL refuses NUL in text: refuse it before any query sees it, on every route.
        if _carries_nul():
            raise BookingError(_("The request holds a NUL character, which no field accepts."))

    @app.errorhandler(BookingError)
    def booking_error(error: BookingError) -> Response:
        errors = error.messages if isinstance(error, ValidationError) else None
        return _respond(error.status_code, error.message, errors)

    @app.errorhandler(CSRFError)
    def csrf_error(_error: CSRFError) -> Response:
        return _respond(
            400,
            _(
                "The form has expired or did not come from this site. Go back, reload the page "
                "and try again."
            ),
        )

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        status = error.code or 500
        messages = {
            403: _("You may not see this page."),
            404: _("There is nothing at this address."),
            405: _("This address does not accept this kind of request."),
        }
        return _respond(status, messages.get(status, _("The request could not be handled.")))

    @app.errorhandler(InternalServerError)
    def server_error(error: InternalServerError) -> Response:
        log.error("unhandled error", exc_info=error.original_exception)
        _reset_session()
        return _respond(500, _("The error has been logged. Please try again later."))
