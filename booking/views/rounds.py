"""Delivery rounds for the fleet manager: each truck's round of a day, its map, the
drivers' printable sheets, and a button to compute a day again."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import format_date
from flask_babel import gettext as _
from flask_login import login_required
from werkzeug.exceptions import NotFound
from werkzeug.wrappers import Response as BaseResponse

from booking.db import get_session
from booking.errors import BookingError
from booking.forms.common import ActionForm
from booking.services import rounds, rounds_pages
from booking.services.access import require_staff
from booking.views.helpers import current, flash_error

bp = Blueprint("rounds", __name__, url_prefix="/rounds")


@bp.before_request
@login_required
def _staff_only() -> None:
    """The rounds are for managers and admins (the services check again)."""
    require_staff(current())


@bp.route("/")
def index() -> BaseResponse:
    """The next working day's rounds (today's on a working day)."""
    today = rounds.today_local()
    day = today if today.weekday() < 5 else rounds.working_day(today, 1)
    return redirect(url_for("rounds.day", day=day.isoformat()))


@bp.route("/<day>")
def day(day: str) -> str:
    """Each truck's round of a day, the stops left out and a map."""
    when = _parse(day)
    view = rounds_pages.day_rounds(get_session(), when, by=current())
    return render_template(
        "rounds/day.html", view=view, title=format_date(when, "full"), form=ActionForm()
    )


@bp.route("/<day>/sheet")
def sheet(day: str) -> str:
    """The drivers' sheets of a day, one truck per printed page."""
    when = _parse(day)
    view = rounds_pages.day_rounds(get_session(), when, by=current())
    return render_template("rounds/sheet.html", view=view, title=format_date(when, "full"))


@bp.route("/<day>/recompute", methods=["POST"])
def recompute(day: str) -> BaseResponse:
    """Compute the rounds of a day again."""
    when = _parse(day)
    if ActionForm().validate_on_submit():
        try:
            rounds.recompute_day(get_session(), when, by=current())
        except BookingError as error:
            flash_error(error)
        else:
            flash(_("The rounds of this day were computed again."), "success")
    return redirect(url_for("rounds.day", day=when.isoformat()))


def _parse(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise NotFound() from None
