"""A CP-SAT search is stopped from outside, even when it finds no solution to report."""

from __future__ import annotations

import threading

from ortools.sat.python import cp_model

from solver.stopping import solve_stoppable


def _pigeonhole(holes: int) -> cp_model.CpModel:
    """``holes + 1`` pigeons in ``holes`` holes: infeasible, and very slow to prove."""
    model = cp_model.CpModel()
    pigeons = holes + 1
    x = {(p, h): model.NewBoolVar(f"x{p}_{h}") for p in range(pigeons) for h in range(holes)}
    for p in range(pigeons):
        model.AddBoolOr([x[p, h] for h in range(holes)])
    for h in range(holes):
        model.AddAtMostOne([x[p, h] for p in range(pigeons)])
    return model


def test_a_search_without_solutions_stops_when_asked():
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.max_time_in_seconds = 600
    # Symmetry breaking would prove it at once.
    solver.parameters.symmetry_level = 0
    asked = threading.Event()
    calls = []

    def should_stop() -> bool:
        calls.append(1)
        if len(calls) >= 3:
            asked.set()
        return asked.is_set()

    status = solve_stoppable(solver, _pigeonhole(40), should_stop)

    assert asked.is_set()
    assert status == cp_model.UNKNOWN
    assert solver.WallTime() < 600


def test_without_should_stop_the_solve_is_plain():
    model = cp_model.CpModel()
    x = model.NewIntVar(0, 10, "x")
    model.Maximize(x)
    solver = cp_model.CpSolver()
    assert solve_stoppable(solver, model, None) == cp_model.OPTIMAL
    assert solver.Value(x) == 10


def test_a_stop_asked_before_the_start_solves_nothing():
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.symmetry_level = 0
    status = solve_stoppable(solver, _pigeonhole(40), lambda: True)
    assert status == cp_model.UNKNOWN
