"""Upper bounds on served value: a linear relaxation (GLOP), tightened with CP-SAT.

Each request's possible starts ``[lo, hi]`` are cut into buckets. A request
started anywhere in bucket ``[a, b]`` surely occupies ``[b, a + duration +
turnaround)``, so counting only these sure occupations against the units (not
blacked out) of each type and the quantity of each pool relaxes every rule:
travel is ignored, units are fractional, a request can be split across
buckets. The relaxation's optimum is therefore at least the best plan's
value. Parts of ``solver.decompose`` are independent, so their bounds add up.

Where a plan falls short of a part's LP bound, ``tighten_bounds`` asks CP-SAT
for a bound on the same part's dates model without travel padding: integral
starts and counts, cumulatives per unit type (blackouts taking units away) and
per pool. That model drops only travel times and the identity of units, so it
is a relaxation too, and its proven bound is often a few points below the LP's.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence

from ortools.linear_solver import pywraplp
from ortools.sat.python import cp_model

from solver.dates import DatesModel
from solver.decompose import Part
from solver.instance import Instance, ReqData
from solver.options import SolveOptions
from solver.problem import Unit
from solver.stopping import solve_stoppable

BUCKETS = 12  # buckets per request window
CHUNK = 1500  # most requests in one LP
MIN_BUCKET_MINUTES = 15


def _buckets(lo: int, hi: int) -> list[tuple[int, int]]:
    width = max(MIN_BUCKET_MINUTES, math.ceil((hi - lo + 1) / BUCKETS))
    out = []
    a = lo
    while a <= hi:
        b = min(hi, a + width - 1)
        out.append((a, b))
        a = b + 1
    return out


def part_bound(inst: Instance, request_ids: Sequence[str], seconds: float = 60.0) -> float:
    """The LP bound on the served value of one part's requests.

    When GLOP does not finish within ``seconds`` the trivial bound (the value
    of every servable request) is returned.
    """
    solver = pywraplp.Solver.CreateSolver("GLOP")
    if solver is None:  # pragma: no cover - GLOP ships with OR-Tools
        return float(sum(inst.reqs[r].value for r in request_ids))
    # (start, end, var) of the sure occupations, per unit type and per pool.
    unit_items: dict[str, list[tuple[int, int, pywraplp.Variable]]] = {}
    pool_items: dict[str, list[tuple[int, int, pywraplp.Variable]]] = {}
    objective = solver.Objective()
    for rid in request_ids:
        rd = inst.reqs[rid]
        if not rd.servable or not _enough(inst, rd):
            continue
        ys = []
        for k, (a, b) in enumerate(_buckets(rd.lo, rd.hi)):
            y = solver.NumVar(0.0, 1.0, f"y{rid}_{k}")
            ys.append(y)
            objective.SetCoefficient(y, rd.value)
            for line in rd.request.lines:
                if inst.problem.is_pooled(line.type):
                    pools = inst.pools_by_type.get(line.type, [])
                    end = a + rd.duration + inst.turnaround(line.type)
                    flows = []
                    for pool in pools:
                        g = solver.NumVar(0.0, min(line.quantity, pool.quantity), "")
                        flows.append(g)
                        if b < end:
                            pool_items.setdefault(pool.id, []).append((b, end, g))
                    c = solver.Constraint(0.0, 0.0)
                    c.SetCoefficient(y, -line.quantity)
                    for g in flows:
                        c.SetCoefficient(g, 1.0)
                else:
                    types = inst.eligible_unit_types(line.type)
                    c = solver.Constraint(0.0, 0.0)
                    c.SetCoefficient(y, -line.quantity)
                    for t in types:
                        f = solver.NumVar(0.0, min(line.quantity, len(inst.units_by_type[t])), "")
                        c.SetCoefficient(f, 1.0)
                        end = a + rd.duration + inst.turnaround(t)
                        if b < end:
                            unit_items.setdefault(t, []).append((b, end, f))
        total = solver.Constraint(1.0 if rd.request.locked is not None else 0.0, 1.0)
        for y in ys:
            total.SetCoefficient(y, 1.0)
    for t, items in unit_items.items():
        units = inst.units_by_type[t]
        _capacity(solver, items, _units_up(inst, units))
    for pool_id, items in pool_items.items():
        quantity = inst.problem.pool_by_id[pool_id].quantity
        _capacity(solver, items, _always(quantity))
    objective.SetMaximization()
    solver.SetTimeLimit(max(1, int(seconds * 1000)))
    if solver.Solve() != pywraplp.Solver.OPTIMAL:
        return float(sum(inst.reqs[r].value for r in request_ids if inst.reqs[r].servable))
    # The value of a plan is an integer: round down, with a margin for LP tolerance.
    return float(math.floor(objective.Value() + 1e-6))


def _units_up(inst: Instance, units: Sequence[Unit]) -> Callable[[int], int]:
    """How many of ``units`` are outside their blackouts at a given minute."""

    def available(minute: int) -> int:
        return sum(
            1 for u in units if not any(b0 <= minute < b1 for b0, b1 in inst.blackouts[u.id])
        )

    return available


def _always(quantity: int) -> Callable[[int], int]:
    """A pool's capacity: its whole quantity at every minute."""
    return lambda _minute: quantity


def _enough(inst: Instance, rd: ReqData) -> bool:
    """Whether every line's quantity is at most what all its sources hold."""
    for line in rd.request.lines:
        if inst.problem.is_pooled(line.type):
            have = sum(p.quantity for p in inst.pools_by_type.get(line.type, []))
        else:
            have = sum(len(inst.units_by_type[t]) for t in inst.eligible_unit_types(line.type))
        if line.quantity > have:
            return False
    return True


def _capacity(
    solver: pywraplp.Solver,
    items: list[tuple[int, int, pywraplp.Variable]],
    available: Callable[[int], int],
) -> None:
    """At each start of a sure occupation, the occupations covering it fit.

    ``available(minute)`` is the capacity at that minute (units or quantity).
    """
    items.sort(key=lambda it: it[0])
    active: list[tuple[int, int, pywraplp.Variable]] = []
    i, n = 0, len(items)
    while i < n:
        start = items[i][0]
        while i < n and items[i][0] == start:
            active.append(items[i])
            i += 1
        active = [it for it in active if it[1] > start]
        c = solver.Constraint(-solver.infinity(), float(available(start)))
        for _, _, var in active:
            c.SetCoefficient(var, 1.0)


def part_bounds(inst: Instance, parts: Sequence[Part], seconds: float) -> list[float]:
    """The LP bound of each part; parts not reached in time count fully.

    A part larger than ``CHUNK`` requests is bounded chunk by chunk (requests
    in order of earliest start): each chunk's LP keeps only the capacity terms
    of its own requests, a relaxation of the part's LP, so the chunks' bounds
    add up to a valid, slightly weaker bound at a fraction of the cost.
    """
    deadline = time.monotonic() + seconds
    bounds = []
    for part in parts:
        ids = sorted(part.request_ids, key=lambda r: (inst.reqs[r].lo, r))
        total = 0.0
        for first in range(0, len(ids), CHUNK):
            chunk = ids[first : first + CHUNK]
            left = deadline - time.monotonic()
            if left > 0:
                total += part_bound(inst, chunk, left)
            else:
                total += sum(inst.reqs[r].value for r in chunk if inst.reqs[r].servable)
        bounds.append(total)
    return bounds


def value_upper_bound(inst: Instance, parts: Sequence[Part], seconds: float) -> float:
    """Sum of the parts' LP bounds; parts not reached in time count fully."""
    return sum(part_bounds(inst, parts, seconds))


def relaxation_bound(
    inst: Instance, request_ids: Sequence[str], seconds: float, options: SolveOptions
) -> float | None:
    """CP-SAT's proven bound on the travel-free dates relaxation of these requests.

    Returns:
        The bound, or None when CP-SAT proved nothing in ``seconds``.
    """
    dates = DatesModel(inst, request_ids, {})
    dates.model.maximize(sum(dates.value_terms))
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = max(1, options.workers)
    solver.parameters.random_seed = options.seed
    solver.parameters.max_time_in_seconds = max(0.05, seconds)
    status = solve_stoppable(solver, dates.model, options.should_stop)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None
    # Served value is an integer: the bound rounds down.
    return float(math.floor(solver.BestObjectiveBound() + 1e-6))


def tighten_bounds(
    inst: Instance,
    parts: Sequence[Part],
    bounds: Sequence[float],
    achieved: Sequence[float],
    seconds: float,
    options: SolveOptions,
) -> list[float]:
    """Each part's bound, lowered by ``relaxation_bound`` where a gap remains.

    Args:
        inst: the instance.
        parts: the independent parts.
        bounds: their current (LP) bounds.
        achieved: the served value a plan reaches in each part.
        seconds: budget for all parts, shared in proportion to the gaps.
        options: workers, seed and ``should_stop``.
    """
    out = list(bounds)
    open_parts = sorted(
        (i for i in range(len(parts)) if bounds[i] - achieved[i] >= 1),
        key=lambda i: (achieved[i] - bounds[i], i),
    )
    deadline = time.monotonic() + seconds
    weights = [bounds[i] - achieved[i] for i in open_parts]
    for index, i in enumerate(open_parts):
        left = deadline - time.monotonic()
        if left <= 0.02 or (options.should_stop is not None and options.should_stop()):
            break
        share = left * weights[index] / sum(weights[index:])
        found = relaxation_bound(inst, parts[i].request_ids, share, options)
        if found is not None:
            out[i] = min(out[i], found)
    return out
