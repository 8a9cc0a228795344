"""Requests of a commune: the form with live availability, the list, details, cancelling."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import login_required
from werkzeug.wrappers import Response as BaseResponse
from wtforms import SelectChoice

from booking import limits
from booking.db import get_session
from booking.errors import BookingError, Conflict, ValidationError
from booking.forms.requests import (
    MAX_ROWS,
    PRIORITY_LABELS,
    REPEAT_LABELS,
    CancelForm,
    FilterForm,
    RequestForm,
)
from booking.models import LoanRequest, User
from booking.services import availability as availability_service
from booking.services import request_lists as lists
from booking.services import request_rules as rules
from booking.services import requests as service
from booking.services import series as series_service
from booking.services.access import STAFF_ROLES
from booking.timeutil import from_local, to_local
from booking.views.helpers import current

bp = Blueprint("requests", __name__, url_prefix="/requests")

# What a page returns: a redirect is werkzeug's Response, of which Flask's is a subclass.
Page = str | tuple[str, int] | BaseResponse
FieldErrors = dict[str | None, list[str]]


@bp.before_request
@login_required
def _signed_in() -> None:
    """Every page needs an account; the services check what it may see."""


@bp.context_processor
def _labels() -> dict[str, object]:
    return {"priority_labels": PRIORITY_LABELS, "repeat_labels": REPEAT_LABELS}


def _is_staff(user: User) -> bool:
    return user.role in STAFF_ROLES


# --- the form ---------------------------------------------------------------------------


def _build_form(loan: LoanRequest | None = None) -> tuple[RequestForm, lists.RequesterChoices]:
    """The form with its choices; ``loan`` pre-fills it on a first GET of the edit page."""
    user = current()
    choices = lists.requester_choices(get_session(), by=user)
    form = RequestForm()
    if loan is not None and not form.is_submitted():
        before, after = service.flex_days(loan)
        form.process(
            formdata=None,
            data={
                "commune_id": loan.commune_id,
                "site_id": loan.site_id,
                "title": loan.title,
                "start_dt": to_local(loan.requested_start_dt).replace(tzinfo=None),
                "end_dt": to_local(loan.requested_end_dt).replace(tzinfo=None),
                "flex_days_before": before,
                "flex_days_after": after,
                "priority": loan.priority,
                "priority_reason": loan.priority_reason,
                "notes": loan.notes,
                "version": str(loan.version),
                "lines": [
                    {"type_id": line.type_id, "quantity": line.quantity} for line in loan.lines
                ],
            },
        )
        form.lines.append_entry()
    if loan is not None:
        # A series is described once, when it is asked for; its occurrences change alone
        # or together.
        for name in ("repeat", "repeat_until", "repeat_dates", "repeat_except"):
            delattr(form, name)
    if loan is None or loan.series_id is None:
        del form.scope
    if _is_staff(user):
        form.commune_id.choices = [
            SelectChoice(0, "—"),
            *[SelectChoice(c.id, c.name) for c in choices.communes],
        ]
        if loan is not None:
            # The commune of an existing request does not change.
            form.commune_id.render_kw = {"disabled": True}
    else:
        del form.commune_id
    if _is_staff(user):
        # Grouped by commune; the script hides other communes' groups.
        form.site_id.choices = [
            SelectChoice(
                s.id,
                s.name,
                render_kw={"data-commune": str(s.commune_id)},
                optgroup=s.commune.name if s.commune else None,
            )
            for s in choices.sites
        ]
    else:
        form.site_id.choices = [SelectChoice(s.id, s.name) for s in choices.sites]
    form.set_type_choices([(t.id, t.name) for t in choices.types])
    return form, choices


def _commune_id(form: RequestForm, loan: LoanRequest | None) -> int | None:
    if loan is not None:
        return loan.commune_id
    if form.commune_id is not None:  # staff choose; technicians' forms have no selector
        return form.commune_id.data or None
    return current().commune_id


def _local(value: datetime | None) -> datetime | None:
    return from_local(value) if value is not None else None


def _service_errors(form: RequestForm, loan: LoanRequest | None) -> FieldErrors:
    """The business rules the typed values break, for fields the form found readable."""
    problems = rules.validate_request(
        get_session(),
        by=current(),
        commune_id=_commune_id(form, loan),
        site_id=form.site_id.data or None,
        start_dt=None if form.start_dt.errors else _local(form.start_dt.data),
        end_dt=None if form.end_dt.errors else _local(form.end_dt.data),
        flex_days_before=form.flex_days_before.data,
        flex_days_after=form.flex_days_after.data,
        lines=form.line_values(),
        priority=form.priority.data,
        priority_reason=form.priority_reason.data,
    )
    return _group(problems, form)


def _group(problems: list[tuple[str | None, str]], form: RequestForm) -> FieldErrors:
    """Group messages by field, dropping those about fields the form already flagged."""
    grouped: FieldErrors = {}
    for field, message in problems:
        target = getattr(form, field, None) if field else None
        if field != "lines" and target is not None and target.errors:
            continue
        if field == "lines" and not form.line_values() and _row_errors(form):
            continue
        if message not in grouped.setdefault(field, []):
            grouped[field].append(message)
    return grouped


def _row_errors(form: RequestForm) -> list[str]:
    return [
        str(message)
        for entry in form.lines
        for field in (entry.form.type_id, entry.form.quantity)
        for message in field.errors
    ]


def _all_messages(form: RequestForm, extra: FieldErrors) -> list[str]:
    """Every message, in the order of the fields, for the summary above the form."""
    messages: list[str] = []
    for name in (
        "commune_id",
        "site_id",
        "title",
        "start_dt",
        "end_dt",
        "flex_days_before",
        "flex_days_after",
        "repeat",
        "repeat_until",
        "repeat_dates",
        "repeat_except",
        "lines",
        "priority",
        "priority_reason",
        "notes",
    ):
        field = getattr(form, name, None)
        if name == "lines":
            messages += _row_errors(form)
        elif field is not None:
            messages += [str(m) for m in field.errors]
        messages += extra.get(name, [])
    messages += extra.get(None, [])
    return messages


def _availability_rows(
    form: RequestForm, loan: LoanRequest | None
) -> list[availability_service.TypeAvailability] | None:
    if form.start_dt.errors or form.end_dt.errors:
        return None
    start, end = _local(form.start_dt.data), _local(form.end_dt.data)
    if start is None or end is None or end <= start:
        return None
    return availability_service.availability(
        get_session(),
        by=current(),
        start_dt=start,
        end_dt=end,
        commune_id=_commune_id(form, loan),
        exclude_request_id=loan.id if loan is not None else None,
    )


def _render_form(
    form: RequestForm,
    loan: LoanRequest | None,
    extra: FieldErrors | None = None,
    status: int = 200,
    rows: list[availability_service.TypeAvailability] | None = None,
) -> tuple[str, int]:
    extra = extra or {}
    return (
        render_template(
            "requests/form.html",
            form=form,
            loan=loan,
            extra=extra,
            messages=_all_messages(form, extra),
            availability_rows=rows,
            max_rows=MAX_ROWS,
        ),
        status,
    )


def _handle_form(loan: LoanRequest | None) -> Page:
    form, _choices = _build_form(loan)
    if not form.is_submitted():
        return _render_form(form, loan)
    if form.add_row.data:
        if len(form.lines) < MAX_ROWS:
            form.lines.append_entry()
            form.set_type_choices(
                [(c.value, c.label) for c in form.lines[0].form.type_id.choices if c.value]
            )
        return _render_form(form, loan)
    if form.check.data:
        form.validate()
        return _render_form(form, loan, rows=_availability_rows(form, loan))
    if not form.validate():
        return _render_form(form, loan, _service_errors(form, loan), 400)
    values: dict[str, Any] = {
        "by": current(),
        "site_id": form.site_id.data,
        "start_dt": from_local(form.start_dt.data),
        "end_dt": from_local(form.end_dt.data),
        "flex_days_before": form.flex_days_before.data,
        "flex_days_after": form.flex_days_after.data,
        "lines": form.line_values(),
        "priority": form.priority.data,
        "priority_reason": form.priority_reason.data,
        "notes": form.notes.data,
        "title": form.title.data or "",
    }
    session = get_session()
    horizon_days = current_app.config["PLANNING_HORIZON_DAYS"]
    try:
        recurrence = form.recurrence() if loan is None else None
        if recurrence is not None:
            series = series_service.submit_series(
                session,
                commune_id=_commune_id(form, None) or 0,
                recurrence=recurrence,
                horizon_days=horizon_days,
                **values,
            )
            flash(_("Series of %(count)d requests sent.", count=len(series.requests)), "success")
            return redirect(url_for("requests.series", series_id=series.id))
        if loan is None:
            saved = service.submit_request(
                session, commune_id=_commune_id(form, None) or 0, **values
            )
            flash(_("Request %(id)d sent.", id=saved.id), "success")
        else:
            version = int(form.version.data) if (form.version.data or "").isdigit() else None
            scope = _scope(form.scope.data if form.scope is not None else None)
            change = series_service.update_occurrences(
                session,
                loan.id,
                scope=scope,
                expected_version=version,
                horizon_days=horizon_days,
                **values,
            )
            saved = loan
            _flash_change(change, _("Request %(id)d saved.", id=loan.id), saved=True)
    except ValidationError as error:
        session.rollback()
        return _render_form(form, loan, _group(error.errors, form), 400)
    except Conflict as error:
        session.rollback()
        flash(error.message, "error")
        if loan is None:
            return _render_form(form, loan, status=409)
        return redirect(url_for("requests.detail", request_id=loan.id))
    return redirect(url_for("requests.detail", request_id=saved.id))


@bp.route("/new", methods=["GET", "POST"])
def new() -> Page:
    """Ask for equipment."""
    return _handle_form(None)


@bp.route("/<int:request_id>/edit", methods=["GET", "POST"])
def edit(request_id: int) -> Page:
    """Change a request no plan has approved yet."""
    loan = service.get_request(get_session(), request_id, by=current())
    if loan.status not in service.EDITABLE:
        flash(_("This request can no longer be changed."), "error")
        return redirect(url_for("requests.detail", request_id=loan.id))
    return _handle_form(loan)


def _scope(value: str | None) -> series_service.Scope:
    try:
        return series_service.Scope(value or "one")
    except ValueError:
        return series_service.Scope.ONE


def _flash_change(change: series_service.SeriesChange, one: str, *, saved: bool) -> None:
    """Say what a change to one or several occurrences did."""
    if len(change.changed) == 1 and not change.skipped:
        flash(one, "success")
        return
    if saved:
        flash(_("%(count)d requests of the series saved.", count=len(change.changed)), "success")
    else:
        flash(
            _("%(count)d requests of the series cancelled.", count=len(change.changed)),
            "success",
        )
    if change.skipped:
        flash(
            _(
                "Left as they are (already approved, handed over or closed): %(ids)s.",
                ids=", ".join(f"n° {r.id}" for r in change.skipped),
            ),
            "info",
        )


# --- availability -----------------------------------------------------------------------


def _parse_local(value: str | None) -> datetime | None:
    if not value:
        return None
    for pattern in ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"):
        try:
            moment = datetime.strptime(value, pattern)
        except ValueError:
            continue
        # Years 1 or 9999 overflow the time zone conversion; no loan is that far anyway.
        if limits.FIRST_YEAR <= moment.year <= limits.LAST_YEAR:
            return from_local(moment)
        return None
    return None


@bp.route("/availability")
def availability() -> Response | tuple[Response, int]:
    """Free, planned and requested quantities per type between ``start`` and ``end``."""
    start, end = _parse_local(request.args.get("start")), _parse_local(request.args.get("end"))
    problems = []
    if start is None:
        problems.append(
            _(
                "Give the start as YYYY-MM-DDTHH:MM, between %(first)d and %(last)d.",
                first=limits.FIRST_YEAR,
                last=limits.LAST_YEAR,
            )
        )
    if end is None:
        problems.append(
            _(
                "Give the end as YYYY-MM-DDTHH:MM, between %(first)d and %(last)d.",
                first=limits.FIRST_YEAR,
                last=limits.LAST_YEAR,
            )
        )
    if start is not None and end is not None and end <= start:
        problems.append(_("The loan must end after it starts."))
    if problems:
        return jsonify({"error": problems[0], "errors": problems}), 400
    assert start is not None and end is not None
    user = current()
    commune_id = request.args.get("commune_id", type=int) if _is_staff(user) else None
    exclude = request.args.get("exclude", type=int)
    rows = availability_service.availability(
        get_session(),
        by=user,
        start_dt=start,
        end_dt=end,
        commune_id=commune_id,
        exclude_request_id=exclude,
    )
    return jsonify({"types": [row.as_dict() for row in rows]})


# --- list and details -------------------------------------------------------------------


@bp.route("/")
def index() -> str:
    """The commune's requests (every commune's for staff), filtered by status and dates."""
    user = current()
    session = get_session()
    form = FilterForm(request.args)
    staff = _is_staff(user)
    if staff:
        choices = lists.requester_choices(session, by=user)
        form.commune_id.choices = [
            SelectChoice(0, _("All")),
            *[SelectChoice(c.id, c.name) for c in choices.communes],
        ]
    else:
        del form.commune_id
    form.validate()
    date_from = form.date_from.data if not form.date_from.errors else None
    date_to = form.date_to.data if not form.date_to.errors else None
    filters = lists.RequestFilters(
        commune_id=(form.commune_id.data or None) if form.commune_id is not None else None,
        status=form.status_value(),
        date_from=from_local(datetime.combine(date_from, time())) if date_from else None,
        date_to=from_local(datetime.combine(date_to, time()) + timedelta(days=1))
        if date_to
        else None,
    )
    loans, pager = lists.page_of_requests(
        session, by=user, filters=filters, page=request.args.get("page", type=int)
    )
    return render_template("requests/index.html", form=form, loans=loans, pager=pager, staff=staff)


@bp.route("/<int:request_id>")
def detail(request_id: int) -> str:
    """One request: lines, window, and what the plan gives it."""
    user = current()
    session = get_session()
    loan = service.get_request(session, request_id, by=user)
    return render_template(
        "requests/detail.html",
        loan=loan,
        outcome=lists.request_outcome(session, loan, by=user),
        flex=service.flex_days(loan),
        can_edit=loan.status in service.EDITABLE,
        can_cancel=loan.status in service.CANCELLABLE,
        staff=_is_staff(user),
    )


@bp.route("/<int:request_id>/cancel", methods=["GET", "POST"])
def cancel(request_id: int) -> Page:
    """Ask for confirmation, then cancel."""
    session = get_session()
    loan = service.get_request(session, request_id, by=current())
    form = CancelForm()
    if loan.series_id is None:
        del form.scope
    if form.validate_on_submit():
        try:
            if form.scope is None:
                service.cancel_request(session, loan.id, by=current(), reason=form.reason.data)
                flash(_("Request %(id)d cancelled.", id=loan.id), "success")
            else:
                change = series_service.cancel_occurrences(
                    session,
                    loan.id,
                    by=current(),
                    scope=_scope(form.scope.data),
                    reason=form.reason.data,
                )
                _flash_change(change, _("Request %(id)d cancelled.", id=loan.id), saved=False)
        except BookingError as error:
            session.rollback()
            flash(error.message, "error")
        return redirect(url_for("requests.detail", request_id=loan.id))
    if loan.status not in service.CANCELLABLE:
        flash(_("This request can no longer be cancelled."), "error")
        return redirect(url_for("requests.detail", request_id=loan.id))
    status = 400 if form.is_submitted() else 200
    return render_template("requests/cancel.html", loan=loan, form=form), status


@bp.route("/series/<int:series_id>")
def series(series_id: int) -> str:
    """The occurrences of a recurring request."""
    user = current()
    found = series_service.get_series(get_session(), series_id, by=user)
    return render_template(
        "requests/series.html",
        series=found,
        staff=_is_staff(user),
        editable=service.EDITABLE,
        cancellable=service.CANCELLABLE,
    )
