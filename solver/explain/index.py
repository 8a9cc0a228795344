"""Occupation of units and pools by a plan's served loans, for quick look-ups.

``solver.explain`` asks, for many candidate shifts of an unserved request,
whether each eligible unit is free and how much of each pool is left. The
answers follow the spec's rules exactly, in integer minutes since
``horizon.start``:

- a unit is occupied over ``[s, e + turnaround)``, turnaround of the unit's
  own type, and its blackouts are half-open;
- between successive loans at sites A then B,
  ``e_A + turnaround + travel_minutes(A, B) <= s_B``;
- a pool is used over ``[s, e + turnaround)`` by the quantity drawn.
"""

from __future__ import annotations

import enum
import math
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass

from solver.geo import TravelMatrix, haversine_km
from solver.plan import RequestAssignment
from solver.problem import Problem, Unit

# Sorted, disjoint closed spans of integer minutes (shifts or instants).
Spans = list[tuple[int, int]]


class StateCode(enum.IntEnum):
    """Why a unit cannot take a loan, from least to most binding.

    A unit usable when travel is ignored may still be too far
    (``TRAVEL``); a unit in maintenance is reported as such even if it is
    also lent.
    """

    FREE = 0
    TRAVEL = 1
    BUSY = 2
    MAINTENANCE = 3


@dataclass(frozen=True)
class Loan:
    """One served loan of a unit or pool, in minutes since ``horizon.start``."""

    request_id: str
    start: int  # s
    end: int  # e
    busy_until: int  # e + turnaround of the unit's (or pool's) type
    site: str
    priority: int
    quantity: int = 1  # for pools: the quantity drawn


@dataclass(frozen=True)
class Conflict:
    """Why one unit cannot take a loan over a given interval."""

    state: StateCode
    start: int
    end: int
    request_ids: tuple[str, ...] = ()
    travel_minutes: int = 0  # for TRAVEL: the drive that does not fit
    span: tuple[int, int] | None = None  # the instants in conflict, if not (start, end)
    side: str = ""  # for TRAVEL: "after" the previous loan, or "before" the next one


class UnitCalendar:
    """The loans and blackouts of one unit, sorted by time."""

    def __init__(self, unit: Unit, turnaround: int, blackouts: list[tuple[int, int]]) -> None:
        self.unit = unit
        self.turnaround = turnaround
        self.blackouts = sorted(blackouts)
        self.loans: list[Loan] = []
        self.starts: list[int] = []
        self.busy_untils: list[int] = []

    def finish(self) -> None:
        """Sorts the loans; a unit's occupations never overlap, so ends sort too."""
        self.loans.sort(key=lambda loan: (loan.start, loan.busy_until))
        self.starts = [loan.start for loan in self.loans]
        self.busy_untils = [loan.busy_until for loan in self.loans]

    def _blackout_hit(self, a: int, z: int) -> bool:
        """Whether a blackout overlaps ``[a, z)`` (units have a handful at most)."""
        return any(x < z and y > a for x, y in self.blackouts)

    def state(self, a: int, b: int, site: str, travel: TravelMatrix) -> StateCode:
        """How the unit stands for a loan ``[a, b)`` at ``site``."""
        z = b + self.turnaround
        if self.blackouts and self._blackout_hit(a, z):
            return StateCode.MAINTENANCE
        lo = bisect_right(self.busy_untils, a)  # first loan still occupied after a
        hi = bisect_left(self.starts, z)  # loans starting before z
        if lo < hi:
            return StateCode.BUSY
        if lo > 0:
            before = self.loans[lo - 1]
            if before.busy_until + travel.minutes(before.site, site) > a:
                return StateCode.TRAVEL
        if hi < len(self.loans):
            after = self.loans[hi]
            if z + travel.minutes(site, after.site) > after.start:
                return StateCode.TRAVEL
        return StateCode.FREE

    def conflict(self, a: int, b: int, site: str, travel: TravelMatrix) -> Conflict:
        """The details behind ``state``: when, and which loans hold the unit."""
        z = b + self.turnaround
        hits = [(x, y) for x, y in self.blackouts if x < z and y > a]
        if hits:
            return Conflict(StateCode.MAINTENANCE, min(x for x, _ in hits), max(y for _, y in hits))
        lo = bisect_right(self.busy_untils, a)
        hi = bisect_left(self.starts, z)
        if lo < hi:
            held = self.loans[lo:hi]
            # Shown as the holding loans' own periods; the hull of the
            # shortage uses the overlap of the occupations (``span``).
            return Conflict(
                StateCode.BUSY,
                held[0].start,
                held[-1].end,
                tuple(loan.request_id for loan in held),
                span=(max(a, held[0].start), min(z, held[-1].busy_until)),
            )
        if lo > 0:
            before = self.loans[lo - 1]
            minutes = travel.minutes(before.site, site)
            if before.busy_until + minutes > a:
                # (ready at the previous site, earliest arrival at this one)
                arrival = before.busy_until + minutes
                return Conflict(
                    StateCode.TRAVEL,
                    before.busy_until,
                    arrival,
                    (before.request_id,),
                    minutes,
                    span=(a, min(arrival, z)),
                    side="after",
                )
        if hi < len(self.loans):
            after = self.loans[hi]
            minutes = travel.minutes(site, after.site)
            if z + minutes > after.start:
                # (latest end of this loan, start of the next one)
                latest = after.start - minutes - self.turnaround
                return Conflict(
                    StateCode.TRAVEL,
                    latest,
                    after.start,
                    (after.request_id,),
                    minutes,
                    span=(max(a, latest), z),
                    side="before",
                )
        return Conflict(StateCode.FREE, a, z)

    def free_shifts(
        self, s: int, e: int, site: str, lo: int, hi: int, travel: Drives
    ) -> tuple[Spans, Spans, Spans]:
        """Shifts ``d`` in ``[lo, hi]`` at which a loan ``[s + d, e + d)`` at ``site`` fits.

        Returns the free shifts counting blackouts only, then loans too, then
        travel too (the three layers of ``StateCode``). The occupation
        ``[s + d, e + d + turnaround)`` meets ``[x, y)`` exactly for integer
        ``d`` in ``[x - e - turnaround + 1, y - s - 1]``; travel widens a loan
        by the drive from it and to it. The travel rule is applied to every
        nearby loan, not only the neighbours: the same thing whenever travel
        times obey the triangle inequality (default times do).
        """
        tail = e + self.turnaround
        blocked = [(x - tail + 1, y - s - 1) for x, y in self.blackouts]
        margin = travel.longest
        first = bisect_left(self.busy_untils, s + lo - margin)
        last = bisect_right(self.starts, tail + hi + margin)
        busy = list(blocked)
        far = list(blocked)
        out_row = travel.row(site)
        minutes = travel.minutes
        for loan in self.loans[first:last]:
            start, until, there = loan.start, loan.busy_until, loan.site
            busy.append((start - tail + 1, until - s - 1))
            out = out_row.get(there)
            if out is None:
                out = minutes(site, there)
            far.append((start - out - tail + 1, until + minutes(there, site) - s - 1))
        return (
            complement(blocked, lo, hi),
            complement(busy, lo, hi),
            complement(far, lo, hi),
        )


def complement(forbidden: list[tuple[int, int]], lo: int, hi: int) -> Spans:
    """The integers of ``[lo, hi]`` outside every closed ``forbidden`` span."""
    free: Spans = []
    at = lo
    for x, y in sorted(forbidden):
        if y < at or x > y:
            continue
        if x > hi:
            break
        if x > at:
            free.append((at, x - 1))
        at = max(at, y + 1)
        if at > hi:
            return free
    if at <= hi:
        free.append((at, hi))
    return free


class PoolProfile:
    """Usage of one pool over time, with range-maximum look-ups."""

    def __init__(self, quantity: int) -> None:
        self.quantity = quantity
        self.loans: list[Loan] = []
        self.times: list[int] = []  # change instants; usage[i] holds on [times[i], times[i+1])
        self.usage: list[int] = []
        self._table: list[list[int]] = []
        self.max_length = 0
        self.loan_starts: list[int] = []

    def finish(self) -> None:
        """Builds the step profile and a sparse table for maxima over ranges."""
        self.loans.sort(key=lambda loan: (loan.start, loan.request_id))
        self.loan_starts = [loan.start for loan in self.loans]
        delta: dict[int, int] = {}
        for loan in self.loans:
            delta[loan.start] = delta.get(loan.start, 0) + loan.quantity
            delta[loan.busy_until] = delta.get(loan.busy_until, 0) - loan.quantity
            self.max_length = max(self.max_length, loan.busy_until - loan.start)
        level = 0
        for t in sorted(delta):
            level += delta[t]
            self.times.append(t)
            self.usage.append(level)
        table = [self.usage]
        width = 1
        while 2 * width <= len(self.usage):
            prev = table[-1]
            table.append([max(prev[i], prev[i + width]) for i in range(len(prev) - width)])
            width *= 2
        self._table = table

    def used(self, a: int, z: int) -> int:
        """The most used at any instant of ``[a, z)``."""
        if not self.times or z <= self.times[0] or a >= self.times[-1]:
            return 0
        i = max(0, bisect_right(self.times, a) - 1)
        j = bisect_left(self.times, z) - 1  # last segment starting before z
        if j < i:
            return 0
        k = (j - i + 1).bit_length() - 1
        row = self._table[k]
        return max(row[i], row[j - (1 << k) + 1])

    def free(self, a: int, z: int) -> int:
        return self.quantity - self.used(a, z)

    def holders(self, a: int, z: int) -> list[Loan]:
        """Loans occupying some instant of ``[a, z)``."""
        hi = bisect_left(self.loan_starts, z)
        lo = bisect_left(self.loan_starts, a - self.max_length)
        return [loan for loan in self.loans[lo:hi] if loan.busy_until > a]

    def peak_span(self, a: int, z: int) -> tuple[int, int] | None:
        """The hull of the instants of ``[a, z)`` where usage is at its peak."""
        peak = self.used(a, z)
        if peak == 0:
            return None
        first: int | None = None
        last = a
        i0 = max(0, bisect_right(self.times, a) - 1)
        i1 = bisect_left(self.times, z)
        for i in range(i0, i1):
            t = self.times[i]
            seg_end = self.times[i + 1] if i + 1 < len(self.times) else t
            if seg_end <= a or t >= z or self.usage[i] != peak:
                continue
            first = max(a, t) if first is None else first
            last = min(z, seg_end)
        return (first, last) if first is not None else None


class Drives(TravelMatrix):
    """Travel minutes looked up many times per request: one dict per origin."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem)
        self._rows: dict[str, dict[str, int]] = {}
        self.longest = self._longest(problem)

    @staticmethod
    def _longest(problem: Problem) -> int:
        """An upper bound on any travel time, in minutes.

        The diagonal of the sites' bounding box bounds every great-circle
        distance between them at the scale of a department; 1 % and a minute
        more cover the curvature and rounding.
        """
        listed = max((d.minutes for d in problem.distances), default=0)
        if not problem.sites:
            return listed
        lats = [site.lat for site in problem.sites]
        lons = [site.lon for site in problem.sites]
        km = haversine_km(min(lats), min(lons), max(lats), max(lons)) * problem.travel.road_factor
        return max(listed, math.ceil(km / problem.travel.speed_kmh * 60 * 1.01) + 1)

    def row(self, from_site: str) -> dict[str, int]:
        """Minutes from ``from_site`` to the sites looked up so far (filled by ``minutes``)."""
        row = self._rows.get(from_site)
        if row is None:
            row = self._rows[from_site] = {}
        return row

    def minutes(self, from_site: str, to_site: str) -> int:
        row = self._rows.get(from_site)
        if row is None:
            row = self._rows[from_site] = {}
        minutes = row.get(to_site)
        if minutes is None:
            minutes = row[to_site] = self.leg(from_site, to_site)[1]
        return minutes


class Occupancy:
    """Calendars of every unit and profiles of every pool for one plan."""

    def __init__(self, problem: Problem, assignments: Sequence[RequestAssignment]) -> None:
        self.problem = problem
        self.travel = Drives(problem)
        tb = problem.timebase
        self.units: dict[str, UnitCalendar] = {}
        for unit in problem.units:
            kind = problem.type_by_id.get(unit.type)
            turnaround = kind.turnaround_minutes if kind else 0
            blackouts = [(tb.to_minutes(i.start), tb.to_minutes(i.end)) for i in unit.unavailable]
            self.units[unit.id] = UnitCalendar(unit, turnaround, blackouts)
        self.pools: dict[str, PoolProfile] = {p.id: PoolProfile(p.quantity) for p in problem.pools}
        requests = problem.request_by_id
        for assignment in assignments:
            if not assignment.served or assignment.start is None or assignment.end is None:
                continue
            request = requests.get(assignment.id)
            if request is None:
                continue
            s, e = tb.to_minutes(assignment.start), tb.to_minutes(assignment.end)
            for line in assignment.lines:
                for unit_id in line.units:
                    calendar = self.units.get(unit_id)
                    if calendar is not None:
                        calendar.loans.append(
                            Loan(
                                assignment.id,
                                s,
                                e,
                                e + calendar.turnaround,
                                request.site,
                                request.priority,
                            )
                        )
                for draw in line.pools:
                    profile = self.pools.get(draw.pool)
                    pool = problem.pool_by_id.get(draw.pool)
                    if profile is None or pool is None:
                        continue
                    kind = problem.type_by_id.get(pool.type)
                    turnaround = kind.turnaround_minutes if kind else 0
                    profile.loans.append(
                        Loan(
                            assignment.id,
                            s,
                            e,
                            e + turnaround,
                            request.site,
                            request.priority,
                            draw.quantity,
                        )
                    )
        for calendar in self.units.values():
            calendar.finish()
        for profile in self.pools.values():
            profile.finish()
        self.units_by_type: dict[str, list[UnitCalendar]] = {}
        for unit in problem.units:
            self.units_by_type.setdefault(unit.type, []).append(self.units[unit.id])
        self.pools_by_type: dict[str, list[tuple[str, PoolProfile]]] = {}
        for pool in problem.pools:
            self.pools_by_type.setdefault(pool.type, []).append((pool.id, self.pools[pool.id]))

    def turnaround(self, type_id: str) -> int:
        kind = self.problem.type_by_id.get(type_id)
        return kind.turnaround_minutes if kind else 0

    def pool_free(self, type_id: str, a: int, b: int) -> int:
        """Quantity of ``type_id`` that can be drawn over ``[a, b)`` from all its pools."""
        z = b + self.turnaround(type_id)
        free = 0
        for _, profile in self.pools_by_type.get(type_id, ()):
            free += profile.quantity - profile.used(a, z)
        return free

    def pool_stock(self, type_id: str) -> int:
        return sum(profile.quantity for _, profile in self.pools_by_type.get(type_id, ()))
