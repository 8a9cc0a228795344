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

from solver.explain.details import LineSpec, Tables
from solver.explain.index import StateCode


def _distinct_shifts(tables: Tables, specs: Sequence[LineSpec]) -> list[int]:
    """Candidate indices with distinct answers (free units, pooled quantities left).

    Hundreds of candidate shifts often share a handful of answers; one of
    each is enough for the model.
    """
    units = list(dict.fromkeys(u for spec in specs for u in spec.units))
    types = [t for t in tables.pool_free if any(s.type_id == t for s in specs)]
    seen: set[tuple[tuple[bool, ...], tuple[int, ...]]] = set()
    kept = []
    for c in range(len(tables.shifts)):
        key = (
            tuple(tables.codes[u][c] == StateCode.FREE for u in units),
            tuple(tables.pool_free[t][c] for t in types),
        )
        if key not in seen:
            seen.add(key)
            kept.append(c)
    return kept


def _build(
    tables: Tables, specs: Sequence[LineSpec]
) -> tuple[cp_model.CpModel, list[cp_model.IntVar]]:
    """The model; returns it with one assumption literal per line of ``specs``.

    A unit-tracked line whose units no other line may take needs only one
    clause: if it is served, the chosen shift is one where enough of its
    units are free. Lines sharing units (through substitutes) get one
    literal per (line, unit), and each unit serves one of them at most.
    """
    model = cp_model.CpModel()
    shifts = _distinct_shifts(tables, specs)
    at = [model.new_bool_var(f"shift_{c}") for c in shifts]
    model.add_exactly_one(at)
    served = [model.new_bool_var(f"line_{spec.index}") for spec in specs]
    users: dict[str, int] = {}
    for spec in specs:
        for unit in spec.units:
            users[unit] = users.get(unit, 0) + 1
    takes: dict[str, list[cp_model.IntVar]] = {}
    for spec, literal in zip(specs, served, strict=True):
        if spec.pooled:
            continue
        free = [[tables.codes[u][c] == StateCode.FREE for c in shifts] for u in spec.units]
        if all(users[u] == 1 for u in spec.units):
            enough = [at[k] for k in range(len(shifts)) if sum(f[k] for f in free) >= spec.quantity]
            model.add_bool_or([~literal, *enough])
            continue
        chosen = []
        for unit, unit_free in zip(spec.units, free, strict=True):
            x = model.new_bool_var(f"line_{spec.index}_{unit}")
            chosen.append(x)
            takes.setdefault(unit, []).append(x)
            for k, ok in enumerate(unit_free):
                if not ok:
                    model.add_bool_or([~x, ~at[k]])  # the unit is not free at that shift
        model.add(sum(chosen) >= spec.quantity).only_enforce_if(literal)
    for xs in takes.values():
        model.add_at_most_one(xs)
    for type_id, free_by_shift in tables.pool_free.items():
        lines = [(s, lit) for s, lit in zip(specs, served, strict=True) if s.type_id == type_id]
        if lines:
            model.add(
                sum(s.quantity * lit for s, lit in lines)
                <= sum(free_by_shift[c] * at[k] for k, c in enumerate(shifts))
            )
    return model, served


def _infeasible(
    model: cp_model.CpModel, literals: Sequence[cp_model.IntVar], seconds: float, seed: int
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
    if len(core) <= 2:
        return [specs[j] for j in core]  # each line fits alone: already minimal
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
