"""Bearer-token authentication and per-token rate limiting of every API view.

Only ``Authorization: Bearer <token>`` authorises the API: a page session cookie does
not (the API is exempt from CSRF, so a cookie must never be enough).
"""

from __future__ import annotations

from flask import current_app, g, request
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from booking.api.problems import problem
from booking.db import get_session
from booking.models import ApiToken, User
from booking.services import api_tokens
from booking.services.request_rules import is_valid_id

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def api_user() -> User:
    """The user the request's token acts for (set by :func:`authenticate`)."""
    return g.api_token.user


def api_token() -> ApiToken:
    return g.api_token


def _unauthorized(detail: str) -> Response:
    return problem(401, detail, headers={"WWW-Authenticate": 'Bearer realm="api"'})


def authenticate() -> Response | None:
    """Before every view: a live token, allowed to write if the method writes, not over
    its rate limit; path ids out of range are answered 404 before any query."""
    scheme, _sep, secret = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        return _unauthorized(_("Send a valid API token in the Authorization header."))
    session = get_session()
    token = api_tokens.authenticate(session, secret.strip())
    if token is None:
        return _unauthorized(_("This API token is unknown, revoked, or its account is disabled."))
    g.api_token = token
    config = current_app.config
    try:
        state = api_tokens.count_request(
            session,
            token,
            limit=int(config["API_RATE_LIMIT"]),
            window_seconds=int(config["API_RATE_WINDOW_SECONDS"]),
        )
    except api_tokens.RateLimited as error:
        return problem(429, error.message, headers={"Retry-After": str(error.retry_after)})
    g.api_rate = state
    if token.is_read_only and request.method not in SAFE_METHODS:
        return problem(403, _("This API token is read-only."))
    for name, value in (request.view_args or {}).items():
        if name.endswith("_id") and not is_valid_id(value):
            return problem(404, _("There is nothing at this address."))
    return None


def rate_headers(response: Response) -> Response:
    """Tell the client where it stands in the current window."""
    state = g.get("api_rate")
    if state is not None:
        response.headers["RateLimit-Limit"] = str(state.limit)
        response.headers["RateLimit-Remaining"] = str(max(state.remaining, 0))
        response.headers["RateLimit-Reset"] = str(state.reset_seconds)
    return response
