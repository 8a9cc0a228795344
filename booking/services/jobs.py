"""Background solver jobs: the runner interface, its implementations and job leases.

The web request that asks for a plan only writes a QUEUED ``SolverJob`` row and hands
its id to a ``JobRunner``; it never waits for the solver. The job body is given to
``init_app`` by the application factory (``planning.run_solver_job``), so this module
knows nothing of planning; the body opens its own sessions and reports progress on the
job row, so any process can show it. A cancellation is written to the row (status
CANCELLED); the process holding the job sees it within a second and stops the solver.

Leases: the process that holds a job writes its name (``owner``, "host:pid") on the row
and renews ``heartbeat_at`` every ``JOB_HEARTBEAT_SECONDS`` from one monitor thread per
process. A job whose heartbeat is older than ``JOB_LEASE_SECONDS`` was lost with its
process (killed worker, crashed machine) and is marked FAILED by whoever notices: a
process starting, the planning pages, or the monitor of any other process. A job still
waiting in the broker (no owner yet) fails after ``JOB_QUEUE_TIMEOUT_SECONDS``. A process
starting never touches a job whose lease is alive.

Implementations:

- ``ThreadJobRunner`` (default, ``JOB_RUNNER = "thread"``): a thread pool inside the web
  process (``SOLVER_JOB_THREADS`` threads, default 1).
- ``InlineJobRunner`` (``JOB_RUNNER = "inline"``): runs the job in the caller's thread
  before ``submit`` returns; for tests and scripts.
- ``CeleryJobRunner`` (``JOB_RUNNER = "celery"``, the default when ``CELERY_BROKER_URL`` is
  set and the database is not SQLite): each job is a Celery task run by a worker pool,
  started with ``celery -A booking.worker worker``. The worker builds the
  application from the same environment (``DATABASE_URL``, ``CELERY_BROKER_URL``).
  A worker killed mid-solve is not redelivered the task (no ``acks_late``): its job fails
  when its lease expires, and the manager runs again.

``SOLVER_WORKERS`` (default 2) sets CP-SAT's threads per job.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol

from flask import Flask, current_app
from flask_babel import gettext as _
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from booking.db import Database, get_db, rows_matched, utcnow
from booking.errors import Conflict, Unavailable
from booking.models import JobStatus, SolverJob, User
from booking.services.access import get_or_404, require_staff
from booking.services.audit import record_event

if TYPE_CHECKING:
    from celery import Celery

log = logging.getLogger(__name__)

ACTIVE = (JobStatus.QUEUED, JobStatus.RUNNING)
# How often the monitor re-reads the held jobs' rows to see a cancellation (seconds).
CANCEL_POLL_SECONDS = 1.0
# Defaults of the lease settings (seconds).
DEFAULT_LEASE_SECONDS = 60.0
DEFAULT_HEARTBEAT_SECONDS = 10.0
DEFAULT_QUEUE_TIMEOUT_SECONDS = 3600.0
# Tries, and the first pause in seconds (doubled each time), to take a job when the
# database does not answer.
TAKE_ATTEMPTS = 4
TAKE_BACKOFF_SECONDS = 1.0


class JobBody(Protocol):
    """What a runner runs: the job with id ``job_id``, stopping when ``should_stop()``."""

    def __call__(
        self, database: Database, job_id: int, *, should_stop: Callable[[], bool], workers: int
    ) -> None: ...


class JobRunner(Protocol):
    """Runs solver jobs given their ids."""

    def submit(self, job_id: int) -> None:
        """Start (or queue) the job; returns without waiting for it.

        Raises:
            Unavailable: the job could not be queued.
        """

    def cancel(self, job_id: int) -> None:
        """Ask a job of this runner to stop soon (the row is already marked)."""


def process_owner() -> str:
    """This process's name on the jobs it holds: "host:pid"."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _seconds(app: Flask, name: str, default: float) -> float:
    return float(app.config.get(name) or default)


class JobMonitor:
    """One thread per process that keeps the leases of the jobs this process holds.

    Every ``CANCEL_POLL_SECONDS`` it reads the held jobs' status and raises the stop flag
    of any that is no longer active (cancelled by a manager, or failed by a sweep); every
    ``JOB_HEARTBEAT_SECONDS`` it renews their heartbeat; every ``JOB_LEASE_SECONDS`` it
    sweeps the expired jobs of all processes. The thread ends when the process holds no
    job, unless started with ``persistent=True`` (a Celery worker, which sweeps even when
    idle). Without a thread (``threaded=False``, the inline runner) the flags are only
    raised by :meth:`cancel`.
    """

    def __init__(self, app: Flask, *, threaded: bool = True) -> None:
        self.app = app
        self.threaded = threaded
        self.lease = _seconds(app, "JOB_LEASE_SECONDS", DEFAULT_LEASE_SECONDS)
        self.heartbeat = min(
            _seconds(app, "JOB_HEARTBEAT_SECONDS", DEFAULT_HEARTBEAT_SECONDS), self.lease / 2
        )
        self._flags: dict[int, threading.Event] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid: int | None = None
        self.persistent = False

    def start(self, *, persistent: bool = False) -> None:
        """Start the thread in this process, if not running (after a fork, again)."""
        if not self.threaded:
            return
        with self._lock:
            self.persistent = self.persistent or persistent
            if self._thread is not None and self._pid == os.getpid():
                return
            self._pid = os.getpid()
            self._thread = threading.Thread(target=self._loop, name="job-monitor", daemon=True)
            self._thread.start()

    def hold(self, job_id: int) -> threading.Event:
        """Take the lease of ``job_id`` for this process; returns its stop flag."""
        with self._lock:
            flag = self._flags.setdefault(job_id, threading.Event())
        # After the flag: a thread about to end for want of jobs sees it, or a new one starts.
        self.start()
        return flag

    def release(self, job_id: int) -> None:
        with self._lock:
            self._flags.pop(job_id, None)

    def cancel(self, job_id: int) -> None:
        with self._lock:
            flag = self._flags.get(job_id)
        if flag is not None:
            flag.set()

    def _loop(self) -> None:
        database = get_db(self.app)
        last_beat = last_sweep = 0.0
        while True:
            time.sleep(CANCEL_POLL_SECONDS)
            with self._lock:
                held = dict(self._flags)
                if not held and not self.persistent:
                    self._thread = None
                    return
            now = time.monotonic()
            try:
                with database.session() as session:
                    if held:
                        self._raise_stopped(session, held)
                    if held and now - last_beat >= self.heartbeat:
                        renew_leases(session, list(held))
                        last_beat = now
                    if now - last_sweep >= self.lease:
                        with self.app.app_context():
                            sweep_expired_jobs(session)
                        last_sweep = now
            except SQLAlchemyError as error:
                # The database is away: the lease lapses if it stays away; no crash.
                log.warning("job monitor: database unavailable: %s", error)
            except Exception:
                log.exception("job monitor failed a round")

    @staticmethod
    def _raise_stopped(session: Session, held: dict[int, threading.Event]) -> None:
        rows = session.execute(
            select(SolverJob.id, SolverJob.status).where(SolverJob.id.in_(list(held)))
        ).all()
        statuses = dict(rows)
        for job_id, flag in held.items():
            if statuses.get(job_id) not in ACTIVE:
                flag.set()
        session.rollback()


def renew_leases(session: Session, job_ids: list[int]) -> None:
    """Write this process as the owner of the still active ``job_ids``, alive now."""
    session.execute(
        update(SolverJob)
        .where(SolverJob.id.in_(job_ids), SolverJob.status.in_(ACTIVE))
        .values(owner=process_owner(), heartbeat_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    session.commit()


class _BaseRunner:
    threaded = True

    def __init__(self, app: Flask, body: JobBody) -> None:
        self.app = app
        self.body = body
        self.monitor = JobMonitor(app, threaded=self.threaded)

    def _take(self, database: Database, job_id: int) -> None:
        """Put this process's lease on the job, retrying while the database is away.

        Raises:
            SQLAlchemyError: the database did not answer after ``TAKE_ATTEMPTS`` tries.
        """
        pause = TAKE_BACKOFF_SECONDS
        for attempt in range(1, TAKE_ATTEMPTS + 1):
            try:
                with database.session() as session:
                    renew_leases(session, [job_id])
                return
            except SQLAlchemyError:
                if attempt == TAKE_ATTEMPTS:
                    raise
                log.warning("solver job %s: database unavailable, retrying", job_id)
                time.sleep(pause)
                pause *= 2

    def _run(self, job_id: int) -> None:
        flag = self.monitor.hold(job_id)
        try:
            with self.app.app_context():
                database = get_db(self.app)
                self._take(database, job_id)
                self.body(
                    database,
                    job_id,
                    should_stop=flag.is_set,
                    workers=int(self.app.config.get("SOLVER_WORKERS", 2)),
                )
        except Exception:
            log.exception("solver job %s crashed", job_id)
        finally:
            self.monitor.release(job_id)

    def cancel(self, job_id: int) -> None:
        self.monitor.cancel(job_id)


class InlineJobRunner(_BaseRunner):
    """Runs each job immediately in the calling thread (tests, scripts)."""

    threaded = False

    def submit(self, job_id: int) -> None:
        self._run(job_id)


class ThreadJobRunner(_BaseRunner):
    """Runs jobs on a small thread pool of the web process."""

    def __init__(self, app: Flask, body: JobBody, threads: int = 1) -> None:
        super().__init__(app, body)
        self.executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="solver-job")

    def submit(self, job_id: int) -> None:
        # Held from now on: a queued job of a process that dies fails with its lease.
        self.monitor.hold(job_id)
        try:
            with get_db(self.app).session() as session:
                renew_leases(session, [job_id])
        except SQLAlchemyError:
            log.warning("solver job %s: lease not written at submit", job_id)
        self.executor.submit(self._run, job_id)

    def shutdown(self) -> None:
        self.executor.shutdown(wait=True)


class CeleryJobRunner(_BaseRunner):
    """Sends each job to a Celery worker pool through the broker.

    The cancellation is on the job row, which the worker's monitor polls. Results are not
    kept by Celery: the job row is the result. A worker that cannot reach the database
    when it receives a job hands it back to the broker for a later try.
    """

    TASK_NAME = "booking.run_solver_job"
    # Tries, and seconds between them, of a job whose worker cannot reach the database.
    RETRIES = 12
    RETRY_SECONDS = 10

    def __init__(self, app: Flask, body: JobBody, broker_url: str) -> None:
        # Imported here: Celery is an optional dependency (the ``celery`` extra).
        from celery import Celery

        super().__init__(app, body)
        self.celery = Celery("booking", broker=broker_url, set_as_current=False)
        self.celery.conf.update(
            task_ignore_result=True,
            worker_prefetch_multiplier=1,
            broker_connection_retry_on_startup=True,
            # Asking for a run must not hang the web request when the broker is down.
            broker_connection_timeout=float(app.config.get("CELERY_CONNECT_TIMEOUT", 3)),
            task_publish_retry_policy={
                "max_retries": 2,
                "interval_start": 0,
                "interval_step": 0.5,
                "interval_max": 1,
            },
            task_always_eager=bool(app.config.get("CELERY_TASK_ALWAYS_EAGER", False)),
            task_default_queue=str(app.config.get("CELERY_QUEUE", "booking-solver")),
        )
        runner = self

        def run_solver_job_task(task: Any, job_id: int) -> None:
            database = get_db(runner.app)
            try:
                runner._take(database, job_id)
            except SQLAlchemyError as error:
                raise task.retry(
                    exc=error, countdown=runner.RETRY_SECONDS, max_retries=runner.RETRIES
                ) from error
            runner._run(job_id)

        # Not shared: each application (and each test's) keeps its own task.
        self.task = self.celery.task(name=self.TASK_NAME, shared=False, bind=True)(
            run_solver_job_task
        )

    def submit(self, job_id: int) -> None:
        try:
            self.task.apply_async((job_id,), retry=True)
        except Exception as error:
            # Kombu raises its own OperationalError (and socket errors) when the broker
            # cannot be reached.
            log.error("solver job %s: broker unavailable: %s", job_id, error)
            raise Unavailable(
                _(
                    "The optimiser's job queue cannot be reached; nothing was changed. "
                    "Try again in a few minutes, or tell the administrator."
                )
            ) from error


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


def sweep_expired_jobs(
    session: Session,
    *,
    lease_seconds: float | None = None,
    queue_timeout_seconds: float | None = None,
) -> int:
    """Mark FAILED the active jobs whose holder stopped renewing their lease.

    A job held by a process (it has an ``owner``) expires when its heartbeat (or, for rows
    written before leases existed, its start) is older than the lease; a job still waiting
    in the broker expires after the queue timeout. Requests and approved plans are
    untouched: a job only writes its plan at the very end, in one transaction. Call it
    within an application context unless both durations are given.

    Returns:
        How many jobs were marked.
    """
    config = current_app.config if lease_seconds is None or queue_timeout_seconds is None else {}
    lease = lease_seconds or float(config.get("JOB_LEASE_SECONDS") or DEFAULT_LEASE_SECONDS)
    queue_timeout = queue_timeout_seconds or float(
        config.get("JOB_QUEUE_TIMEOUT_SECONDS") or DEFAULT_QUEUE_TIMEOUT_SECONDS
    )
    now = utcnow()
    alive_since = func.coalesce(SolverJob.heartbeat_at, SolverJob.started_at, SolverJob.created_at)
    held = or_(SolverJob.owner.is_not(None), SolverJob.status == JobStatus.RUNNING)
    expired = or_(
        and_(held, alive_since < now - timedelta(seconds=lease)),
        and_(~held, SolverJob.created_at < now - timedelta(seconds=queue_timeout)),
    )
    rows = session.execute(
        select(SolverJob.id, SolverJob.owner).where(SolverJob.status.in_(ACTIVE), expired)
    ).all()
    count = 0
    for job_id, owner in rows:
        if owner:
            message = _(
                "The process running this job (%(owner)s) stopped; nothing was changed. "
                "Run the optimiser again.",
                owner=owner,
            )
        else:
            message = _(
                "No solver worker took this job; nothing was changed. Check that the "
                "workers are running, then run the optimiser again."
            )
        # The condition again: a heartbeat written since the select keeps the job alive.
        count += rows_matched(
            session.execute(
                update(SolverJob)
                .where(SolverJob.id == job_id, SolverJob.status.in_(ACTIVE), expired)
                .values(status=JobStatus.FAILED, finished_at=now, message=message)
                .execution_options(synchronize_session=False)
            )
        )
    session.commit()
    if count:
        log.warning("%s solver job(s) whose process stopped were marked failed", count)
    return count


def cancel_job(session: Session, job_id: int, *, by: User) -> SolverJob:
    """Cancel a queued or running job; the process that holds it stops within seconds.

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
    """A job, for staff; an active job whose lease expired is marked failed first.

    Raises:
        Forbidden: ``by`` is not staff.
        NotFound: no such job.
    """
    require_staff(by)
    job = get_or_404(session, SolverJob, job_id)
    if job.status in ACTIVE and sweep_expired_jobs(session):
        session.refresh(job)
    return job


def init_app(app: Flask, *, run_job: JobBody) -> None:
    """Give the application's runner its job body; mark jobs whose lease expired as
    failed (not in tests, where ``SWEEP_JOBS_AT_START`` turns it on).

    Jobs whose lease is alive are left alone, whichever process holds them: a new web
    worker or a ``flask`` command starting never fails the jobs of the others.
    """
    app.extensions["job_body"] = run_job
    if not app.config.get("SWEEP_JOBS_AT_START", not app.testing):
        return
    database = get_db(app)
    try:
        with app.app_context(), database.session() as session:
            sweep_expired_jobs(session)
    except SQLAlchemyError:
        # No schema yet (before `flask init-db`), or the database is away: later then.
        log.info("solver jobs not checked at start: database not ready")


def celery_app(app: Flask) -> Celery:
    """The Celery application whose worker runs ``app``'s jobs (see ``booking.worker``).

    Raises:
        RuntimeError: ``app`` does not send its jobs to Celery.
    """
    runner = get_runner(app)
    if not isinstance(runner, CeleryJobRunner):
        raise RuntimeError("set CELERY_BROKER_URL (and JOB_RUNNER=celery) to run a worker")
    return runner.celery
