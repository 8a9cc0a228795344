"""Exact insertion of unserved requests into a concrete plan.

The dates stage pads unit loans with travel time and the units stage may
drop a request that a unit-specific blackout blocks; both can leave room
that only the exact, minute-level schedule shows. Here every unserved
request is tried, highest value first, at shifts nearest its asked start,
against the real occupations of units and pools.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Sequence

from solver.instance import Instance, ReqData
from solver.plan import Draw, LineAssignment, RequestAssignment

MAX_CANDIDATES = 400  # candidate starts tried per request


class Occupancy:
    """Loans per unit and draws per pool of a plan, in minutes."""

    def __init__(self, inst: Instance, assignments: Sequence[RequestAssignment]) -> None:
        self.inst = inst
        self.units: dict[str, list[tuple[int, int, str]]] = {}  # unit -> (start, end, site)
        self.pools: dict[str, list[tuple[int, int, int]]] = {}  # pool -> (start, end+ta, qty)
        for a in assignments:
            if a.served and a.start is not None:
                self.add(a)

    def add(self, a: RequestAssignment) -> None:
        inst = self.inst
        rd = inst.reqs[a.id]
        s = inst.timebase.to_minutes(a.start)  # type: ignore[arg-type]
        e = s + rd.duration
        for line, la in zip(rd.request.lines, a.lines, strict=True):
            for u in la.units:
                bisect.insort(self.units.setdefault(u, []), (s, e, rd.request.site))
            for d in la.pools:
                self.pools.setdefault(d.pool, []).append(
                    (s, e + inst.turnaround(line.type), d.quantity)
                )

    def remove(self, a: RequestAssignment) -> None:
        """Takes a served assignment's loans and draws out again."""
        inst = self.inst
        rd = inst.reqs[a.id]
        s = inst.timebase.to_minutes(a.start)  # type: ignore[arg-type]
        e = s + rd.duration
        for line, la in zip(rd.request.lines, a.lines, strict=True):
            for u in la.units:
                self.units[u].remove((s, e, rd.request.site))
            for d in la.pools:
                self.pools[d.pool].remove((s, e + inst.turnaround(line.type), d.quantity))

    def unit_free(self, unit_id: str, s: int, e: int, site: str) -> bool:
        inst = self.inst
        unit = inst.problem.unit_by_id[unit_id]
        ta = inst.turnaround(unit.type)
        if any(b0 < e + ta and s < b1 for b0, b1 in inst.blackouts[unit_id]):
            return False
        for s2, e2, site2 in self.units.get(unit_id, ()):
            if e2 + ta + inst.travel.minutes(site2, site) <= s:
                continue
            if e + ta + inst.travel.minutes(site, site2) <= s2:
                continue
            return False
        return True

    def pool_free(self, pool_id: str, s: int, end: int) -> int:
        """Quantity of the pool free over all of ``[s, end)``."""
        quantity = self.inst.problem.pool_by_id[pool_id].quantity
        draws = [(a, b, q) for a, b, q in self.pools.get(pool_id, ()) if a < end and s < b]
        if not draws:
            return quantity
        points = sorted({s} | {a for a, _, _ in draws if a > s})
        peak = max(sum(q for a, b, q in draws if a <= t < b) for t in points)
        return quantity - peak

    def try_serve(self, rd: ReqData, s: int) -> RequestAssignment | None:
        """An assignment of ``rd`` starting at ``s`` that fits, or None."""
        inst = self.inst
        e = s + rd.duration
        site = rd.request.site
        lines = []
        taken: set[str] = set()
        for line in rd.request.lines:
            if inst.problem.is_pooled(line.type):
                end = e + inst.turnaround(line.type)
                pools = sorted(
                    inst.pools_by_type.get(line.type, []),
                    key=lambda p: (inst.km100(p.site, site), p.id),
                )
                need, draws = line.quantity, []
                for pool in pools:
                    free = self.pool_free(pool.id, s, end)
                    if free > 0:
                        take = min(free, need)
                        draws.append(Draw(pool.id, take))
                        need -= take
                        if need == 0:
                            break
                if need:
                    return None
                lines.append(LineAssignment(line.type, pools=tuple(draws)))
            else:
                cands = [
                    u
                    for t in inst.eligible_unit_types(line.type)
                    for u in inst.units_by_type[t]
                    if u.id not in taken and self.unit_free(u.id, s, e, site)
                ]
                if len(cands) < line.quantity:
                    return None
                cands.sort(key=lambda u: (inst.km100(u.home, site), u.id))
                chosen = tuple(u.id for u in cands[: line.quantity])
                taken.update(chosen)
                lines.append(LineAssignment(line.type, units=chosen))
        tb = inst.timebase
        return RequestAssignment(
            rd.id,
            True,
            tb.to_datetime(s, like=rd.request.start),
            tb.to_datetime(e, like=rd.request.end),
            tuple(lines),
        )

    def candidate_starts(self, rd: ReqData) -> list[int]:
        """Starts worth trying: asked start, window ends, edges of nearby loans."""
        inst = self.inst
        points = {rd.start, rd.lo, rd.hi}
        types = {t for line in rd.request.lines for t in inst.eligible_unit_types(line.type)}
        margin = rd.duration + 24 * 60
        for t in types:
            ta = inst.turnaround(t)
            for unit in inst.units_by_type[t]:
                for s2, e2, site2 in self.units.get(unit.id, ()):
                    if s2 > rd.hi + margin or e2 < rd.lo - margin:
                        continue
                    there = inst.travel.minutes(site2, rd.request.site)
                    back = inst.travel.minutes(rd.request.site, site2)
                    points.add(e2 + ta + there)
                    points.add(s2 - ta - back - rd.duration)
                for b0, b1 in inst.blackouts[unit.id]:
                    points.add(b1)
                    points.add(b0 - ta - rd.duration)
        for line in rd.request.lines:
            ta = inst.turnaround(line.type)
            for pool in inst.pools_by_type.get(line.type, []):
                for a, b, _ in self.pools.get(pool.id, ()):
                    points.add(b)
                    points.add(a - ta - rd.duration)
        valid = sorted(p for p in points if rd.lo <= p <= rd.hi)
        valid.sort(key=lambda p: (abs(p - rd.start), p))
        return valid[:MAX_CANDIDATES]


def insert_unserved(
    inst: Instance, assignments: Sequence[RequestAssignment], seconds: float
) -> list[RequestAssignment]:
    """Adds locked requests missing from ``assignments``, then every unserved
    request that fits somewhere in its window, highest value first.

    Returns:
        The served assignments, the given ones unchanged.
    """
    deadline = time.monotonic() + seconds
    served = [a for a in assignments if a.served]
    have = {a.id for a in served}
    for rid, rd in inst.reqs.items():
        if rid not in have and rd.request.locked is not None:
            served.append(rd.request.locked)
            have.add(rid)
    occupancy = Occupancy(inst, served)
    todo = [rd for rid, rd in inst.reqs.items() if rid not in have and rd.servable]
    todo.sort(key=lambda rd: (-rd.value, rd.request.submitted_at, rd.id))
    for rd in todo:
        if time.monotonic() > deadline:
            break
        for s in occupancy.candidate_starts(rd):
            found = occupancy.try_serve(rd, s)
            if found is not None:
                served.append(found)
                occupancy.add(found)
                break
    return served


def compact_shifts(
    inst: Instance,
    served: Sequence[RequestAssignment],
    seconds: float,
    frozen: set[str],
) -> list[RequestAssignment]:
    """Moves shifted requests nearer their asked start where the plan has room.

    Requests are taken largest shift first; each is lifted out and put back at
    the candidate start nearest its asked one that fits (possibly on other
    units or pools), only if that shifts it less. Passes repeat while they
    help. Value never changes; ``frozen`` requests (locked, kept from
    ``previous``) are not moved.

    Returns:
        The served assignments, some moved.
    """
    deadline = time.monotonic() + seconds
    occupancy = Occupancy(inst, served)
    by_id = {a.id: a for a in served}
    tb = inst.timebase
    for _ in range(4):
        improved = False
        shifted = [
            (abs(tb.to_minutes(a.start) - inst.reqs[rid].start), rid)  # type: ignore[arg-type]
            for rid, a in by_id.items()
            if rid not in frozen
        ]
        for shift, rid in sorted(shifted, reverse=True):
            if shift == 0:
                break
            if time.monotonic() > deadline:
                return list(by_id.values())
            rd = inst.reqs[rid]
            current = by_id[rid]
            occupancy.remove(current)
            moved = None
            for start in occupancy.candidate_starts(rd):
                if abs(start - rd.start) >= shift:
                    break
                moved = occupancy.try_serve(rd, start)
                if moved is not None:
                    break
            if moved is None:
                occupancy.add(current)
            else:
                occupancy.add(moved)
                by_id[rid] = moved
                improved = True
        if not improved:
            break
    return list(by_id.values())
