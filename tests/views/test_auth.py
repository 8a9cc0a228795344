"""Signing in and out, throttling through the form, and the language switch."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from booking.models import LoginAttempt
from tests.conftest import DEFAULT_PASSWORD


def test_login_page(client):
    response = client.get("/login")
    assert response.status_code == 200
    assert 'name="email"' in response.text
    assert 'name="password"' in response.text


def test_login_then_logout(client, auth, technician):
    response = auth.login(technician)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert "Melun" in client.get("/").text
    response = auth.logout()
    assert response.headers["Location"] == "/login"
    assert client.get("/").status_code == 302


def test_wrong_password_is_refused_with_a_message(client, auth, technician):
    response = auth.login(technician, "wrong password")
    assert response.status_code == 401
    assert "Wrong e-mail or password" in response.text
    assert client.get("/").status_code == 302


def test_empty_form_is_refused(client):
    response = client.post("/login", data={"email": "", "password": ""})
    assert response.status_code == 400
    assert "This field is required." in response.text


def test_disabled_accounts_cannot_sign_in(client, auth, technician, db_session):
    technician.is_active_account = False
    db_session.commit()
    assert auth.login(technician).status_code == 401


def test_disabling_ends_an_open_session(client, auth, technician, db_session):
    auth.login(technician)
    assert client.get("/").status_code == 200
    technician.is_active_account = False
    db_session.commit()
    assert client.get("/").status_code == 302


def test_throttling_through_the_form(client, auth, technician, db_session):
    for _ in range(5):
        assert auth.login(technician, "wrong password").status_code == 401
    response = auth.login(technician, DEFAULT_PASSWORD)
    assert response.status_code == 429
    assert "Too many failed sign-in attempts" in response.text
    assert client.get("/").status_code == 302
    attempts = db_session.scalars(
        select(LoginAttempt).where(LoginAttempt.email == technician.email)
    ).all()
    assert len(attempts) == 5


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/admin/users", "/admin/users"),
        ("https://evil.example/", "/"),
        ("//evil.example/", "/"),
        ("javascript:alert(1)", "/"),
    ],
)
def test_next_is_followed_only_within_the_site(client, admin, target, expected):
    response = client.post(
        "/login",
        query_string={"next": target},
        data={"email": admin.email, "password": DEFAULT_PASSWORD},
    )
    assert response.headers["Location"] == expected


def test_anonymous_visitors_are_sent_to_sign_in_and_back(client):
    response = client.get("/admin/users")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_language_switch_for_a_visitor(client):
    response = client.post("/language", data={"locale": "en", "next": "/login"})
    assert response.headers["Location"] == "/login"
    with client.session_transaction() as session:
        assert session["locale"] == "en"


def test_language_switch_is_remembered_on_the_account(client, auth, technician, db_session):
    auth.login(technician)
    client.post("/language", data={"locale": "fr"})
    db_session.refresh(technician)
    assert technician.locale == "fr"
    # Signing in again elsewhere brings the choice back.
    auth.logout()
    auth.login(technician)
    with client.session_transaction() as session:
        assert session["locale"] == "fr"


def test_unknown_language_is_refused(client):
    response = client.post("/language", data={"locale": "xx"}, follow_redirects=True)
    assert "Unknown language." in response.text
    with client.session_transaction() as session:
        assert "locale" not in session


def test_logout_needs_post(client, auth, technician):
    auth.login(technician)
    assert client.get("/logout").status_code == 405
    assert client.get("/").status_code == 200
