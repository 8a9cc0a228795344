"""Calendar feeds: the "My calendars" page and the secret-token calendar URLs."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote

from flask import (
    Blueprint,
    Flask,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.blueprints import BlueprintSetupState
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_required
from werkzeug.wrappers import Response
from wtforms import SelectChoice

from booking.db import Database, get_db, get_session, utcnow
from booking.errors import BookingError, NotFound
from booking.forms.common import ActionForm
from booking.forms.feeds import FeedCreateForm, FeedRenameForm
from booking.models import FeedKind
from booking.services import feeds as service
from booking.services.feeds_cache import GENERATION_READER, BodyStore, read_generation
from booking.urls import public_host, public_url_for
from booking.views.helpers import current, flash_error

bp = Blueprint("feeds", __name__, url_prefix="/feeds")

CALENDAR_HEADERS = {
    "Cache-Control": "private, max-age=0, must-revalidate",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
    "X-Content-Type-Options": "nosniff",
}
KIND_LABELS = {
    FeedKind.COMMUNE: _l("Commune"),
    FeedKind.UNIT: _l("Unit"),
    FeedKind.TYPE: _l("Equipment type"),
    FeedKind.ROUND: _l("Delivery and collection round"),
    FeedKind.MANAGER: _l("Whole schedule"),
    FeedKind.TRUCK: _l("Truck"),
}
# Secrets in URLs end up in access logs unless removed before the line is written.
TOKEN_IN_PATH = re.compile(r"(/feeds/)[A-Za-z0-9_-]{16,}")
RATE_VERDICT = "booking.feeds.retry_after"
FEED_PATH = re.compile(r"/feeds/([A-Za-z0-9_-]{1,100})\.ics")


# --- logs -----------------------------------------------------------------------------------


class TokenRedactor(logging.Filter):
    """Replace feed tokens in log lines (werkzeug's and gunicorn's request logs) by a mark."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "/feeds/" in message:
            redacted = TOKEN_IN_PATH.sub(r"\1[redacted]", message)
            if redacted != message:
                record.msg, record.args = redacted, None
        return True


REDACTOR = TokenRedactor()
LOGGERS = ("werkzeug", "gunicorn.access", "gunicorn.error")


def install_log_filter() -> None:
    """Attach :data:`REDACTOR` to the request loggers (once)."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if REDACTOR not in logger.filters:
            logger.addFilter(REDACTOR)


@bp.record_once
def _on_register(state: BlueprintSetupState) -> None:
    install_log_filter()
    app = cast(Flask, state.app)  # typed as Flask's base App; blueprints register on a Flask
    app.wsgi_app = ConditionalPolls(app.wsgi_app, app)  # type: ignore[method-assign]


# --- rate limit -----------------------------------------------------------------------------


class RateLimiter:
    """At most ``limit`` hits per ``period`` seconds per key, in this process's memory.

    Calendar apps poll every few minutes at most; a token polled many times a second is a
    leaked link or a broken client, and each poll may cost a database read.
    """

    def __init__(self, limit: int, period: float) -> None:
        self.limit, self.period = limit, period
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, key: str, now: float | None = None) -> int:
        """Record a hit; 0 if allowed, else seconds to wait."""
        now = time.monotonic() if now is None else now
        with self._lock:
            if len(self._hits) > 10_000:
                self._hits.clear()
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - self.period:
                hits.popleft()
            if len(hits) >= self.limit:
                return max(1, int(hits[0] + self.period - now + 0.999))
            hits.append(now)
            return 0


def _store(app: Flask) -> BodyStore:
    store: BodyStore | None = app.extensions.get("feeds_body_store")
    if store is None:
        folder = app.config.get("FEED_CACHE_DIR") or Path(app.instance_path) / "feed-cache"
        store = app.extensions["feeds_body_store"] = BodyStore(Path(folder))
    return store


def _limiter(app: Flask) -> RateLimiter:
    limiter: RateLimiter | None = app.extensions.get("feeds_rate_limiter")
    if limiter is None:
        limit, period = app.config.get("FEED_RATE_LIMIT", (60, 60))
        limiter = app.extensions["feeds_rate_limiter"] = RateLimiter(int(limit), float(period))
    return limiter


# --- the calendar URL -----------------------------------------------------------------------


def _plain(status: int, text: str) -> Response:
    response = Response(text + "\n", status=status, mimetype="text/plain")
    response.headers.update(CALENDAR_HEADERS)
    return response


def _request_url() -> str:
    """The request page with ``{id}`` for the request id."""
    marker = 987654321
    url = public_url_for("requests.detail", request_id=marker)
    return url.replace(str(marker), "{id}")


def client_has(
    etag: str, last_modified: datetime, if_none_match: str | None, if_modified_since: str | None
) -> bool:
    """Whether the client's copy is current: RFC 9110 13.2.2, If-None-Match first."""
    if if_none_match is not None:
        if if_none_match.strip() == "*":
            return True
        # Weak comparison, as If-None-Match requires.
        wanted = etag.removeprefix("W/")
        return any(tag.strip().removeprefix("W/") == wanted for tag in if_none_match.split(","))
    if if_modified_since:
        try:
            parsed = parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError):
            return False
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return last_modified.replace(microsecond=0) <= parsed
    return False


def _is_current(etag: str, last_modified: datetime) -> bool:
    return client_has(
        etag,
        last_modified,
        request.headers.get("If-None-Match"),
        request.headers.get("If-Modified-Since"),
    )


def validator_headers(result: service.FeedResult) -> list[tuple[str, str]]:
    """ETag, Last-Modified and the privacy headers of every calendar answer."""
    return [
        ("ETag", result.etag),
        ("Last-Modified", format_datetime(result.last_modified.astimezone(UTC), usegmt=True)),
        *CALENDAR_HEADERS.items(),
    ]


class ConditionalPolls:
    """WSGI middleware answering 304 to conditional polls whose validators still hold.

    Nearly every request to a feed is a calendar app asking whether it changed. Those are
    answered here, before the cookie session, CSRF and language selection that every
    Flask request pays for, with the same checks as the view: rate limit, then the
    validators remembered for the token (:func:`booking.services.feeds.peek_feed`, one read
    of the feed generation). Anything else goes on to Flask.
    """

    def __init__(self, wsgi_app: Any, app: Flask) -> None:
        self.wsgi_app = wsgi_app
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
            if_none_match = environ.get("HTTP_IF_NONE_MATCH")
            if_modified_since = environ.get("HTTP_IF_MODIFIED_SINCE")
            match = FEED_PATH.fullmatch(environ.get("PATH_INFO", ""))
            if match and (if_none_match or if_modified_since):
                token = match.group(1)
                wait = _limiter(self.app).retry_after(service.hash_token(token))
                # Counted once: the view reads the verdict instead of counting again.
                environ[RATE_VERDICT] = wait
                known = None if wait else self._known(token)
                if known is not None and client_has(
                    known.etag, known.last_modified, if_none_match, if_modified_since
                ):
                    start_response("304 NOT MODIFIED", validator_headers(known))
                    return []
        return self.wsgi_app(environ, start_response)

    def _known(self, token: str) -> service.FeedResult | None:
        database = get_db(self.app)
        try:
            return service.peek_feed(_reader(database), token, now=utcnow())
        except Exception:
            # Any trouble here: let the full path answer (and log) it.
            logging.getLogger(__name__).exception("feed fast path failed")
            return None


def _reader(database: Database) -> Callable[[], int]:
    override = database.override
    if override is not None:
        # Tests: the generation lives in the test's own, never committed, transaction.
        return lambda: read_generation(override.connection())
    return lambda: GENERATION_READER.read(database.engine)


@bp.route("/<token>.ics", methods=["GET", "HEAD"])
def calendar(token: str) -> Response:
    """A calendar for subscribers; the token in the URL is the only credential."""
    wait = request.environ.get(RATE_VERDICT)
    if wait is None:
        wait = _limiter(current_app).retry_after(service.hash_token(token))
    if wait:
        response = _plain(429, "Too many requests for this calendar; try again later.")
        response.headers["Retry-After"] = str(wait)
        return response
    now = utcnow()
    known = service.peek_feed(_reader(get_db()), token, now=now)
    if known is not None and _is_current(known.etag, known.last_modified):
        return _not_modified(known)
    uid_domain = current_app.config.get("FEED_UID_DOMAIN") or public_host()
    try:
        result = service.read_feed(
            get_session(),
            token,
            now=now,
            domain=uid_domain,
            request_url=_request_url(),
            is_current=_is_current,
            store=_store(current_app),
        )
    except NotFound:
        return _plain(404, "Not found.")
    if result.body is None or _is_current(result.etag, result.last_modified):
        return _not_modified(result)
    response = Response(result.body, status=200, content_type="text/calendar; charset=utf-8")
    response.headers["Content-Disposition"] = 'inline; filename="calendar.ics"'
    return _with_validators(response, result)


def _not_modified(result: service.FeedResult) -> Response:
    return _with_validators(Response(status=304), result)


def _with_validators(response: Response, result: service.FeedResult) -> Response:
    for name, value in validator_headers(result):
        response.headers[name] = value
    return response


# --- the "My calendars" page ----------------------------------------------------------------


def feed_links(token: str) -> dict[str, str]:
    """The https, webcal and Google Calendar links of a token."""
    url = public_url_for("feeds.calendar", token=token)
    scheme = current_app.config.get("FEED_URL_SCHEME")
    if scheme:
        url = f"{scheme}://" + url.split("://", 1)[1]
    webcal = "webcal://" + url.split("://", 1)[1]
    google = "https://calendar.google.com/calendar/render?cid=" + quote(webcal, safe="")
    return {"https": url, "webcal": webcal, "google": google}


@bp.route("/")
@login_required
def index() -> Response:
    """The user's calendars, the links of a new one, and how to subscribe."""
    response = Response(_index_page(), mimetype="text/html")
    # The page may show a secret link: keep it out of caches and Referer headers.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _index_page() -> str:
    db, user = get_session(), current()
    form = FeedCreateForm()
    choices = service.feed_choices(db, by=user)
    form.what.choices = [SelectChoice(c.value, f"{c.group} · {c.label}") for c in choices]
    feeds = service.list_feeds(db, by=user)
    fresh = session.pop("feed_new", None)
    links = None
    if isinstance(fresh, dict) and "token" in fresh:
        links = {"id": fresh.get("id"), **feed_links(str(fresh["token"]))}
    return render_template(
        "feeds/index.html",
        feeds=feeds,
        subjects=service.feed_subjects(db, feeds),
        form=form,
        rename_form=FeedRenameForm(),
        action_form=ActionForm(),
        links=links,
        kind_labels=KIND_LABELS,
    )


def _show_once(feed_id: int, token: str) -> None:
    # Only the hash is stored: this is the one moment the link can be shown.
    session["feed_new"] = {"id": feed_id, "token": token}


@bp.route("/", methods=["POST"])
@login_required
def create() -> Response:
    """Make a new calendar link."""
    db, user = get_session(), current()
    form = FeedCreateForm()
    form.what.choices = [SelectChoice(c.value, c.label) for c in service.feed_choices(db, by=user)]
    # A technician's list lacks other communes: say "not allowed" rather than "not a choice".
    form.what.validate_choice = False
    if not form.validate_on_submit():
        for errors in form.errors.values():
            for message in errors:
                flash(message, "error")
        return redirect(url_for("feeds.index"))
    try:
        kind, target_id = service.parse_choice(form.what.data or "")
        feed, token = service.create_feed(
            db, by=user, kind=kind, target_id=target_id, name=form.name.data or ""
        )
    except BookingError as error:
        flash_error(error)
        return Response(_index_page(), status=error.status_code, mimetype="text/html")
    _show_once(feed.id, token)
    flash(_("Calendar link created: copy it now, it is shown only once."), "success")
    return redirect(url_for("feeds.index"))


@bp.route("/<int:feed_id>/rename", methods=["POST"])
@login_required
def rename(feed_id: int) -> Response:
    """Rename a calendar."""
    form = FeedRenameForm()
    if not form.validate_on_submit():
        flash(_("Give the calendar a name."), "error")
        return redirect(url_for("feeds.index"))
    try:
        service.rename_feed(get_session(), feed_id, by=current(), name=form.name.data or "")
    except BookingError as error:
        flash_error(error)
    else:
        flash(_("Calendar renamed."), "success")
    return redirect(url_for("feeds.index"))


@bp.route("/<int:feed_id>/revoke", methods=["POST"])
@login_required
def revoke(feed_id: int) -> Response:
    """Revoke a calendar link."""
    if not ActionForm().validate_on_submit():
        flash(_("The form has expired; try again."), "error")
        return redirect(url_for("feeds.index"))
    try:
        service.revoke_feed(get_session(), feed_id, by=current())
    except BookingError as error:
        flash_error(error)
    else:
        flash(_("Calendar link revoked: it no longer works."), "success")
    return redirect(url_for("feeds.index"))


@bp.route("/<int:feed_id>/regenerate", methods=["POST"])
@login_required
def regenerate(feed_id: int) -> Response:
    """Replace a calendar's link by a new one."""
    if not ActionForm().validate_on_submit():
        flash(_("The form has expired; try again."), "error")
        return redirect(url_for("feeds.index"))
    try:
        feed, token = service.regenerate_feed(get_session(), feed_id, by=current())
    except BookingError as error:
        flash_error(error)
        return redirect(url_for("feeds.index"))
    _show_once(feed.id, token)
    flash(_("New link created: the old one no longer works."), "success")
    return redirect(url_for("feeds.index"))
