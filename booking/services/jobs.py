"""Background solver jobs: the runner interface and its implementations.

The web request that asks for a plan only writes a QUEUED ``SolverJob`` row and hands
its id to a ``JobRunner``; it never waits for the solver. The job body is given to
``init_app`` by the application factory (``planning.run_solver_job``), so this module
knows nothing of planning; the body opens its own sessions and reports progress on the
job row, so any process can show it. A cancellation is written to the row (status
CANCELLED) and the running job polls the row, so any process can cancel a job.

Implementations:

- ``ThreadJobRunner`` (default, ``JOB_RUNNER = "thread"``): a thread pool inside the web
  process (``SOLVER_JOB_THREADS`` threads, default 1).
- ``InlineJobRunner`` (``JOB_RUNNER = "inline"``): runs the job in the caller's thread
  before ``submit`` returns; for tests and scripts.
- ``CeleryJobRunner`` (``JOB_RUNNER = "celery"``, the default when ``CELERY_BROKER_URL`` is
  set and the database is not SQLite): each job is a Celery task run by a worker pool,
  started with ``celery -A booking.worker worker``. The worker builds the
  application from the same environment (``DATABASE_URL``, ``CELERY_BROKER_URL``).

``SOLVER_WORKERS`` (default 2) sets CP-SAT's threads per job.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Protocol

from flask import Flask, current_app
from flask_babel import gettext as _
from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from booking.db import Database, get_db, rows_matched, utcnow
from booking.errors import Conflict
from booking.models import JobStatus, SolverJob, User
from booking.services.access import get_or_404, require_staff
from booking.services.audit import record_event

if TYPE_CHECKING:
    from celery import Celery

log = logging.getLogger(__name__)

ACTIVE = (JobStatus.QUEUED, JobStatus.RUNNING)
# How often a running job re-reads its row to see a cancellation (seconds).
CANCEL_POLL_SECONDS = 1.0


class JobBody(Protocol):
    """What a runner runs: the job with id ``job_id``, stopping when ``should_stop()``."""

    def __call__(
        self, database: Database, job_id: int, *, should_stop: Callable[[], bool], workers: int
    ) -> None: ...


class JobRunner(Protocol):
    """Runs solver jobs given their ids."""

    def submit(self, job_id: int) -> None:
        """Start (or queue) the job; returns without waiting for it."""

    def cancel(self, job_id: int) -> None:
        """Ask a job of this runner to stop soon (the row is already marked)."""


def _stop_check(database: Database, job_id: int, flag: threading.Event) -> Callable[[], bool]:
    """A ``should_stop`` that is true once the flag is set or the row says CANCELLED."""
    last = [0.0]

    def should_stop() -> bool:
        if flag.is_set():
            return True
        now = time.monotonic()
        if now - last[0] < CANCEL_POLL_SECONDS:
            return False
        last[0] = now
        with database.session() as session:
            status = session.scalar(select(SolverJob.status).where(SolverJob.id == job_id))
        if status is JobStatus.CANCELLED:
            flag.set()
        return flag.is_set()

    return should_stop


class _BaseRunner:
    def __init__(self, app: Flask, body: JobBody) -> None:
        self.app = app
        self.body = body
        self._flags: dict[int, threading.Event] = {}
        self._lock = threading.Lock()

    def _run(self, job_id: int) -> None:
        with self._lock:
            flag = self._flags.setdefault(job_id, threading.Event())
        try:
            with self.app.app_context():
                database = get_db(self.app)
                self.body(
                    database,
                    job_id,
                    should_stop=_stop_check(database, job_id, flag),
                    workers=int(self.app.config.get("SOLVER_WORKERS", 2)),
                )
        except Exception:
            log.exception("solver job %s crashed", job_id)
        finally:
            with self._lock:
                self._flags.pop(job_id, None)

    def cancel(self, job_id: int) -> None:
        with self._lock:
            flag = self._flags.get(job_id)
        if flag is not None:
            flag.set()


class InlineJobRunner(_BaseRunner):
    """Runs each job immediately in the calling thread (tests, scripts)."""

    def submit(self, job_id: int) -> None:
        self._run(job_id)


class ThreadJobRunner(_BaseRunner):
    """Runs jobs on a small thread pool of the web process."""

    def __init__(self, app: Flask, body: JobBody, threads: int = 1) -> None:
        super().__init__(app, body)
        self.executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="solver-job")

    def submit(self, job_id: int) -> None:
        self.executor.submit(self._run, job_id)

    def shutdown(self) -> None:
        self.executor.shutdown(wait=True)


class CeleryJobRunner(_BaseRunner):
    """Sends each job to a Celery worker pool through the broker.

    ``cancel`` has nothing to do here: the cancellation is on the job row, which the
    worker's job polls. Results are not kept by Celery: the job row is the result.
    """

    TASK_NAME = "booking.run_solver_job"

    def __init__(self, app: Flask, body: JobBody, broker_url: str) -> None:
        # Imported here: Celery is an optional dependency (the ``celery`` extra).
        from celery import Celery

        super().__init__(app, body)
        self.celery = Celery("booking", broker=broker_url, set_as_current=False)
        self.celery.conf.update(
            task_ignore_result=True,
            worker_prefetch_multiplier=1,
            broker_connection_retry_on_startup=True,
            task_always_eager=bool(app.config.get("CELERY_TASK_ALWAYS_EAGER", False)),
            task_default_queue=str(app.config.get("CELERY_QUEUE", "booking-solver")),
        )

        def run_solver_job_task(job_id: int) -> None:
            self._run(job_id)

        # Not shared: each application (and each test's) keeps its own task.
        self.task = self.celery.task(name=self.TASK_NAME, shared=False)(run_solver_job_task)

    def submit(self, job_id: int) -> None:
        self.task.delay(job_id)

    def cancel(self, job_id: int) -> None:
        return None


def _setting(app: Flask, name: str) -> str:
    return str(app.config.get(name) or os.environ.get(name, "")).strip()


def runner_kind(app: Flask) -> str:
    """ "inline", "thread" or "celery": ``JOB_RUNNER`` if set, else Celery when a broker is
    configured and the database is not SQLite, else the thread pool."""
    kind = _setting(app, "JOB_RUNNER")
    if kind:
        return kind
    if _setting(app, "CELERY_BROKER_URL") and not str(
        app.config.get("DATABASE_URL", "")
    ).startswith("sqlite"):
        return "celery"
    return "thread"


def make_runner(app: Flask, body: JobBody) -> JobRunner:
    """The runner ``runner_kind(app)`` names, running ``body``."""
    kind = runner_kind(app)
    if kind == "inline":
        return InlineJobRunner(app, body)
    if kind == "thread":
        return ThreadJobRunner(app, body, int(app.config.get("SOLVER_JOB_THREADS", 1)))
    if kind == "celery":
        broker = _setting(app, "CELERY_BROKER_URL")
        if not broker:
            raise ValueError("JOB_RUNNER is 'celery' but CELERY_BROKER_URL is not set")
        return CeleryJobRunner(app, body, broker)
    raise ValueError(f"unknown JOB_RUNNER {kind!r}: use 'thread', 'inline' or 'celery'")


def get_runner(app: Flask | None = None) -> JobRunner:
    """The job runner of ``app`` (default: the current application), made on first use."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    # Tests may put a runner of their own there.
    runner: JobRunner | None = app.extensions.get("job_runner")
    if runner is None:
        body: JobBody | None = app.extensions.get("job_body")
        if body is None:
            raise RuntimeError("jobs.init_app(app, run_job=...) was not called")
        runner = app.extensions["job_runner"] = make_runner(app, body)
    return runner


def fail_interrupted_jobs(session: Session) -> int:
    """Mark the jobs a stopped process left QUEUED or RUNNING as FAILED.

    Requests and approved plans are untouched: a job only writes its plan at the very
    end, in one transaction.

    Returns:
        How many jobs were marked.
    """
    count = rows_matched(
        session.execute(
            update(SolverJob)
            .where(SolverJob.status.in_(ACTIVE))
            .values(
                status=JobStatus.FAILED,
                finished_at=utcnow(),
                message=_("The server restarted during the solve; nothing was lost, run it again."),
            )
        )
    )
    session.commit()
    return int(count or 0)


def cancel_job(session: Session, job_id: int, *, by: User) -> SolverJob:
    """Cancel a queued or running job; the runner that holds it stops soon after.

    Raises:
        Forbidden: ``by`` is not staff.
        NotFound: no such job.
        Conflict: the job has already ended.
    """
    require_staff(by)
    job = get_or_404(session, SolverJob, job_id)
    changed = rows_matched(
        session.execute(
            update(SolverJob)
            .where(SolverJob.id == job_id, SolverJob.status.in_(ACTIVE))
            .values(
                status=JobStatus.CANCELLED,
                finished_at=utcnow(),
                message=_("Cancelled by %(name)s.", name=by.name),
            )
        )
    )
    if not changed:
        session.rollback()
        raise Conflict(_("This run has already ended; there is nothing to cancel."))
    record_event(
        session, by=by, action="plan.cancel_run", object_type="solver_job", object_id=job_id
    )
    session.commit()
    get_runner().cancel(job_id)
    session.refresh(job)
    return job


def get_job(session: Session, job_id: int, *, by: User) -> SolverJob:
    """A job, for staff.

    Raises:
        Forbidden: ``by`` is not staff.
        NotFound: no such job.
    """
    require_staff(by)
    return get_or_404(session, SolverJob, job_id)


def init_app(app: Flask, *, run_job: JobBody) -> None:
    """Give the application's runner its job body; mark jobs interrupted by a previous
    process as failed (not in tests).

    Only with the in-process runners: with Celery, jobs run in workers that outlive the
    web process.
    """
    app.extensions["job_body"] = run_job
    if app.testing or not app.config.get("FAIL_INTERRUPTED_JOBS", True):
        return
    if runner_kind(app) == "celery":
        return
    database = get_db(app)
    try:
        with app.app_context(), database.session() as session:
            count = fail_interrupted_jobs(session)
    except SQLAlchemyError:
        # No schema yet (before `flask init-db`): nothing to clean.
        log.info("solver jobs not checked at start: database not ready")
        return
    if count:
        log.warning("%s solver job(s) interrupted by a restart were marked failed", count)


def celery_app(app: Flask) -> Celery:
    """The Celery application whose worker runs ``app``'s jobs (see ``booking.worker``).

    Raises:
        RuntimeError: ``app`` does not send its jobs to Celery.
    """
    runner = get_runner(app)
    if not isinstance(runner, CeleryJobRunner):
        raise RuntimeError("set CELERY_BROKER_URL (and JOB_RUNNER=celery) to run a worker")
    return runner.celery
