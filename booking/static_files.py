"""Static files with fingerprinted URLs and long cache lifetimes.

Templates link to ``static_url("app.css")``, which adds a hash of the file's content
(``/static/app.css?v=1a2b3c4d5e6f``). A fingerprinted URL never changes meaning, so
browsers and proxies keep it for a year without asking again; a new version of the file
gets a new URL. A static URL without the fingerprint is kept for an hour.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from flask import Flask, current_app, request, url_for
from werkzeug.wrappers import Response

FINGERPRINT_MAX_AGE = 365 * 24 * 3600
PLAIN_MAX_AGE = 3600
_HASH_LENGTH = 12


def _fingerprint(app: Flask, filename: str) -> str | None:
    """A short hash of the file's content, cached per process (None if missing)."""
    cache: dict[str, str | None] = app.extensions.setdefault("static_fingerprints", {})
    if filename not in cache or app.debug:
        path = Path(app.static_folder or "") / filename
        try:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()[:_HASH_LENGTH]
        except OSError:
            digest = None
        cache[filename] = digest
    return cache[filename]


def static_url(filename: str) -> str:
    """The URL of a static file, fingerprinted with its content."""
    version = _fingerprint(current_app, filename)
    if version is None:
        return url_for("static", filename=filename)
    return url_for("static", filename=filename, v=version)


def init_app(app: Flask) -> None:
    app.jinja_env.globals["static_url"] = static_url

    @app.after_request
    def _cache_static(response: Response) -> Response:
        if request.endpoint != "static" or response.status_code not in (200, 304):
            return response
        filename = (request.view_args or {}).get("filename", "")
        if request.args.get("v") and request.args["v"] == _fingerprint(app, filename):
            response.cache_control.max_age = FINGERPRINT_MAX_AGE
            response.cache_control.public = True
            response.cache_control.immutable = True
            response.cache_control.no_cache = None
        else:
            response.cache_control.max_age = PLAIN_MAX_AGE
            response.cache_control.public = True
            response.cache_control.no_cache = None
        return response
