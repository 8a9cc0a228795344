"""Personal API tokens: issue, list, revoke, authenticate, and count requests per window.

A token is ``pc_`` followed by 32 random bytes (``secrets``), URL-safe; only its SHA-256
is stored, as for calendar feeds, so a database leak does not leak usable tokens. The
owner sees the secret once, when it is made.

Rate limiting counts the requests of each token in fixed windows, in the database, so
that every worker process sees the same count.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from booking.db import rows_matched, utcnow
from booking.errors import NotFound, TooManyAttempts, ValidationError
from booking.models import ApiRateWindow, ApiToken, User
from booking.services.access import require_role
from booking.services.audit import record_event
from booking.services.feeds import hash_token

TOKEN_PREFIX = "pc_"
TOKEN_BYTES = 32
NAME_MAX = 120
# Characters of the secret shown in lists, to tell tokens apart ("pc_" and 5 more).
SHOWN_PREFIX = 8
# Recording last use at every call would turn reads into writes.
LAST_USED_GRANULARITY = timedelta(minutes=5)


class RateLimited(TooManyAttempts):
    """The token made too many requests in the current window."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def new_secret() -> str:
    """A fresh token: ``pc_`` and 43 URL-safe characters."""
    return TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)


def _clean_name(name: str) -> str:
    """``name`` with spaces collapsed.

    Raises:
        ValidationError: if it is empty, too long or holds control characters.
    """
    cleaned = " ".join((name or "").split())
    if not cleaned:
        raise ValidationError(_("Give the token a name."), field="name")
    if len(cleaned) > NAME_MAX:
        raise ValidationError(
            _("The name is too long (%(max)d characters at most).", max=NAME_MAX), field="name"
        )
    if any(ord(c) < 32 for c in cleaned):
        raise ValidationError(_("The name holds characters that cannot be shown."), field="name")
    return cleaned


def _snapshot(token: ApiToken) -> dict[str, Any]:
    """The audited values of a token; its secret never reaches the trail."""
    return {
        "name": token.name,
        "prefix": token.prefix,
        "is_read_only": token.is_read_only,
        "revoked_at": token.revoked_at.isoformat() if token.revoked_at else None,
    }


def create_token(
    session: Session, *, by: User, name: str, read_only: bool = False
) -> tuple[ApiToken, str]:
    """Issue a token acting as ``by`` and return it with its secret (shown once).

    Args:
        session: the database session.
        by: the owner; the token acts with their role and commune.
        name: what the token is for ("intranet", "GIS export").
        read_only: refuse every request that changes something.

    Raises:
        Forbidden: if ``by`` is not signed in or disabled.
        ValidationError: if the name is empty or too long.
    """
    require_role(by)
    secret = new_secret()
    token = ApiToken(
        user_id=by.id,
        name=_clean_name(name),
        token_hash=hash_token(secret),
        prefix=secret[:SHOWN_PREFIX],
        is_read_only=read_only,
    )
    session.add(token)
    session.flush()
    record_event(
        session,
        by=by,
        action="api_token.create",
        object_type="api_token",
        object_id=token.id,
        after=_snapshot(token),
    )
    session.commit()
    return token, secret


def list_tokens(session: Session, *, by: User) -> list[ApiToken]:
    """``by``'s tokens that are not revoked, oldest first.

    Raises:
        Forbidden: if ``by`` is not signed in or disabled.
    """
    require_role(by)
    return list(
        session.scalars(
            select(ApiToken)
            .where(ApiToken.user_id == by.id, ApiToken.revoked_at.is_(None))
            .order_by(ApiToken.id)
        )
    )


def revoke_token(
    session: Session, token_id: int, *, by: User, now: datetime | None = None
) -> ApiToken:
    """Revoke one of ``by``'s tokens: it is refused from now on.

    Raises:
        Forbidden: if ``by`` is not signed in or disabled.
        NotFound: if the token is not ``by``'s or is already revoked.
    """
    require_role(by)
    token = session.get(ApiToken, token_id) if 0 < token_id < 2**31 else None
    # Someone else's token is reported missing: its existence is nobody else's business.
    if token is None or token.user_id != by.id or token.revoked_at is not None:
        raise NotFound(_("This token does not exist."))
    before = _snapshot(token)
    token.revoked_at = now or utcnow()
    record_event(
        session,
        by=by,
        action="api_token.revoke",
        object_type="api_token",
        object_id=token.id,
        before=before,
        after=_snapshot(token),
    )
    session.commit()
    return token


def authenticate(session: Session, secret: str, *, now: datetime | None = None) -> ApiToken | None:
    """The live token whose secret is ``secret``, with its user; ``None`` otherwise.

    A revoked token, or one whose owner's account is disabled, is refused.
    """
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
        return None
    token = session.scalars(
        select(ApiToken)
        .where(ApiToken.token_hash == hash_token(secret))
        .options(joinedload(ApiToken.user))
    ).one_or_none()
    if token is None or token.revoked_at is not None or not token.user.is_active_account:
        return None
    now = now or utcnow()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_GRANULARITY:
        token.last_used_at = now
        session.commit()
    return token


@dataclass(frozen=True)
class RateState:
    """Where a token stands in the current window."""

    limit: int
    remaining: int
    reset_seconds: int


def count_request(
    session: Session,
    token: ApiToken,
    *,
    limit: int,
    window_seconds: int,
    now: datetime | None = None,
) -> RateState:
    """Count one request of ``token`` in the current fixed window (committed at once).

    Windows start at multiples of ``window_seconds`` since the epoch. The count is one
    UPDATE (or an INSERT for the window's first request), so concurrent workers never
    lose a request.

    Raises:
        RateLimited: if this request is beyond ``limit`` in the window; its
            ``retry_after`` is the number of seconds until the next window.
    """
    now = now or utcnow()
    epoch = int(now.timestamp())
    start_epoch = epoch - epoch % window_seconds
    start = datetime.fromtimestamp(start_epoch, UTC)
    reset = start_epoch + window_seconds - epoch
    key = (ApiRateWindow.token_id == token.id, ApiRateWindow.window_start == start)
    bump = update(ApiRateWindow).where(*key).values(count=ApiRateWindow.count + 1)
    if not rows_matched(session.execute(bump)):
        try:
            with session.begin_nested():
                session.add(ApiRateWindow(token_id=token.id, window_start=start, count=1))
        except IntegrityError:
            # Another worker opened the window first.
            session.execute(bump)
        else:
            session.execute(
                delete(ApiRateWindow).where(
                    ApiRateWindow.token_id == token.id, ApiRateWindow.window_start < start
                )
            )
    count = session.scalar(select(ApiRateWindow.count).where(*key)) or 0
    session.commit()
    if count > limit:
        raise RateLimited(
            _(
                "Too many requests with this token; try again in %(seconds)d seconds.",
                seconds=reset,
            ),
            retry_after=reset,
        )
    return RateState(limit=limit, remaining=limit - count, reset_seconds=reset)
