"""The home page, which depends on the role."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from flask_login import login_required
from werkzeug.wrappers import Response

from booking.db import get_session
from booking.models import Role
from booking.services import dashboard
from booking.views.helpers import current

bp = Blueprint("main", __name__)


@bp.route("/")
@login_required
def home() -> str | Response:
    """Technicians see their commune, managers the fleet, admins the accounts."""
    user = current()
    if user.role is Role.TECHNICIAN:
        summary = dashboard.commune_summary(get_session(), by=user)
        return render_template("main/technician.html", summary=summary)
    if user.role is Role.MANAGER:
        counts = dashboard.fleet_counts(get_session(), by=user)
        return render_template("main/manager.html", counts=counts)
    return redirect(url_for("admin.users"))
