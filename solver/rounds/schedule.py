"""Times of a round whose stop order is known: the earliest feasible schedule.

The routing model decides which truck serves which stops in which order; this
module turns an order into arrival and departure times and places the driver's
break, exactly under the rules the checker applies (``solver.rounds.check``).
Benchmark competitors' orders go through the same function, so every engine is
timed the same way. All times are integer minutes since ``RoundsProblem.origin``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from solver.rounds.model import RoundsProblem, Stop, StopKind, Truck
from solver.rounds.travel import RoundsTravel


@dataclass(frozen=True)
class Timing:
    """A feasible schedule of one round.

    ``visits`` holds ``(service start, service end)`` per stop, in round order;
    ``driver_break`` is ``(start, end)`` or None when the truck has no break.
    """

    depart: int
    back: int
    visits: tuple[tuple[int, int], ...]
    driver_break: tuple[int, int] | None


def _window(problem: RoundsProblem, stop: Stop) -> tuple[int, int]:
    return problem.minute(stop.window.start), problem.minute(stop.window.end)


def _forward(
    problem: RoundsProblem,
    travel: RoundsTravel,
    truck: Truck,
    stops: Sequence[Stop],
    break_slot: int | None,
) -> Timing | None:
    """Earliest schedule with the break in gap ``break_slot``, or None if infeasible.

    Gaps are numbered 0 (at the depot before leaving), 1..n (the leg driven to
    the i-th stop), n + 1 (the leg back to the depot) and n + 2 (at the depot
    after returning).
    """
    shift_start, shift_end = problem.minute(truck.shift.start), problem.minute(truck.shift.end)
    brk = truck.driver_break
    b_earliest = problem.minute(brk.earliest) if brk else 0
    b_latest = problem.minute(brk.latest) if brk else 0
    b_minutes = brk.minutes if brk else 0
    placed: tuple[int, int] | None = None

    t = shift_start
    if break_slot == 0:
        s = max(t, b_earliest)
        if s > b_latest:
            return None
        placed = (s, s + b_minutes)
        t = s + b_minutes
    depart = t
    visits: list[tuple[int, int]] = []
    here = truck.depot
    legs = [*stops, None]
    for position, stop in enumerate(legs, start=1):
        there = truck.depot if stop is None else stop.site
        drive = travel.minutes(here, there)
        if break_slot == position:
            s = max(t, b_earliest)
            if s > b_latest:
                return None
            arrival = max(t + drive, s) + b_minutes
            placed = (s, s + b_minutes)
        else:
            arrival = t + drive
        if stop is None:
            t = arrival
            break
        w_start, w_end = _window(problem, stop)
        begin = max(arrival, w_start)
        if begin > w_end:
            return None
        visits.append((begin, begin + stop.service_minutes))
        t = begin + stop.service_minutes
        here = stop.site
    back = t
    if break_slot == len(stops) + 2:
        s = max(back, b_earliest)
        if s > b_latest:
            return None
        placed = (s, s + b_minutes)
        if s + b_minutes > shift_end:
            return None
    if back > shift_end:
        return None
    if stops and break_slot not in (0, 1):
        # Leave no earlier than needed: the first stop keeps its time.
        depart = max(depart, visits[0][0] - travel.minutes(truck.depot, stops[0].site))
    elif stops and break_slot == 0 and placed is not None:
        depart = max(placed[1], visits[0][0] - travel.minutes(truck.depot, stops[0].site))
    return Timing(depart, back, tuple(visits), placed)


def schedule(
    problem: RoundsProblem, travel: RoundsTravel, truck: Truck, stops: Sequence[Stop]
) -> Timing | None:
    """The feasible schedule of ``stops`` in this order that returns earliest, or None.

    Without a break the schedule is the earliest one. With a break, every gap is
    tried; the earliest return wins, then the earliest services (the break goes
    where the driver would otherwise wait).
    Capacity is not checked here.
    """
    if truck.driver_break is None:
        return _forward(problem, travel, truck, stops, None)
    timings = [_forward(problem, travel, truck, stops, slot) for slot in range(len(stops) + 3)]
    feasible = [t for t in timings if t is not None]
    if not feasible:
        return None
    return min(feasible, key=lambda t: (t.back, sum(start for start, _ in t.visits)))


def load_profile(problem: RoundsProblem, stops: Sequence[Stop]) -> tuple[int, list[int]]:
    """(load put on at the depot, load on board after each stop) of a round.

    Deliveries fed by a transfer are not loaded at the depot; the part of a
    collection that a transfer passes on is not unloaded there.
    """
    partner = problem.partner_of
    from_depot = sum(s.load for s in stops if s.kind is StopKind.DELIVERY and s.id not in partner)
    on_board = from_depot
    after: list[int] = []
    for s in stops:
        on_board += s.load if s.kind is StopKind.COLLECTION else -s.load
        after.append(on_board)
    return from_depot, after
