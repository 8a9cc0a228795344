"""The notifications page, the unread badge in the menu, marking read."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from booking.models import Notification, User
from booking.services.notifications import notify


def tell(session: Session, user: User, text: str, **payload: object) -> Notification:
    (note,) = notify(session, [user], "request.approved", lambda: text, payload or None)
    session.commit()
    return note


def badge(html: str) -> str | None:
    found = re.search(r'id="unread-badge"[^>]*>(\d+)', html)
    return found.group(1) if found else None


def csrf_token(html: str) -> str:
    found = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html)
    assert found, "no CSRF token in the page"
    return found.group(1)


def test_the_page_needs_an_account(client):
    response = client.get("/notifications/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_the_page_lists_mine_newest_first_with_unread_highlighted(
    client, auth, db_session, technician, other_technician, make_request, commune
):
    loan = make_request(commune=commune)
    tell(db_session, technician, "Old news")
    tell(db_session, technician, "Fresh news", request_id=loan.id)
    tell(db_session, other_technician, "Not for Melun")
    auth.login(technician)

    html = client.get("/notifications/").get_data(as_text=True)

    assert html.index("Fresh news") < html.index("Old news")
    assert "Not for Melun" not in html
    assert html.count('class="unread"') == 2
    assert f'href="/requests/{loan.id}"' in html
    assert badge(html) == "2"


def test_no_badge_without_unread_notifications(client, auth, db_session, technician):
    auth.login(technician)
    html = client.get("/").get_data(as_text=True)
    assert 'href="/notifications/"' in html
    assert badge(html) is None


def test_the_badge_counts_unread_on_every_page(client, auth, db_session, manager):
    for n in range(3):
        tell(db_session, manager, f"News {n}")
    auth.login(manager)
    assert badge(client.get("/").get_data(as_text=True)) == "3"


def test_marking_one_read_with_csrf(client, auth, db_session, technician, csrf_enabled):
    first = tell(db_session, technician, "First")
    tell(db_session, technician, "Second")
    auth_page = client.get("/login").get_data(as_text=True)
    client.post(
        "/login",
        data={
            "email": technician.email,
            "password": "correct horse battery",
            "csrf_token": csrf_token(auth_page),
        },
    )
    page = client.get("/notifications/").get_data(as_text=True)

    refused = client.post(f"/notifications/{first.id}/read")
    assert refused.status_code == 400
    response = client.post(f"/notifications/{first.id}/read", data={"csrf_token": csrf_token(page)})

    assert response.status_code == 302
    db_session.refresh(first)
    assert first.read_at is not None
    html = client.get("/notifications/").get_data(as_text=True)
    assert html.count('class="unread"') == 1
    assert badge(html) == "1"


def test_marking_all_read(client, auth, db_session, technician, other_technician):
    for n in range(2):
        tell(db_session, technician, f"News {n}")
    theirs = tell(db_session, other_technician, "Theirs")
    auth.login(technician)

    response = client.post("/notifications/read-all", follow_redirects=True)

    html = response.get_data(as_text=True)
    assert "All notifications marked as read." in html
    assert 'class="unread"' not in html and badge(html) is None
    assert "Mark all as read" not in html
    db_session.refresh(theirs)
    assert theirs.read_at is None
    mine = db_session.scalars(select(Notification).where(Notification.user_id == technician.id))
    assert all(n.read_at is not None for n in mine)


@pytest.mark.parametrize("notification_id", ["theirs", 999999])
def test_someone_elses_notification_is_not_found(
    client, auth, db_session, technician, other_technician, notification_id
):
    theirs = tell(db_session, other_technician, "Theirs")
    target = theirs.id if notification_id == "theirs" else notification_id
    auth.login(technician)

    response = client.post(f"/notifications/{target}/read")

    assert response.status_code == 404
    db_session.refresh(theirs)
    assert theirs.read_at is None


def test_an_empty_list_says_so(client, auth, admin):
    auth.login(admin)
    html = client.get("/notifications/").get_data(as_text=True)
    assert "You have no notifications." in html
    assert 'aria-current="page"' in html


def test_an_email_written_during_a_request_links_to_the_request(
    app, client, auth, db_session, technician, manager, make_request, commune
):
    from booking.models import OutboxEmail

    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_DELIVERY="off")
    loan = make_request(commune=commune)
    auth.login(technician)

    response = client.post(f"/requests/{loan.id}/cancel", data={"reason": "Rain"})

    assert response.status_code == 302
    email = db_session.scalars(select(OutboxEmail)).one()
    assert email.to == manager.email
    assert email.subject == "[Prêt Commun] A request was cancelled"
    assert f"http://localhost/requests/{loan.id}" in email.body
