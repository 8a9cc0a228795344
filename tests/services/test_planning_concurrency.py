"""Approvals racing each other and cancellations, with threads on a real database.

These tests commit for real, so they do not use the rolled-back ``db_session``: each
gets its own SQLite file, or (when ``TEST_DATABASE_URL`` is set) its own PostgreSQL
schema, dropped afterwards. The thread and Celery job runners are tested here too.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from flask import Flask
from sqlalchemy import select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm.exc import StaleDataError

from booking import create_app
from booking.db import Base, Database, make_engine
from booking.errors import BookingError, Conflict
from booking.models import (
    Commune,
    EquipmentType,
    JobStatus,
    LoanRequest,
    Plan,
    PlanStatus,
    RequestLine,
    RequestStatus,
    Role,
    Site,
    SiteKind,
    SolverJob,
    Unit,
    User,
)
from booking.services import jobs, planning
from booking.services.requests import cancel_request
from tests.conftest import DEFAULT_START

BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("TEST_DATABASE_URL") else [])


def _make_app(url: str, database: Database | None, **config: object) -> Flask:
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": url,
            "SECRET_KEY": "test-secret-key",
            "BABEL_DEFAULT_LOCALE": "en",
            "JOB_RUNNER": "inline",
            "SOLVER_WORKERS": 1,
            **config,
        }
    )
    if database is not None:
        app.extensions["booking_db"] = database
    return app


@pytest.fixture(params=BACKENDS)
def real_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Database]]:
    """A committed-for-real database: (URL, Database) with a fresh schema."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'race.sqlite3'}"
        database = Database(url)
        Base.metadata.create_all(database.engine)
        yield url, database
        database.engine.dispose()
        return
    url = os.environ["TEST_DATABASE_URL"]
    schema = f"race_{uuid.uuid4().hex[:12]}"
    admin = make_engine(url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    database = Database(url, connect_args={"options": f"-csearch_path={schema}"})
    Base.metadata.create_all(database.engine)
    try:
        yield url, database
    finally:
        database.engine.dispose()
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def world(real_db: tuple[str, Database]) -> SimpleNamespace:
    """Two minibuses, a commune with a technician, a manager, and the app."""
    url, database = real_db
    app = _make_app(url, database)
    with database.session() as session:
        commune = Commune(slug="melun", name="Melun", lat=48.54, lon=2.66)
        depot = Site(name="Dépôt", kind=SiteKind.DEPOT, lat=48.53, lon=2.68)
        site = Site(name="Salle", kind=SiteKind.DELIVERY, commune=commune, lat=48.54, lon=2.65)
        minibus = EquipmentType(code="minibus-9", name="Minibus 9 places", turnaround_minutes=60)
        units = [
            Unit(code=f"MB-{n}", name=f"Minibus {n}", type=minibus, home_depot=depot)
            for n in (1, 2)
        ]
        technician = User(
            email="tech@melun.example", name="Tech", role=Role.TECHNICIAN, commune=commune
        )
        manager = User(email="manager@agglo.example", name="Manager", role=Role.MANAGER)
        for user in (technician, manager):
            user.set_password("correct horse battery")
        session.add_all([commune, depot, site, *units, technician, manager])
        session.commit()
        ids = SimpleNamespace(
            commune=commune.id, site=site.id, type=minibus.id, tech=technician.id, mgr=manager.id
        )
    return SimpleNamespace(app=app, database=database, ids=ids)


def _add_request(world: SimpleNamespace, title: str, day: int = 0) -> int:
    with world.database.session() as session:
        loan = LoanRequest(
            commune_id=world.ids.commune,
            site_id=world.ids.site,
            title=title,
            requested_start_dt=DEFAULT_START + timedelta(days=day),
            requested_end_dt=DEFAULT_START + timedelta(days=day + 2),
            priority=3,
        )
        loan.lines.append(RequestLine(type_id=world.ids.type, quantity=1))
        session.add(loan)
        session.commit()
        return loan.id


def _propose(world: SimpleNamespace) -> int:
    with world.app.app_context(), world.database.session() as session:
        manager = session.get(User, world.ids.mgr)
        job = planning.propose_plan(session, by=manager, time_limit_seconds=5, strategy="greedy")
        assert job.status is JobStatus.SUCCEEDED, job.message
        assert job.plan_id is not None
        return job.plan_id


def _in_threads(*actions):
    """Run the actions at the same moment; return what each returned or raised."""
    barrier = threading.Barrier(len(actions))
    results: list[object] = [None] * len(actions)

    def run(index: int, action) -> None:
        barrier.wait()
        try:
            results[index] = action()
        except Exception as error:
            results[index] = error

    threads = [threading.Thread(target=run, args=(i, a)) for i, a in enumerate(actions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def _approve(world: SimpleNamespace, plan_id: int):
    def action() -> str:
        with world.app.app_context(), world.database.session() as session:
            manager = session.get(User, world.ids.mgr)
            planning.approve_plan(session, plan_id, by=manager)
            return "approved"

    return action


def _cancel(world: SimpleNamespace, request_id: int):
    def action() -> str:
        with world.app.app_context(), world.database.session() as session:
            technician = session.get(User, world.ids.tech)
            cancel_request(session, request_id, by=technician)
            return "cancelled"

    return action


def _assert_no_unit_lent_twice(world: SimpleNamespace) -> None:
    """Every live loan is in the one approved plan, and no unit holds two at once."""
    with world.database.session() as session:
        approved = session.scalars(select(Plan).where(Plan.status == PlanStatus.APPROVED)).all()
        assert len(approved) <= 1
        live = session.scalars(
            select(LoanRequest).where(LoanRequest.status == RequestStatus.APPROVED)
        ).all()
        if not live:
            return
        assert len(approved) == 1
        served = {a.request_id: a for a in approved[0].assignments if a.is_served}
        spans: dict[int, list[tuple[object, object]]] = {}
        for loan in live:
            assignment = served[loan.id]
            for au in assignment.units:
                spans.setdefault(au.unit_id, []).append((assignment.start_dt, assignment.end_dt))
        for intervals in spans.values():
            intervals.sort()
            for (_s1, e1), (s2, _e2) in itertools.pairwise(intervals):
                assert e1 <= s2


def test_two_approvals_at_once_let_only_one_through(world):
    for title in ("Fête", "Marché", "Brocante"):
        _add_request(world, title)
    first, second = _propose(world), _propose(world)

    results = _in_threads(_approve(world, first), _approve(world, second))

    assert sorted(map(str, results)).count("approved") == 1
    refused = next(r for r in results if r != "approved")
    assert isinstance(refused, Conflict)
    with world.database.session() as session:
        statuses = sorted(p.status.value for p in session.scalars(select(Plan)))
    assert statuses == ["approved", "discarded"]
    _assert_no_unit_lent_twice(world)


@pytest.mark.parametrize("rounds", [3])
def test_approval_racing_a_cancellation(world, rounds):
    for n in range(rounds):
        first = _add_request(world, f"Fête {n}", day=10 * n)
        _add_request(world, f"Marché {n}", day=10 * n)
        _add_request(world, f"Brocante {n}", day=10 * n)
        plan_id = _propose(world)

        approval, cancellation = _in_threads(_approve(world, plan_id), _cancel(world, first))

        with world.database.session() as session:
            loan = session.get(LoanRequest, first)
            plan = session.get(Plan, plan_id)
            assert loan is not None and plan is not None
            if cancellation == "cancelled":
                assert loan.status is RequestStatus.CANCELLED
            else:
                assert isinstance(cancellation, BookingError | StaleDataError | OperationalError)
            if approval == "approved":
                assert plan.status is PlanStatus.APPROVED
            else:
                # The cancellation got in first: the plan is stale, nothing was approved.
                assert isinstance(approval, Conflict)
                assert cancellation == "cancelled"
                assert plan.status is PlanStatus.PROPOSED
            assert approval == "approved" or cancellation == "cancelled"
        _assert_no_unit_lent_twice(world)
        # Leave a clean approved state for the next round.
        if approval != "approved":
            planning_id = _propose(world)
            assert _approve(world, planning_id)() == "approved"


def test_thread_runner_runs_a_job_to_completion(real_db):
    url, database = real_db
    app = _make_app(url, database, JOB_RUNNER="thread")
    world = SimpleNamespace(app=app, database=database)
    with database.session() as session:
        commune = Commune(slug="melun", name="Melun")
        depot = Site(name="Dépôt", kind=SiteKind.DEPOT, lat=48.53, lon=2.68)
        site = Site(name="Salle", kind=SiteKind.DELIVERY, commune=commune, lat=48.54, lon=2.65)
        minibus = EquipmentType(code="minibus-9", name="Minibus", turnaround_minutes=60)
        unit = Unit(code="MB-1", name="Minibus 1", type=minibus, home_depot=depot)
        manager = User(email="m@agglo.example", name="M", role=Role.MANAGER, password_hash="x")
        session.add_all([commune, depot, site, unit, manager])
        session.commit()
        world.ids = SimpleNamespace(commune=commune.id, site=site.id, type=minibus.id)
        manager_id = manager.id
    request_id = _add_request(world, "Fête")

    with app.app_context(), database.session() as session:
        manager = session.get(User, manager_id)
        job = planning.propose_plan(session, by=manager, time_limit_seconds=5, strategy="cpsat")
        job_id = job.id
    # The web request does not wait: poll the row as the progress page does.
    status = None
    for _attempt in range(600):
        with database.session() as session:
            status = session.scalar(select(SolverJob.status).where(SolverJob.id == job_id))
        if status not in jobs.ACTIVE:
            break
        time.sleep(0.1)
    jobs.get_runner(app).shutdown()  # type: ignore[attr-defined]
    assert status is JobStatus.SUCCEEDED
    with database.session() as session:
        job = session.get(SolverJob, job_id)
        assert job is not None and job.plan_id is not None and job.progress == 1.0
        plan = session.get(Plan, job.plan_id)
        assert plan is not None and plan.status is PlanStatus.PROPOSED
        assert [a.request_id for a in plan.assignments if a.is_served] == [request_id]


def _one_request_world(real_db, **config) -> SimpleNamespace:
    url, database = real_db
    app = _make_app(url, database, **config)
    world = SimpleNamespace(app=app, database=database)
    with database.session() as session:
        commune = Commune(slug="melun", name="Melun")
        depot = Site(name="Dépôt", kind=SiteKind.DEPOT, lat=48.53, lon=2.68)
        site = Site(name="Salle", kind=SiteKind.DELIVERY, commune=commune, lat=48.54, lon=2.65)
        minibus = EquipmentType(code="minibus-9", name="Minibus", turnaround_minutes=60)
        unit = Unit(code="MB-1", name="Minibus 1", type=minibus, home_depot=depot)
        manager = User(email="m@agglo.example", name="M", role=Role.MANAGER, password_hash="x")
        session.add_all([commune, depot, site, unit, manager])
        session.commit()
        world.ids = SimpleNamespace(
            commune=commune.id, site=site.id, type=minibus.id, mgr=manager.id
        )
    world.request_id = _add_request(world, "Fête")
    return world


def _wait_for(world: SimpleNamespace, job_id: int) -> JobStatus | None:
    status = None
    for _attempt in range(600):
        with world.database.session() as session:
            status = session.scalar(select(SolverJob.status).where(SolverJob.id == job_id))
        if status not in jobs.ACTIVE:
            break
        time.sleep(0.1)
    return status


def test_celery_runner_runs_a_job_eagerly(real_db):
    world = _one_request_world(
        real_db,
        JOB_RUNNER="celery",
        CELERY_BROKER_URL="memory://",
        CELERY_TASK_ALWAYS_EAGER=True,
    )
    assert isinstance(jobs.get_runner(world.app), jobs.CeleryJobRunner)
    plan_id = _propose(world)
    with world.database.session() as session:
        plan = session.get(Plan, plan_id)
        assert plan is not None
        assert [a.request_id for a in plan.assignments if a.is_served] == [world.request_id]


def test_celery_worker_runs_a_job_sent_through_the_broker(real_db):
    from celery.contrib.testing.worker import start_worker

    world = _one_request_world(
        real_db,
        JOB_RUNNER="celery",
        # Kombu's in-memory broker: the worker runs in a thread of this process.
        CELERY_BROKER_URL="memory://",
        CELERY_QUEUE=f"booking-test-{uuid.uuid4().hex}",
    )
    runner = jobs.get_runner(world.app)
    assert isinstance(runner, jobs.CeleryJobRunner)
    with start_worker(runner.celery, pool="solo", perform_ping_check=False, loglevel="WARNING"):
        with world.app.app_context(), world.database.session() as session:
            manager = session.get(User, world.ids.mgr)
            job = planning.propose_plan(session, by=manager, time_limit_seconds=5)
            job_id = job.id
        status = _wait_for(world, job_id)
    assert status is JobStatus.SUCCEEDED
    with world.database.session() as session:
        job = session.get(SolverJob, job_id)
        assert job is not None and job.plan_id is not None


def test_worker_module_exposes_the_celery_application(tmp_path, monkeypatch):
    """``celery -A booking.worker worker`` finds a Celery app that knows the job task."""
    import importlib
    import sys

    from celery import Celery

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'worker.sqlite3'}")
    monkeypatch.setenv("SECRET_KEY", "worker-test")
    monkeypatch.setenv("JOB_RUNNER", "celery")
    monkeypatch.setenv("CELERY_BROKER_URL", "memory://")
    monkeypatch.delitem(sys.modules, "booking.worker", raising=False)
    worker = importlib.import_module("booking.worker")
    assert isinstance(worker.celery, Celery)
    assert jobs.CeleryJobRunner.TASK_NAME in worker.celery.tasks
    monkeypatch.delitem(sys.modules, "booking.worker", raising=False)


def test_worker_module_refuses_to_start_without_a_broker(tmp_path, monkeypatch):
    import importlib
    import sys

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'worker.sqlite3'}")
    monkeypatch.setenv("SECRET_KEY", "worker-test")
    monkeypatch.delenv("JOB_RUNNER", raising=False)
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    monkeypatch.delitem(sys.modules, "booking.worker", raising=False)
    with pytest.raises(RuntimeError, match="CELERY_BROKER_URL"):
        importlib.import_module("booking.worker")
    monkeypatch.delitem(sys.modules, "booking.worker", raising=False)
