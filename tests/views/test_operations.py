"""Running in production: health check, request ids in logs, static file caching."""

from __future__ import annotations

import io
import logging
import re

from flask import Flask
from flask.testing import FlaskClient

from booking import create_app
from booking.observability import LOG_FORMAT, RequestIdFilter


def test_health_is_ok_when_the_database_answers(client: FlaskClient):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "database": "ok"}
    assert response.headers["Cache-Control"] == "no-store"


def test_health_is_503_when_the_database_does_not_answer():
    app = create_app(
        {
            "TESTING": True,
            # A file that cannot be opened: the database does not answer.
            "DATABASE_URL": "sqlite:////proc/no-such-folder/booking.sqlite3",
            "SECRET_KEY": "k",
        }
    )
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.json == {"status": "unavailable", "database": "unreachable"}


def test_a_request_id_is_kept_or_made_and_returned(client: FlaskClient):
    given = client.get("/login", headers={"X-Request-ID": "lb-4f2a.77"})
    assert given.headers["X-Request-ID"] == "lb-4f2a.77"
    made = client.get("/login", headers={"X-Request-ID": "bad id; with <script>"})
    assert re.fullmatch(r"[0-9a-f]{32}", made.headers["X-Request-ID"])
    assert client.get("/login").headers["X-Request-ID"] != made.headers["X-Request-ID"]


def test_log_lines_carry_time_level_and_request_id(app: Flask):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    handler.addFilter(RequestIdFilter())
    logger = logging.getLogger("booking.test")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:

        @app.get("/log-something")
        def log_something() -> str:
            logger.warning("something happened")
            return ""

        app.test_client().get("/log-something", headers={"X-Request-ID": "abc-123"})
        logger.warning("outside a request")
    finally:
        logger.removeHandler(handler)
    first, second = stream.getvalue().splitlines()
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} WARNING booking.test \[abc-123\] something happened",
        first,
    )
    assert second.endswith("WARNING booking.test [-] outside a request")


def test_static_files_are_fingerprinted_and_cached_for_a_year(client: FlaskClient):
    page = client.get("/login")
    match = re.search(r'href="(/static/app\.css\?v=[0-9a-f]{12})"', page.text)
    assert match, page.text[:500]
    fingerprinted = client.get(match.group(1))
    assert fingerprinted.status_code == 200
    cache = fingerprinted.headers["Cache-Control"]
    assert "max-age=31536000" in cache and "immutable" in cache and "no-cache" not in cache
    plain = client.get("/static/app.css")
    assert "max-age=3600" in plain.headers["Cache-Control"]
    # An old fingerprint is not promised forever.
    stale = client.get("/static/app.css?v=000000000000")
    assert "immutable" not in stale.headers["Cache-Control"]
