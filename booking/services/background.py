"""Work done after a change, on one background thread of the process.

A web request that changes data may leave follow-up work (sending the outbox,
recomputing the coming days' rounds) that it should not wait for. ``Coalescing`` runs
that work on one thread with its own database session; kicks that arrive while a run
is waiting to start are merged into it, so a burst of changes costs one run.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from flask import Flask
from sqlalchemy.orm import Session

from booking.db import get_db

log = logging.getLogger(__name__)


class Coalescing:
    """Runs ``body(session)`` on one background thread of ``app``'s process when kicked."""

    def __init__(self, app: Flask, name: str, body: Callable[[Session], object]) -> None:
        self.app = app
        self.name = name
        self.body = body
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._lock = threading.Lock()
        self._waiting = False

    def kick(self) -> None:
        """Run the body soon (once, however many kicks arrive before it starts)."""
        with self._lock:
            if self._waiting:
                return
            self._waiting = True
        self.executor.submit(self._run)

    def _run(self) -> None:
        with self._lock:
            self._waiting = False
        try:
            with self.app.app_context(), get_db(self.app).session() as session:
                self.body(session)
        except Exception:
            log.exception("background %s crashed", self.name)

    def shutdown(self) -> None:
        """Wait for the run under way and stop the thread."""
        self.executor.shutdown(wait=True)


def coalescing(app: Flask, name: str, body: Callable[[Session], object]) -> Coalescing:
    """``app``'s background thread called ``name``, made on first use."""
    key = f"background_{name}"
    worker: Coalescing | None = app.extensions.get(key)
    if worker is None:
        worker = app.extensions[key] = Coalescing(app, name, body)
    return worker
