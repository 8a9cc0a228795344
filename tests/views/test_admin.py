"""Account management pages."""

from __future__ import annotations

import re

from sqlalchemy import select

from booking.models import AuditEvent, Role, User

NEW_USER = {
    "email": "new@melun.example",
    "name": "Nouvelle Technicienne",
    "role": "technician",
    "password": "long enough",
    "confirm": "long enough",
}


def test_admin_lists_accounts(client, auth, admin, technician, manager):
    auth.login(admin)
    page = client.get("/admin/users").text
    for user in (admin, technician, manager):
        assert user.email in page
    assert "Melun" in page


def test_admin_home_is_the_account_list(client, auth, admin):
    auth.login(admin)
    response = client.get("/")
    assert response.headers["Location"] == "/admin/users"


def test_create_a_technician(client, auth, admin, commune, db_session):
    auth.login(admin)
    response = client.post("/admin/users", data={**NEW_USER, "commune_id": commune.id})
    assert response.status_code == 302
    user = db_session.scalars(select(User).where(User.email == NEW_USER["email"])).one()
    assert user.role is Role.TECHNICIAN
    assert user.commune_id == commune.id
    assert user.check_password("long enough")
    event = db_session.scalars(select(AuditEvent).where(AuditEvent.object_id == user.id)).one()
    assert (event.action, event.actor_id) == ("user.create", admin.id)
    assert "Account new@melun.example created." in client.get("/admin/users").text


def test_create_refuses_a_technician_without_commune(client, auth, admin, db_session):
    auth.login(admin)
    response = client.post("/admin/users", data={**NEW_USER, "commune_id": 0})
    assert response.status_code == 400
    assert "A technician must belong to a commune." in response.text
    assert db_session.scalars(select(User).where(User.email == NEW_USER["email"])).first() is None


def test_create_refuses_mismatched_passwords(client, auth, admin, commune):
    auth.login(admin)
    response = client.post(
        "/admin/users", data={**NEW_USER, "commune_id": commune.id, "confirm": "other one!"}
    )
    assert response.status_code == 400
    assert "The passwords differ." in response.text


def test_create_refuses_a_duplicate(client, auth, admin, manager):
    auth.login(admin)
    response = client.post(
        "/admin/users",
        data={**NEW_USER, "email": manager.email, "role": "manager", "commune_id": 0},
    )
    assert response.status_code == 409
    assert "already exists" in response.text


def test_disable_and_enable(client, auth, admin, technician, db_session):
    auth.login(admin)
    client.post(f"/admin/users/{technician.id}/disable")
    db_session.refresh(technician)
    assert not technician.is_active_account
    client.post(f"/admin/users/{technician.id}/enable")
    db_session.refresh(technician)
    assert technician.is_active_account


def test_admin_cannot_disable_themselves(client, auth, admin, db_session):
    auth.login(admin)
    response = client.post(f"/admin/users/{admin.id}/disable", follow_redirects=True)
    assert "You cannot disable your own account." in response.text
    db_session.refresh(admin)
    assert admin.is_active_account


def test_reset_password(client, auth, admin, technician, db_session):
    auth.login(admin)
    client.post(f"/admin/users/{technician.id}/password", data={"password": "fresh password"})
    db_session.refresh(technician)
    assert technician.check_password("fresh password")


def test_reset_password_refuses_short_ones(client, auth, admin, technician, db_session):
    auth.login(admin)
    response = client.post(
        f"/admin/users/{technician.id}/password",
        data={"password": "short"},
        follow_redirects=True,
    )
    assert "at least 8 characters" in response.text
    db_session.refresh(technician)
    assert not technician.check_password("short")


def _csrf_token(page: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page) or re.search(
        r'name="csrf_token" value="([^"]+)"', page
    )
    assert match, "no CSRF token in the page"
    return match.group(1)


def test_csrf_refusal(client, admin, technician, db_session, csrf_enabled):
    login_page = client.get("/login").text
    client.post(
        "/login",
        data={
            "email": admin.email,
            "password": "correct horse battery",
            "csrf_token": _csrf_token(login_page),
        },
    )
    response = client.post(f"/admin/users/{technician.id}/disable")
    assert response.status_code == 400
    assert "did not come from this site" in response.text
    db_session.refresh(technician)
    assert technician.is_active_account
    # The same request with the page's token goes through.
    token = _csrf_token(client.get("/admin/users").text)
    response = client.post(f"/admin/users/{technician.id}/disable", data={"csrf_token": token})
    assert response.status_code == 302
    db_session.refresh(technician)
    assert not technician.is_active_account


def test_login_form_needs_csrf(client, admin, csrf_enabled):
    response = client.post("/login", data={"email": admin.email, "password": "x"})
    assert response.status_code == 400
    assert client.get("/").status_code == 302
