"""Solver jobs through a real broker and a real ``celery -A booking.worker worker`` process.

Needs Redis on 127.0.0.1:6379 (skipped with the reason when it does not answer). The
database is a SQLite file, and also PostgreSQL (its own schema, named in the URL so that
the worker process sees it) when ``TEST_DATABASE_URL`` is set. The worker runs the
default prefork pool with one child, whose pid is the job's owner: the test kills that
child with SIGKILL in the middle of a solve.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import make_url, select, text

from booking.db import Base, Database, make_engine
from booking.models import (
    Commune,
    EquipmentType,
    JobStatus,
    LoanRequest,
    Plan,
    PlanStatus,
    RequestLine,
    Role,
    Site,
    SiteKind,
    SolverJob,
    Unit,
    User,
)
from booking.services import jobs, planning
from tests.conftest import DEFAULT_START
from tests.services.test_planning_concurrency import _make_app

REDIS = ("127.0.0.1", 6379)
ROOT = Path(__file__).resolve().parents[2]
# Generous bounds on waits, so that a broken worker fails the test instead of hanging it.
WAIT_SECONDS = 180
LEASE_SECONDS = 3


def _redis_answers() -> bool:
    try:
        with socket.create_connection(REDIS, timeout=1):
            return True
    except OSError:
        return False


pytestmark = pytest.mark.skipif(
    not _redis_answers(), reason="Redis does not answer on 127.0.0.1:6379"
)

BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("TEST_DATABASE_URL") else [])


@pytest.fixture(params=BACKENDS)
def shared_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database URL that this process and the worker process both open."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'celery.sqlite3'}"
        engine = make_engine(url)
        Base.metadata.create_all(engine)
        engine.dispose()
        yield url
        return
    base = os.environ["TEST_DATABASE_URL"]
    schema = f"celery_{uuid.uuid4().hex[:12]}"
    admin = make_engine(base)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = (
        make_url(base)
        .update_query_dict({"options": f"-csearch_path={schema}"})
        .render_as_string(hide_password=False)
    )
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    engine.dispose()
    try:
        yield url
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def worker(shared_url: str, tmp_path: Path) -> Iterator[SimpleNamespace]:
    """A Celery worker process on a queue of its own, and the web app that feeds it."""
    queue = f"booking-test-{uuid.uuid4().hex[:12]}"
    broker = f"redis://{REDIS[0]}:{REDIS[1]}/0"
    env = {
        **os.environ,
        "DATABASE_URL": shared_url,
        "SECRET_KEY": "celery-test",
        "CELERY_BROKER_URL": broker,
        "JOB_RUNNER": "celery",
        "FLASK_CELERY_QUEUE": queue,
        "FLASK_JOB_LEASE_SECONDS": str(LEASE_SECONDS),
        "FLASK_JOB_HEARTBEAT_SECONDS": "0.5",
        "FLASK_SOLVER_WORKERS": "1",
        "FLASK_BABEL_DEFAULT_LOCALE": "en",
    }
    log_path = tmp_path / "worker.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "booking.worker",
                "worker",
                "--concurrency",
                "1",
                "--queues",
                queue,
                "--loglevel",
                "INFO",
                "--without-mingle",
                "--without-gossip",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    database = Database(shared_url)
    app = _make_app(
        shared_url,
        database,
        JOB_RUNNER="celery",
        CELERY_BROKER_URL=broker,
        CELERY_QUEUE=queue,
        JOB_LEASE_SECONDS=LEASE_SECONDS,
    )
    try:
        yield SimpleNamespace(app=app, database=database, process=process, log=log_path)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        database.engine.dispose()
        _forget_queue(queue)


def _forget_queue(queue: str) -> None:
    import redis

    client = redis.Redis(*REDIS)
    for key in client.scan_iter(f"*{queue}*"):
        client.delete(key)
    client.close()


def _busy_season(database: Database, requests: int = 80) -> int:
    """Three minibuses, many flexible requests: a solve that takes seconds; the manager id."""
    rng = random.Random(1)
    with database.session() as session:
        commune = Commune(slug="melun", name="Melun")
        depot = Site(name="Dépôt", kind=SiteKind.DEPOT, lat=48.53, lon=2.68)
        sites = [
            Site(
                name=f"Salle {n}",
                kind=SiteKind.DELIVERY,
                commune=commune,
                lat=48.5 + n / 100,
                lon=2.6 + n / 100,
            )
            for n in range(10)
        ]
        minibus = EquipmentType(code="minibus-9", name="Minibus", turnaround_minutes=60)
        units = [
            Unit(code=f"MB-{n}", name=f"Minibus {n}", type=minibus, home_depot=depot)
            for n in range(3)
        ]
        manager = User(email="m@agglo.example", name="M", role=Role.MANAGER, password_hash="x")
        session.add_all([commune, depot, *sites, *units, manager])
        for n in range(requests):
            start = DEFAULT_START + timedelta(days=rng.randrange(40), hours=rng.randrange(8))
            loan = LoanRequest(
                commune=commune,
                site=rng.choice(sites),
                title=f"Fête {n}",
                requested_start_dt=start,
                requested_end_dt=start + timedelta(days=rng.randrange(1, 4)),
                earliest_start_dt=start - timedelta(days=3),
                latest_end_dt=start + timedelta(days=8),
                priority=rng.randrange(1, 4),
            )
            loan.lines.append(RequestLine(type=minibus, quantity=1))
            session.add(loan)
        session.commit()
        return manager.id


def _propose(worker: SimpleNamespace, manager_id: int, seconds: float) -> int:
    with worker.app.app_context(), worker.database.session() as session:
        manager = session.get(User, manager_id)
        return planning.propose_plan(session, by=manager, time_limit_seconds=seconds).id


def _job(worker: SimpleNamespace, job_id: int) -> SolverJob:
    with worker.database.session() as session:
        job = session.get(SolverJob, job_id)
        assert job is not None
        return job


def _wait(worker: SimpleNamespace, job_id: int, until) -> SolverJob:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        job = _job(worker, job_id)
        if until(job):
            return job
        assert worker.process.poll() is None, worker.log.read_text()
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} stuck as {job!r}:\n{worker.log.read_text()}")


def _assert_stored_plan(worker: SimpleNamespace, job: SolverJob) -> None:
    assert job.status is JobStatus.SUCCEEDED, job.message
    with worker.database.session() as session:
        plan = session.get(Plan, job.plan_id)
        assert plan is not None and plan.status is PlanStatus.PROPOSED
        assert any(a.is_served for a in plan.assignments)


def test_a_run_goes_through_the_broker_and_a_killed_worker_fails_its_job(worker):
    manager_id = _busy_season(worker.database)

    # A run through Redis to the worker process ends with a stored plan.
    first = _wait(worker, _propose(worker, manager_id, 3), lambda j: j.status not in jobs.ACTIVE)
    _assert_stored_plan(worker, first)
    assert first.owner is not None and first.owner != jobs.process_owner()

    # Kill the pool process that holds the next run, in the middle of the solve.
    second_id = _propose(worker, manager_id, 60)
    running = _wait(
        worker,
        second_id,
        lambda j: j.status is JobStatus.RUNNING and j.stage == "solving" and j.owner,
    )
    pid = int(str(running.owner).rsplit(":", 1)[1])
    assert pid != worker.process.pid
    os.kill(pid, signal.SIGKILL)

    # Once its lease expires, the job is failed by the worker's periodic check.
    failed = _wait(worker, second_id, lambda j: j.status is not JobStatus.RUNNING)
    assert failed.status is JobStatus.FAILED
    assert f":{pid}) stopped" in (failed.message or "")
    assert failed.plan_id is None

    # The worker replaced its pool process: a new run works.
    third = _wait(worker, _propose(worker, manager_id, 3), lambda j: j.status not in jobs.ACTIVE)
    _assert_stored_plan(worker, third)
    with worker.database.session() as session:
        statuses = session.scalars(select(SolverJob.status).order_by(SolverJob.id)).all()
    assert statuses == [JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.SUCCEEDED]
