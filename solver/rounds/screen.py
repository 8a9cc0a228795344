"""Stops that no round can hold, found before routing, each with its reason.

A stop is screened out when its load exceeds every truck's capacity
(``too_big``), or when no truck big enough can leave its depot, serve it within
its window and be back by the end of the driver's day, break included
(``window_unreachable``). A transfer is screened as a whole: the collection and
then the delivery by one truck; when one of its stops is impossible, the other
gets ``transfer_partner``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from solver.rounds.model import Dropped, DropReason, RoundsProblem, Stop, Truck
from solver.rounds.schedule import schedule
from solver.rounds.travel import RoundsTravel


@dataclass(frozen=True)
class Screening:
    """The trucks that could serve each remaining stop, and the stops screened out."""

    eligible: dict[str, tuple[str, ...]]  # stop id -> truck ids, for stops kept
    dropped: tuple[Dropped, ...]


def _clock(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def _fits(
    problem: RoundsProblem, travel: RoundsTravel, truck: Truck, order: Sequence[Stop]
) -> bool:
    if max(s.load for s in order) > truck.capacity:
        return False
    return schedule(problem, travel, truck, order) is not None


def _unreachable_detail(problem: RoundsProblem, travel: RoundsTravel, stop: Stop) -> str:
    zone = ZoneInfo(problem.timezone)
    big = [t for t in problem.trucks if t.capacity >= stop.load]
    earliest = min(
        max(
            problem.minute(t.shift.start) + travel.minutes(t.depot, stop.site),
            problem.minute(stop.window.start),
        )
        for t in big
    )
    window = f"{_clock(stop.window.start, zone)} - {_clock(stop.window.end, zone)}"
    if earliest > problem.minute(stop.window.end):
        return (
            f"no truck can reach {stop.site} within its window {window}: the earliest "
            f"arrival from a depot is {_clock(problem.moment(earliest), zone)}"
        )
    return (
        f"no truck can serve {stop.site} within its window {window} "
        f"({stop.service_minutes} min of service) and be back at its depot by the end "
        "of the driver's day, break included"
    )


def screen(problem: RoundsProblem, travel: RoundsTravel) -> Screening:
    """Sorts out the stops that no truck could serve even alone.

    Returns:
        The eligible trucks of each remaining stop and the dropped stops with
        their reasons, in the problem's stop order.
    """
    max_capacity = max(t.capacity for t in problem.trucks)
    reasons: dict[str, Dropped] = {}
    eligible: dict[str, tuple[str, ...]] = {}
    for stop in problem.stops:
        if stop.load > max_capacity:
            reasons[stop.id] = Dropped(
                stop.id,
                DropReason.TOO_BIG,
                f"its load ({stop.load} {problem.load_unit}) exceeds the capacity of every "
                f"truck (largest: {max_capacity})",
            )
            continue
        trucks = tuple(t.id for t in problem.trucks if _fits(problem, travel, t, [stop]))
        if not trucks:
            reasons[stop.id] = Dropped(
                stop.id, DropReason.WINDOW_UNREACHABLE, _unreachable_detail(problem, travel, stop)
            )
            continue
        eligible[stop.id] = trucks

    for transfer in problem.transfers:
        c, d = transfer.collection, transfer.delivery
        for one, other in ((c, d), (d, c)):
            if one in reasons and other not in reasons:
                reasons[other] = Dropped(
                    other,
                    DropReason.TRANSFER_PARTNER,
                    f"its equipment goes straight from or to stop {one!r}, which cannot be "
                    f"served ({reasons[one].reason.value})",
                )
                eligible.pop(other, None)
        if c in reasons:
            continue
        pair = [problem.stop_by_id[c], problem.stop_by_id[d]]
        both = tuple(
            t
            for t in eligible[c]
            if t in eligible[d] and _fits(problem, travel, problem.truck_by_id[t], pair)
        )
        if both:
            eligible[c] = eligible[d] = both
            continue
        for one, other in ((c, d), (d, c)):
            eligible.pop(one, None)
            reasons[one] = Dropped(
                one,
                DropReason.WINDOW_UNREACHABLE,
                f"no truck can collect at {pair[0].site} and then deliver at {pair[1].site} "
                f"within both windows (transfer with stop {other!r})",
            )
    dropped = tuple(reasons[s.id] for s in problem.stops if s.id in reasons)
    return Screening(eligible, dropped)
