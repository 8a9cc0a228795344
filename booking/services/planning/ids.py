"""How planning names things: the problem's time zone and the ids of its records.

Ids in a problem file: sites ``site-<id>``, types and units by their code, pools
``<type code>@site-<depot id>``, requests ``R-<id>``, communes by slug. This module is
the bottom of the planning package: it imports nothing else from it.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from booking.models import Pool

TIMEZONE = "Europe/Paris"
ZONE = ZoneInfo(TIMEZONE)


def site_key(site_id: int) -> str:
    """The problem id of the site with database id ``site_id``."""
    return f"site-{site_id}"


def request_key(request_id: int) -> str:
    """The problem id of the request with database id ``request_id``."""
    return f"R-{request_id}"


def pool_key(pool: Pool) -> str:
    """The problem id of ``pool``: its type's code at its depot."""
    return f"{pool.type.code}@site-{pool.depot_id}"


def request_id_of(key: str) -> int | None:
    """The database id of a problem request id ``R-<id>``, or None."""
    if key.startswith("R-") and key[2:].isdigit():
        return int(key[2:])
    return None
