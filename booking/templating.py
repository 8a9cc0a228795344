"""Jinja globals: the menu, and labels for the states shown on pages."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask_babel import lazy_gettext as _l

from booking.models import PlanStatus, RequestStatus, Role

# (endpoint, label, roles that see it). A link shows only once its endpoint exists, so
# areas of the product appear in the menu as their blueprints are added.
NAV_LINKS: list[tuple[str, Any, frozenset[str]]] = [
    ("requests.index", _l("Requests"), frozenset({"technician", "manager"})),
    ("planning.index", _l("Planning"), frozenset({"manager"})),
    ("handovers.overdue", _l("Hand-overs"), frozenset({"technician", "manager"})),
    ("inventory.index", _l("Inventory"), frozenset({"manager"})),
    ("rounds.index", _l("Rounds"), frozenset({"manager"})),
    ("reports.index", _l("Reports"), frozenset({"technician", "manager"})),
    ("feeds.index", _l("Calendars"), frozenset({"technician", "manager", "admin"})),
    ("api_tokens.index", _l("API tokens"), frozenset({"technician", "manager", "admin"})),
    ("audit.index", _l("Audit log"), frozenset({"manager", "admin"})),
    ("admin.users", _l("Accounts"), frozenset({"admin"})),
]

ROLE_LABELS = {
    Role.TECHNICIAN: _l("Commune technician"),
    Role.MANAGER: _l("Fleet manager"),
    Role.ADMIN: _l("Administrator"),
}

REQUEST_STATUS_LABELS = {
    RequestStatus.SUBMITTED: _l("Submitted"),
    RequestStatus.PLANNED: _l("In a proposed plan"),
    RequestStatus.APPROVED: _l("Approved"),
    RequestStatus.DECLINED: _l("Declined"),
    RequestStatus.CANCELLED: _l("Cancelled"),
    RequestStatus.HANDED_OVER: _l("Handed over"),
    RequestStatus.RETURNED: _l("Returned"),
    RequestStatus.WAITING: _l("Waiting list"),
}

PLAN_STATUS_LABELS = {
    PlanStatus.PROPOSED: _l("Proposed"),
    PlanStatus.APPROVED: _l("Approved"),
    PlanStatus.SUPERSEDED: _l("Superseded"),
    PlanStatus.DISCARDED: _l("Discarded"),
}


def init_app(app: Flask) -> None:
    app.jinja_env.globals.update(
        nav_links=NAV_LINKS,
        role_label=lambda role: ROLE_LABELS[role],
        status_label=lambda status: REQUEST_STATUS_LABELS[status],
        plan_status_label=lambda status: PLAN_STATUS_LABELS[status],
    )
