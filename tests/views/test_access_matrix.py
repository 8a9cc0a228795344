"""Who may open what: every role against every page, including other communes' ids.

Extend ``MATRIX`` as pages arrive: a path may name ``{own_commune}``, ``{other_commune}``,
``{own_user}`` (a technician of the signed-in user's commune, or the user) and
``{other_user}`` (the technician of the other commune). Expected codes are per role;
``anonymous`` is a visitor who is not signed in.
"""

from __future__ import annotations

import pytest

ROLES = ("anonymous", "technician", "manager", "admin")

# (method, path, {role: expected status}); 302 for anonymous means "sent to sign in".
MATRIX: list[tuple[str, str, dict[str, int]]] = [
    ("GET", "/", {"anonymous": 302, "technician": 200, "manager": 200, "admin": 302}),
    ("GET", "/login", {"anonymous": 200, "technician": 302, "manager": 302, "admin": 302}),
    ("GET", "/admin/users", {"anonymous": 302, "technician": 403, "manager": 403, "admin": 200}),
    ("POST", "/admin/users", {"anonymous": 302, "technician": 403, "manager": 403, "admin": 400}),
    (
        "POST",
        "/admin/users/{other_user}/disable",
        {"anonymous": 302, "technician": 403, "manager": 403, "admin": 302},
    ),
    (
        "POST",
        "/admin/users/{other_user}/enable",
        {"anonymous": 302, "technician": 403, "manager": 403, "admin": 302},
    ),
    (
        "POST",
        "/admin/users/{other_user}/password",
        {"anonymous": 302, "technician": 403, "manager": 403, "admin": 302},
    ),
    (
        "POST",
        "/admin/users/999999/disable",
        {"anonymous": 302, "technician": 403, "manager": 403, "admin": 404},
    ),
    ("GET", "/no/such/page", {"anonymous": 404, "technician": 404, "manager": 404, "admin": 404}),
]

CASES = [
    pytest.param(method, path, role, expected[role], id=f"{role}-{method}-{path}")
    for method, path, expected in MATRIX
    for role in ROLES
]


@pytest.mark.parametrize(("method", "path", "role", "expected"), CASES)
def test_access(
    client,
    auth,
    technician,
    other_technician,
    manager,
    admin,
    commune,
    other_commune,
    method,
    path,
    role,
    expected,
):
    users = {"technician": technician, "manager": manager, "admin": admin}
    if role != "anonymous":
        assert auth.login(users[role]).status_code == 302
    url = path.format(
        own_commune=commune.id,
        other_commune=other_commune.id,
        own_user=technician.id,
        other_user=other_technician.id,
    )
    response = client.open(url, method=method)
    assert response.status_code == expected, response.text[:500]
    if role == "anonymous" and expected == 302:
        assert response.headers["Location"].startswith("/login")
    if expected == 403:
        # The friendly page, never a trace.
        assert "Access refused" in response.text
        assert "Traceback" not in response.text


def test_technicians_change_nothing_through_admin_urls(
    client, auth, technician, other_technician, db_session
):
    auth.login(technician)
    client.post(f"/admin/users/{other_technician.id}/disable")
    client.post(f"/admin/users/{other_technician.id}/password", data={"password": "taken over!"})
    db_session.refresh(other_technician)
    assert other_technician.is_active_account
    assert not other_technician.check_password("taken over!")
