"""The page of one unit or pool, opened by scanning its label, with its hand-overs."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import login_required

from booking.db import get_session
from booking.services import equipment_pages as service
from booking.services.access import STAFF_ROLES
from booking.views.helpers import current

bp = Blueprint("equipment", __name__)


@bp.before_request
@login_required
def _signed_in() -> None:
    """Every page needs an account; the service checks the commune."""


def _render(page: service.EquipmentPage) -> str:
    user = current()
    return render_template("equipment/page.html", page=page, staff=user.role in STAFF_ROLES)


@bp.route("/units/<code>")
def unit(code: str) -> str:
    """A unit and the hand-over to do with it now."""
    return _render(service.unit_page(get_session(), code, by=current()))


@bp.route("/pools/<int:pool_id>")
def pool(pool_id: int) -> str:
    """A pooled stock and the hand-overs drawing from it."""
    return _render(service.pool_page(get_session(), pool_id, by=current()))
