"""``/healthz``: for load balancers and orchestrators; no sign-in, no session."""

from __future__ import annotations

from flask import Blueprint, jsonify
from werkzeug.wrappers import Response

from booking.db import get_db
from booking.services.health import database_answers

bp = Blueprint("health", __name__)


@bp.route("/healthz")
def healthz() -> tuple[Response, int]:
    """200 with ``{"status": "ok"}`` when the database answers, else 503."""
    if database_answers(get_db().engine):
        body, status = {"status": "ok", "database": "ok"}, 200
    else:
        body, status = {"status": "unavailable", "database": "unreachable"}, 503
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-store"
    return response, status
