"""Security headers, sign-in throttling behind a proxy, sessions ended, inert CSV cells."""

from __future__ import annotations

import re
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.middleware.proxy_fix import ProxyFix

from booking.models import EquipmentType, User
from booking.services import users as user_service
from booking.services.csv_inventory import export_csv, import_csv
from tests.conftest import DEFAULT_PASSWORD

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def test_every_response_carries_the_security_headers(app: Flask, client: FlaskClient):
    for path in ("/login", "/healthz", "/nowhere"):
        headers = client.get(path).headers
        csp = headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp
        directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
        assert directives["script-src"] == "'self'"
        assert directives["default-src"] == "'self'"
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "same-origin"
        assert "Strict-Transport-Security" not in headers
    app.config["PUBLIC_BASE_URL"] = "https://pret.agglo.example"
    assert "max-age=" in client.get("/login").headers["Strict-Transport-Security"]


def test_no_template_has_inline_script():
    for template in TEMPLATES.rglob("*.html"):
        text = template.read_text(encoding="utf-8")
        for tag in re.findall(r"<script\b[^>]*>", text):
            assert "src=" in tag, f"{template}: inline <script>"
        assert not re.search(r"\son[a-z]+\s*=", text), f"{template}: inline event handler"
        assert "javascript:" not in text, template


def _behind_proxy(app: Flask) -> None:
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1)  # type: ignore[method-assign]


def _login(client: FlaskClient, email: str, password: str, address: str) -> int:
    return client.post(
        "/login",
        data={"email": email, "password": password},
        headers={"X-Forwarded-For": address},
        environ_base={"REMOTE_ADDR": "10.0.0.1"},  # the proxy
    ).status_code


def test_wrong_passwords_from_one_client_do_not_lock_the_account_for_others(
    app: Flask, technician: User
):
    _behind_proxy(app)
    attacker, owner = app.test_client(), app.test_client()
    for _ in range(5):
        assert _login(attacker, technician.email, "wrong", "203.0.113.9") == 401
    assert _login(attacker, technician.email, DEFAULT_PASSWORD, "203.0.113.9") == 429
    # The account's owner, from another address behind the same proxy, signs in.
    assert _login(owner, technician.email, DEFAULT_PASSWORD, "198.51.100.7") == 302


def test_one_client_guessing_across_accounts_is_stopped(app: Flask, make_user, technician: User):
    _behind_proxy(app)
    app.config["LOGIN_MAX_FAILURES_PER_ADDRESS"] = 6
    client = app.test_client()
    for n in range(6):
        assert _login(client, f"someone{n}@example.org", "wrong", "203.0.113.9") == 401
    # A sixth account, never tried, is refused from that address, not from others.
    assert _login(client, technician.email, DEFAULT_PASSWORD, "203.0.113.9") == 429
    assert _login(app.test_client(), technician.email, DEFAULT_PASSWORD, "192.0.2.1") == 302


def test_a_password_reset_ends_the_sessions_of_the_account(
    client: FlaskClient, db_session: Session, technician: User, admin: User
):
    assert (
        client.post(
            "/login", data={"email": technician.email, "password": DEFAULT_PASSWORD}
        ).status_code
        == 302
    )
    assert client.get("/requests/").status_code == 200

    user_service.reset_password(db_session, technician.id, "a brand new passphrase", by=admin)

    response = client.get("/requests/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert (
        client.post(
            "/login", data={"email": technician.email, "password": "a brand new passphrase"}
        ).status_code
        == 302
    )
    assert client.get("/requests/").status_code == 200


def test_deactivating_an_account_ends_its_sessions_even_once_reactivated(
    client: FlaskClient, db_session: Session, technician: User, admin: User
):
    client.post("/login", data={"email": technician.email, "password": DEFAULT_PASSWORD})
    user_service.set_user_active(db_session, technician.id, False, by=admin)
    user_service.set_user_active(db_session, technician.id, True, by=admin)
    assert client.get("/requests/").status_code == 302


def test_an_old_session_id_without_version_is_refused(app: Flask, technician: User):
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = str(technician.id)
        session["_fresh"] = True
    assert client.get("/requests/").status_code == 302


def test_inventory_export_makes_formula_cells_inert_and_reads_them_back(
    db_session: Session, manager: User, make_type
):
    make_type(code="barrier", name='=HYPERLINK("http://evil.example","Click")')
    make_type(code="tent", name="-2+3", description="@SUM(A1)")

    exported = export_csv(db_session, "types", by=manager).decode("utf-8-sig")

    assert ";'=HYPERLINK(" in exported.replace('"', "")
    assert "'-2+3" in exported and "'@SUM(A1)" in exported
    result = import_csv(db_session, "types", exported.encode("utf-8-sig"), by=manager)
    assert (result.created, result.updated) == (0, 0)
    names = {t.code: t.name for t in db_session.scalars(select(EquipmentType))}
    assert names["tent"] == "-2+3"
