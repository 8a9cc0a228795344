"""User accounts: creation, sign-in with throttling, disabling and password resets."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import and_, delete, select
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from booking.db import utcnow
from booking.errors import Conflict, NotFound, TooManyAttempts, ValidationError
from booking.models import Commune, LoginAttempt, Role, User
from booking.services.access import require_role
from booking.services.audit import record_event
from booking.services.concurrency import conflict_on_concurrent_write

MIN_PASSWORD_LENGTH = 8
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class Throttle:
    """Sign-in throttling, within ``window``: at most ``max_failures`` for one account from
    one client address, ``per_address`` from one address over all accounts (guessing
    across accounts), and ``per_account`` for one account over all addresses (a guess
    spread over many machines). One address guessing wrong never locks the account for
    the others until the much higher ``per_account`` is reached."""

    max_failures: int = 5
    window: timedelta = timedelta(minutes=15)
    per_address: int = 20
    per_account: int = 100


class InvalidCredentials(ValidationError):
    """Unknown e-mail, wrong password or disabled account (deliberately not told apart)."""


@lru_cache(maxsize=4)
def _dummy_hash_for(method: str) -> str:
    return generate_password_hash("not a password", method=method)


def _dummy_hash() -> str:
    return _dummy_hash_for(User.password_method)


def normalise_email(email: str) -> str:
    """E-mail addresses compare case-insensitively and without surrounding spaces."""
    return email.strip().lower()


def _validate_password(password: str) -> list[tuple[str | None, str]]:
    if len(password) < MIN_PASSWORD_LENGTH:
        return [
            (
                "password",
                _("The password must have at least %(n)d characters.", n=MIN_PASSWORD_LENGTH),
            )
        ]
    return []


def _user_snapshot(user: User) -> dict[str, object]:
    return {
        "email": user.email,
        "name": user.name,
        "role": user.role.value,
        "commune_id": user.commune_id,
        "active": user.is_active_account,
    }


def create_user(
    session: Session,
    *,
    email: str,
    name: str,
    password: str,
    role: Role,
    commune_id: int | None = None,
    by: User | None = None,
) -> User:
    """Create an account and commit it.

    Args:
        session: the database session.
        email: sign-in address, unique (case-insensitive).
        name: display name.
        password: at least ``MIN_PASSWORD_LENGTH`` characters; only its hash is stored.
        role: technician, manager or admin.
        commune_id: required for technicians, refused for other roles.
        by: the admin creating it, or ``None`` from the command line.

    Raises:
        Forbidden: if ``by`` is given and is not an admin.
        ValidationError: listing every problem with the input.
        Conflict: if the e-mail is already used.
    """
    if by is not None:
        require_role(by, Role.ADMIN)
    email = normalise_email(email)
    name = name.strip()
    errors: list[tuple[str | None, str]] = []
    if not EMAIL_RE.match(email):
        errors.append(("email", _("Enter a valid e-mail address.")))
    if not name:
        errors.append(("name", _("Enter a name.")))
    errors += _validate_password(password)
    if role is Role.TECHNICIAN:
        if commune_id is None:
            errors.append(("commune_id", _("A technician must belong to a commune.")))
        elif session.get(Commune, commune_id) is None:
            errors.append(("commune_id", _("Commune %(id)s does not exist.", id=commune_id)))
    elif commune_id is not None:
        errors.append(("commune_id", _("Only technicians belong to a commune.")))
    if errors:
        raise ValidationError(errors=errors)
    taken = _("An account with the e-mail %(email)s already exists.", email=email)
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise Conflict(taken)
    user = User(email=email, name=name, role=role, commune_id=commune_id)
    user.set_password(password)
    with conflict_on_concurrent_write(session, duplicate=taken):
        session.add(user)
        session.flush()
        record_event(
            session,
            by=by,
            action="user.create",
            object_type="user",
            object_id=user.id,
            after=_user_snapshot(user),
        )
        session.commit()
    return user


def list_users(session: Session, *, by: User) -> list[User]:
    """Every account, by name.

    Raises:
        Forbidden: unless ``by`` is an admin.
    """
    require_role(by, Role.ADMIN)
    return list(session.scalars(select(User).order_by(User.name, User.id)))


def _get_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(_("User %(id)s does not exist.", id=user_id))
    return user


def set_user_active(session: Session, user_id: int, active: bool, *, by: User) -> User:
    """Enable or disable an account and commit.

    Raises:
        Forbidden: unless ``by`` is an admin.
        NotFound: if there is no such user.
        ValidationError: if an admin tries to disable their own account.
    """
    require_role(by, Role.ADMIN)
    user = _get_user(session, user_id)
    if not active and user.id == by.id:
        raise ValidationError(_("You cannot disable your own account."))
    before = _user_snapshot(user)
    with conflict_on_concurrent_write(session):
        user.is_active_account = active
        if not active:
            user.end_sessions()
        record_event(
            session,
            by=by,
            action="user.enable" if active else "user.disable",
            object_type="user",
            object_id=user.id,
            before=before,
            after=_user_snapshot(user),
        )
        session.commit()
    return user


def reset_password(session: Session, user_id: int, password: str, *, by: User | None) -> User:
    """Give an account a new password, end its sessions, lift its throttling, and commit.

    Raises:
        Forbidden: if ``by`` is given and is not an admin.
        NotFound: if there is no such user.
        ValidationError: if the password is too short.
    """
    if by is not None:
        require_role(by, Role.ADMIN)
    user = _get_user(session, user_id)
    errors = _validate_password(password)
    if errors:
        raise ValidationError(errors=errors)
    with conflict_on_concurrent_write(session):
        user.set_password(password)
        # Whoever knew the old password is signed out.
        user.end_sessions()
        session.execute(delete(LoginAttempt).where(LoginAttempt.email == user.email))
        # The password itself never reaches the audit trail.
        record_event(
            session,
            by=by,
            action="user.reset_password",
            object_type="user",
            object_id=user.id,
        )
        session.commit()
    return user


def authenticate(
    session: Session,
    email: str,
    password: str,
    ip: str,
    *,
    now: datetime | None = None,
    throttle: Throttle | None = None,
) -> User:
    """Check a sign-in attempt and commit what it leaves behind.

    A failure is recorded with the e-mail and the client address (``ip``: the real client
    behind trusted proxies, see ``PROXY_FIX_X_FOR``). While any limit of ``throttle`` is
    reached every attempt is refused, even with the right password, until enough failures
    leave the window. Success clears the failures of this account from this address.

    Raises:
        TooManyAttempts: while throttled; the message says how long to wait.
        InvalidCredentials: unknown e-mail, wrong password or disabled account.
    """
    now = now or utcnow()
    throttle = throttle or Throttle()
    email = normalise_email(email)
    since = now - throttle.window
    recent = LoginAttempt.at > since
    checks = (
        (and_(LoginAttempt.email == email, LoginAttempt.ip == ip), throttle.max_failures),
        (LoginAttempt.ip == ip, throttle.per_address),
        (LoginAttempt.email == email, throttle.per_account),
    )
    release: datetime | None = None
    for condition, limit in checks:
        failures = list(
            session.scalars(
                select(LoginAttempt.at)
                .where(condition, recent)
                .order_by(LoginAttempt.at.desc())
                .limit(limit)
            )
        )
        if len(failures) >= limit:
            # Refused until enough failures have aged out of the window.
            ends = failures[-1] + throttle.window
            release = ends if release is None else max(release, ends)
    if release is not None:
        minutes = max(1, -(-int((release - now).total_seconds()) // 60))
        raise TooManyAttempts(
            ngettext(
                "Too many failed sign-in attempts. Try again in %(num)d minute.",
                "Too many failed sign-in attempts. Try again in %(num)d minutes.",
                minutes,
            )
        )
    user = session.scalar(select(User).where(User.email == email))
    if user is None:
        # Spend the time of a hash check anyway, so timing does not reveal unknown e-mails.
        User(password_hash=_dummy_hash()).check_password(password)
    if user is None or not user.check_password(password) or not user.is_active_account:
        session.add(LoginAttempt(email=email, ip=ip, at=now))
        session.commit()
        raise InvalidCredentials(_("Wrong e-mail or password, or the account is disabled."))
    session.execute(delete(LoginAttempt).where(LoginAttempt.email == email, LoginAttempt.ip == ip))
    user.last_login_at = now
    session.commit()
    return user


def set_locale(session: Session, user: User, locale: str, *, allowed: list[str]) -> None:
    """Remember the interface language ``user`` chose.

    Raises:
        ValidationError: if ``locale`` is not one of ``allowed``.
    """
    if locale not in allowed:
        raise ValidationError(_("Unknown language %(code)s.", code=locale), field="locale")
    user.locale = locale
    session.commit()


def list_communes(session: Session) -> list[Commune]:
    """Every commune, by name."""
    return list(session.scalars(select(Commune).order_by(Commune.name)))
