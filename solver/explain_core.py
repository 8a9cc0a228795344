"""A smallest set of request lines that cannot be served together, by CP-SAT.

Used by ``solver.explain`` when every line of an unserved request fits at some
shift on its own but the whole request fits at none. The model picks one
candidate shift, gives distinct free units to unit-tracked lines and checks
pooled quantities; each line is switched on by an assumption literal, so an
infeasible solve returns a core of lines, which is then shrunk line by line.
"""

from __future__ import annotations

from collections.abc import Sequence

from ortools.sat.python import cp_model

from solver.explain_analysis import LineSpec, Tables
from solver.explain_index import StateCode


def _build(tables: Tables, specs: Sequence[LineSpec]) -> tuple[cp_model.CpModel, list]:
    """The model; returns it with one assumption literal per line of ``specs``."""
    model = cp_model.CpModel()
    n = len(tables.shifts)
    at = [model.new_bool_var(f"shift_{c}") for c in range(n)]
    model.add_exactly_one(at)
    served = [model.new_bool_var(f"line_{spec.index}") for spec in specs]
    takes: dict[str, list] = {}
    for spec, literal in zip(specs, served, strict=True):
        if spec.pooled:
            continue
        chosen = []
        for unit in spec.units:
            x = model.new_bool_var(f"line_{spec.index}_{unit}")
            chosen.append(x)
            takes.setdefault(unit, []).append(x)
            for c, code in enumerate(tables.codes[unit]):
                if code != StateCode.FREE:
                    model.add_bool_or([~x, ~at[c]])  # the unit is not free at that shift
        model.add(sum(chosen) >= spec.quantity).only_enforce_if(literal)
    for xs in takes.values():
        model.add_at_most_one(xs)
    for type_id, free in tables.pool_free.items():
        lines = [(s, lit) for s, lit in zip(specs, served, strict=True) if s.type_id == type_id]
        if lines:
            model.add(
                sum(s.quantity * lit for s, lit in lines)
                <= sum(f * at[c] for c, f in enumerate(free))
            )
    return model, served


def _infeasible(
    model: cp_model.CpModel, literals: Sequence, seconds: float, seed: int
) -> tuple[bool, list[int]] | None:
    """Solves under ``literals``; (True, core indices) if infeasible, None if unknown."""
    model.clear_assumptions()
    model.add_assumptions(literals)
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.random_seed = seed
    solver.parameters.max_time_in_seconds = max(0.01, seconds)
    status = solver.solve(model)
    if status == cp_model.INFEASIBLE:
        return True, list(solver.sufficient_assumptions_for_infeasibility())
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return False, []
    return None


def minimal_conflict(
    tables: Tables, specs: Sequence[LineSpec], seconds: float, seed: int = 0
) -> list[LineSpec] | None:
    """A subset-minimal set of lines that fit at no common shift, or None if time ran out."""
    import time

    deadline = time.monotonic() + seconds
    model, served = _build(tables, specs)
    index_of = {lit.index: i for i, lit in enumerate(served)}
    answer = _infeasible(model, served, seconds, seed)
    if answer is None or not answer[0]:
        return None
    core = sorted({index_of[i] for i in answer[1] if i in index_of}) or list(range(len(specs)))
    # Deletion: drop each line in turn and keep it out if the rest still conflict.
    for i in list(core):
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        trial = [j for j in core if j != i]
        if not trial:
            continue
        answer = _infeasible(model, [served[j] for j in trial], left, seed)
        if answer is None:
            return None
        if answer[0]:
            core = trial
    return [specs[j] for j in core]
