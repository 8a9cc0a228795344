"""The Celery worker's entry module: ``celery -A booking.worker worker``.

The worker builds the application from the same environment as the web processes
(``DATABASE_URL``, ``CELERY_BROKER_URL``...) and runs the solver jobs they queue. Each
worker process keeps the leases of its jobs and sweeps the jobs of dead processes (see
``booking.services.jobs``).
"""

from typing import Any

from celery.signals import worker_process_init, worker_ready

from booking import create_app
from booking.db import get_db
from booking.services.jobs import CeleryJobRunner, celery_app, get_runner

flask_app = create_app()
celery = celery_app(flask_app)


@worker_process_init.connect
def _after_fork(**_kwargs: Any) -> None:
    """A forked pool process opens its own database connections and monitor."""
    get_db(flask_app).engine.dispose(close=False)
    _start_monitor()


@worker_ready.connect
def _on_ready(**_kwargs: Any) -> None:
    _start_monitor()


def _start_monitor() -> None:
    runner = get_runner(flask_app)
    assert isinstance(runner, CeleryJobRunner)
    runner.monitor.start(persistent=True)
