"""Log lines on stdout with time, level and the request id; ``X-Request-ID`` in and out.

A proxy or load balancer that sets ``X-Request-ID`` has its id kept (when it is a short
token), otherwise one is made; it is on every log line written while the request is
served and goes back in the response, so a user's report, the proxy's log and ours meet.
"""

from __future__ import annotations

import logging
import re
import sys
import uuid

from flask import Flask, g, has_request_context, request
from werkzeug.wrappers import Response

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
REQUEST_ID_HEADER = "X-Request-ID"
_VALID_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to every record ("-" outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        request_id = "-"
        if has_request_context():
            request_id = g.get("request_id", "-")
        record.request_id = request_id
        return True


def configure_logging(level: str) -> None:
    """One stdout handler on the root logger (added once per process)."""
    root = logging.getLogger()
    if not any(getattr(h, "booking_handler", False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        handler.addFilter(RequestIdFilter())
        handler.booking_handler = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(level)


def request_id() -> str:
    """The id of the request being served."""
    return str(g.get("request_id", "-"))


def init_app(app: Flask) -> None:
    if not app.testing:
        configure_logging(str(app.config.get("LOG_LEVEL") or "INFO"))

    @app.before_request
    def _take_request_id() -> None:
        given = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = given if _VALID_ID.fullmatch(given) else uuid.uuid4().hex

    @app.after_request
    def _give_request_id(response: Response) -> Response:
        response.headers[REQUEST_ID_HEADER] = request_id()
        return response
