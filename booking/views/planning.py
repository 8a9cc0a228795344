"""Planning pages for the fleet manager: run the optimiser, review, adjust, approve."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, Response, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_required
from werkzeug.wrappers import Response as BaseResponse

from booking.db import get_session
from booking.errors import BookingError
from booking.forms.common import ActionForm
from booking.forms.planning import DeclineForm, ForceUnitForm, RunForm
from booking.models import JobStatus
from booking.services import jobs, planning, waiting
from booking.services.access import require_staff
from booking.services.request_rules import is_valid_id
from booking.views.helpers import current, flash_error

bp = Blueprint("planning", __name__, url_prefix="/planning")

# What a page returns: a redirect is werkzeug's Response, of which Flask's is a subclass.
Page = str | BaseResponse
STAGE_LABELS = {
    "queued": _l("Waiting for a free worker"),
    "building": _l("Reading the requests and the inventory"),
    "solving": _l("Searching for the best plan"),
    "checking": _l("Checking the plan and comparing with first come, first served"),
    "explaining": _l("Explaining the requests left out"),
    "done": _l("Done"),
}


JOB_STATUS_LABELS = {
    JobStatus.QUEUED: _l("queued"),
    JobStatus.RUNNING: _l("running"),
    JobStatus.SUCCEEDED: _l("finished"),
    JobStatus.FAILED: _l("failed"),
    JobStatus.CANCELLED: _l("cancelled"),
}


@bp.before_request
@login_required
def _staff_only() -> None:
    """Every planning page is for managers and admins (the services check again)."""
    require_staff(current())


@bp.route("/")
def index() -> str:
    """Requests to plan, plans to approve, hand-overs, overdue returns, maintenance."""
    board = planning.dashboard(get_session(), by=current())
    return render_template(
        "planning/index.html", board=board, form=RunForm(), job_labels=JOB_STATUS_LABELS
    )


@bp.route("/run", methods=["POST"])
def run() -> Page:
    """Queue a run of the optimiser and show its progress."""
    form = RunForm()
    if not form.validate_on_submit():
        for errors in form.errors.values():
            for message in errors:
                flash(str(message), "error")
        return redirect(url_for("planning.index"))
    try:
        job = planning.propose_plan(
            get_session(), by=current(), time_limit_seconds=form.time_limit.data or 60
        )
    except BookingError as error:
        flash_error(error)
        return redirect(url_for("planning.index"))
    return redirect(url_for("planning.job", job_id=job.id))


def _job_state(job_id: int) -> dict[str, object]:
    job = jobs.get_job(get_session(), job_id, by=current())
    return {
        "id": job.id,
        "status": job.status.value,
        "done": job.status not in jobs.ACTIVE,
        "stage": job.stage,
        "stage_label": str(STAGE_LABELS.get(job.stage or "", _l("Working"))),
        "progress": round(job.progress or 0.0, 3),
        "served_value": job.best_objective,
        "message": job.message,
        "plan_url": url_for("planning.plan", plan_id=job.plan_id) if job.plan_id else None,
    }


@bp.route("/jobs/<int:job_id>")
def job(job_id: int) -> Page:
    """A run's progress; goes to the plan when it is ready."""
    state = _job_state(job_id)
    if state["plan_url"] and request.args.get("stay") is None:
        return redirect(str(state["plan_url"]))
    return render_template("planning/job.html", state=state, form=ActionForm())


@bp.route("/jobs/<int:job_id>/status")
def job_status(job_id: int) -> Response:
    """A run's progress as JSON, for the page's progress bar."""
    return jsonify(_job_state(job_id))


@bp.route("/jobs/<int:job_id>/cancel", methods=["POST"])
def cancel(job_id: int) -> Page:
    """Stop a run; nothing is stored."""
    if ActionForm().validate_on_submit():
        try:
            jobs.cancel_job(get_session(), job_id, by=current())
            flash(_("The run was cancelled."), "success")
        except BookingError as error:
            flash_error(error)
    return redirect(url_for("planning.job", job_id=job_id, stay=1))


def _page_number(name: str) -> int:
    """A page number from the query string; anything else reads as the first page."""
    value = request.args.get(name, "")
    return int(value) if value.isdigit() and len(value) < 7 else 1


def _day(name: str) -> date | None:
    """A day from the query string (YYYY-MM-DD); anything else reads as none."""
    try:
        day = date.fromisoformat(request.args.get(name, ""))
    except ValueError:
        return None
    return day if 1900 <= day.year <= 9000 else None


def _review_url(plan_id: int, **changes: object) -> str:
    """This review page with some query values changed (``None`` removes one)."""
    args: dict[str, object] = {**request.args.to_dict(), **changes}
    values: dict[str, Any] = {k: v for k, v in args.items() if v is not None}
    return url_for("planning.plan", plan_id=plan_id, **values)


def _plan_anchor(plan_id: int, request_id: int) -> str:
    """The review page showing ``request_id`` in the loans table, scrolled to it."""
    if not is_valid_id(request_id) or not is_valid_id(plan_id):
        return url_for("planning.plan", plan_id=plan_id)
    page = planning.loan_page(get_session(), plan_id, request_id, by=current())
    query: dict[str, Any] = {"page": page} if page > 1 else {}
    return url_for("planning.plan", plan_id=plan_id, **query) + f"#r{request_id}"


@bp.route("/plans/<int:plan_id>")
def plan(plan_id: int) -> str:
    """Review a plan against first come, first served and the approved plan.

    Long lists come a page at a time: ``page`` (served loans), ``unserved`` (requests
    left out), ``changes=all`` (every changed request), ``from`` (first day of the
    timelines).
    """
    session = get_session()
    data = planning.review_plan(
        session,
        plan_id,
        by=current(),
        page=_page_number("page"),
        unserved_page=_page_number("unserved"),
        all_changes=request.args.get("changes") == "all",
        window_start=_day("from"),
    )
    return render_template(
        "planning/plan.html",
        review=data,
        review_url=lambda **changes: _review_url(plan_id, **changes),
        rows=planning.metrics_rows(data.plan),
        choices=planning.unit_choices(session, data.plan, data.loans, data.unit_codes),
        shift_minutes=planning.shift_minutes,
        action=ActionForm(),
        run_form=RunForm(),
        force_form=ForceUnitForm(),
        decline_form=DeclineForm(),
        JobStatus=JobStatus,
        waiting_fit=waiting.waiting_served(session, data.plan),
    )


@bp.route("/plans/<int:plan_id>/problem.json")
def problem_file(plan_id: int) -> Response:
    """The plan's problem file, for `python -m solver solve`."""
    plan = planning.get_plan(get_session(), plan_id, by=current())
    return Response(
        planning.stored_problem_text(plan),
        mimetype="application/json",
        headers={"Content-Disposition": f"attachment; filename=problem-{plan_id}.json"},
    )


@bp.route("/plans/<int:plan_id>/approve", methods=["POST"])
def approve(plan_id: int) -> Page:
    """Approve a plan: loans are confirmed, communes told."""
    if ActionForm().validate_on_submit():
        try:
            planning.approve_plan(get_session(), plan_id, by=current())
            flash(_("The plan is approved; the communes have been told."), "success")
        except BookingError as error:
            flash_error(error)
    return redirect(url_for("planning.plan", plan_id=plan_id))


@bp.route("/plans/<int:plan_id>/requests/<int:request_id>/pin", methods=["POST"])
def pin(plan_id: int, request_id: int) -> Page:
    """Keep this assignment as it is on the next run."""
    if ActionForm().validate_on_submit():
        try:
            planning.pin_assignment(get_session(), plan_id, request_id, by=current())
        except BookingError as error:
            flash_error(error)
    return redirect(_plan_anchor(plan_id, request_id))


@bp.route("/plans/<int:plan_id>/requests/<int:request_id>/unpin", methods=["POST"])
def unpin(plan_id: int, request_id: int) -> Page:
    """Let the next run move this assignment again."""
    if ActionForm().validate_on_submit():
        try:
            planning.unpin_assignment(get_session(), plan_id, request_id, by=current())
        except BookingError as error:
            flash_error(error)
    return redirect(_plan_anchor(plan_id, request_id))


@bp.route("/plans/<int:plan_id>/force", methods=["POST"])
def force(plan_id: int) -> Page:
    """Give a chosen unit to one line, if no rule forbids it."""
    form = ForceUnitForm()
    request_id = 0
    if form.validate_on_submit():
        try:
            request_id = int(form.request_id.data or 0)
            replace = int(form.replace_unit_id.data) if form.replace_unit_id.data else None
            planning.force_unit(
                get_session(),
                plan_id,
                request_id,
                int(form.line_id.data or 0),
                int(form.unit_id.data or 0),
                by=current(),
                replace_unit_id=replace,
            )
            flash(_("The unit was changed."), "success")
        except ValueError:
            flash(_("Choose a unit."), "error")
        except BookingError as error:
            flash_error(error)
    else:
        flash(_("Choose a unit."), "error")
    return redirect(_plan_anchor(plan_id, request_id))


@bp.route("/requests/<int:request_id>/decline", methods=["POST"])
def decline(request_id: int) -> Page:
    """Decline a request now, with a reason the commune is told."""
    form = DeclineForm()
    plan_id = form.plan_id.data
    if form.validate_on_submit():
        try:
            planning.decline_request(
                get_session(), request_id, form.reason.data or "", by=current()
            )
            flash(_("The request was declined; run the optimiser again."), "success")
        except BookingError as error:
            flash_error(error)
    else:
        flash(_("Give the reason for declining."), "error")
    if plan_id and str(plan_id).isdigit():
        return redirect(url_for("planning.plan", plan_id=int(plan_id)))
    return redirect(url_for("planning.index"))
