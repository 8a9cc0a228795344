"""Absolute URLs for e-mails, calendars and links, from ``PUBLIC_BASE_URL`` only.

The Host header of a request is chosen by the client: an address built from it could
send a manager, in an e-mail, to a site of the sender's choosing. Every absolute URL the
application gives out is ``PUBLIC_BASE_URL`` followed by the endpoint's path, whether or
not a request is being served.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import current_app


def public_base_url() -> str:
    """``PUBLIC_BASE_URL`` without its trailing slash."""
    return str(current_app.config["PUBLIC_BASE_URL"]).rstrip("/")


def public_host() -> str:
    """The host name of ``PUBLIC_BASE_URL`` (used as the calendar UID domain)."""
    return urlsplit(public_base_url()).hostname or "localhost"


def public_url_for(endpoint: str, **values: Any) -> str:
    """The absolute URL of ``endpoint`` under ``PUBLIC_BASE_URL``.

    Args:
        endpoint: a Flask endpoint, e.g. ``"requests.detail"``.
        values: its URL arguments; extra ones become the query string.
    """
    adapter = current_app.url_map.bind("public.invalid", script_name="/")
    path = adapter.build(endpoint, values, force_external=False)
    return public_base_url() + path
