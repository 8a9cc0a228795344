"""Job leases: only a job whose holder stopped renewing it is declared interrupted.

Committed for real, on a SQLite file or (with ``TEST_DATABASE_URL``) a PostgreSQL schema,
like the other runner tests (``real_db``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta

import pytest
from ortools.sat.python import cp_model
from sqlalchemy import select

from booking.db import Base, Database, get_db, utcnow
from booking.errors import Unavailable
from booking.models import JobStatus, LoanRequest, RequestStatus, SolverJob, User
from booking.services import jobs, planning
from solver.stopping import solve_stoppable
from tests.services.test_planning_concurrency import _make_app, _one_request_world

OLD = timedelta(minutes=10)


def _jobs_by_name(database: Database) -> dict[str, SolverJob]:
    with database.session() as session:
        return {job.strategy: job for job in session.scalars(select(SolverJob))}


def _add_jobs(database: Database) -> None:
    now = utcnow()
    with database.session() as session:
        session.add_all(
            [
                # Held by a live process elsewhere (another gunicorn worker, a Celery worker).
                SolverJob(
                    strategy="alive",
                    status=JobStatus.RUNNING,
                    owner="web-2:4242",
                    started_at=now - OLD,
                    heartbeat_at=now,
                ),
                SolverJob(
                    strategy="dead",
                    status=JobStatus.RUNNING,
                    owner="worker-1:999",
                    started_at=now - OLD,
                    heartbeat_at=now - OLD,
                ),
                # Written before leases existed.
                SolverJob(strategy="legacy", status=JobStatus.RUNNING, started_at=now - OLD),
                # Waiting in the broker: no owner yet.
                SolverJob(strategy="waiting", status=JobStatus.QUEUED, created_at=now),
                SolverJob(
                    strategy="forgotten",
                    status=JobStatus.QUEUED,
                    created_at=now - timedelta(hours=2),
                ),
            ]
        )
        session.commit()


def test_a_sweep_fails_only_the_jobs_whose_lease_expired(real_db):
    url, database = real_db
    _add_jobs(database)

    # Whoever sweeps, as often as they like: gunicorn respawns, a cron `flask send-mail`...
    for _process in range(3):
        with _make_app(url, database).app_context(), database.session() as session:
            jobs.sweep_expired_jobs(session)

    found = _jobs_by_name(database)
    assert found["alive"].status is JobStatus.RUNNING
    assert found["waiting"].status is JobStatus.QUEUED
    assert found["dead"].status is JobStatus.FAILED
    assert "worker-1:999" in (found["dead"].message or "")
    assert found["legacy"].status is JobStatus.FAILED
    assert found["forgotten"].status is JobStatus.FAILED
    assert "No solver worker took this job" in (found["forgotten"].message or "")


@pytest.mark.parametrize("runner", ["thread", "celery"])
def test_create_app_sweeps_at_start_and_spares_live_jobs(tmp_path, runner):
    url = f"sqlite:///{tmp_path / 'restart.sqlite3'}"
    database = Database(url)
    Base.metadata.create_all(database.engine)
    _add_jobs(database)
    database.engine.dispose()

    for _process in range(2):
        app = _make_app(url, None, TESTING=False, JOB_RUNNER=runner, CELERY_BROKER_URL="memory://")

    found = _jobs_by_name(get_db(app))
    assert {name: job.status for name, job in found.items()} == {
        "alive": JobStatus.RUNNING,
        "dead": JobStatus.FAILED,
        "legacy": JobStatus.FAILED,
        "waiting": JobStatus.QUEUED,
        "forgotten": JobStatus.FAILED,
    }
    get_db(app).engine.dispose()


def test_the_job_page_declares_an_expired_job_failed(real_db):
    world = _one_request_world(real_db)
    _add_jobs(world.database)
    dead = _jobs_by_name(world.database)["dead"].id
    with world.app.app_context(), world.database.session() as session:
        manager = session.get(User, world.ids.mgr)
        job = jobs.get_job(session, dead, by=manager)
        assert job.status is JobStatus.FAILED
        assert "stopped" in (job.message or "")


def _hard_body(record: dict[str, object]) -> Callable[..., None]:
    """A job body that claims the job and runs a CP-SAT search that never ends alone."""

    def body(
        database: Database, job_id: int, *, should_stop: Callable[[], bool], workers: int
    ) -> None:
        with database.session() as session:
            job = session.get(SolverJob, job_id)
            assert job is not None
            job.status = JobStatus.RUNNING
            job.started_at = utcnow()
            session.commit()
        model = cp_model.CpModel()
        holes = 40
        x = {(p, h): model.NewBoolVar("") for p in range(holes + 1) for h in range(holes)}
        for p in range(holes + 1):
            model.AddBoolOr([x[p, h] for h in range(holes)])
        for h in range(holes):
            model.AddAtMostOne([x[p, h] for p in range(holes + 1)])
        solver = cp_model.CpSolver()
        solver.parameters.num_workers = 1
        solver.parameters.symmetry_level = 0
        solver.parameters.max_time_in_seconds = 3600
        record["running"].set()  # type: ignore[attr-defined]
        record["status"] = solve_stoppable(solver, model, should_stop)

    return body


def test_cancelling_stops_a_search_that_finds_no_solution(real_db):
    _url, database = real_db
    world = _one_request_world(real_db, JOB_RUNNER="thread", JOB_HEARTBEAT_SECONDS=0.2)
    record: dict[str, object] = {"running": threading.Event()}
    world.app.extensions["job_body"] = _hard_body(record)
    with world.app.app_context(), database.session() as session:
        manager = session.get(User, world.ids.mgr)
        job_id = planning.propose_plan(session, by=manager, time_limit_seconds=5).id
    assert record["running"].wait(60)  # type: ignore[attr-defined]
    # The lease is renewed while the search runs.
    first_beat = _heartbeat(database, job_id)
    while _heartbeat(database, job_id) == first_beat:
        threading.Event().wait(0.1)
    with world.app.app_context(), database.session() as session:
        manager = session.get(User, world.ids.mgr)
        jobs.cancel_job(session, job_id, by=manager)

    # Returns once the search has stopped (it would otherwise run for an hour).
    jobs.get_runner(world.app).shutdown()  # type: ignore[attr-defined]

    assert record["status"] == cp_model.UNKNOWN
    with database.session() as session:
        job = session.get(SolverJob, job_id)
        assert job is not None and job.status is JobStatus.CANCELLED
        assert job.owner == jobs.process_owner()


def _heartbeat(database: Database, job_id: int) -> object:
    with database.session() as session:
        return session.scalar(select(SolverJob.heartbeat_at).where(SolverJob.id == job_id))


def test_a_run_asked_while_the_broker_is_down_fails_clearly(real_db):
    # Nothing listens on port 1.
    world = _one_request_world(
        real_db, JOB_RUNNER="celery", CELERY_BROKER_URL="redis://127.0.0.1:1/0"
    )
    with world.app.app_context(), world.database.session() as session:
        manager = session.get(User, world.ids.mgr)
        with pytest.raises(Unavailable, match="job queue cannot be reached"):
            planning.propose_plan(session, by=manager, time_limit_seconds=5)
    with world.database.session() as session:
        job = session.scalars(select(SolverJob)).one()
        assert job.status is JobStatus.FAILED
        assert "cannot be reached" in (job.message or "")
        loan = session.get(LoanRequest, world.request_id)
        assert loan is not None and loan.status is RequestStatus.SUBMITTED


def test_the_run_page_explains_a_broker_down(real_db):
    world = _one_request_world(
        real_db,
        JOB_RUNNER="celery",
        CELERY_BROKER_URL="redis://127.0.0.1:1/0",
        WTF_CSRF_ENABLED=False,
    )
    with world.database.session() as session:
        manager = session.get(User, world.ids.mgr)
        assert manager is not None
        manager.set_password("correct horse battery")
        session.commit()
    client = world.app.test_client()
    client.post("/login", data={"email": "m@agglo.example", "password": "correct horse battery"})
    response = client.post("/planning/run", data={"time_limit": 5}, follow_redirects=True)
    assert response.status_code == 200
    assert b"job queue cannot be reached" in response.data
