"""Planning pages through the Flask test client: access, flows, CSRF."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from booking.models import JobStatus, Plan, PlanStatus, RequestStatus, SolverJob
from booking.services import planning
from solver.io import sha256_hex

# Shared fixtures: the fleet, requests of the commune, and the inline job runner.
from tests.services.test_planning import ask, fleet, inline_runner  # noqa: F401


@pytest.fixture
def proposed(db_session, fleet, ask, manager, app):  # noqa: F811
    """Three requests for two minibuses at the same time, and a proposed plan."""
    loans = [ask(priority=4, title="Élections"), ask(priority=3, title="Marché")]
    loans.append(ask(priority=1, title="Brocante"))
    with app.app_context():
        job = planning.propose_plan(db_session, by=manager, time_limit_seconds=5)
    plan = db_session.get(Plan, job.plan_id)
    return plan, loans, job


PAGES = (
    ("get", "/planning/"),
    ("post", "/planning/run"),
    ("get", "/planning/jobs/{job}"),
    ("get", "/planning/jobs/{job}/status"),
    ("post", "/planning/jobs/{job}/cancel"),
    ("get", "/planning/plans/{plan}"),
    ("get", "/planning/plans/{plan}/problem.json"),
    ("post", "/planning/plans/{plan}/approve"),
    ("post", "/planning/plans/{plan}/requests/{request}/pin"),
    ("post", "/planning/plans/{plan}/requests/{request}/unpin"),
    ("post", "/planning/plans/{plan}/force"),
    ("post", "/planning/requests/{request}/decline"),
)


@pytest.mark.parametrize(("method", "path"), PAGES)
def test_technicians_are_refused_everywhere(
    client, auth, technician, proposed, db_session, method, path
):
    plan, loans, job = proposed
    auth.login(technician)
    url = path.format(plan=plan.id, job=job.id, request=loans[0].id)
    response = getattr(client, method)(url, data={"reason": "x", "time_limit": "5"})
    assert response.status_code == 403
    db_session.refresh(plan)
    assert plan.status is PlanStatus.PROPOSED
    assert loans[0].status is not RequestStatus.DECLINED


@pytest.mark.parametrize(("method", "path"), PAGES[:2])
def test_anonymous_users_are_sent_to_sign_in(client, method, path):
    response = getattr(client, method)(path)
    assert response.status_code in (302, 401)
    assert "/login" in response.headers.get("Location", "/login")


def test_dashboard_lists_waiting_requests(client, auth, manager, ask):  # noqa: F811
    ask(title="Fête de la musique")
    auth.login(manager)
    page = client.get("/planning/").get_data(as_text=True)
    assert "Fête de la musique" in page
    assert 'name="time_limit"' in page and 'value="60"' in page


def test_run_review_and_approve(client, auth, manager, ask, db_session):  # noqa: F811
    loans = [ask(priority=4, title="Élections"), ask(priority=3, title="Marché")]
    loans.append(ask(priority=1, title="Brocante"))
    auth.login(manager)

    response = client.post("/planning/run", data={"time_limit": "5"})
    job = db_session.scalars(select(SolverJob)).one()
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/planning/jobs/{job.id}")
    # The inline runner has finished: the job page sends on to the plan.
    response = client.get(f"/planning/jobs/{job.id}")
    assert response.status_code == 302
    status = client.get(f"/planning/jobs/{job.id}/status").get_json()
    assert status["status"] == "succeeded" and status["done"] and status["plan_url"]

    page = client.get(status["plan_url"]).get_data(as_text=True)
    assert "Brocante" in page and "Minibus 9 places" in page
    assert "First come, first served" in page
    assert "tl-bar" in page  # the timeline
    assert "R-" not in re.sub(r"<[^>]+>", "", page.split("Requests left unserved")[1])

    plan = db_session.scalars(select(Plan)).one()
    problem = client.get(f"/planning/plans/{plan.id}/problem.json")
    assert sha256_hex(problem.get_data()) == plan.problem_sha

    response = client.post(f"/planning/plans/{plan.id}/approve", follow_redirects=True)
    assert "The plan is approved" in response.get_data(as_text=True)
    db_session.refresh(plan)
    assert plan.status is PlanStatus.APPROVED
    for loan in loans:
        db_session.refresh(loan)
    assert [loan.status for loan in loans] == [
        RequestStatus.APPROVED,
        RequestStatus.APPROVED,
        RequestStatus.WAITING,
    ]


def test_stale_plan_refusal_is_shown(client, auth, manager, proposed, ask, db_session):  # noqa: F811
    plan, _loans, _job = proposed
    ask(title="Arrivée tardive")
    auth.login(manager)
    page = client.get(f"/planning/plans/{plan.id}").get_data(as_text=True)
    assert "changed since this plan was proposed" in page
    response = client.post(f"/planning/plans/{plan.id}/approve", follow_redirects=True)
    assert "Run the optimiser again" in response.get_data(as_text=True)
    db_session.refresh(plan)
    assert plan.status is PlanStatus.PROPOSED


def test_pin_force_and_decline(client, auth, manager, proposed, fleet, db_session):  # noqa: F811
    plan, loans, _job = proposed
    auth.login(manager)
    served = next(a for a in plan.assignments if a.request_id == loans[0].id)
    other = next(a for a in plan.assignments if a.request_id == loans[1].id)

    client.post(f"/planning/plans/{plan.id}/requests/{loans[0].id}/pin")
    db_session.refresh(served)
    assert served.is_pinned

    response = client.post(
        f"/planning/plans/{plan.id}/force",
        data={
            "request_id": loans[0].id,
            "line_id": loans[0].lines[0].id,
            "unit_id": other.units[0].unit_id,
        },
        follow_redirects=True,
    )
    assert "Not possible" in response.get_data(as_text=True)
    assert other.units[0].unit.code in response.get_data(as_text=True)

    response = client.post(
        f"/planning/requests/{loans[2].id}/decline",
        data={"reason": "Le matériel part aux élections", "plan_id": plan.id},
    )
    assert response.headers["Location"].endswith(f"/planning/plans/{plan.id}")
    db_session.refresh(loans[2])
    assert loans[2].status is RequestStatus.DECLINED


def test_cancel_a_finished_run_says_so(client, auth, manager, proposed):
    _plan, _loans, job = proposed
    auth.login(manager)
    response = client.post(f"/planning/jobs/{job.id}/cancel", follow_redirects=True)
    assert "already ended" in response.get_data(as_text=True)


def test_job_page_of_a_running_job_polls(client, auth, manager, db_session):
    job = SolverJob(status=JobStatus.RUNNING, strategy="cpsat", stage="solving", progress=0.4)
    db_session.add(job)
    db_session.commit()
    auth.login(manager)
    page = client.get(f"/planning/jobs/{job.id}").get_data(as_text=True)
    assert 'http-equiv="refresh"' in page
    assert "js/planning.js" in page
    assert 'aria-valuenow="40"' in page


def test_csrf_is_required(client, auth, manager, proposed, csrf_enabled, db_session):
    plan, _loans, _job = proposed
    auth_response = client.get("/login")
    token = re.search(
        r'name="csrf_token"[^>]*value="([^"]+)"', auth_response.get_data(as_text=True)
    )
    assert token
    client.post(
        "/login",
        data={"email": manager.email, "password": "correct horse battery", "csrf_token": token[1]},
    )
    response = client.post(f"/planning/plans/{plan.id}/approve")
    assert response.status_code == 400
    db_session.refresh(plan)
    assert plan.status is PlanStatus.PROPOSED
    page = client.get(f"/planning/plans/{plan.id}").get_data(as_text=True)
    form_token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    assert form_token
    client.post(f"/planning/plans/{plan.id}/approve", data={"csrf_token": form_token[1]})
    db_session.refresh(plan)
    assert plan.status is PlanStatus.APPROVED
