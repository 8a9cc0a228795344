"""The audit trail for the staff: a filtered, paginated list and its CSV export."""

from __future__ import annotations

from flask import Blueprint, Response, render_template, request, stream_with_context
from flask_babel import gettext as _
from flask_login import login_required
from wtforms import SelectChoice

from booking.db import get_session, utcnow
from booking.errors import BookingError
from booking.forms.audit import FILTER_FIELDS, AuditFilterForm
from booking.services import audit as service
from booking.services.access import require_staff
from booking.services.users import list_communes
from booking.timeutil import to_local
from booking.views.helpers import current, flash_error

bp = Blueprint("audit", __name__, url_prefix="/audit")


@bp.before_request
@login_required
def _signed_in() -> None:
    """Every page needs an account; the services check that it is staff."""


def _form() -> AuditFilterForm:
    form = AuditFilterForm(request.args)
    form.commune_id.choices = [
        SelectChoice(0, _("All")),
        *[SelectChoice(c.id, c.name) for c in list_communes(get_session())],
    ]
    return form


def _filter_args() -> dict[str, str]:
    """The filters of the query string, without the page (for links that keep them)."""
    return {name: request.args[name] for name in FILTER_FIELDS if request.args.get(name)}


def _render(form: AuditFilterForm, page: service.EventPage | None, status: int) -> tuple[str, int]:
    actions, kinds = service.filter_choices(get_session(), by=current())
    return (
        render_template(
            "audit/index.html",
            form=form,
            page=page,
            actions=actions,
            kinds=kinds,
            args=_filter_args(),
            changes=service.changes,
            show=service.display_value,
        ),
        status,
    )


@bp.route("/")
def index() -> tuple[str, int]:
    """The audit trail, newest first, filtered by the query string."""
    user = require_staff(current())
    form = _form()
    if not form.validate():
        return _render(form, None, 400)
    try:
        page = service.list_events(
            get_session(),
            form.to_filters(),
            by=user,
            page=request.args.get("page", 1, type=int),
        )
    except BookingError as error:
        if error.status_code == 403:
            raise
        flash_error(error, form)
        return _render(form, None, error.status_code)
    return _render(form, page, 200)


@bp.route("/export.csv")
def export_csv() -> Response | tuple[str, int]:
    """The filtered audit trail as a CSV download."""
    user = require_staff(current())
    form = _form()
    if not form.validate():
        return _render(form, None, 400)
    try:
        chunks = service.export_csv(get_session(), form.to_filters(), by=user)
    except BookingError as error:
        if error.status_code == 403:
            raise
        flash_error(error, form)
        return _render(form, None, error.status_code)
    name = f"audit-{to_local(utcnow()):%Y%m%d-%H%M}.csv"
    return Response(
        stream_with_context(chunks),
        mimetype="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
