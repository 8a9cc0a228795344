"""The calendar URL over HTTP, and the "My calendars" page."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from email.utils import format_datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.serving import WSGIRequestHandler

from booking.models import Commune, FeedKind, FeedToken, Role, Unit, User
from booking.services import feeds
from booking.services.feeds_cache import BODY_CACHE
from booking.views.feeds import RateLimiter
from tests.conftest import DEFAULT_PASSWORD
from tests.services.test_feeds import (
    _empty_caches,  # noqa: F401  (autouse fixture)
    approved_plan,  # noqa: F401
    depot,  # noqa: F401
    make_loan,  # noqa: F401
    minibus,  # noqa: F401
    minibus_type,  # noqa: F401
)


@pytest.fixture
def feed_url(
    db_session: Session,
    manager: User,
    commune: Commune,
    minibus: Unit,  # noqa: F811
    make_loan: Callable[..., Any],  # noqa: F811
) -> str:
    make_loan(commune, minibus)
    _feed, token = feeds.create_feed(
        db_session, by=manager, kind=FeedKind.MANAGER, target_id=None, name="Tout"
    )
    return f"/feeds/{token}.ics"


def test_calendar_response_headers(client: FlaskClient, feed_url: str) -> None:
    response = client.get(feed_url)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert response.data.startswith(b"BEGIN:VCALENDAR\r\n")
    # Each event links to the request's page in the application.
    assert re.search(rb"\r\nURL:http://localhost/requests/\d+\r\n", response.data)
    assert re.fullmatch(r'"[0-9a-f]{40}"', response.headers["ETag"])
    assert response.headers["Last-Modified"].endswith(" GMT")
    assert "private" in response.headers["Cache-Control"]
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "noindex" in response.headers["X-Robots-Tag"]


def test_unchanged_feed_is_identical_and_answered_304(client: FlaskClient, feed_url: str) -> None:
    first = client.get(feed_url)
    second = client.get(feed_url)
    assert second.data == first.data
    assert second.headers["ETag"] == first.headers["ETag"]
    assert second.headers["Last-Modified"] == first.headers["Last-Modified"]

    by_etag = client.get(feed_url, headers={"If-None-Match": first.headers["ETag"]})
    assert by_etag.status_code == 304
    assert by_etag.data == b""
    assert by_etag.headers["ETag"] == first.headers["ETag"]

    by_date = client.get(feed_url, headers={"If-Modified-Since": first.headers["Last-Modified"]})
    assert by_date.status_code == 304
    assert by_date.data == b""

    # ETag first: a stale ETag wins over a current date.
    stale = client.get(
        feed_url,
        headers={
            "If-None-Match": '"0000"',
            "If-Modified-Since": first.headers["Last-Modified"],
        },
    )
    assert stale.status_code == 200
    assert stale.data == first.data


def test_a_change_gives_a_new_etag_and_a_later_last_modified(
    client: FlaskClient, feed_url: str, db_session: Session, commune: Commune
) -> None:
    first = client.get(feed_url)
    commune.name = "Melun-sur-Seine"
    db_session.commit()
    again = client.get(feed_url, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 200
    assert b"Melun-sur-Seine" in again.data
    assert again.headers["ETag"] != first.headers["ETag"]
    old_date = first.headers["Last-Modified"]
    assert client.get(feed_url, headers={"If-Modified-Since": old_date}).status_code == 200


def test_head_gives_the_headers_without_the_body(client: FlaskClient, feed_url: str) -> None:
    full = client.get(feed_url)
    head = client.head(feed_url)
    assert head.status_code == 200
    assert head.data == b""
    assert head.headers["ETag"] == full.headers["ETag"]
    assert head.headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert client.head(feed_url, headers={"If-None-Match": full.headers["ETag"]}).status_code == 304


def test_unknown_revoked_and_disabled_tokens_all_get_the_same_404(
    client: FlaskClient, feed_url: str, db_session: Session, manager: User
) -> None:
    unknown = client.get(f"/feeds/{feeds.new_token()}.ics")
    assert unknown.status_code == 404
    assert client.get(feed_url).status_code == 200
    manager.is_active_account = False
    db_session.commit()
    disabled = client.get(feed_url)
    manager.is_active_account = True
    db_session.commit()
    feed = db_session.scalars(select(FeedToken)).one()
    feeds.revoke_feed(db_session, feed.id, by=manager)
    revoked = client.get(feed_url)
    for response in (disabled, revoked):
        assert response.status_code == 404
        assert response.data == unknown.data
        assert response.headers["Content-Type"] == unknown.headers["Content-Type"]
        assert "ETag" not in response.headers


def test_polling_too_fast_gets_429(app: Flask, client: FlaskClient, feed_url: str) -> None:
    app.extensions["feeds_rate_limiter"] = RateLimiter(limit=3, period=60)
    assert [client.get(feed_url).status_code for _ in range(3)] == [200, 200, 200]
    refused = client.get(feed_url)
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) >= 1
    # Another token is counted apart.
    assert client.get(f"/feeds/{feeds.new_token()}.ics").status_code == 404


def test_rate_limiter_forgets_old_hits() -> None:
    limiter = RateLimiter(limit=2, period=10)
    assert limiter.retry_after("k", now=0) == 0
    assert limiter.retry_after("k", now=1) == 0
    assert limiter.retry_after("k", now=2) == 8
    assert limiter.retry_after("k", now=10.5) == 0


def test_tokens_never_reach_the_request_log(
    app: Flask, feed_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """werkzeug's own request logging, as the development server writes it."""
    token = feed_url.removeprefix("/feeds/").removesuffix(".ics")
    handler = WSGIRequestHandler.__new__(WSGIRequestHandler)
    handler.command, handler.path, handler.request_version = "GET", feed_url, "HTTP/1.1"
    handler.requestline = f"GET {feed_url} HTTP/1.1"
    handler.client_address = ("127.0.0.1", 50000)
    with caplog.at_level(logging.INFO, logger="werkzeug"):
        handler.log_request(200, 1234)
        logging.getLogger("gunicorn.access").warning('"GET %s HTTP/1.1" 304 0', feed_url)
    assert "/feeds/[redacted].ics" in caplog.text
    assert token not in caplog.text
    assert all(token not in record.getMessage() for record in caplog.records)


# --- the page -------------------------------------------------------------------------------


def test_page_lists_choices_for_a_technician(
    client: FlaskClient,
    auth: Any,
    technician: User,
    commune: Commune,
    other_commune: Commune,
    minibus: Unit,  # noqa: F811
) -> None:
    auth.login(technician)
    page = client.get("/feeds/")
    assert page.status_code == 200
    text = page.text
    assert f'value="commune:{commune.id}"' in text
    assert f'value="commune:{other_commune.id}"' not in text
    assert f'value="unit:{minibus.id}"' in text
    assert 'value="round"' not in text and 'value="manager"' not in text
    assert "Outlook" in text and "Thunderbird" in text and "Google" in text


def test_creating_shows_the_links_once(
    client: FlaskClient, auth: Any, technician: User, commune: Commune, db_session: Session
) -> None:
    auth.login(technician)
    response = client.post("/feeds/", data={"what": f"commune:{commune.id}", "name": "Melun"})
    assert response.status_code == 302
    page = client.get("/feeds/").text
    match = re.search(r"webcal://[^\"]*/feeds/([A-Za-z0-9_-]{43})\.ics", page)
    assert match is not None
    token = match.group(1)
    assert "https://calendar.google.com/calendar/render?cid=webcal%3A%2F%2F" in page
    assert f"%2Ffeeds%2F{token}.ics" in page
    assert f"/feeds/{token}.ics" in page
    feed = db_session.scalars(select(FeedToken)).one()
    assert feed.token_hash == feeds.hash_token(token)
    assert client.get(f"/feeds/{token}.ics").status_code == 200
    # Shown once: the next visit no longer has it.
    assert token not in client.get("/feeds/").text


def test_technician_cannot_create_a_feed_of_another_commune(
    client: FlaskClient, auth: Any, technician: User, other_commune: Commune, db_session: Session
) -> None:
    auth.login(technician)
    for what in (f"commune:{other_commune.id}", "round", "manager"):
        response = client.post("/feeds/", data={"what": what, "name": "Nope"})
        assert response.status_code == 403
    assert db_session.scalars(select(FeedToken)).all() == []


def test_rename_regenerate_and_revoke_from_the_page(
    client: FlaskClient, auth: Any, technician: User, commune: Commune, db_session: Session
) -> None:
    feed, token = feeds.create_feed(
        db_session, by=technician, kind=FeedKind.COMMUNE, target_id=commune.id, name="A"
    )
    auth.login(technician)
    assert client.post(f"/feeds/{feed.id}/rename", data={"name": "Mairie"}).status_code == 302
    assert feed.name == "Mairie"
    assert "Commune · Melun" in client.get("/feeds/").text
    assert client.post(f"/feeds/{feed.id}/regenerate").status_code == 302
    assert client.get(f"/feeds/{token}.ics").status_code == 404
    new = re.search(r"/feeds/([A-Za-z0-9_-]{43})\.ics", client.get("/feeds/").text)
    assert new is not None
    assert client.get(f"/feeds/{new.group(1)}.ics").status_code == 200
    assert client.post(f"/feeds/{feed.id}/revoke").status_code == 302
    assert client.get(f"/feeds/{new.group(1)}.ics").status_code == 404
    assert "Mairie" not in client.get("/feeds/").text


@pytest.mark.usefixtures("csrf_enabled")
@pytest.mark.parametrize(
    "path", ["/feeds/", "/feeds/1/rename", "/feeds/1/revoke", "/feeds/1/regenerate"]
)
def test_forms_need_the_csrf_token(
    client: FlaskClient,
    auth: Any,
    technician: User,
    commune: Commune,
    db_session: Session,
    path: str,
) -> None:
    feed, _token = feeds.create_feed(
        db_session, by=technician, kind=FeedKind.COMMUNE, target_id=commune.id, name="A"
    )
    page = client.get("/login").text
    csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page) or re.search(
        r'name="csrf_token" value="([^"]+)"', page
    )
    assert csrf is not None
    client.post(
        "/login",
        data={
            "email": technician.email,
            "password": "correct horse battery",
            "csrf_token": csrf.group(1),
        },
    )
    response = client.post(
        path.replace("/1/", f"/{feed.id}/"), data={"name": "B", "what": f"commune:{commune.id}"}
    )
    assert response.status_code == 400
    assert feed.name == "A" and feed.revoked_at is None
    assert len(feeds.list_feeds(db_session, by=technician)) == 1


def test_the_page_needs_a_sign_in(client: FlaskClient) -> None:
    response = client.get("/feeds/")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_last_modified_header_matches_the_watermark(
    client: FlaskClient, feed_url: str, db_session: Session
) -> None:
    from booking.models.feeds import FeedWatermark

    response = client.get(feed_url)
    mark = db_session.scalars(select(FeedWatermark)).one()
    assert response.headers["Last-Modified"] == format_datetime(mark.last_modified, usegmt=True)
    assert response.headers["ETag"] == mark.etag


@pytest.mark.parametrize("change", ["revoke", "regenerate", "disable", "demote"])
def test_a_remembered_etag_never_outlives_the_token(
    client: FlaskClient, feed_url: str, db_session: Session, manager: User, change: str
) -> None:
    etag = client.get(feed_url).headers["ETag"]
    assert client.get(feed_url, headers={"If-None-Match": etag}).status_code == 304
    feed = db_session.scalars(select(FeedToken)).one()
    if change == "revoke":
        feeds.revoke_feed(db_session, feed.id, by=manager)
    elif change == "regenerate":
        feeds.regenerate_feed(db_session, feed.id, by=manager)
    elif change == "disable":
        manager.is_active_account = False
        db_session.commit()
    else:
        manager.role = Role.TECHNICIAN
        db_session.commit()
    assert client.get(feed_url, headers={"If-None-Match": etag}).status_code == 404


def test_conditional_polls_are_answered_before_flask_and_still_rate_limited(
    app: Flask, client: FlaskClient, feed_url: str, db_session: Session, commune: Commune
) -> None:
    etag = client.get(feed_url).headers["ETag"]

    def view_must_not_run(**_kwargs: Any) -> None:
        raise AssertionError("the view ran")

    full_view = app.view_functions["feeds.calendar"]
    app.view_functions["feeds.calendar"] = view_must_not_run
    fast = client.get(feed_url, headers={"If-None-Match": etag})
    assert fast.status_code == 304
    assert fast.headers["ETag"] == etag
    assert fast.headers["Referrer-Policy"] == "no-referrer"
    assert "Set-Cookie" not in fast.headers
    app.view_functions["feeds.calendar"] = full_view
    # A change ends the shortcut: the view answers with the new body.
    commune.name = "Melun centre"
    db_session.commit()
    changed = client.get(feed_url, headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert b"Melun centre" in changed.data

    app.extensions["feeds_rate_limiter"] = RateLimiter(limit=2, period=60)
    new_etag = changed.headers["ETag"]
    codes = [
        client.get(feed_url, headers={"If-None-Match": new_etag}).status_code for _ in range(3)
    ]
    assert codes == [304, 304, 429]


def test_another_process_serves_the_stored_body_without_rebuilding(
    client: FlaskClient, feed_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = client.get(feed_url)
    BODY_CACHE.clear()  # as in a worker process that never built this feed

    def no_build(*_args: Any, **_kwargs: Any) -> None:
        raise AssertionError("the feed was rebuilt")

    monkeypatch.setattr(feeds, "_build", no_build)
    again = client.get(feed_url)
    assert again.status_code == 200
    assert again.data == first.data
    assert again.headers["ETag"] == first.headers["ETag"]


def test_links_use_the_public_base_url_whatever_the_host_and_the_page_is_not_cached(
    app: Flask, client: FlaskClient, technician: User, commune: Commune
) -> None:
    app.config["PUBLIC_BASE_URL"] = "https://pret.agglo.example"
    # A crafted Host header never makes its way into the links.
    host = {"base_url": "http://evil.example"}
    client.post("/login", data={"email": technician.email, "password": DEFAULT_PASSWORD}, **host)
    client.post("/feeds/", data={"what": f"commune:{commune.id}", "name": "Melun"}, **host)
    page = client.get("/feeds/", **host)
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert 'value="https://pret.agglo.example/feeds/' in page.text
    assert 'href="webcal://pret.agglo.example/feeds/' in page.text
    assert "evil.example" not in page.text
