"""The JSON API at ``/api/v1``, documented by an OpenAPI 3.1 document built from the code.

flask-smorest (marshmallow + apispec) reads the schemas and decorators of the views in
this package into ``/api/v1/openapi.json``; ``/api/v1/docs`` shows it with Swagger UI
served from ``static/vendor/swagger-ui``. Views call the same services as the pages.
"""

from __future__ import annotations

import http
import os
from typing import Any

from flask import Blueprint, Flask, render_template
from flask_smorest import Api
from flask_smorest.utils import prepare_response

from booking.api import problems
from booking.api.problems import PROBLEM_JSON, ProblemSchema

PREFIX = "/api/v1"
API_VERSION = "1.0.0"
DEFAULT_RATE_LIMIT = 300
DEFAULT_RATE_WINDOW_SECONDS = 60


class ProblemApi(Api):
    """flask-smorest's Api, with errors as problem+json and no application-wide handler.

    Its own handler would take over every HTTP error of the application, HTML pages
    included; the API blueprint answers its errors itself (``booking.api.problems``).
    """

    ERROR_SCHEMA = ProblemSchema

    def _register_error_handlers(self) -> None:
        return None

    def _register_responses(self) -> None:
        for status in http.HTTPStatus:
            response: dict[str, Any] = {"description": status.phrase}
            if status >= 400:
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, PROBLEM_JSON)
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "An error (RFC 9457 problem)", "schema": self.ERROR_SCHEMA}
        prepare_response(response, self.spec, PROBLEM_JSON)
        self.spec.components.response("DEFAULT_ERROR", response, lazy=True)


docs_bp = Blueprint("api_docs", __name__, url_prefix=PREFIX)


@docs_bp.route("/docs")
def docs() -> str:
    """The API documentation page (Swagger UI from local files)."""
    return render_template("api/docs.html")


def init_app(app: Flask) -> None:
    """Register the API, its OpenAPI document and its documentation page."""
    from booking.api import account, handovers, inventory, planning, requests  # noqa: F401
    from booking.api.auth import authenticate, rate_headers
    from booking.api.blueprint import bp
    from booking.extensions import csrf

    app.config.setdefault(
        "API_RATE_LIMIT", int(os.environ.get("API_RATE_LIMIT", DEFAULT_RATE_LIMIT))
    )
    app.config.setdefault(
        "API_RATE_WINDOW_SECONDS",
        int(os.environ.get("API_RATE_WINDOW_SECONDS", DEFAULT_RATE_WINDOW_SECONDS)),
    )
    app.config.update(
        API_TITLE="Prêt Commun API",
        API_VERSION=API_VERSION,
        OPENAPI_VERSION="3.1.0",
        OPENAPI_URL_PREFIX=PREFIX,
        OPENAPI_JSON_PATH="openapi.json",
        API_SPEC_OPTIONS={
            "info": {
                "description": (
                    "Equipment loans between the communes of an agglomeration. "
                    "Authorise with a personal token: `Authorization: Bearer pc_...`."
                ),
            },
            "security": [{"bearerAuth": []}],
        },
    )
    if not bp.before_request_funcs:
        bp.before_request(authenticate)
        bp.after_request(rate_headers)
        problems.register(bp)
    api = ProblemApi(app)
    api.spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer", "description": "A personal API token."}
    )
    api.register_blueprint(bp)
    app.register_blueprint(docs_bp)
    # Tokens, not cookies, authorise the API: there is no session for a forged form to ride.
    csrf.exempt(bp)
    problems.init_app(app, PREFIX)
