"""Calendar feeds: secret-token subscriptions and the calendars behind them.

Feeds: one commune's loans, one unit's (for its keeper), one equipment type's, the
delivery and collection round (for the drivers), and the manager's whole schedule. A
technician may subscribe to their own commune, and to units and types (seeing only their
commune's loans in them); the round and the manager feed are for staff. Staff feeds show
proposed loans as TENTATIVE; others never do.

Tokens are ``secrets.token_urlsafe(32)`` and only their SHA-256 is stored: the link is
shown once, when it is made or regenerated. An unknown or revoked token, a disabled owner,
or an owner whose role no longer allows the feed all look the same: NotFound.

Caching, and why this way: building and serialising events with ``icalendar`` costs about
0.4 ms each, so 5,000 events would take 2 s at every poll. Three layers keep polls cheap:

1. The watermark row of a token (:class:`FeedWatermark`) records the ETag and
   Last-Modified of the body built for a given feed generation and UTC day. The
   generation (``feeds_cache``) rises in the same transaction as any change a calendar
   can show, and with any change to tokens and accounts. Each process remembers the
   validators of the tokens it checked, so "nothing changed" costs one read of the
   generation and no body at all (:func:`peek_feed`): that is the 304 path, answered
   before Flask's session and CSRF machinery (``booking.views.feeds.ConditionalPolls``).
2. Whole bodies are kept in memory per token, generation and day, and on disk (instance
   folder) under their ETag: an unchanged feed is sent without being rebuilt, by every
   worker process, including those that never built it.
3. When something changed, the events are read again (six queries) but each VEVENT's
   text comes from a cache keyed by everything it contains, so only the changed loans go
   through ``icalendar``.

Keying by content (not by loan id and sequence) means a renamed unit or site can never
serve stale text; keying bodies by generation means a change is visible at the next poll.
Last-Modified never goes backwards: when the body changes it becomes the latest of the
events' last change and one second after the previous Last-Modified, which also covers
loans deleted or leaving the window.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from booking.db import utcnow
from booking.errors import Forbidden, NotFound, ValidationError
from booking.models import Commune, EquipmentType, FeedKind, FeedToken, Role, Truck, Unit, User
from booking.models.feeds import FeedWatermark
from booking.services.access import STAFF_ROLES, require_role
from booking.services.audit import record_event
from booking.services.concurrency import conflict_on_concurrent_write
from booking.services.feeds_cache import (
    BODY_CACHE,
    VALIDATORS,
    BodyStore,
    current_generation,
)
from booking.services.feeds_data import COMMUNE_AUDIENCE, STAFF, FeedScope, collect_events
from booking.services.feeds_ical import Labels, render_calendar

TOKEN_BYTES = 32
NAME_MAX = 120
# Recording last use at every poll would turn reads into writes.
LAST_USED_GRANULARITY = timedelta(hours=1)
STAFF_ONLY_KINDS = frozenset({FeedKind.ROUND, FeedKind.MANAGER, FeedKind.TRUCK})


def hash_token(token: str) -> str:
    """The stored form of a token: hex SHA-256."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    """A fresh secret: 32 random bytes, URL-safe (43 characters)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


# --- who may subscribe to what --------------------------------------------------------------


def may_subscribe(user: User, kind: FeedKind, target_id: int | None) -> bool:
    """Whether ``user``'s role allows a feed of ``kind`` on ``target_id`` (existence aside)."""
    if not user.is_active:
        return False
    if user.role in STAFF_ROLES:
        return True
    if user.role is not Role.TECHNICIAN or user.commune_id is None:
        return False
    if kind is FeedKind.COMMUNE:
        return target_id == user.commune_id
    return kind in (FeedKind.UNIT, FeedKind.TYPE)


def scope_for(user: User, kind: FeedKind, target_id: int | None) -> FeedScope:
    """What a feed of ``user`` shows: staff see everything, technicians their commune."""
    staff = user.role in STAFF_ROLES
    return FeedScope(
        kind=kind,
        target_id=target_id,
        audience=STAFF if staff else COMMUNE_AUDIENCE,
        commune_id=None if staff else user.commune_id,
    )


def _target_name(session: Session, kind: FeedKind, target_id: int | None) -> str | None:
    """The name of the feed's commune, unit, type or truck; None when it does not exist."""
    if kind not in (FeedKind.COMMUNE, FeedKind.UNIT, FeedKind.TYPE, FeedKind.TRUCK):
        return "" if target_id is None else None
    if target_id is None:
        return None
    obj: Commune | Unit | EquipmentType | Truck | None
    if kind is FeedKind.COMMUNE:
        obj = session.get(Commune, target_id)
    elif kind is FeedKind.UNIT:
        obj = session.get(Unit, target_id)
    elif kind is FeedKind.TRUCK:
        obj = session.get(Truck, target_id)
    else:
        obj = session.get(EquipmentType, target_id)
    return None if obj is None else obj.name


@dataclass(frozen=True)
class FeedChoice:
    """One feed a user may make: ``value`` is "kind" or "kind:target_id"."""

    value: str
    label: str
    group: str


def feed_choices(session: Session, *, by: User) -> list[FeedChoice]:
    """Every feed ``by`` may subscribe to, grouped for a select list.

    Raises:
        Forbidden: if the user is not signed in or is disabled.
    """
    require_role(by)
    choices: list[FeedChoice] = []
    communes = session.scalars(select(Commune).order_by(Commune.name)).all()
    for commune in communes:
        if may_subscribe(by, FeedKind.COMMUNE, commune.id):
            choices.append(FeedChoice(f"commune:{commune.id}", commune.name, _("Commune")))
    for unit in session.scalars(select(Unit).order_by(Unit.name)):
        choices.append(FeedChoice(f"unit:{unit.id}", f"{unit.name} ({unit.code})", _("Unit")))
    for etype in session.scalars(select(EquipmentType).order_by(EquipmentType.name)):
        choices.append(FeedChoice(f"type:{etype.id}", etype.name, _("Equipment type")))
    if by.role in STAFF_ROLES:
        choices.append(FeedChoice("round", _("Delivery and collection round"), _("Staff")))
        choices.append(FeedChoice("manager", _("Whole schedule"), _("Staff")))
        for truck in session.scalars(select(Truck).order_by(Truck.name)):
            choices.append(
                FeedChoice(f"truck:{truck.id}", _("Truck %(name)s", name=truck.name), _("Staff"))
            )
    return choices


def parse_choice(value: str) -> tuple[FeedKind, int | None]:
    """``"unit:4"`` -> (UNIT, 4); ``"round"`` -> (ROUND, None).

    Raises:
        ValidationError: if the value names no feed.
    """
    kind_text, _sep, target_text = value.partition(":")
    try:
        kind = FeedKind(kind_text)
        target = int(target_text) if target_text else None
    except ValueError:
        raise ValidationError(_("Choose a calendar from the list."), field="what") from None
    return kind, target


# --- managing tokens ------------------------------------------------------------------------


def _clean_name(name: str) -> str:
    name = " ".join(name.split())
    if not name:
        raise ValidationError(_("Give the calendar a name."), field="name")
    if len(name) > NAME_MAX:
        raise ValidationError(
            _("The name is too long (%(max)d characters at most).", max=NAME_MAX), field="name"
        )
    return name


def create_feed(
    session: Session, *, by: User, kind: FeedKind, target_id: int | None, name: str
) -> tuple[FeedToken, str]:
    """Make a feed for ``by`` and return it with its secret token (shown once).

    Raises:
        Forbidden: if ``by``'s role does not allow this feed.
        NotFound: if the commune, unit or type does not exist.
        ValidationError: if the name is empty or too long.
    """
    require_role(by)
    if not may_subscribe(by, kind, target_id):
        raise Forbidden(_("Your account may not subscribe to this calendar."))
    if _target_name(session, kind, target_id) is None:
        raise NotFound(_("This calendar's subject does not exist."))
    token = new_token()
    feed = FeedToken(
        owner_id=by.id,
        kind=kind,
        target_id=target_id,
        name=_clean_name(name),
        token_hash=hash_token(token),
    )
    with conflict_on_concurrent_write(session):
        session.add(feed)
        session.flush()
        _audit(session, by, "feed.create", feed, None)
        session.commit()
    return feed, token


def list_feeds(session: Session, *, by: User) -> list[FeedToken]:
    """``by``'s feeds that are not revoked, oldest first.

    Raises:
        Forbidden: if the user is not signed in or is disabled.
    """
    require_role(by)
    return list(
        session.scalars(
            select(FeedToken)
            .where(FeedToken.owner_id == by.id, FeedToken.revoked_at.is_(None))
            .order_by(FeedToken.id)
        )
    )


def feed_subjects(session: Session, feeds: list[FeedToken]) -> dict[int, str]:
    """The name of each feed's commune, unit or type ("" for the round and the manager's)."""
    return {feed.id: _target_name(session, feed.kind, feed.target_id) or "" for feed in feeds}


def _snapshot(feed: FeedToken) -> dict[str, Any]:
    """The audited values of a feed; its secret token never reaches the trail."""
    return {
        "kind": feed.kind.value,
        "target_id": feed.target_id,
        "name": feed.name,
        "revoked_at": feed.revoked_at.isoformat() if feed.revoked_at else None,
    }


def _audit(
    session: Session, user: User, action: str, feed: FeedToken, before: dict[str, Any] | None
) -> None:
    record_event(
        session,
        by=user,
        action=action,
        object_type="feed",
        object_id=feed.id,
        before=before,
        after=_snapshot(feed),
    )


def _own_feed(session: Session, feed_id: int, user: User) -> FeedToken:
    require_role(user)
    feed = session.get(FeedToken, feed_id)
    # Someone else's feed is reported missing: its existence is nobody else's business.
    if feed is None or feed.owner_id != user.id or feed.revoked_at is not None:
        raise NotFound(_("This calendar does not exist."))
    return feed


def rename_feed(session: Session, feed_id: int, *, by: User, name: str) -> FeedToken:
    """Rename one of ``by``'s feeds (the link stays the same).

    Raises:
        NotFound: if the feed is not ``by``'s or is revoked.
        ValidationError: if the name is empty or too long.
    """
    feed = _own_feed(session, feed_id, by)
    before = _snapshot(feed)
    feed.name = _clean_name(name)
    with conflict_on_concurrent_write(session):
        _audit(session, by, "feed.rename", feed, before)
        session.commit()
    return feed


def revoke_feed(session: Session, feed_id: int, *, by: User, now: datetime | None = None) -> None:
    """Revoke one of ``by``'s feeds: its link answers 404 from now on.

    Raises:
        NotFound: if the feed is not ``by``'s or is already revoked.
    """
    feed = _own_feed(session, feed_id, by)
    before = _snapshot(feed)
    feed.revoked_at = now or utcnow()
    with conflict_on_concurrent_write(session):
        _audit(session, by, "feed.revoke", feed, before)
        session.commit()


def regenerate_feed(session: Session, feed_id: int, *, by: User) -> tuple[FeedToken, str]:
    """Give one of ``by``'s feeds a new secret; the old link stops working at once.

    Raises:
        NotFound: if the feed is not ``by``'s or is revoked.
        Forbidden: if ``by``'s role no longer allows this feed.
    """
    feed = _own_feed(session, feed_id, by)
    if not may_subscribe(by, feed.kind, feed.target_id):
        raise Forbidden(_("Your account may not subscribe to this calendar."))
    token = new_token()
    feed.token_hash = hash_token(token)
    with conflict_on_concurrent_write(session):
        _audit(session, by, "feed.regenerate", feed, None)
        session.commit()
    return feed, token


# --- serving --------------------------------------------------------------------------------


@dataclass(frozen=True)
class FeedResult:
    """A feed answer: ``body`` is None when the caller said the client's copy is current."""

    etag: str
    last_modified: datetime
    body: bytes | None


def _labels() -> Labels:
    return Labels(
        cancelled=_("[Cancelled]"),
        tentative=_("[Tentative]"),
        delivery=_("Delivery"),
        collection=_("Collection"),
        commune=_("Commune"),
        equipment=_("Equipment"),
        units=_("Units"),
        depot=_("Depot"),
        contact=_("Contact"),
        status=_("Status"),
        confirmed_status=_("confirmed"),
        tentative_status=_("tentative (proposed plan, not approved yet)"),
        cancelled_status=_("cancelled"),
        notes=_("Notes"),
        truck=_("Truck"),
        stop=_("Stop %(n)s", n="{n}"),
        load=_("Load"),
        pallet_places=_("%(n)s pallet places", n="{n}"),
        address=_("Address"),
        # Placeholders become str.format fields: "%(label)s: %(value)s" -> "{label}: {value}".
        field=_("%(label)s: %(value)s", label="{label}", value="{value}"),
    )


def _describe(kind: FeedKind, target: str) -> str:
    return {
        FeedKind.COMMUNE: _("Equipment loans of %(name)s", name=target),
        FeedKind.UNIT: _("Loans of %(name)s", name=target),
        FeedKind.TYPE: _("Loans of equipment of type %(name)s", name=target),
        FeedKind.ROUND: _("Deliveries and collections of equipment"),
        FeedKind.MANAGER: _("Every loan of the shared equipment"),
        FeedKind.TRUCK: _("Stops of the truck %(name)s, in the order of its rounds", name=target),
    }[kind]


def _etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:40] + '"'


def _build(
    session: Session,
    feed: FeedToken,
    owner: User,
    *,
    today: date,
    now: datetime,
    domain: str,
    request_url: str,
) -> tuple[bytes, datetime]:
    """The body of a feed and the latest change among its events."""
    events = collect_events(
        session, scope_for(owner, feed.kind, feed.target_id), today=today, now=now
    )
    target = _target_name(session, feed.kind, feed.target_id) or ""
    # The owner's language if they chose one, else the application's default (French).
    with force_locale(owner.locale) if owner.locale else nullcontext():
        body = render_calendar(
            events,
            _labels(),
            name=f"Prêt Commun · {feed.name}",
            calendar_description=_describe(feed.kind, target),
            domain=domain,
            request_url=request_url,
        )
    latest = max((e.stamp_dt for e in events), default=feed.created_at)
    return body, latest.replace(microsecond=0)


def peek_feed(
    read_generation: Callable[[], int], token: str, *, now: datetime
) -> FeedResult | None:
    """The validators of a feed polled before, if nothing changed since: one small read.

    This is the path of most polls. It relies on the feed generation, which rises with any
    change a calendar shows and with any change to tokens and accounts (revocation, new
    secret, disabled owner), so a token remembered as valid at this generation still is.

    Args:
        read_generation: reads the committed feed generation
            (:data:`booking.services.feeds_cache.GENERATION_READER` in production).
        token: the secret from the URL.
        now: the current time (aware).

    ``last_used_at`` is not written here, only by :func:`read_feed`, which runs at least
    once a day per token that is polled (the body depends on the UTC day).

    Returns:
        A result without body, or None when :func:`read_feed` must answer.
    """
    memo = VALIDATORS.get(hash_token(token))
    if memo is None:
        return None
    generation, day, etag, last_modified = memo
    if day != now.astimezone(UTC).date() or generation != read_generation():
        return None
    return FeedResult(etag, last_modified, None)


def read_feed(
    session: Session,
    token: str,
    *,
    now: datetime,
    domain: str,
    request_url: str,
    is_current: Callable[[str, datetime], bool] = lambda _etag, _lm: False,
    store: BodyStore | None = None,
) -> FeedResult:
    """Answer a poll of the feed behind ``token``.

    Args:
        session: the database session (watermarks and event states are committed).
        token: the secret from the URL.
        now: the current time (aware).
        domain: the right-hand side of event UIDs.
        request_url: the request page, with ``{id}`` standing for the request id.
        is_current: told the ETag and Last-Modified, says whether the client's copy is
            current; the body is then neither built nor returned.
        store: bodies on disk shared by the server's processes (None: memory only).

    Raises:
        NotFound: for an unknown or revoked token, a disabled owner, or a feed the owner's
            role no longer allows, or whose subject was deleted. All look the same.
    """
    feed, owner = _live_feed(session, token)
    today = now.astimezone(UTC).date()
    generation = current_generation(session)
    mark = session.get(FeedWatermark, feed.id)
    _record_use(session, feed, now)
    fresh = mark is not None and mark.generation == generation and mark.built_for == today
    if fresh and mark is not None:
        _remember_validators(feed, generation, today, mark)
        if is_current(mark.etag, mark.last_modified):
            return FeedResult(mark.etag, mark.last_modified, None)
    key = (feed.id, feed.token_hash, feed.name, generation, today, domain, request_url)
    if fresh and mark is not None:
        cached = _kept_body(key, feed, mark, store, domain=domain, request_url=request_url)
        if cached is not None:
            return FeedResult(mark.etag, mark.last_modified, cached)
    if _target_name(session, feed.kind, feed.target_id) is None:
        raise _gone()
    body, latest = _build(
        session, feed, owner, today=today, now=now, domain=domain, request_url=request_url
    )
    etag = _etag(body)
    mark = _save_watermark(session, feed, etag, latest, generation=generation, today=today)
    BODY_CACHE.put(key, body)
    if store is not None:
        store.put(feed.id, etag, body, domain=domain, request_url=request_url)
    _remember_validators(feed, generation, today, mark)
    return FeedResult(mark.etag, mark.last_modified, body)


def _live_feed(session: Session, token: str) -> tuple[FeedToken, User]:
    """The feed behind ``token`` and its owner, if the owner may still read it.

    Raises:
        NotFound: for an unknown or revoked token, a disabled owner, or a feed the owner's
            role no longer allows.
    """
    row = session.execute(
        select(FeedToken, User)
        .join(User, User.id == FeedToken.owner_id)
        .where(FeedToken.token_hash == hash_token(token))
    ).one_or_none()
    if row is None:
        raise _gone()
    feed, owner = row
    if feed.revoked_at is not None or not may_subscribe(owner, feed.kind, feed.target_id):
        raise _gone()
    return feed, owner


def _record_use(session: Session, feed: FeedToken, now: datetime) -> None:
    """Write ``last_used_at`` (and commit) when the last one is older than the granularity."""
    if feed.last_used_at is None or now - feed.last_used_at > LAST_USED_GRANULARITY:
        feed.last_used_at = now
        session.commit()


def _remember_validators(
    feed: FeedToken, generation: int, today: date, mark: FeedWatermark
) -> None:
    """Let this process answer the feed's next polls with :func:`peek_feed`."""
    VALIDATORS.put(feed.token_hash, (generation, today, mark.etag, mark.last_modified))


def _kept_body(
    key: tuple[Any, ...],
    feed: FeedToken,
    mark: FeedWatermark,
    store: BodyStore | None,
    *,
    domain: str,
    request_url: str,
) -> bytes | None:
    """The body built before for ``key``, from memory or else from disk (then kept in memory)."""
    cached = BODY_CACHE.get(key)
    if cached is None and store is not None:
        cached = store.get(feed.id, mark.etag, domain=domain, request_url=request_url)
        if cached is not None:
            BODY_CACHE.put(key, cached)
    return cached


def _save_watermark(
    session: Session,
    feed: FeedToken,
    etag: str,
    latest: datetime,
    *,
    generation: int,
    today: date,
) -> FeedWatermark:
    """Record the validators of the body just built for ``generation`` and ``today``.

    Last-Modified only moves forward, and only when the body changed. Committed here.
    """
    mark = session.get(FeedWatermark, feed.id)
    if mark is None:
        mark = FeedWatermark(
            token_id=feed.id,
            etag=etag,
            last_modified=latest,
            generation=generation,
            built_for=today,
        )
        session.add(mark)
    elif mark.etag != etag:
        mark.etag = etag
        mark.last_modified = max(latest, mark.last_modified + timedelta(seconds=1))
    mark.generation, mark.built_for = generation, today
    try:
        session.commit()
    except IntegrityError:
        # Another worker wrote the first watermark at the same time: keep theirs.
        session.rollback()
        mark = session.get(FeedWatermark, feed.id)
        assert mark is not None
    return mark


def _gone() -> NotFound:
    return NotFound(_("There is nothing at this address."))
