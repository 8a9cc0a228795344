"""Who may call what: every role against every API operation, other communes' ids included.

Paths may name ``{own_request}`` and ``{other_request}`` (a request of the technician's
commune and of another), ``{unit}`` and ``{plan}``. Technicians get 404 for another
commune's objects, 403 for staff-only resources; a call without a token gets 401.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from booking.models import LoanRequest, User
from tests.api.conftest import ApiClient, World

ROLES = ("anonymous", "technician", "manager", "admin")
ALL = dict.fromkeys(("technician", "manager", "admin"), 200) | {"anonymous": 401}
STAFF = {"anonymous": 401, "technician": 403, "manager": 200, "admin": 200}

MATRIX: list[tuple[str, str, dict[str, int]]] = [
    ("GET", "/communes", ALL),
    ("GET", "/sites", ALL),
    ("GET", "/equipment-types", ALL),
    ("GET", "/units", STAFF),
    ("GET", "/pools", STAFF),
    ("GET", "/units/{unit}/unavailabilities", STAFF),
    ("GET", "/requests", ALL),
    ("GET", "/requests/{own_request}", ALL),
    ("GET", "/requests/{other_request}", ALL | {"technician": 404}),
    ("POST", "/requests/{other_request}/cancel", ALL | {"technician": 404}),
    ("GET", "/requests/{other_request}/handover", ALL | {"technician": 404}),
    (
        "POST",
        "/requests/{other_request}/check-out",
        {"anonymous": 401, "technician": 404, "manager": 409, "admin": 409},
    ),
    ("GET", "/plans/{plan}", STAFF | {"manager": 404, "admin": 404}),
    ("POST", "/plans/{plan}/approve", STAFF | {"manager": 404, "admin": 404}),
    ("GET", "/jobs/{plan}", STAFF | {"manager": 404, "admin": 404}),
    ("GET", "/notifications", ALL),
    ("POST", "/notifications/read-all", ALL),
    ("GET", "/feeds", ALL),
]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("method", "path", "expected"), MATRIX)
def test_access(
    role: str,
    method: str,
    path: str,
    expected: dict[str, int],
    api_as: Callable[..., ApiClient],
    technician: User,
    manager: User,
    admin: User,
    world: World,
    make_request: Callable[..., LoanRequest],
):
    own = make_request(commune=world.site.commune, site=world.site)
    other = make_request(commune=world.other_site.commune, site=world.other_site)
    users = {"anonymous": None, "technician": technician, "manager": manager, "admin": admin}
    api = api_as(users[role])
    url = path.format(
        own_request=own.id, other_request=other.id, unit=world.units[0].id, plan=999_999
    )
    body = {"taken_by": "Jean"} if url.endswith("check-out") else {}
    response = api.call(method, url, json=body if method == "POST" else None)
    assert response.status_code == expected[role], response.json
    if response.status_code >= 400:
        assert response.mimetype == "application/problem+json"
