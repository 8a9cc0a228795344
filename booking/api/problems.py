"""Errors as ``application/problem+json`` (RFC 9457).

Every error body has ``type``, ``title``, ``status`` and ``detail``, and ``errors``: a
list of ``{field, message}`` (``field`` is null for a problem with the whole input). The
``type`` URIs name the kind of problem; they are documented in docs/api.md.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from typing import Any

import marshmallow as ma
from flask import Flask
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from booking.errors import BookingError, ValidationError
from booking.errors_web import status_titles

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "urn:pret-commun:problem:"
# The kind of problem each status stands for, in ``type`` after TYPE_BASE.
KINDS = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    412: "precondition-failed",
    415: "unsupported-media-type",
    422: "validation",
    428: "precondition-required",
    429: "too-many-requests",
    500: "server-error",
}


class FieldProblemSchema(ma.Schema):
    field = ma.fields.String(
        required=True, allow_none=True, metadata={"description": "The field, or null."}
    )
    message = ma.fields.String(required=True)


class ProblemSchema(ma.Schema):
    """An RFC 9457 problem with the field-level problems of the input."""

    type = ma.fields.String(required=True, metadata={"description": "URI of the problem kind."})
    title = ma.fields.String(required=True)
    status = ma.fields.Integer(required=True)
    detail = ma.fields.String(required=True)
    errors = ma.fields.List(ma.fields.Nested(FieldProblemSchema), required=True)


def problem(
    status: int,
    detail: str,
    *,
    errors: Iterable[tuple[str | None, str]] = (),
    headers: Mapping[str, str] | None = None,
) -> Response:
    """A problem+json response."""
    body = {
        "type": TYPE_BASE + KINDS.get(status, "error"),
        "title": status_titles().get(status, _("Error")),
        "status": status,
        "detail": detail,
        "errors": [{"field": field, "message": message} for field, message in errors],
    }
    response = Response(json.dumps(body, ensure_ascii=False), status, mimetype=PROBLEM_JSON)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _flatten(messages: Any, path: str = "") -> list[tuple[str | None, str]]:
    """webargs' nested ``{location: {field: [messages]}}`` as ``(field.path, message)``."""
    if isinstance(messages, str):
        return [(path or None, messages)]
    if isinstance(messages, list):
        return [pair for item in messages for pair in _flatten(item, path)]
    if isinstance(messages, Mapping):
        pairs: list[tuple[str | None, str]] = []
        for key, value in messages.items():
            name = "" if key == "_schema" else str(key)
            pairs += _flatten(value, f"{path}.{name}" if path and name else path or name)
        return pairs
    return [(path or None, str(messages))]


def _validation(error: ValidationError) -> Response:
    return problem(422, error.message, errors=error.errors)


def _booking_error(error: BookingError) -> Response:
    headers = {}
    retry_after = getattr(error, "retry_after", None)
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    return problem(error.status_code, error.message, headers=headers)


def _http_error(error: HTTPException) -> Response:
    status = error.code or 500
    if status < 400:
        # 304 Not Modified from the ETag check: nothing to describe.
        return error.get_response()
    data = getattr(error, "data", None) or {}
    if status == 422 and "messages" in data:
        # The input's shape (webargs): the messages are keyed by location, then field.
        by_location = data["messages"]
        errors = [pair for value in by_location.values() for pair in _flatten(value)]
        return problem(422, _("The input does not have the expected shape."), errors=errors)
    messages = {
        400: _("The request could not be understood."),
        401: _("Send a valid API token in the Authorization header."),
        403: _("You may not see this page."),
        404: _("There is nothing at this address."),
        405: _("This address does not accept this kind of request."),
        500: _("The error has been logged. Please try again later."),
    }
    detail = str(
        data.get("message") or messages.get(status) or _("The request could not be handled.")
    )
    headers = dict(data.get("headers") or {})
    if status == 405 and error.get_response().headers.get("Allow"):
        headers["Allow"] = error.get_response().headers["Allow"]
    return problem(status, detail, headers=headers)


def _server_error(error: Exception) -> Response:
    log.error("unhandled error in the API", exc_info=error)
    return problem(500, _("The error has been logged. Please try again later."))


def register(blueprint: Any) -> None:
    """Answer every error raised in ``blueprint``'s views with a problem."""
    blueprint.register_error_handler(ValidationError, _validation)
    blueprint.register_error_handler(BookingError, _booking_error)
    blueprint.register_error_handler(HTTPException, _http_error)
    blueprint.register_error_handler(Exception, _server_error)


def init_app(app: Flask, prefix: str) -> None:
    """Answer routing errors under ``prefix`` (no view matched) with problems too.

    Blueprint handlers only see errors raised by their own views; an unknown address or
    method under the API is found before any view runs.
    """
    previous = app.error_handler_spec[None].get(None, {}).copy()

    def routing_error(error: HTTPException) -> Response | Any:
        from flask import request

        if request.path.startswith(prefix + "/") and request.blueprint is None:
            return _http_error(error)
        handler = previous.get(HTTPException)
        return handler(error) if handler is not None else error

    app.register_error_handler(404, routing_error)
    app.register_error_handler(405, routing_error)
