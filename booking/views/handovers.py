"""Handing equipment over and back: the check-out and check-in forms, the overdue list."""

from __future__ import annotations

from datetime import datetime, time

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import login_required
from werkzeug.wrappers import Response as BaseResponse

from booking.db import get_session, utcnow
from booking.errors import BookingError, ValidationError
from booking.forms.handovers import CONDITION_LABELS, CheckInForm, CheckOutForm
from booking.models import HandoverKind, LoanRequest, RequestStatus
from booking.services import handover_lists as lists
from booking.services import handovers as service
from booking.services.access import STAFF_ROLES
from booking.timeutil import from_local, to_local
from booking.views.helpers import current

bp = Blueprint("handovers", __name__, url_prefix="/handovers")

# What a page returns: a redirect is werkzeug's Response, of which Flask's is a subclass.
Page = str | tuple[str, int] | BaseResponse


@bp.before_request
@login_required
def _signed_in() -> None:
    """Every page needs an account; the services check the commune."""


def _history(loan: LoanRequest) -> list[lists.HistoryEntry]:
    return lists.history(get_session(), loan)


@bp.app_context_processor
def _helpers() -> dict[str, object]:
    """For the request page (any blueprint's template): the history and the labels."""
    return {
        "handover_history": _history,
        "condition_labels": CONDITION_LABELS,
        "handover_kinds": HandoverKind,
    }


Form = CheckOutForm | CheckInForm


def _prepare(form: Form, loan: service.Loan) -> None:
    """One row per item, and the time now, on a first display."""
    if not form.is_submitted():
        form.at.data = to_local(utcnow()).replace(tzinfo=None, second=0, microsecond=0)
        for item in loan.items:
            form.items.append_entry({"key": item.key})


def _reports(form: Form) -> dict[str, service.ItemReport]:
    return {
        entry.form.key.data: service.ItemReport(
            condition=entry.form.condition.data,
            damage=entry.form.damage.data,
            missing_quantity=entry.form.missing_quantity.data or 0,
        )
        for entry in form.items
    }


def _show_errors(form: Form, error: ValidationError) -> None:
    """Put each message next to its field: ``unit-3:damage`` is the row of item unit-3."""
    rows = {entry.form.key.data: entry.form for entry in form.items}
    for name, message in error.errors:
        key, _sep, attr = (name or "").partition(":")
        target = getattr(rows[key], attr, None) if attr and key in rows else None
        if target is None and name and not attr:
            target = getattr(form, name, None)
        if target is not None and hasattr(target, "errors"):
            target.errors = [*list(target.errors), message]
        else:
            flash(message, "error")


def _render(template: str, form: Form, loan: service.Loan, status: int = 200) -> tuple[str, int]:
    items = {item.key: item for item in loan.items}
    return render_template(template, form=form, loan=loan, items=items), status


@bp.route("/<int:request_id>/check-out", methods=["GET", "POST"])
def check_out(request_id: int) -> Page:
    """Record who takes the equipment, when and in what state."""
    session = get_session()
    user = current()
    loan = service.get_loan(session, request_id, by=user)
    if loan.status is not RequestStatus.APPROVED:
        flash(_("Only an approved request can be handed over."), "error")
        return redirect(url_for("requests.detail", request_id=loan.id))
    served = service.loan_items(session, loan)
    form = CheckOutForm()
    _prepare(form, served)
    if not form.is_submitted():
        return _render("handovers/check_out.html", form, served)
    if not form.validate():
        return _render("handovers/check_out.html", form, served, 400)
    try:
        service.check_out(
            session,
            loan.id,
            by=user,
            taken_by=form.taken_by.data or "",
            at=from_local(form.at.data),
            reports=_reports(form),
            notes=form.notes.data,
        )
    except ValidationError as error:
        session.rollback()
        _show_errors(form, error)
        return _render("handovers/check_out.html", form, served, 400)
    except BookingError as error:
        session.rollback()
        flash(error.message, "error")
        return redirect(url_for("requests.detail", request_id=loan.id))
    flash(_("Request %(id)d is handed over.", id=loan.id), "success")
    return redirect(url_for("requests.detail", request_id=loan.id))


def _maintenance_end(form: CheckInForm) -> datetime | None:
    """The evening of the chosen day (23:59 in Paris): the unit is out of service that day."""
    day = form.maintenance_until.data
    if day is None:
        return None
    return from_local(datetime.combine(day, time(23, 59)))


@bp.route("/<int:request_id>/check-in", methods=["GET", "POST"])
def check_in(request_id: int) -> Page:
    """Record the return, damage and missing items; send damaged units to maintenance."""
    session = get_session()
    user = current()
    loan: LoanRequest = service.get_loan(session, request_id, by=user)
    if loan.status is not RequestStatus.HANDED_OVER:
        flash(_("Only equipment that was handed over can be checked in."), "error")
        return redirect(url_for("requests.detail", request_id=loan.id))
    served = service.loan_items(session, loan)
    form = CheckInForm()
    _prepare(form, served)
    if not form.is_submitted():
        return _render("handovers/check_in.html", form, served)
    if not form.validate():
        return _render("handovers/check_in.html", form, served, 400)
    to_repair = [
        int(entry.form.key.data.removeprefix("unit-"))
        for entry in form.items
        if entry.form.maintenance.data
        and entry.form.key.data.startswith("unit-")
        and entry.form.key.data.removeprefix("unit-").isdigit()
    ]
    try:
        result = service.check_in(
            session,
            loan.id,
            by=user,
            at=from_local(form.at.data),
            reports=_reports(form),
            notes=form.notes.data,
            send_to_maintenance=to_repair,
            maintenance_until=_maintenance_end(form),
        )
    except ValidationError as error:
        session.rollback()
        _show_errors(form, error)
        return _render("handovers/check_in.html", form, served, 400)
    except BookingError as error:
        session.rollback()
        flash(error.message, "error")
        return redirect(url_for("requests.detail", request_id=loan.id))
    flash(_("Request %(id)d is returned.", id=loan.id), "success")
    if result.maintenance:
        flash(_("%(count)d unit(s) sent to maintenance.", count=len(result.maintenance)), "success")
    if result.missing_units:
        flash(
            _(
                "Not returned: %(units)s. Out of service until put back in service on the "
                "unit's page.",
                units=", ".join(unit.code for unit in result.missing_units),
            ),
            "warning",
        )
    for clash in result.clashes:
        flash(
            _(
                "Request %(id)d is planned with a unit now in maintenance: run the optimiser "
                "again.",
                id=clash.id,
            ),
            "warning",
        )
    return redirect(url_for("requests.detail", request_id=loan.id))


@bp.route("/overdue")
def overdue() -> str:
    """Loans that should have come back (the commune's own for a technician)."""
    user = current()
    session = get_session()
    return render_template(
        "handovers/overdue.html",
        overdue=lists.list_overdue(session, by=user),
        upcoming=lists.upcoming_handovers(session, by=user),
        staff=user.role in STAFF_ROLES,
    )
