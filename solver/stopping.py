"""Stopping a CP-SAT search from outside, within a fraction of a second.

A solution callback only sees a stop request when a new solution is found, which may
never happen during a long proof. ``solve_stoppable`` also watches ``should_stop`` from a
small thread and calls ``CpSolver.stop_search`` as soon as it returns True.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from ortools.sat.python import cp_model

# How often the watcher asks ``should_stop`` (seconds).
POLL_SECONDS = 0.1


def solve_stoppable(
    solver: cp_model.CpSolver,
    model: cp_model.CpModel,
    should_stop: Callable[[], bool] | None,
    callback: cp_model.CpSolverSolutionCallback | None = None,
) -> Any:
    """``solver.Solve(model, callback)``, stopped early once ``should_stop()`` is True.

    Args:
        solver: the configured solver.
        model: the model to solve.
        should_stop: polled every ``POLL_SECONDS`` from a watcher thread while the
            search runs; None solves without a watcher.
        callback: the solution callback, if any.

    Returns:
        The solver status (FEASIBLE or UNKNOWN when stopped early).
    """
    if should_stop is None:
        return solver.Solve(model, callback)
    if should_stop():
        solver.parameters.max_time_in_seconds = 0.0
        return solver.Solve(model, callback)
    done = threading.Event()

    def watch() -> None:
        while not done.wait(POLL_SECONDS):
            if should_stop():
                solver.stop_search()
                return

    watcher = threading.Thread(target=watch, name="cpsat-stop-watch", daemon=True)
    watcher.start()
    try:
        return solver.Solve(model, callback)
    finally:
        done.set()
        watcher.join()
