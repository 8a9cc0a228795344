"""What belongs to the token's user: notifications and calendar feeds."""

from __future__ import annotations

from typing import Any

from flask import url_for

from booking.api import schemas_planning as schemas
from booking.api.auth import api_user
from booking.api.blueprint import bp
from booking.db import get_session
from booking.models import Notification
from booking.services import feeds, notifications

NOTIFICATIONS = {"tags": ["Notifications"]}
FEEDS = {"tags": ["Calendar feeds"]}


@bp.route("/notifications")
@bp.doc(**NOTIFICATIONS, summary="My notifications, newest first")
@bp.response(200, schemas.NotificationList)
def list_notifications() -> dict[str, Any]:
    """The latest notifications and how many are unread."""
    session = get_session()
    user = api_user()
    return {
        "items": notifications.list_notifications(session, by=user),
        "unread": notifications.unread_count(session, by=user),
    }


@bp.route("/notifications/<int:notification_id>/read", methods=["POST"])
@bp.doc(**NOTIFICATIONS, summary="Mark one notification read")
@bp.response(200, schemas.NotificationSchema)
def mark_read(notification_id: int) -> Notification:
    """Someone else's notification is reported missing."""
    return notifications.mark_read(get_session(), notification_id, by=api_user())


@bp.route("/notifications/read-all", methods=["POST"])
@bp.doc(**NOTIFICATIONS, summary="Mark every notification read")
@bp.response(200, schemas.MarkedSchema)
def mark_all_read() -> dict[str, int]:
    """How many were unread."""
    return {"marked": notifications.mark_all_read(get_session(), by=api_user())}


@bp.route("/feeds")
@bp.doc(**FEEDS, summary="My calendar feeds")
@bp.response(200, schemas.FeedList)
def list_feeds() -> dict[str, Any]:
    """The feeds not revoked, oldest first (their secret addresses are not shown again)."""
    return {"items": feeds.list_feeds(get_session(), by=api_user())}


@bp.route("/feeds", methods=["POST"])
@bp.doc(**FEEDS, summary="Make a calendar feed")
@bp.arguments(schemas.FeedInSchema)
@bp.response(201, schemas.NewFeedSchema)
def create_feed(data: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """A new feed and its secret iCalendar address, shown only in this answer."""
    feed, token = feeds.create_feed(
        get_session(),
        by=api_user(),
        kind=data["kind"],
        target_id=data.get("target_id"),
        name=data["name"],
    )
    url = url_for("feeds.calendar", token=token, _external=True)
    return {"feed": feed, "url": url}, 201


@bp.route("/feeds/<int:feed_id>", methods=["DELETE"])
@bp.doc(**FEEDS, summary="Revoke a calendar feed")
@bp.response(204)
def revoke_feed(feed_id: int) -> None:
    """Its address answers 404 from now on."""
    feeds.revoke_feed(get_session(), feed_id, by=api_user())
