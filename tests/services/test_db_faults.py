"""The database connection dying under the application (PostgreSQL only).

``pg_terminate_backend`` cuts the application's pooled connections, as a server restart
or a failover does. The next request must succeed, and a request that was using the
connection gets the full error page, never an empty 500.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
from sqlalchemy import make_url, text

from booking import create_app
from booking.db import Base, get_db, get_session, make_engine
from booking.models import Role, User
from tests.conftest import DEFAULT_PASSWORD

BASE_URL = os.environ.get("TEST_DATABASE_URL")
pytestmark = pytest.mark.skipif(not BASE_URL, reason="needs TEST_DATABASE_URL (PostgreSQL)")


@pytest.fixture
def live() -> Iterator[SimpleNamespace]:
    """An app on its own PostgreSQL schema whose connections carry a name of their own."""
    assert BASE_URL
    schema = f"faults_{uuid.uuid4().hex[:12]}"
    name = f"booking-{schema}"
    admin = make_engine(BASE_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = (
        make_url(BASE_URL)
        .update_query_dict({"options": f"-csearch_path={schema}", "application_name": name})
        .render_as_string(hide_password=False)
    )
    app = create_app(
        {
            "TESTING": True,
            "PROPAGATE_EXCEPTIONS": False,
            "DATABASE_URL": url,
            "SECRET_KEY": "k",
            "WTF_CSRF_ENABLED": False,
            "BABEL_DEFAULT_LOCALE": "en",
            "JOB_RUNNER": "inline",
        }
    )
    engine = get_db(app).engine
    Base.metadata.create_all(engine)
    with get_db(app).session() as session:
        user = User(email="m@agglo.example", name="Marie Gestion", role=Role.MANAGER)
        user.set_password(DEFAULT_PASSWORD)
        session.add(user)
        session.commit()

    def cut() -> int:
        with admin.begin() as connection:
            return len(
                connection.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE application_name = :name AND pid <> pg_backend_pid()"
                    ),
                    {"name": name},
                ).all()
            )

    @app.get("/uses-the-database-twice")
    def uses_the_database_twice() -> str:
        """Cuts its own connection between two queries."""
        session = get_session()
        session.execute(text("SELECT 1"))
        cut()
        session.execute(text("SELECT 1"))
        return "unreachable"

    client = app.test_client()
    client.post("/login", data={"email": "m@agglo.example", "password": DEFAULT_PASSWORD})
    try:
        yield SimpleNamespace(app=app, client=client, cut=cut)
    finally:
        engine.dispose()
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def test_the_next_request_succeeds_after_the_connections_are_cut(live):
    assert live.client.get("/").status_code == 200
    assert live.cut() >= 1
    for _ in range(3):
        page = live.client.get("/planning/")
        assert page.status_code == 200
        assert "Marie Gestion" in page.text
    assert live.client.get("/healthz").status_code == 200


def test_a_request_whose_connection_dies_gets_the_full_error_page(live):
    page = live.client.get("/uses-the-database-twice")
    assert page.status_code == 500
    assert "Something went wrong" in page.text
    # The full page, with the signed-in user's menu: drawn on a fresh connection.
    assert "Marie Gestion" in page.text
    assert live.client.get("/planning/").status_code == 200
