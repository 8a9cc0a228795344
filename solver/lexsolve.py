"""Lexicographic optimisation with CP-SAT: one level at a time, each one fixed.

Each level is solved with the previous solution as a hint, then its objective
is constrained to the value reached (``==`` when proven optimal, else ``>=``
or ``<=``), so the next level cannot give it up.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ortools.sat.python import cp_model

from solver.options import SolveOptions
from solver.stopping import solve_stoppable


@dataclass(frozen=True)
class Level:
    """One objective level: ``expr`` maximised (``maximize``) or minimised."""

    name: str
    expr: cp_model.LinearExprT
    maximize: bool
    share: float  # fraction of the stage's time for this level


@dataclass
class LevelResult:
    name: str
    value: float
    bound: float
    optimal: bool


class _StopOnRequest(cp_model.CpSolverSolutionCallback):
    """Stops the search at the next solution once ``should_stop`` says so."""

    def __init__(self, should_stop: Callable[[], bool] | None) -> None:
        super().__init__()
        self._should_stop = should_stop

    def on_solution_callback(self) -> None:
        if self._should_stop is not None and self._should_stop():
            self.StopSearch()


def _hint_from(model: cp_model.CpModel, values: Sequence[int]) -> None:
    hint = model.Proto().solution_hint
    hint.vars.clear()
    hint.values.clear()
    hint.vars.extend(range(len(values)))
    hint.values.extend(values)


def solve_levels(
    model: cp_model.CpModel,
    levels: Sequence[Level],
    seconds: float,
    options: SolveOptions,
) -> tuple[list[int] | None, list[LevelResult]]:
    """Solves ``levels`` in order within ``seconds`` in all.

    Args:
        model: the model, possibly with a solution hint already set.
        levels: objectives, most important first.
        seconds: wall-clock budget for all levels; a level's unused time
            goes to the next ones.
        options: workers, seed and ``should_stop``.

    Returns:
        The values of all model variables of the last solution found (or None
        when the first level found none) and, per level solved, its value,
        its bound and whether it was proven optimal.
    """
    deadline = time.monotonic() + seconds
    results: list[LevelResult] = []
    best: list[int] | None = None
    for index, level in enumerate(levels):
        left = deadline - time.monotonic()
        if index > 0 and (left <= 0.01 or _stopped(options)):
            break
        share = level.share / max(sum(lv.share for lv in levels[index:]), 1e-9)
        solver = cp_model.CpSolver()
        solver.parameters.num_workers = max(1, options.workers)
        solver.parameters.random_seed = options.seed
        solver.parameters.max_time_in_seconds = max(0.05, left * share)
        if level.maximize:
            model.maximize(level.expr)
        else:
            model.minimize(level.expr)
        status = solve_stoppable(
            solver, model, options.should_stop, _StopOnRequest(options.should_stop)
        )
        if status == cp_model.MODEL_INVALID and model.Proto().solution_hint.vars:
            # A hint that is not a valid assignment must not cost the solve.
            model.clear_hints()
            status = solve_stoppable(
                solver, model, options.should_stop, _StopOnRequest(options.should_stop)
            )
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            if status == cp_model.INFEASIBLE and index == 0:
                return None, results
            break
        value = solver.ObjectiveValue()
        bound = solver.BestObjectiveBound()
        optimal = status == cp_model.OPTIMAL
        results.append(LevelResult(level.name, value, bound, optimal))
        best = list(solver.ResponseProto().solution)
        reached = round(value)
        if optimal:
            model.add(level.expr == reached)
        elif level.maximize:
            model.add(level.expr >= reached)
        else:
            model.add(level.expr <= reached)
        _hint_from(model, best)
    model.clear_objective()
    return best, results


def _stopped(options: SolveOptions) -> bool:
    return options.should_stop is not None and options.should_stop()
