"""Activity reports: a printable page with charts, and its figures as CSV."""

from __future__ import annotations

from flask import Blueprint, Response, render_template, request
from flask_babel import gettext as _
from flask_login import login_required
from wtforms import SelectChoice

from booking.db import get_session, utcnow
from booking.errors import ValidationError
from booking.forms.reports import REPORT_FIELDS, ReportForm
from booking.models import Commune, User
from booking.services import report_charts as charts
from booking.services import reports as service
from booking.services.access import STAFF_ROLES
from booking.timeutil import to_local
from booking.views.helpers import current, flash_error

bp = Blueprint("reports", __name__, url_prefix="/reports")


@bp.before_request
@login_required
def _signed_in() -> None:
    """Every page needs an account; the service checks the commune."""


def _form(user: User, communes: list[Commune]) -> ReportForm:
    form = ReportForm(request.args)
    choices = [SelectChoice(c.id, c.name) for c in communes]
    if user.role in STAFF_ROLES:
        choices.insert(0, SelectChoice(0, _("Whole agglomeration")))
    elif not request.args.get("commune") and user.commune_id is not None:
        form.commune.data = user.commune_id
    form.commune.choices = choices
    return form


def _report(user: User) -> tuple[ReportForm, service.Report | None]:
    """The form of the query string and its report (None when the input is wrong)."""
    session = get_session()
    form = _form(user, service.report_communes(session, by=user))
    if not form.validate():
        return form, None
    try:
        period = service.choose_period(
            form.year.data, form.start.data, form.end.data, today=to_local(utcnow()).date()
        )
    except ValidationError as error:
        flash_error(error, form)
        return form, None
    return form, service.build_report(session, period, form.commune.data, by=user)


def _args() -> dict[str, str]:
    return {name: request.args[name] for name in REPORT_FIELDS if request.args.get(name)}


def _render(form: ReportForm, report: service.Report | None) -> tuple[str, int]:
    return (
        render_template(
            "reports/index.html",
            form=form,
            report=report,
            charts=charts.report_charts(report) if report and report.has_data else [],
            reasons=charts.refusal_labels(),
            args=_args(),
        ),
        200 if report is not None else 400,
    )


@bp.route("/")
def index() -> tuple[str, int]:
    """The report chosen in the query string (this year's, of the user's scope, at first)."""
    form, report = _report(current())
    return _render(form, report)


@bp.route("/export.csv")
def export_csv() -> Response | tuple[str, int]:
    """The figures of the report chosen in the query string, as a CSV download."""
    form, report = _report(current())
    if report is None:
        return _render(form, None)
    scope = report.commune.slug if report.commune else "agglomeration"
    name = f"report-{scope}-{report.period.start:%Y%m%d}-{report.period.end:%Y%m%d}.csv"
    return Response(
        service.report_csv(report, charts.refusal_labels()),
        mimetype="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
