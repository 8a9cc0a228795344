"""Authorisation helpers every service uses.

Rules: admins and managers see every commune; a technician sees and changes only the
data of the commune their account is bound to, whatever id or URL they try.

Typical use in a service::

    def cancel_request(session, request_id, *, by):
        loan = get_in_commune(session, LoanRequest, request_id, by)   # NotFound/Forbidden
        ...

    def list_requests(session, *, by):
        return session.scalars(
            select(LoanRequest).where(commune_filter(by, LoanRequest.commune_id))
        ).all()
"""

from __future__ import annotations

from typing import Any, TypeVar

from flask_babel import gettext as _
from sqlalchemy import ColumnElement, false, true
from sqlalchemy.orm import InstrumentedAttribute, Session

from booking.errors import Forbidden, NotFound
from booking.models import Role, User

T = TypeVar("T")

STAFF_ROLES = (Role.MANAGER, Role.ADMIN)


def require_role(user: User | None, *roles: Role) -> User:
    """Check that ``user`` is signed in, active and holds one of ``roles``.

    Returns:
        The user, for chaining.

    Raises:
        Forbidden: if the user is missing, disabled or holds another role.
    """
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        raise Forbidden(_("Please sign in with an active account."))
    if roles and user.role not in roles:
        raise Forbidden(_("Your account may not do this."))
    return user


def require_staff(user: User | None) -> User:
    """Check that ``user`` is a manager or an admin.

    Raises:
        Forbidden: otherwise.
    """
    return require_role(user, *STAFF_ROLES)


def can_access_commune(user: User | None, commune_id: int | None) -> bool:
    """Whether ``user`` may see and change data of commune ``commune_id``."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if user.role in STAFF_ROLES:
        return True
    return commune_id is not None and user.commune_id == commune_id


def require_commune_access(user: User | None, commune_id: int | None) -> User:
    """Check that ``user`` may act for commune ``commune_id``.

    Raises:
        Forbidden: if ``user`` is a technician of another commune (or not signed in).
    """
    require_role(user)
    if not can_access_commune(user, commune_id):
        raise Forbidden(_("This belongs to another commune."))
    assert user is not None
    return user


def commune_filter(user: User, column: InstrumentedAttribute[Any]) -> ColumnElement[bool]:
    """A WHERE clause limiting ``column`` (a ``commune_id``) to what ``user`` may see."""
    if not user.is_active:
        return false()
    if user.role in STAFF_ROLES:
        return true()
    if user.commune_id is None:
        return false()
    return column == user.commune_id


def get_or_404(session: Session, model: type[T], object_id: int) -> T:
    """``session.get(model, object_id)`` or a NotFound naming what is missing.

    Raises:
        NotFound: if there is no such row.
    """
    obj = session.get(model, object_id)
    if obj is None:
        raise NotFound(_("%(what)s %(id)s does not exist.", what=model.__name__, id=object_id))
    return obj


def get_in_commune(
    session: Session, model: type[T], object_id: int, user: User, attr: str = "commune_id"
) -> T:
    """Load a row that belongs to a commune, checking that ``user`` may act for it.

    Args:
        session: the database session.
        model: a mapped class with a commune foreign key named ``attr``.
        object_id: primary key.
        user: who asks.
        attr: the attribute holding the commune id.

    Raises:
        NotFound: if there is no such row.
        Forbidden: if it belongs to a commune ``user`` may not act for.
    """
    obj = get_or_404(session, model, object_id)
    require_commune_access(user, getattr(obj, attr))
    return obj
