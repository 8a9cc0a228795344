"""A lower bound on the total shift of any plan that serves at least a given value.

The served value ranks above the shift in the objective, so a plan's shift is
judged at its own value: how little shift does any plan need to serve that
much? This is the linear relaxation of ``solver.bound`` turned around: each
request's possible starts are cut into buckets (its asked start alone in
one), a request started anywhere in a bucket surely occupies the bucket's
common part plus turnaround, and every unit type and every pooled type
(all its pools together) holds at most its stock at every instant. With the
served value at least ``value``, the relaxation minimises the sum over buckets
of the smallest shift inside each one. Travel, the identity of units, the
split between pools and the integrality of the choices are all relaxed, so
the optimum is at most the shift of every plan serving ``value`` or more,
whatever its dates.
"""

from __future__ import annotations

import math
import time

from ortools.linear_solver import pywraplp

from solver.instance import Instance, ReqData

BUCKETS = 8  # buckets on each side of the asked start
MIN_BUCKET_MINUTES = 30
# Past this many buckets the bound is not attempted: a département's season (about
# 100,000) takes GLOP a minute and a half, and its relaxation then says little.
MAX_VARIABLES = 60_000


def _buckets(rd: ReqData) -> list[tuple[int, int]]:
    """The asked start alone, then buckets widening away from it on each side."""
    out = []
    if rd.lo <= rd.start <= rd.hi:
        out.append((rd.start, rd.start))
    for first, last, step in ((rd.start + 1, rd.hi, 1), (rd.start - 1, rd.lo, -1)):
        if (last - first) * step < 0:
            continue
        span = abs(last - first) + 1
        width = max(MIN_BUCKET_MINUTES, math.ceil(span / BUCKETS))
        a = first
        while (last - a) * step >= 0:
            b = a + step * (width - 1)
            b = min(b, last) if step > 0 else max(b, last)
            out.append((min(a, b), max(a, b)))
            a = b + step
    return out


def shift_lower_bound(inst: Instance, value: float, seconds: float) -> float | None:
    """The least total shift, in minutes, of any plan serving at least ``value``.

    Args:
        inst: the instance.
        value: the served value the plans must reach (a plan's own value).
        seconds: time for GLOP; past it, or when the LP is too large, None.

    Returns:
        The bound (rounded up: shifts are whole minutes), or None when unknown.
    """
    started = time.monotonic()
    solver = pywraplp.Solver.CreateSolver("GLOP")
    if solver is None:  # pragma: no cover - GLOP ships with OR-Tools
        return None
    # "u:type" or "p:type" -> (start, end, quantity, variable) of each sure occupation
    items: dict[str, list[tuple[int, int, float, object]]] = {}
    stock: dict[str, float] = {}
    for t, units in inst.units_by_type.items():
        stock[f"u:{t}"] = float(len(units))
    for t, pools in inst.pools_by_type.items():
        stock[f"p:{t}"] = float(sum(p.quantity for p in pools))
    servable = [rd for rd in inst.reqs.values() if rd.servable]
    if sum(len(_buckets(rd)) for rd in servable) > MAX_VARIABLES:
        return None
    objective = solver.Objective()
    reach = solver.Constraint(float(value), solver.infinity())
    for rd in servable:
        buckets = _buckets(rd)
        if time.monotonic() - started > seconds:
            return None
        total = solver.Constraint(1.0 if rd.request.locked is not None else 0.0, 1.0)
        for a, b in buckets:
            y = solver.NumVar(0.0, 1.0, "")
            total.SetCoefficient(y, 1.0)
            reach.SetCoefficient(y, float(rd.value))
            least = 0 if a <= rd.start <= b else min(abs(a - rd.start), abs(b - rd.start))
            objective.SetCoefficient(y, float(least))
            for line in rd.request.lines:
                if inst.problem.is_pooled(line.type):
                    end = a + rd.duration + inst.turnaround(line.type)
                    if b < end:
                        items.setdefault(f"p:{line.type}", []).append((b, end, line.quantity, y))
                    continue
                types = inst.eligible_unit_types(line.type)
                if len(types) == 1:
                    end = a + rd.duration + inst.turnaround(types[0])
                    if b < end:
                        items.setdefault(f"u:{types[0]}", []).append((b, end, line.quantity, y))
                    continue
                split = solver.Constraint(0.0, 0.0)
                split.SetCoefficient(y, -float(line.quantity))
                for t in types:
                    f = solver.NumVar(0.0, float(line.quantity), "")
                    split.SetCoefficient(f, 1.0)
                    end = a + rd.duration + inst.turnaround(t)
                    if b < end:
                        items.setdefault(f"u:{t}", []).append((b, end, 1.0, f))
    for resource, its in items.items():
        _capacity(solver, its, stock[resource])
    objective.SetMinimization()
    left = seconds - (time.monotonic() - started)
    if left <= 0:
        return None
    solver.SetTimeLimit(max(1, int(left * 1000)))
    if solver.Solve() != pywraplp.Solver.OPTIMAL:
        return None
    # Shifts are whole minutes: round up, with a margin for LP tolerance.
    return float(math.ceil(objective.Value() - 1e-4 * max(1.0, objective.Value())))


def _capacity(
    solver: pywraplp.Solver, items: list[tuple[int, int, float, object]], available: float
) -> None:
    """At each start of a sure occupation, the occupations covering it fit the stock."""
    items.sort(key=lambda it: it[0])
    active: list[tuple[int, int, float, object]] = []
    i, n = 0, len(items)
    while i < n:
        start = items[i][0]
        while i < n and items[i][0] == start:
            active.append(items[i])
            i += 1
        active = [it for it in active if it[1] > start]
        if sum(q for _, _, q, _ in active) <= available:
            continue
        c = solver.Constraint(-solver.infinity(), available)
        for _, _, q, var in active:
            c.SetCoefficient(var, q)
