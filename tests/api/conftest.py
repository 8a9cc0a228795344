"""Fixtures of the API tests: tokens and a client that sends them.

``make_token(user, read_only=False)`` issues a token through the service and returns its
secret; ``api_as(user)`` is an :class:`ApiClient` carrying a fresh token of ``user``;
``tech_api`` and ``manager_api`` are those of ``technician`` and ``manager``.
``world`` is a small inventory the technician can ask from: a depot, a delivery site of
``commune`` and one of ``other_commune``, a unit-tracked type with two units and a pooled
type with 20 items.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from booking.models import Commune, EquipmentType, Pool, Site, SiteKind, Unit, User
from booking.services import api_tokens

PREFIX = "/api/v1"


class ApiClient:
    """The Flask test client with ``Authorization: Bearer <token>`` on every call."""

    def __init__(self, client: FlaskClient, token: str | None) -> None:
        self.client = client
        self.token = token

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return headers | (extra or {})

    def call(
        self, method: str, path: str, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> TestResponse:
        url = path if path.startswith("/") and path.startswith(PREFIX) else PREFIX + path
        return self.client.open(url, method=method, headers=self.headers(headers), **kwargs)

    def get(self, path: str, **kwargs: Any) -> TestResponse:
        return self.call("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> TestResponse:
        return self.call("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> TestResponse:
        return self.call("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> TestResponse:
        return self.call("DELETE", path, **kwargs)


@pytest.fixture
def make_token(db_session: Session) -> Callable[..., str]:
    def make(user: User, read_only: bool = False, name: str = "tests") -> str:
        _token, secret = api_tokens.create_token(
            db_session, by=user, name=name, read_only=read_only
        )
        return secret

    return make


@pytest.fixture
def api_as(client: FlaskClient, make_token: Callable[..., str]) -> Callable[..., ApiClient]:
    def make(user: User | None, read_only: bool = False) -> ApiClient:
        return ApiClient(client, make_token(user, read_only) if user is not None else None)

    return make


@pytest.fixture
def tech_api(api_as: Callable[..., ApiClient], technician: User) -> ApiClient:
    return api_as(technician)


@pytest.fixture
def manager_api(api_as: Callable[..., ApiClient], manager: User) -> ApiClient:
    return api_as(manager)


@dataclass
class World:
    depot: Site
    site: Site
    other_site: Site
    minibus: EquipmentType
    units: list[Unit]
    chairs: EquipmentType
    pool: Pool


@pytest.fixture
def world(
    commune: Commune,
    other_commune: Commune,
    make_site: Callable[..., Site],
    make_type: Callable[..., EquipmentType],
    make_unit: Callable[..., Unit],
    make_pool: Callable[..., Pool],
) -> World:
    depot = make_site(kind=SiteKind.DEPOT, name="Dépôt central")
    site = make_site(commune=commune, name="Hôtel de ville de Melun")
    other_site = make_site(commune=other_commune, name="Mairie de Dammarie")
    minibus = make_type(code="minibus", name="Minibus", min_notice_hours=24)
    units = [make_unit(type=minibus, home_depot=depot, code=f"MB-{n}") for n in (1, 2)]
    chairs = make_type(code="chairs", name="Chairs", is_pooled=True, min_notice_hours=24)
    pool = make_pool(type=chairs, depot=depot, quantity=20)
    return World(depot, site, other_site, minibus, units, chairs, pool)


def request_body(world: World, **changes: Any) -> dict[str, Any]:
    """A valid request of ``commune`` for the default test week."""
    body: dict[str, Any] = {
        "site_id": world.site.id,
        "title": "Fête de la musique",
        "start_dt": "2030-06-03T08:00:00+02:00",
        "end_dt": "2030-06-05T18:00:00+02:00",
        "flex_days_before": 0,
        "flex_days_after": 1,
        "lines": [
            {"type_id": world.minibus.id, "quantity": 1},
            {"type_id": world.chairs.id, "quantity": 10},
        ],
        "priority": 2,
        "notes": "Parking behind the town hall.",
    }
    return body | changes
