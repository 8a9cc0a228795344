"""Planning for staff: run the optimiser, follow the run, review a plan, approve it."""

from __future__ import annotations

from typing import Any

from booking.api import schemas_planning as schemas
from booking.api.auth import api_user
from booking.api.blueprint import bp
from booking.db import get_session
from booking.models import Assignment, Plan, SolverJob
from booking.services import jobs, planning
from booking.services.paging import Pager

TAG = {"tags": ["Planning"]}


@bp.route("/plans/runs", methods=["POST"])
@bp.doc(**TAG, summary="Start a run of the optimiser (staff)")
@bp.arguments(schemas.RunInSchema)
@bp.response(202, schemas.JobSchema)
def start_run(data: dict[str, Any]) -> tuple[SolverJob, int, dict[str, str]]:
    """Queue a run over the current data; follow it at the returned job."""
    job = planning.propose_plan(
        get_session(),
        by=api_user(),
        time_limit_seconds=data["time_limit_seconds"],
        strategy=data["strategy"],
    )
    return job, 202, {"Location": f"{bp.url_prefix}/jobs/{job.id}"}


@bp.route("/jobs/<int:job_id>")
@bp.doc(**TAG, summary="Follow a run (staff)")
@bp.response(200, schemas.JobSchema)
def get_job(job_id: int) -> SolverJob:
    """The run's state and progress; ``plan_id`` is set once its plan is stored."""
    return jobs.get_job(get_session(), job_id, by=api_user())


@bp.route("/jobs/<int:job_id>/cancel", methods=["POST"])
@bp.doc(**TAG, summary="Stop a run (staff)")
@bp.response(200, schemas.JobSchema)
def cancel_job(job_id: int) -> SolverJob:
    """Cancel a queued or running job; 409 once it has ended."""
    return jobs.cancel_job(get_session(), job_id, by=api_user())


class _Unserved:
    """An unserved assignment with its reason in words, as :class:`UnservedSchema` reads it."""

    def __init__(self, assignment: Assignment, reason: str | None) -> None:
        self.assignment = assignment
        self.reason = reason

    def __getattr__(self, name: str) -> Any:
        return getattr(self.assignment, name)


def _page(items: list[Any], pager: Pager) -> dict[str, Any]:
    return {"items": items, "page": pager.page, "pages": pager.pages, "total": pager.total}


@bp.route("/plans/<int:plan_id>")
@bp.doc(**TAG, summary="Review a plan (staff)")
@bp.arguments(schemas.PlanQuery, location="query", as_kwargs=True)
@bp.response(200, schemas.PlanReviewSchema)
def get_plan(plan_id: int, **query: Any) -> dict[str, Any]:
    """The plan, what it changes, why requests are left out, and how it compares with
    first come, first served. Served and unserved requests come a page at a time."""
    review = planning.review_plan(
        get_session(),
        plan_id,
        by=api_user(),
        page=query["page"],
        unserved_page=query["unserved_page"],
    )
    unserved = [_Unserved(a, review.reasons.get(a.request_id)) for a in review.unserved]
    plan = review.plan
    return {
        **{name: getattr(plan, name) for name in schemas.PlanSchema._declared_fields},
        "is_stale": review.is_stale,
        "diff": plan.diff,
        "comparison": [
            {"key": key, "plan": ours, "fcfs": fcfs}
            for key, ours, fcfs in planning.metrics_rows(plan)
        ],
        "communes": review.communes,
        "served": _page(review.loans, review.loans_pager),
        "unserved": _page(unserved, review.unserved_pager),
    }


@bp.route("/plans/<int:plan_id>/approve", methods=["POST"])
@bp.doc(**TAG, summary="Approve a plan (staff)")
@bp.response(200, schemas.PlanSchema)
def approve_plan(plan_id: int) -> Plan:
    """Confirm the plan's loans and tell the communes; 409 if the data changed since."""
    return planning.approve_plan(get_session(), plan_id, by=api_user())
