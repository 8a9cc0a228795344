"""A bare Flask application: the reference the load benchmark compares endpoints with.

``gunicorn bench.bare:app`` serves ``/`` (a short text) and ``/feed`` (a calendar-sized
body with an ETag, or 304 when the client already has it): what the same server, workers
and machine do when the application does nothing.
"""

from __future__ import annotations

from flask import Flask, Response, request

app = Flask(__name__)
BODY = "BEGIN:VCALENDAR\r\n" + "X-PAD:" + "x" * 4000 + "\r\nEND:VCALENDAR\r\n"
ETAG = '"bare-1"'


@app.get("/")
def hello() -> str:
    """The smallest answer."""
    return "ok"


@app.get("/feed")
def feed() -> Response:
    """A cacheable calendar-sized answer."""
    if request.headers.get("If-None-Match") == ETAG:
        response = Response(status=304)
    else:
        response = Response(BODY, content_type="text/calendar; charset=utf-8")
    response.headers["ETag"] = ETAG
    return response
