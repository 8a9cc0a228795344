"""The ``api`` blueprint that every resource module adds its routes to."""

from __future__ import annotations

from flask_smorest import Blueprint

bp = Blueprint(
    "api",
    __name__,
    url_prefix="/api/v1",
    description="Prêt Commun's JSON API, authorised by personal tokens.",
)
