"""Who may open what: every role against every page, including other communes' ids.

Extend ``MATRIX`` as pages arrive: a path may name ``{own_commune}``, ``{other_commune}``,
``{own_user}`` (the technician of ``commune``), ``{other_user}`` (the technician of the
other commune), ``{own_request}`` and ``{other_request}`` (a request of each commune).
Technicians get 404 for another commune's objects: their existence is not revealed.
Expected codes are per role; ``anonymous`` is a visitor who is not signed in.
"""

from __future__ import annotations

import pytest

from booking.models import RequestStatus

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
    # Requests: technicians see their commune's only.
    ("GET", "/requests/", {"anonymous": 302, "technician": 200, "manager": 200, "admin": 200}),
    ("GET", "/requests/new", {"anonymous": 302, "technician": 200, "manager": 200, "admin": 200}),
    (
        "GET",
        "/requests/{own_request}",
        {"anonymous": 302, "technician": 200, "manager": 200, "admin": 200},
    ),
    (
        "GET",
        "/requests/{other_request}",
        {"anonymous": 302, "technician": 404, "manager": 200, "admin": 200},
    ),
    (
        "GET",
        "/requests/{own_request}/edit",
        {"anonymous": 302, "technician": 200, "manager": 200, "admin": 200},
    ),
    (
        "GET",
        "/requests/{other_request}/edit",
        {"anonymous": 302, "technician": 404, "manager": 200, "admin": 200},
    ),
    (
        "POST",
        "/requests/{other_request}/cancel",
        {"anonymous": 302, "technician": 404, "manager": 302, "admin": 302},
    ),
    # Planning and inventory are for staff.
    ("GET", "/planning/", {"anonymous": 302, "technician": 403, "manager": 200, "admin": 200}),
    ("POST", "/planning/run", {"anonymous": 302, "technician": 403, "manager": 302, "admin": 302}),
    (
        "POST",
        "/planning/requests/{other_request}/decline",
        {"anonymous": 302, "technician": 403, "manager": 302, "admin": 302},
    ),
    ("GET", "/inventory/", {"anonymous": 302, "technician": 403, "manager": 200, "admin": 200}),
    (
        "GET",
        "/inventory/units",
        {"anonymous": 302, "technician": 403, "manager": 200, "admin": 200},
    ),
    (
        "GET",
        "/inventory/export/units.csv",
        {"anonymous": 302, "technician": 403, "manager": 200, "admin": 200},
    ),
    # Trucks and their rounds are for staff.
    (
        "GET",
        "/inventory/trucks",
        {"anonymous": 302, "technician": 403, "manager": 200, "admin": 200},
    ),
    ("GET", "/rounds/", {"anonymous": 302, "technician": 403, "manager": 302, "admin": 302}),
    (
        "GET",
        "/rounds/2030-06-04",
        {"anonymous": 302, "technician": 403, "manager": 200, "admin": 200},
    ),
    (
        "GET",
        "/rounds/2030-06-04/sheet",
        {"anonymous": 302, "technician": 403, "manager": 200, "admin": 200},
    ),
    (
        "POST",
        "/rounds/2030-06-04/recompute",
        {"anonymous": 302, "technician": 403, "manager": 302, "admin": 302},
    ),
    # Calendar subscriptions: every signed-in user has their own; bad tokens reveal nothing.
    ("GET", "/feeds/", {"anonymous": 302, "technician": 200, "manager": 200, "admin": 200}),
    (
        "GET",
        "/feeds/not-a-token.ics",
        {"anonymous": 404, "technician": 404, "manager": 404, "admin": 404},
    ),
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
    make_request,
    method,
    path,
    role,
    expected,
):
    own_request = make_request(commune=commune)
    other_request = make_request(commune=other_commune)
    users = {"technician": technician, "manager": manager, "admin": admin}
    if role != "anonymous":
        assert auth.login(users[role]).status_code == 302
    url = path.format(
        own_commune=commune.id,
        other_commune=other_commune.id,
        own_user=technician.id,
        other_user=other_technician.id,
        own_request=own_request.id,
        other_request=other_request.id,
    )
    response = client.open(url, method=method)
    assert response.status_code == expected, response.text[:500]
    if role == "anonymous" and expected == 302:
        assert response.headers["Location"].startswith("/login")
    if expected == 403 and "text/html" in response.content_type:
        # The friendly page, never a trace.
        assert "Access refused" in response.text
        assert "Traceback" not in response.text


def test_technicians_change_nothing_of_others(
    client, auth, technician, other_technician, other_commune, make_request, db_session
):
    theirs = make_request(commune=other_commune)
    auth.login(technician)
    client.post(f"/admin/users/{other_technician.id}/disable")
    client.post(f"/admin/users/{other_technician.id}/password", data={"password": "taken over!"})
    client.post(f"/requests/{theirs.id}/cancel")
    client.post(f"/requests/{theirs.id}/edit", data={"notes": "mine now"})
    client.post(f"/planning/requests/{theirs.id}/decline", data={"reason": "no"})
    db_session.refresh(other_technician)
    db_session.refresh(theirs)
    assert other_technician.is_active_account
    assert not other_technician.check_password("taken over!")
    assert theirs.status is RequestStatus.SUBMITTED
    assert theirs.notes is None
    assert theirs.version == 1
