"""Large neighbourhood search over groups of nearby rounds.

On busy days the trucks are nearly full, so moving one stop at a time rarely
finds room: the routing search of the whole day stalls far from good rounds.
This search repeatedly takes a few rounds that lie close together (a random
round, then the rounds nearest to it), plans their stops again from scratch as a
small day of their own, with only those trucks, and keeps the new rounds when
they serve more stops, or as many for less. Stops left unrouted are offered
again to the groups near them. Each small day goes through the same routing model (every
hard rule), and new rounds are costed through the same schedule as the plan, so
a round kept is always feasible.

The choices are drawn from a seeded generator, so for a given seed the search
only depends on how many groups fit in the time allowed.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from solver.rounds.model import RoundsProblem, Stop, Truck

# Stops in round order, by truck id (a truck without a round may be missing).
Orders = dict[str, list[Stop]]
# Plans a small day (its trucks, its stops) from scratch; None when it found nothing.
SolveGroup = Callable[[RoundsProblem, random.Random], Orders | None]
# The cost of one round, or None when it breaks a rule.
RoundCost = Callable[[Truck, Sequence[Stop]], float | None]


@dataclass(frozen=True)
class LnsOptions:
    group_stops: int = 22  # rounds are added to a group until it holds about this many stops
    unrouted_per_group: int = 6  # unrouted stops offered to each group, the nearest first
    stall: int = 400  # stop after this many groups in a row without improvement
    whole_day_tries: int = 8  # ... or this many when a group is the whole day
    max_groups: int | None = None  # stop after this many groups (None: no limit)


@dataclass
class LnsStats:
    groups: int = 0
    improved: int = 0  # groups replanned for the better
    history: list[tuple[float, float]] = field(default_factory=list)  # (seconds, best cost)


class _Costs:
    """Cost of each round, cached by truck and stop order."""

    def __init__(self, problem: RoundsProblem, cost: RoundCost) -> None:
        self._problem = problem
        self._cost = cost
        self._cache: dict[tuple[str, tuple[str, ...]], float] = {}

    def round(self, truck: str, stops: Sequence[Stop]) -> float:
        if not stops:
            return 0.0
        key = (truck, tuple(s.id for s in stops))
        known = self._cache.get(key)
        if known is None:
            value = self._cost(self._problem.truck_by_id[truck], stops)
            known = math.inf if value is None else value
            self._cache[key] = known
        return known

    def of(self, orders: Mapping[str, Sequence[Stop]]) -> tuple[int, float]:
        """(stops served, cost); more stops served is better whatever the cost."""
        served = sum(len(o) for o in orders.values())
        return served, sum(self.round(t, o) for t, o in orders.items())


def _better(new: tuple[int, float], old: tuple[int, float]) -> bool:
    if new[0] != old[0]:
        return new[0] > old[0]
    return new[1] < old[1] - 1e-6


def group_problem(
    problem: RoundsProblem, trucks: Sequence[str], stops: Sequence[Stop]
) -> RoundsProblem:
    """The small day of ``trucks`` and ``stops`` (and the transfers between them)."""
    ids = {s.id for s in stops}
    chosen = set(trucks)
    return replace(
        problem,
        trucks=tuple(t for t in problem.trucks if t.id in chosen),
        stops=tuple(s for s in problem.stops if s.id in ids),
        transfers=tuple(t for t in problem.transfers if t.collection in ids and t.delivery in ids),
    )


def improve(
    problem: RoundsProblem,
    orders: Orders,
    unrouted: Sequence[Stop],
    solve_group: SolveGroup,
    cost: RoundCost,
    deadline: float,
    seed: int,
    options: LnsOptions | None = None,
) -> tuple[Orders, LnsStats]:
    """A plan at least as good as ``orders``, searching until ``deadline`` or a stall.

    Args:
        problem: the day.
        orders: a feasible plan: truck id -> its stops in round order.
        unrouted: the stops that could be served but are in no round.
        solve_group: plans a small day from scratch (see ``SolveGroup``).
        cost: the cost of one round, None when it breaks a rule.
        deadline: the ``time.monotonic()`` value at which to stop.
        seed: seeds the choice of groups.
        options: group sizes and when to give up.

    Returns:
        The best plan found (truck id -> stops, every truck listed) and what the
        search did.
    """
    options = options or LnsOptions()
    rng = random.Random(seed)
    costs = _Costs(problem, cost)
    current: Orders = {t.id: list(orders.get(t.id, [])) for t in problem.trucks}
    left = list(unrouted)
    stats = LnsStats()
    started = time.monotonic()
    sites = problem.site_by_id
    if not problem.trucks or (not any(current.values()) and not left):
        return current, stats

    def centre(truck: Truck) -> tuple[float, float]:
        where = [sites[s.site] for s in current[truck.id]] or [sites[truck.depot]]
        return sum(p.lat for p in where) / len(where), sum(p.lon for p in where) / len(where)

    def gap(a: tuple[float, float], b: tuple[float, float]) -> float:
        # Equirectangular: enough to rank neighbours within a département.
        return (a[0] - b[0]) ** 2 + ((a[1] - b[1]) * math.cos(math.radians(a[0]))) ** 2

    stalled = 0
    while stalled < options.stall and time.monotonic() < deadline:
        if options.max_groups is not None and stats.groups >= options.max_groups:
            break
        # A random round, then the rounds nearest to it until the group is big enough.
        target = rng.randint(options.group_stops // 2, options.group_stops * 3 // 2)
        first = rng.choice([t for t in problem.trucks if current[t.id]] or list(problem.trucks))
        here = centre(first)
        others = sorted(
            (t for t in problem.trucks if t.id != first.id),
            key=lambda t: (gap(centre(t), here), t.id),
        )
        group = [first]
        size = len(current[first.id])
        for truck in others:
            if size >= target:
                break
            group.append(truck)
            size += len(current[truck.id])
        offered = sorted(
            left, key=lambda s: (gap((sites[s.site].lat, sites[s.site].lon), here), s.id)
        )[: options.unrouted_per_group]
        before = costs.of({t.id: current[t.id] for t in group})
        stats.groups += 1
        stalled += 1
        stops = [s for t in group for s in current[t.id]] + offered
        new = solve_group(group_problem(problem, [t.id for t in group], stops), rng)
        if new is not None:
            candidate = {t.id: list(new.get(t.id, [])) for t in group}
            visits = [s.id for order in candidate.values() for s in order]
            proper = len(set(visits)) == len(visits) and set(visits) <= {s.id for s in stops}
            if proper and set(new) <= set(candidate) and _better(costs.of(candidate), before):
                current.update(candidate)
                served = {s.id for order in candidate.values() for s in order}
                left = [s for s in left if s.id not in served]
                stats.improved += 1
                stats.history.append((time.monotonic() - started, costs.of(current)[1]))
                stalled = 0
        if len(group) == len(problem.trucks) and not offered and stalled >= options.whole_day_tries:
            break  # each group is the whole day: a few tries are enough
    return current, stats
