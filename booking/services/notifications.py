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

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from flask import current_app, has_app_context, has_request_context, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from booking.models import Notification, OutboxEmail, User

# Subjects of the e-mails, by notification kind; other kinds get the generic one.
SUBJECTS: dict[str, Any] = {
    "request.approved": _l("Your request is approved"),
    "request.declined": _l("Your request is declined"),
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
    if request_id is not None and has_request_context():
        link = url_for("requests.detail", request_id=request_id, _external=True)
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
