"""Fixtures shared by the application tests.

The database is SQLite in a temporary file, or PostgreSQL when ``TEST_DATABASE_URL`` is
set (in a schema of its own per run). The schema is created once per session; each test
runs inside a transaction that is rolled back afterwards, so tests may commit freely.

``app``         the application in English, CSRF off (see ``csrf_enabled``), wired to the test's
                transaction; requests, CLI commands and ``db_session`` share one session.
``client``      Flask test client; ``runner`` CLI runner; ``auth`` signs in and out.
``db_session``  the SQLAlchemy session of the test.
``make_*``      factories (``make_commune``, ``make_user``, ``make_site``, ``make_type``,
                ``make_unit``, ``make_pool``, ``make_request``): keyword arguments are model
                attributes; missing ones get defaults; each commits and returns the object.
Named objects: ``commune``, ``other_commune``, ``technician`` (of ``commune``),
``other_technician`` (of ``other_commune``), ``manager``, ``admin``.
"""

from __future__ import annotations

import itertools
import os
import secrets
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import make_url, text
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.test import TestResponse

import booking.models  # noqa: F401  (registers every table)
from booking import create_app
from booking.db import Base, get_db, make_engine
from booking.models import (
    Commune,
    EquipmentType,
    LoanRequest,
    Pool,
    RequestLine,
    RequestStatus,
    Role,
    Site,
    SiteKind,
    Unit,
    UnitStatus,
    User,
)

PARIS = ZoneInfo("Europe/Paris")
DEFAULT_PASSWORD = "correct horse battery"
# A fixed, far-future Monday, so that notice periods hold and results never depend on today.
DEFAULT_START = datetime(2030, 6, 3, 8, 0, tzinfo=PARIS)
MELUN = (48.5394, 2.6603)

# scrypt costs ~0.1 s per hash; tests hash hundreds of passwords and do not test its strength.
User.password_method = "pbkdf2:sha256:1000"


def pytest_report_header() -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    return f"database: {url or 'SQLite (temporary file)'}"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The test database, with a fresh schema for the session.

    On PostgreSQL every run works in its own schema (dropped at the end), so that several
    runs can share one server and one database at the same time.
    """
    base = os.environ.get("TEST_DATABASE_URL")
    if not base:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
        engine = make_engine(url)
        Base.metadata.create_all(engine)
        engine.dispose()
        yield url
        return
    schema = f"test_{os.getpid()}_{secrets.token_hex(4)}"
    admin_engine = make_engine(base)
    with admin_engine.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = (
        make_url(base)
        .update_query_dict({"options": f"-csearch_path={schema}"})
        .render_as_string(hide_password=False)
    )
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    engine.dispose()
    try:
        yield url
    finally:
        with admin_engine.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin_engine.dispose()


@pytest.fixture(scope="session")
def compiled_translations(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The message catalogues compiled into a temporary folder (tests never need `make`)."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    target = tmp_path_factory.mktemp("translations")
    source = Path(__file__).resolve().parents[1] / "booking" / "translations"
    for po_path in source.glob("*/LC_MESSAGES/messages.po"):
        locale = po_path.parent.parent.name
        folder = target / locale / "LC_MESSAGES"
        folder.mkdir(parents=True)
        with open(po_path, "rb") as handle:
            catalogue = read_po(handle, locale=locale)
        with open(folder / "messages.mo", "wb") as handle:
            write_mo(handle, catalogue)
    return target


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    """The application inside a transaction rolled back after the test."""
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_url,
            "SECRET_KEY": "test-secret-key",
            # The test client's own address, so that links in pages, mail and feeds match it.
            "PUBLIC_BASE_URL": "http://localhost",
            # DEFAULT_START lies more than the default three years ahead.
            "REQUEST_HORIZON_DAYS": 3660,
            "WTF_CSRF_ENABLED": False,
            # Messages stay the English source strings whether or not the catalogues are
            # compiled; tests/views/test_i18n.py checks the French interface.
            "BABEL_DEFAULT_LOCALE": "en",
            # Solver jobs run in the request's thread: a job thread would share the test's
            # connection. One CP-SAT worker, so that runs repeat.
            "JOB_RUNNER": "inline",
            "SOLVER_WORKERS": 1,
        }
    )
    app.instance_path = str(tmp_path / "instance")
    database = get_db(app)
    connection = database.engine.connect()
    transaction = connection.begin()
    factory = sessionmaker(
        bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
    )
    session = factory()
    database.sessionmaker = factory
    database.override = session
    # No application context stays pushed: each request and command gets its own, as in
    # production (a pushed one would be shared by every request of the test, and ``g`` with it).
    try:
        yield app
    finally:
        database.override = None
        session.close()
        transaction.rollback()
        connection.close()
        database.engine.dispose()


@pytest.fixture
def db_session(app: Flask) -> Session:
    """The session the test shares with the application's requests and commands."""
    session = get_db(app).override
    assert session is not None
    return session


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


class ContextCliRunner(FlaskCliRunner):
    """Runs each command in its own application context, as ``flask <command>`` does."""

    def invoke(self, cli: Any = None, args: Any = None, **kwargs: Any) -> Any:
        with self.app.app_context():
            return super().invoke(cli, args, **kwargs)


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return ContextCliRunner(app)


@pytest.fixture
def csrf_enabled(app: Flask) -> Iterator[None]:
    """Turn CSRF protection on, as in production."""
    app.config["WTF_CSRF_ENABLED"] = True
    yield
    app.config["WTF_CSRF_ENABLED"] = False


class AuthActions:
    """Sign in and out through the real login form."""

    def __init__(self, client: FlaskClient) -> None:
        self._client = client

    def login(self, user: User | str, password: str = DEFAULT_PASSWORD) -> TestResponse:
        email = user if isinstance(user, str) else user.email
        return self._client.post("/login", data={"email": email, "password": password})

    def logout(self) -> TestResponse:
        return self._client.post("/logout")


@pytest.fixture
def auth(client: FlaskClient) -> AuthActions:
    return AuthActions(client)


_counter = itertools.count(1)


def _next() -> int:
    return next(_counter)


def _default(params: dict[str, Any], name: str, make: Callable[[], Any]) -> None:
    """Fill relationship ``name`` with ``make()`` unless it or ``<name>_id`` is given."""
    if name not in params and f"{name}_id" not in params:
        params[name] = make()


def _save(session: Session, obj: Any) -> Any:
    session.add(obj)
    session.commit()
    return obj


@pytest.fixture
def make_commune(db_session: Session) -> Callable[..., Commune]:
    def make(**params: Any) -> Commune:
        n = _next()
        params.setdefault("slug", f"commune-{n}")
        params.setdefault("name", f"Commune {n}")
        params.setdefault("lat", MELUN[0])
        params.setdefault("lon", MELUN[1])
        return _save(db_session, Commune(**params))

    return make


@pytest.fixture
def make_user(db_session: Session, make_commune: Callable[..., Commune]) -> Callable[..., User]:
    """``make_user(role=Role.MANAGER, password=...)``; technicians get a commune by default."""

    def make(**params: Any) -> User:
        n = _next()
        password = params.pop("password", DEFAULT_PASSWORD)
        params.setdefault("role", Role.TECHNICIAN)
        params.setdefault("email", f"user{n}@example.org")
        params.setdefault("name", f"User {n}")
        if params["role"] is Role.TECHNICIAN:
            _default(params, "commune", make_commune)
        user = User(**params)
        user.set_password(password)
        return _save(db_session, user)

    return make


@pytest.fixture
def make_site(db_session: Session, make_commune: Callable[..., Commune]) -> Callable[..., Site]:
    """Delivery sites belong to a new commune by default; depots to none."""

    def make(**params: Any) -> Site:
        n = _next()
        params.setdefault("kind", SiteKind.DELIVERY)
        params.setdefault("name", f"{params['kind'].value.title()} {n}")
        params.setdefault("lat", MELUN[0] + n * 1e-4)
        params.setdefault("lon", MELUN[1] + n * 1e-4)
        if params["kind"] is SiteKind.DELIVERY:
            _default(params, "commune", make_commune)
        return _save(db_session, Site(**params))

    return make


@pytest.fixture
def make_type(db_session: Session) -> Callable[..., EquipmentType]:
    """``make_type(is_pooled=True, substitutes=[other_type], ...)``."""

    def make(**params: Any) -> EquipmentType:
        n = _next()
        substitutes = params.pop("substitutes", [])
        params.setdefault("code", f"type-{n}")
        params.setdefault("name", f"Type {n}")
        params.setdefault("turnaround_minutes", 60)
        params.setdefault("min_notice_hours", 48)
        params.setdefault("is_pooled", False)
        params.setdefault("is_delivered", False)
        equipment_type = EquipmentType(**params)
        equipment_type.substitutes = list(substitutes)
        return _save(db_session, equipment_type)

    return make


@pytest.fixture
def make_unit(
    db_session: Session,
    make_type: Callable[..., EquipmentType],
    make_site: Callable[..., Site],
) -> Callable[..., Unit]:
    """A unit of a new type at a new depot unless ``type``/``home_depot`` are given."""

    def make(**params: Any) -> Unit:
        n = _next()
        params.setdefault("code", f"U{n:04d}")
        params.setdefault("name", f"Unit {n}")
        params.setdefault("status", UnitStatus.AVAILABLE)
        _default(params, "type", make_type)
        _default(params, "home_depot", lambda: make_site(kind=SiteKind.DEPOT))
        return _save(db_session, Unit(**params))

    return make


@pytest.fixture
def make_pool(
    db_session: Session,
    make_type: Callable[..., EquipmentType],
    make_site: Callable[..., Site],
) -> Callable[..., Pool]:
    """Ten items of a new pooled type at a new depot unless told otherwise."""

    def make(**params: Any) -> Pool:
        params.setdefault("quantity", 10)
        _default(params, "type", lambda: make_type(is_pooled=True))
        _default(params, "depot", lambda: make_site(kind=SiteKind.DEPOT))
        return _save(db_session, Pool(**params))

    return make


@pytest.fixture
def make_request(
    db_session: Session,
    make_commune: Callable[..., Commune],
    make_site: Callable[..., Site],
    make_type: Callable[..., EquipmentType],
) -> Callable[..., LoanRequest]:
    """``make_request(commune=c, lines=[(equipment_type, quantity)], start=..., days=...)``.

    Defaults: a new commune and one of its sites, a two-day loan from ``DEFAULT_START``,
    one line of one unit of a new type, SUBMITTED, priority 3.
    """

    def make(**params: Any) -> LoanRequest:
        lines = params.pop("lines", None)
        start = params.pop("start", DEFAULT_START)
        days = params.pop("days", 2)
        _default(params, "commune", make_commune)
        if "commune" in params:
            _default(params, "site", lambda: make_site(commune=params["commune"]))
        else:
            _default(params, "site", lambda: make_site(commune_id=params["commune_id"]))
        params.setdefault("requested_start_dt", start)
        params.setdefault("requested_end_dt", params["requested_start_dt"] + timedelta(days=days))
        params.setdefault("priority", 3)
        params.setdefault("status", RequestStatus.SUBMITTED)
        params.setdefault("title", "Fête communale")
        loan = LoanRequest(**params)
        for equipment_type, quantity in lines if lines is not None else [(make_type(), 1)]:
            loan.lines.append(RequestLine(type=equipment_type, quantity=quantity))
        return _save(db_session, loan)

    return make


@pytest.fixture
def commune(make_commune: Callable[..., Commune]) -> Commune:
    return make_commune(slug="melun", name="Melun")


@pytest.fixture
def other_commune(make_commune: Callable[..., Commune]) -> Commune:
    return make_commune(slug="dammarie-les-lys", name="Dammarie-lès-Lys")


@pytest.fixture
def technician(make_user: Callable[..., User], commune: Commune) -> User:
    return make_user(
        role=Role.TECHNICIAN, commune=commune, email="tech@melun.example", name="Tech Melun"
    )


@pytest.fixture
def other_technician(make_user: Callable[..., User], other_commune: Commune) -> User:
    return make_user(
        role=Role.TECHNICIAN,
        commune=other_commune,
        email="tech@dammarie.example",
        name="Tech Dammarie",
    )


@pytest.fixture
def manager(make_user: Callable[..., User]) -> User:
    return make_user(role=Role.MANAGER, email="manager@agglo.example", name="Fleet Manager")


@pytest.fixture
def admin(make_user: Callable[..., User]) -> User:
    return make_user(role=Role.ADMIN, email="admin@agglo.example", name="Admin")
