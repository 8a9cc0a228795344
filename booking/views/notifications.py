"""My notifications: the list, marking them read, the unread badge, and ``flask send-mail``."""

from __future__ import annotations

import logging
import sys

import click
from flask import Blueprint, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.wrappers import Response

from booking.db import get_db, get_session
from booking.forms.common import ActionForm
from booking.services import notifications as service
from booking.views.helpers import current

log = logging.getLogger(__name__)

# ``cli_group=None``: the command is ``flask send-mail``, not ``flask notifications send-mail``.
bp = Blueprint("notifications", __name__, url_prefix="/notifications", cli_group=None)


@bp.before_request
@login_required
def _signed_in() -> None:
    """Every page needs an account; each user sees only their own notifications."""


@bp.app_context_processor
def _unread_badge() -> dict[str, object]:
    """``unread_notifications()`` for the menu: one count query, only when it is shown."""

    def unread_notifications() -> int:
        if not current_user or not current_user.is_authenticated:
            return 0
        try:
            return service.unread_count(get_session(), by=current())
        except SQLAlchemyError:
            # Error pages are rendered after a failed transaction: no badge rather than a loop.
            log.warning("unread notifications not counted", exc_info=True)
            return 0

    return {"unread_notifications": unread_notifications}


@bp.route("/")
def index() -> str:
    """My notifications, newest first, the unread ones highlighted."""
    session = get_session()
    notes = service.list_notifications(session, by=current())
    return render_template(
        "notifications/index.html",
        notes=notes,
        form=ActionForm(),
        has_unread=any(n.read_at is None for n in notes),
        page_size=service.PAGE_SIZE,
    )


@bp.route("/<int:notification_id>/read", methods=["POST"])
def mark_read(notification_id: int) -> Response:
    """Mark one notification read (the CSRF token is checked for every POST)."""
    service.mark_read(get_session(), notification_id, by=current())
    return redirect(url_for("notifications.index", _anchor=f"notification-{notification_id}"))


@bp.route("/read-all", methods=["POST"])
def mark_all_read() -> Response:
    """Mark all my notifications read (the CSRF token is checked for every POST)."""
    count = service.mark_all_read(get_session(), by=current())
    if count:
        flash(_("All notifications marked as read."), "success")
    return redirect(url_for("notifications.index"))


@bp.cli.command("send-mail")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Send at most this many.")
def send_mail_command(limit: int | None) -> None:
    """Send the queued e-mails (run it from cron); exit 1 when the server is unreachable."""
    config = current_app.config
    if not service.mail_enabled(config):
        click.echo("E-mail is not configured: set MAIL_SERVER.", err=True)
        sys.exit(1)
    with get_db().session() as session:
        report = service.deliver_outbox(session, config, limit=limit)
    click.echo(f"{report.sent} sent, {report.retried} to retry, {report.failed} failed.")
    if report.error:
        click.echo(f"Error: the mail server cannot be reached: {report.error}", err=True)
        sys.exit(1)
