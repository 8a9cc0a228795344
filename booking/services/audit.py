"""Writing the audit trail."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from booking.models import AuditEvent, User


def record_event(
    session: Session,
    *,
    actor: User | None,
    action: str,
    object_type: str,
    object_id: int | None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEvent:
    """Add an audit event to ``session`` (committed with the change it describes).

    Args:
        session: the session carrying the change.
        actor: who made it; ``None`` for the system (CLI, jobs).
        action: a dotted verb such as ``"user.create"``.
        object_type: the kind of object, such as ``"user"``.
        object_id: its primary key.
        before: JSON-serialisable values before the change.
        after: JSON-serialisable values after it.
    """
    event = AuditEvent(
        actor_id=actor.id if actor is not None else None,
        action=action,
        object_type=object_type,
        object_id=object_id,
        before=before,
        after=after,
    )
    session.add(event)
    return event
