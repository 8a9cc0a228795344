"""Notifications: in-app messages, and e-mails queued in an outbox then sent over SMTP.

``notify`` writes one ``Notification`` per user, in the user's own language, and (when
``MAIL_SERVER`` is set) one ``OutboxEmail`` row in the same transaction, so an e-mail is
queued exactly when the change that causes it is committed, and nothing is lost while
the mail server is down. ``deliver_outbox`` sends the queued e-mails; it runs from the
``flask send-mail`` command (cron) and, after a commit that queued mail, on a background
thread of the process (``MAIL_DELIVERY = "thread"``, the default), never in the web
request itself.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any, Literal

from flask import Flask, current_app, has_app_context
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import event, func, or_, select, update
from sqlalchemy.orm import Session

from booking.db import get_db, rows_matched, utcnow
from booking.errors import NotFound
from booking.models import Notification, OutboxEmail, OutboxStatus, User
from booking.services.background import Coalescing, coalescing
from booking.services.concurrency import conflict_on_concurrent_write
from booking.urls import public_url_for

log = logging.getLogger(__name__)

# How long a sender holds a message it is sending, at least.
CLAIM_LEASE_SECONDS = 600

# Subjects of the e-mails, by notification kind; other kinds get the generic one.
SUBJECTS: dict[str, Any] = {
    "request.approved": _l("Your request is approved"),
    "request.declined": _l("Your request is declined"),
    "request.waiting": _l("Your request is on the waiting list"),
    "request.changed": _l("Your approved loan has changed"),
    "request.cancelled": _l("A request was cancelled"),
}
GENERIC_SUBJECT = _l("New notification")
# Where ``notify`` leaves the application whose outbox needs a delivery after commit.
_QUEUED_KEY = "booking_mail_queued"
# The longest error text kept on an outbox row.
MAX_ERROR_LENGTH = 1000


def mail_enabled(config: Mapping[str, Any]) -> bool:
    """Whether e-mail is configured (``MAIL_SERVER`` set)."""
    return bool(str(config.get("MAIL_SERVER") or "").strip())


def _default_locale() -> str:
    if has_app_context():
        return str(current_app.config.get("BABEL_DEFAULT_LOCALE", "fr"))
    return "fr"


def _email_body(text: str, payload: Mapping[str, Any] | None) -> str:
    lines = [text, ""]
    request_id = (payload or {}).get("request_id")
    if request_id is not None and has_app_context():
        link = public_url_for("requests.detail", request_id=request_id)
        lines += [_("See the request: %(link)s", link=link), ""]
    lines.append(_("Prêt Commun, equipment shared between communes"))
    return "\n".join(lines) + "\n"


def notify(
    session: Session,
    users: Iterable[User],
    kind: str,
    message_factory: Callable[[], str],
    payload: dict[str, Any] | None,
    *,
    subject_factory: Callable[[], str] | None = None,
) -> list[Notification]:
    """Tell ``users`` something, each in their own language, in the caller's transaction.

    Nothing is committed here: the notifications (and e-mails) are written with the
    change they describe, or not at all.

    Args:
        session: the database session of the change.
        users: who to tell.
        kind: what happened, e.g. ``request.approved`` (also picks the e-mail subject).
        message_factory: builds the text; called once per user under their locale, so it
            must call ``gettext`` itself (a lambda around ``_(...)``).
        payload: data for links and filters, e.g. ``{"request_id": 12}``.
        subject_factory: builds the e-mail subject; default from ``SUBJECTS``.

    Returns:
        The notifications added.
    """
    config: Mapping[str, Any] = current_app.config if has_app_context() else {}
    with_mail = mail_enabled(config)
    default = _default_locale()
    added: list[Notification] = []
    for user in users:
        with force_locale(user.locale or default):
            text = message_factory()
            note = Notification(user_id=user.id, kind=kind, text=text, payload=payload)
            session.add(note)
            added.append(note)
            if with_mail and user.email:
                subject = (
                    subject_factory()
                    if subject_factory
                    else str(SUBJECTS.get(kind, GENERIC_SUBJECT))
                )
                session.add(
                    OutboxEmail(
                        to=user.email,
                        subject=f"[Prêt Commun] {subject}"[:255],
                        body=_email_body(text, payload),
                    )
                )
                session.info[_QUEUED_KEY] = current_app._get_current_object()  # type: ignore[attr-defined]
    return added


# --- reading them in the application ----------------------------------------------------

# The notifications page shows at most this many, newest first.
PAGE_SIZE = 100


def list_notifications(session: Session, *, by: User, limit: int = PAGE_SIZE) -> list[Notification]:
    """``by``'s notifications, newest first."""
    return list(
        session.scalars(
            select(Notification)
            .where(Notification.user_id == by.id)
            .order_by(Notification.created_at.desc(), Notification.id.desc())
            .limit(limit)
        )
    )


def unread_count(session: Session, *, by: User) -> int:
    """How many of ``by``'s notifications are unread (one query)."""
    return int(
        session.scalar(
            select(func.count(Notification.id)).where(
                Notification.user_id == by.id, Notification.read_at.is_(None)
            )
        )
        or 0
    )


def mark_read(session: Session, notification_id: int, *, by: User) -> Notification:
    """Mark one of ``by``'s notifications read (again is harmless).

    Raises:
        NotFound: no such notification, or it is someone else's.
    """
    note = session.get(Notification, notification_id)
    if note is None or note.user_id != by.id:
        raise NotFound(_("Notification %(id)s does not exist.", id=notification_id))
    if note.read_at is None:
        with conflict_on_concurrent_write(session):
            note.read_at = utcnow()
            session.commit()
    return note


def mark_all_read(session: Session, *, by: User) -> int:
    """Mark every unread notification of ``by`` read.

    Returns:
        How many were unread.
    """
    with conflict_on_concurrent_write(session):
        count = rows_matched(
            session.execute(
                update(Notification)
                .where(Notification.user_id == by.id, Notification.read_at.is_(None))
                .values(read_at=utcnow())
            )
        )
        session.commit()
    return int(count or 0)


# --- sending the outbox -----------------------------------------------------------------


@dataclass(frozen=True)
class DeliveryReport:
    """What one ``deliver_outbox`` run did.

    ``retried``: messages left pending after an error; ``failed``: messages given up on
    (status FAILED); ``error``: why the server could not be reached, if it could not.
    """

    sent: int = 0
    retried: int = 0
    failed: int = 0
    error: str | None = None


def _describe(error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}".strip()
    return text[:MAX_ERROR_LENGTH]


def _connect(config: Mapping[str, Any]) -> smtplib.SMTP:
    """An SMTP connection as configured: implicit TLS or STARTTLS, login when a user is set.

    Raises:
        OSError: the server cannot be reached (``smtplib.SMTPException`` included).
    """
    host = str(config["MAIL_SERVER"]).strip()
    port = int(config.get("MAIL_PORT") or 25)
    timeout = float(config.get("MAIL_TIMEOUT") or 30)
    smtp: smtplib.SMTP
    if config.get("MAIL_USE_SSL"):
        smtp = smtplib.SMTP_SSL(host, port, timeout=timeout, context=ssl.create_default_context())
    else:
        smtp = smtplib.SMTP(host, port, timeout=timeout)
    try:
        if config.get("MAIL_USE_TLS"):
            smtp.starttls(context=ssl.create_default_context())
        username = str(config.get("MAIL_USERNAME") or "")
        if username:
            smtp.login(username, str(config.get("MAIL_PASSWORD") or ""))
    except BaseException:
        smtp.close()
        raise
    return smtp


def _message(email: OutboxEmail, config: Mapping[str, Any]) -> EmailMessage:
    message = EmailMessage()
    message["From"] = str(config.get("MAIL_FROM") or "pret-commun@localhost")
    message["To"] = email.to
    message["Subject"] = email.subject
    message["Date"] = formatdate(email.created_at.timestamp(), localtime=False)
    message["Message-ID"] = make_msgid(f"outbox-{email.id}")
    message.set_content(email.body)
    return message


def _is_connection_error(error: OSError) -> bool:
    """Whether the connection itself broke (not a refusal of this one message)."""
    return isinstance(error, smtplib.SMTPServerDisconnected) or not isinstance(
        error, smtplib.SMTPException
    )


def _claim(session: Session, email_id: int, lease: timedelta) -> OutboxEmail | None:
    """The e-mail if it is still pending and no other sender holds it; it is then held
    for ``lease``.

    The claim is one conditional UPDATE committed before sending: on SQLite as on
    PostgreSQL, of two senders (the background thread and a cron ``flask send-mail``)
    only one sees its UPDATE change the row.
    """
    now = utcnow()
    claimed = rows_matched(
        session.execute(
            update(OutboxEmail)
            .where(
                OutboxEmail.id == email_id,
                OutboxEmail.status == OutboxStatus.PENDING,
                or_(OutboxEmail.claimed_until.is_(None), OutboxEmail.claimed_until <= now),
            )
            .values(claimed_until=now + lease)
            .execution_options(synchronize_session=False)
        )
    )
    session.commit()
    if not claimed:
        return None
    return session.get(OutboxEmail, email_id, populate_existing=True)


# What became of one claimed message: "lost" is a retry after which the connection is gone.
_Outcome = Literal["sent", "retried", "failed", "lost"]


def deliver_outbox(
    session: Session, config: Mapping[str, Any], *, limit: int | None = None
) -> DeliveryReport:
    """Send the pending e-mails, oldest first, over one SMTP connection.

    Each message is first claimed, so that two senders running at once never send it
    twice, then is its own transaction: SENT with ``sent_at`` once the server accepted
    it. A message the server refuses counts an attempt and records ``last_error``; it
    stays PENDING until ``MAIL_MAX_ATTEMPTS`` attempts, then becomes FAILED. When the
    server cannot be reached, or the connection drops, every message concerned counts an
    attempt and stays PENDING, whatever its count: the next run tries again.

    Args:
        session: a session of its own (it is committed).
        config: the application settings (``MAIL_*``).
        limit: at most this many messages (default all pending).

    Returns:
        What was sent, retried and given up.
    """
    if not mail_enabled(config):
        return DeliveryReport()
    ids = _pending_ids(session, limit)
    if not ids:
        return DeliveryReport()
    try:
        smtp = _connect(config)
    except OSError as error:
        return _keep_for_later(session, ids, error)
    max_attempts = int(config.get("MAIL_MAX_ATTEMPTS") or 5)
    # Longer than one message can take (connection, data and quit timeouts).
    lease = timedelta(seconds=max(CLAIM_LEASE_SECONDS, 4 * float(config.get("MAIL_TIMEOUT") or 30)))
    try:
        return _send_all(session, smtp, ids, config, max_attempts=max_attempts, lease=lease)
    finally:
        _hang_up(smtp)


def _pending_ids(session: Session, limit: int | None) -> list[int]:
    """The ids of the pending e-mails, oldest first (at most ``limit``); commits the read."""
    query = (
        select(OutboxEmail.id)
        .where(OutboxEmail.status == OutboxStatus.PENDING)
        .order_by(OutboxEmail.created_at, OutboxEmail.id)
        .limit(limit)
    )
    ids = list(session.scalars(query))
    session.commit()
    return ids


def _keep_for_later(session: Session, ids: list[int], error: OSError) -> DeliveryReport:
    """The server cannot be reached: the messages still pending count an attempt and stay."""
    description = _describe(error)
    count = rows_matched(
        session.execute(
            update(OutboxEmail)
            .where(OutboxEmail.id.in_(ids), OutboxEmail.status == OutboxStatus.PENDING)
            .values(attempts=OutboxEmail.attempts + 1, last_error=description)
        )
    )
    session.commit()
    log.warning("mail server unreachable, %s message(s) kept: %s", count, description)
    return DeliveryReport(retried=int(count or 0), error=description)


def _send_all(
    session: Session,
    smtp: smtplib.SMTP,
    ids: list[int],
    config: Mapping[str, Any],
    *,
    max_attempts: int,
    lease: timedelta,
) -> DeliveryReport:
    """Claim and send the e-mails ``ids`` in turn, until the connection is lost."""
    outcomes: Counter[_Outcome] = Counter()
    for email_id in ids:
        email = _claim(session, email_id, lease)
        if email is None:
            continue
        outcome = _send_claimed(session, smtp, email, config, max_attempts)
        outcomes[outcome] += 1
        if outcome == "lost":
            break
    return DeliveryReport(
        sent=outcomes["sent"],
        retried=outcomes["retried"] + outcomes["lost"],
        failed=outcomes["failed"],
    )


def _send_claimed(
    session: Session,
    smtp: smtplib.SMTP,
    email: OutboxEmail,
    config: Mapping[str, Any],
    max_attempts: int,
) -> _Outcome:
    """Send one claimed e-mail, counting the attempt and releasing the claim; commits."""
    email_id = email.id
    email.attempts += 1
    email.claimed_until = None
    try:
        smtp.send_message(_message(email, config))
    except OSError as error:
        return _record_failure(session, email_id, email, error, max_attempts)
    email.status = OutboxStatus.SENT
    email.sent_at = utcnow()
    email.last_error = None
    session.commit()
    return "sent"


def _record_failure(
    session: Session, email_id: int, email: OutboxEmail, error: OSError, max_attempts: int
) -> _Outcome:
    """Record why ``email`` was not sent; it is given up on after ``max_attempts`` refusals.

    A broken connection never gives a message up: it is not the message's fault.
    """
    email.last_error = _describe(error)
    lost = _is_connection_error(error)
    outcome: _Outcome
    if not lost and email.attempts >= max_attempts:
        email.status = OutboxStatus.FAILED
        outcome = "failed"
    else:
        outcome = "lost" if lost else "retried"
    session.commit()
    log.warning("e-mail %s not sent: %s", email_id, email.last_error)
    return outcome


def _hang_up(smtp: smtplib.SMTP) -> None:
    """Quit politely, or just close when the server no longer answers."""
    try:
        smtp.quit()
    except (OSError, smtplib.SMTPException):
        smtp.close()


# --- delivering after a commit ----------------------------------------------------------


def get_dispatcher(app: Flask) -> Coalescing:
    """The background thread of ``app`` that sends the outbox, made on first use."""
    return coalescing(app, "mail", lambda session: deliver_outbox(session, app.config))


@event.listens_for(Session, "after_commit")
def _deliver_after_commit(session: Session) -> None:
    app: Flask | None = session.info.pop(_QUEUED_KEY, None)
    if app is None or app.config.get("MAIL_DELIVERY", "thread") != "thread":
        return
    if get_db(app).override is not None:
        # Tests share one connection with the requests: no thread may use it.
        return
    get_dispatcher(app).kick()


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session: Session) -> None:
    session.info.pop(_QUEUED_KEY, None)
