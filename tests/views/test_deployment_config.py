"""Settings for operators: from the environment, public URLs, proxies, hosts, the key file."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

import booking.config as settings
from booking import create_app
from booking.models import OutboxEmail, Role, User
from booking.services.requests import cancel_request
from tests.conftest import DEFAULT_PASSWORD


def _app(**overrides: object) -> Flask:
    return create_app(
        {"TESTING": True, "DATABASE_URL": "sqlite://", "SECRET_KEY": "k", **overrides}
    )


def test_every_setting_can_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://pret.agglo.example/")
    monkeypatch.setenv("TRUSTED_HOSTS", "pret.agglo.example, .agglo.example")
    monkeypatch.setenv("PROXY_FIX_X_FOR", "1")
    monkeypatch.setenv("MAX_CONTENT_LENGTH", "1000")
    monkeypatch.setenv("CSRF_TIME_LIMIT_SECONDS", "3600")
    monkeypatch.setenv("JOB_LEASE_SECONDS", "120")
    # Any other Flask or application setting, with the FLASK_ prefix, read as JSON.
    monkeypatch.setenv("FLASK_LOGIN_MAX_FAILURES", "3")
    monkeypatch.setenv("FLASK_PERMANENT_SESSION_LIFETIME", "7200")

    config = _app().config

    assert config["PUBLIC_BASE_URL"] == "https://pret.agglo.example"
    assert config["TRUSTED_HOSTS"] == ["pret.agglo.example", ".agglo.example"]
    assert config["PROXY_FIX_X_FOR"] == 1
    assert config["MAX_CONTENT_LENGTH"] == 1000
    assert config["WTF_CSRF_TIME_LIMIT"] == 3600
    assert config["JOB_LEASE_SECONDS"] == 120
    assert config["LOGIN_MAX_FAILURES"] == 3
    assert config["PERMANENT_SESSION_LIFETIME"] == 7200
    # https: cookies are only sent over https.
    assert config["SESSION_COOKIE_SECURE"] is True
    assert config["REMEMBER_COOKIE_SECURE"] is True


def test_cookies_are_not_secure_on_plain_http_unless_asked(monkeypatch):
    monkeypatch.setenv("PUBLIC_BASE_URL", "http://pret.local")
    assert _app().config["SESSION_COOKIE_SECURE"] is False
    monkeypatch.setenv("SESSION_COOKIE_SECURE", "true")
    assert _app().config["SESSION_COOKIE_SECURE"] is True


@pytest.mark.parametrize(
    ("name", "value"),
    [("PUBLIC_BASE_URL", "pret.agglo.example"), ("PROXY_FIX_X_FOR", "one")],
)
def test_a_wrong_value_names_the_variable(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=name):
        _app()


def test_a_host_not_trusted_is_refused(app: Flask, client: FlaskClient):
    app.config["TRUSTED_HOSTS"] = ["pret.agglo.example"]
    assert client.get("/login", base_url="http://evil.example").status_code == 400
    assert client.get("/login", base_url="http://pret.agglo.example").status_code == 200


def test_proxy_headers_are_read_only_when_trusted():
    seen: list[tuple[str | None, str]] = []
    for count in (0, 1):
        app = _app(PROXY_FIX_X_FOR=count, PROXY_FIX_X_PROTO=count)

        @app.get("/whoami")
        def whoami() -> str:
            from flask import request

            seen.append((request.remote_addr, request.scheme))
            return ""

        app.test_client().get(
            "/whoami",
            headers={"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"},
            environ_base={"REMOTE_ADDR": "10.0.0.2"},
        )
    assert seen == [("10.0.0.2", "http"), ("203.0.113.9", "https")]


def test_an_upload_over_the_limit_is_refused_politely(app: Flask, client: FlaskClient):
    app.config["MAX_CONTENT_LENGTH"] = 100
    response = client.post("/login", data={"email": "x" * 500, "password": "y"})
    assert response.status_code == 413
    assert b"<html" in response.data


def test_mail_links_use_the_public_base_url_not_the_host_header(
    app, client, db_session, make_user, make_request, technician, commune
):
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_DELIVERY="off")
    app.config["PUBLIC_BASE_URL"] = "https://pret.agglo.example"
    make_user(role=Role.MANAGER, email="boss@agglo.example")
    loan = make_request(commune=commune)
    client.post(
        "/login",
        data={"email": technician.email, "password": DEFAULT_PASSWORD},
        base_url="http://evil.example",
    )
    client.post(
        f"/requests/{loan.id}/cancel",
        data={"reason": "Rain"},
        base_url="http://evil.example",
    )
    with app.app_context():
        if not list(db_session.scalars(select(OutboxEmail))):
            # The form may differ: cancel through the service, inside a crafted request.
            with app.test_request_context("/", base_url="http://evil.example"):
                cancel_request(db_session, loan.id, by=db_session.get(User, technician.id))
    bodies = [m.body for m in db_session.scalars(select(OutboxEmail))]
    assert bodies
    assert all(f"https://pret.agglo.example/requests/{loan.id}" in b for b in bodies)
    assert not any("evil.example" in b for b in bodies)


def test_the_secret_key_file_is_created_once_by_processes_starting_together(tmp_path: Path):
    instance = tmp_path / "instance"
    keys: list[str] = []
    barrier = threading.Barrier(8)

    def start() -> None:
        barrier.wait()
        keys.append(settings.secret_key(instance))

    threads = [threading.Thread(target=start) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(keys)) == 1 and len(keys[0]) == 64
    assert (instance / "secret_key").read_text().strip() == keys[0]
    assert (instance / "secret_key").stat().st_mode & 0o777 == 0o600
    assert [p.name for p in instance.iterdir()] == ["secret_key"]


def test_init_db_works_on_a_fresh_checkout_with_a_secret_key_set(tmp_path, monkeypatch):
    instance = tmp_path / "instance"
    monkeypatch.setattr(settings, "DEFAULT_INSTANCE", instance)
    monkeypatch.setenv("SECRET_KEY", "set by the operator")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    app = create_app()
    with app.app_context():
        result = app.test_cli_runner().invoke(args=["init-db"])
    assert result.exit_code == 0, result.output
    assert (instance / "booking.sqlite3").exists()
    assert not (instance / "secret_key").exists()
