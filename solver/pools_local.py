"""Pool draws moved one line at a time to nearer pools: the fast half of the draws stage.

On a department's season the draws model of :mod:`solver.pools` gets about a
second per pooled type for thousands of lines, too little for CP-SAT to move
far from its hint. This local search gets most of the way first: each line in
turn is taken out and put back nearest pool first, taking from each pool what
it has free over the line's occupation ``[s, e + turnaround)``, and the move is
kept when it costs fewer km. Every step respects the pools' capacities, so the
draws stay valid and the km only go down; CP-SAT then starts from the result.

Locked lines keep their draws, and lines of requests served as in
``previous`` keep their pools (``changed`` compares pools), so they are left
as they are.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from solver.instance import Instance

if TYPE_CHECKING:  # solver.pools calls this module
    from solver.pools import PooledLine

Draws = tuple[tuple[str, int], ...]  # (pool, quantity) per draw


class PoolLoads:
    """What each pool lends to which line, to ask what a pool has free over a period."""

    def __init__(self, capacity: dict[str, int]) -> None:
        self.capacity = capacity
        # pool -> line index -> (start, until, quantity), minutes.
        self.held: dict[str, dict[int, tuple[int, int, int]]] = {p: {} for p in capacity}

    def add(self, index: int, line: PooledLine, draws: Draws) -> None:
        for pool, quantity in draws:
            self.held[pool][index] = (line.start, line.until, quantity)

    def remove(self, index: int, draws: Draws) -> None:
        for pool, _quantity in draws:
            del self.held[pool][index]

    def free(self, pool: str, start: int, until: int) -> int:
        """The quantity ``pool`` can still lend over all of ``[start, until)``."""
        overlapping = [(s, u, q) for s, u, q in self.held[pool].values() if s < until and u > start]
        # The load only rises where an occupation starts: check those instants.
        instants = [start] + [s for s, _u, _q in overlapping if s > start]
        peak = max((sum(q for s, u, q in overlapping if s <= t < u) for t in instants), default=0)
        return self.capacity[pool] - peak


def reinsert_nearest(
    inst: Instance, type_id: str, lines: Sequence[PooledLine], deadline: float
) -> dict[tuple[str, int], Draws]:
    """New draws for the lines of one pooled type that now cost fewer km.

    Args:
        inst: the instance.
        type_id: the pooled type.
        lines: its served lines with their current, valid draws.
        deadline: ``time.monotonic()`` value to stop at (passes are cut short).

    Returns:
        ``(request, line) -> draws`` for the lines whose draws changed.
    """
    pools = inst.pools_by_type[type_id]
    loads = PoolLoads({p.id: p.quantity for p in pools})
    current = {i: line.draws for i, line in enumerate(lines)}
    for i, line in enumerate(lines):
        loads.add(i, line, line.draws)
    cost = {p.id: {ln.site: 2 * inst.km100(p.site, ln.site) for ln in lines} for p in pools}
    movable = [i for i, ln in enumerate(lines) if not ln.fixed and not ln.pools_kept]
    improved = True
    while improved and time.monotonic() < deadline:
        improved = False
        for i in _by_saving(movable, lines, current, cost):
            if time.monotonic() >= deadline:
                break
            line = lines[i]
            loads.remove(i, current[i])
            better = _nearest_fill(line, loads, cost, _km(current[i], line, cost))
            if better is not None:
                current[i] = better
                improved = True
            loads.add(i, line, current[i])
    return {
        (line.request, line.line): current[i]
        for i, line in enumerate(lines)
        if current[i] != line.draws
    }


def _km(draws: Draws, line: PooledLine, cost: dict[str, dict[str, int]]) -> int:
    return sum(cost[pool][line.site] for pool, _quantity in draws)


def _by_saving(
    movable: list[int],
    lines: Sequence[PooledLine],
    current: dict[int, Draws],
    cost: dict[str, dict[str, int]],
) -> list[int]:
    """The lines that could gain most first: current km minus one draw from the nearest."""

    def saving(i: int) -> int:
        line = lines[i]
        return _km(current[i], line, cost) - min(by_site[line.site] for by_site in cost.values())

    return sorted((i for i in movable if saving(i) > 0), key=lambda i: (-saving(i), i))


def _nearest_fill(
    line: PooledLine, loads: PoolLoads, cost: dict[str, dict[str, int]], current_km: int
) -> Draws | None:
    """The line's quantity taken nearest pool first, if that costs less than ``current_km``."""
    ranked = sorted(cost, key=lambda pool: (cost[pool][line.site], pool))
    need, km, draws = line.quantity, 0, []
    for pool in ranked:
        if km + cost[pool][line.site] >= current_km:
            return None  # farther pools only cost more
        take = min(need, loads.free(pool, line.start, line.until))
        if take > 0:
            draws.append((pool, take))
            km += cost[pool][line.site]
            need -= take
            if need == 0:
                return tuple(draws)
    return None
