"""What a request may carry before any view sees it.

An id beyond the integer columns' range (PostgreSQL ``integer``: 2**31 - 1) can name no
row: the route does not match (404) instead of the database refusing the query (500).
A NUL character cannot be stored in a PostgreSQL text column (the driver refuses the
query): a path holding one names nothing (404), a query string or form holding one is
refused (400).
"""

from __future__ import annotations

from typing import Any

from flask import Flask, abort, request
from werkzeug.routing import IntegerConverter, Map

# The largest primary key of any table (PostgreSQL ``integer``).
MAX_ID = 2**31 - 1


class BoundedIntegerConverter(IntegerConverter):
    """``<int:...>``: 0 to ``MAX_ID`` unless the rule gives its own ``max``."""

    def __init__(self, map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def refuse_nul_characters() -> None:
    """404 for a path holding a NUL character (it names nothing), 400 for a query string
    or form fields holding one."""
    if "\x00" in request.path:
        abort(404)
    if any(
        "\x00" in key or "\x00" in value
        for values in (request.args, request.form)
        for key, value in values.items(multi=True)
    ):
        abort(400)


def init_app(app: Flask) -> None:
    """Replace the ``int`` converter (call before any blueprint is registered) and refuse
    NUL characters."""
    app.url_map.converters["int"] = BoundedIntegerConverter
    app.before_request(refuse_nul_characters)
