"""The sheet of QR labels the fleet manager prints for units and pooled stock."""

from __future__ import annotations

from flask import Blueprint, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from markupsafe import Markup
from wtforms import SelectChoice

from booking.db import get_session
from booking.forms.labels import LabelFilterForm
from booking.services import labels as service
from booking.views.helpers import current

bp = Blueprint("labels", __name__, url_prefix="/labels")


@bp.before_request
@login_required
def _signed_in() -> None:
    """Every page needs an account; the service checks that it is staff."""


def _address(target: service.LabelTarget) -> str:
    """The absolute address the label's QR code opens."""
    if target.unit is not None:
        return url_for("equipment.unit", code=target.unit.code, _external=True)
    assert target.pool is not None
    return url_for("equipment.pool", pool_id=target.pool.id, _external=True)


@bp.route("/")
def sheet() -> tuple[str, int]:
    """The labels chosen in the query string, laid out to print on A4."""
    session = get_session()
    user = current()
    types, depots = service.label_choices(session, by=user)
    form = LabelFilterForm(request.args)
    form.type_id.choices = [SelectChoice(0, _("All")), *[SelectChoice(t.id, t.name) for t in types]]
    form.depot_id.choices = [
        SelectChoice(0, _("All")),
        *[SelectChoice(d.id, d.name) for d in depots],
    ]
    if not form.validate():
        return render_template("labels/sheet.html", form=form, labels=[]), 400
    labels = [
        (target, _address(target), Markup(service.qr_svg(_address(target))))
        for target in service.list_labels(session, form.to_filter(), by=user)
    ]
    return render_template("labels/sheet.html", form=form, labels=labels), 200
