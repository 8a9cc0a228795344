"""A lower bound on the km of any plan serving a given set of requests.

Every leg of a unit's itinerary (spec, objective level 4) leaves one loan's
site or arrives at one: home to a site, a site to home, or a direct transfer
from one site to the next. Charging half of each direct leg to each of its two
loans and the whole of each home leg to its loan, a unit-tracked loan costs at
least, on arrival, the shorter of the trip from the nearest eligible home and
half the trip from any loan that could directly precede it (whatever dates
both take inside their windows), and the same on departure. A pooled line
costs at least the cheapest set of pools that can hold its quantity (two
trips per draw). Capacity is ignored throughout, so the sum is a valid bound
for every plan that serves these requests, at any dates, or at given dates.

The benchmark uses it to tell how far a plan's km per served request could
still fall, which the baseline ratio alone cannot say.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from dataclasses import replace

from solver.instance import Instance, ReqData


def km_lower_bound(
    inst: Instance, served: Iterable[str], starts: Mapping[str, int] | None = None
) -> float:
    """Km that every plan serving exactly ``served`` drives at least.

    Args:
        inst: the instance.
        served: ids of the served requests.
        starts: if given, the start minute of each served request: the bound then
            holds for the plans that serve them at these dates (the shift level of
            the objective, above km, usually leaves no other choice).
    """
    loans = [inst.reqs[r] for r in sorted(set(served))]
    if starts is not None:
        loans = [replace(rd, lo=starts[rd.id], hi=starts[rd.id]) for rd in loans]
    total100 = 0.0
    per_unit: dict[tuple[str, int], float] = {}  # (request, line) -> km100 per unit
    for unit_type in sorted(inst.units_by_type):
        for key, cost in _unit_costs(inst, unit_type, loans).items():
            per_unit[key] = min(cost, per_unit.get(key, cost))
    for rd in loans:
        for index, line in enumerate(rd.request.lines):
            if inst.problem.is_pooled(line.type):
                total100 += _pooled_line(inst, line.type, line.quantity, rd.request.site)
            else:
                total100 += per_unit.get((rd.id, index), 0.0) * line.quantity
    return round(total100 / 100, 1)


def _pooled_line(inst: Instance, type_id: str, quantity: int, site: str) -> float:
    """km100 that the draws of a pooled line cost at least.

    A line needs at least as many draws as the fewest pools that hold its
    quantity, and those draws cost at least the cheapest that many pools.
    """
    pools = inst.pools_by_type.get(type_id, [])
    held = 0
    needed = 0
    for pool in sorted(pools, key=lambda p: -p.quantity):
        if held >= quantity:
            break
        held += pool.quantity
        needed += 1
    costs = sorted(2 * inst.km100(p.site, site) for p in pools)
    return float(sum(costs[:needed]))


def _unit_costs(
    inst: Instance, unit_type: str, loans: list[ReqData]
) -> dict[tuple[str, int], float]:
    """Per line ``unit_type`` may serve, the km100 a unit of that type costs it at least."""
    units = inst.units_by_type[unit_type]
    if not units:
        return {}
    turnaround = inst.turnaround(unit_type)
    limit = inst.direct_limit(unit_type)
    mine = sorted(
        (
            (rd, index)
            for rd in loans
            for index, line in enumerate(rd.request.lines)
            if not inst.problem.is_pooled(line.type)
            and unit_type in inst.eligible_unit_types(line.type)
        ),
        key=lambda item: (item[0].lo, item[0].id, item[1]),
    )
    # km100 per line: to reach its site, and to leave it (half a transfer at best).
    arrive: list[float] = [
        min(inst.km100(u.home, rd.request.site) for u in units) for rd, _ in mine
    ]
    leave: list[float] = [min(inst.km100(rd.request.site, u.home) for u in units) for rd, _ in mine]
    los = [rd.lo for rd, _ in mine]
    widest = max((rd.hi - rd.lo for rd, _ in mine), default=0)
    for i, (a, _) in enumerate(mine):
        # A loan b can follow a only if b.hi >= a.lo + a.duration + turnaround and
        # b.lo <= a.hi + a.duration + turnaround + limit; b.lo >= b.hi - widest.
        ready = a.duration + turnaround
        first = bisect.bisect_left(los, a.lo + ready - widest)
        last = bisect.bisect_right(los, a.hi + ready + limit)
        for j in range(first, last):
            b = mine[j][0]
            if b is a or not _may_follow(inst, a, b, turnaround, limit):
                continue
            half = inst.km100(a.request.site, b.request.site) / 2
            leave[i] = min(leave[i], half)
            arrive[j] = min(arrive[j], half)
    return {(rd.id, index): arrive[k] + leave[k] for k, (rd, index) in enumerate(mine)}


def _may_follow(inst: Instance, a: ReqData, b: ReqData, turnaround: int, limit: float) -> bool:
    """Whether ``b`` can start within the direct-transfer limit after ``a`` on one unit."""
    travel = inst.travel.minutes(a.request.site, b.request.site)
    # Idle gap b.start - (a.start + a.duration + turnaround), over all starts of both.
    lowest = b.lo - a.hi - a.duration - turnaround
    highest = b.hi - a.lo - a.duration - turnaround
    return max(lowest, travel) <= min(highest, limit)
