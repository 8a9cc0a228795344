"""URL converters: ids in URLs are bounded by what the database can hold.

An id beyond the integer columns' range (PostgreSQL ``integer``: 2**31 - 1) can name no
row: the route does not match (404) instead of the database refusing the query (500).
(NUL characters are refused by ``errors_web``.)
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from werkzeug.routing import IntegerConverter, Map

# The largest primary key of any table (PostgreSQL ``integer``).
MAX_ID = 2**31 - 1


class BoundedIntegerConverter(IntegerConverter):
    """``<int:...>``: 0 to ``MAX_ID`` unless the rule gives its own ``max``."""

    def __init__(self, map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def init_app(app: Flask) -> None:
    """Replace the ``int`` converter; call before any blueprint is registered."""
    app.url_map.converters["int"] = BoundedIntegerConverter
