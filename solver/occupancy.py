"""Occupation of units and pools, with the plan's feasibility rules as queries.

The building blocks of the greedy strategies (``solver.baseline``) and of any
strategy that places loans one at a time (warm starts, repairs):

- ``UnitCalendar``: the loans of one unit, sorted by start, with the unit's
  blackouts. ``fits`` applies rule 3 of ``solver.check`` exactly: the unit is
  occupied over ``[s, e + turnaround)`` (turnaround of the unit's own type),
  two successive loans at sites A then B need
  ``e_A + turnaround + travel_minutes(A, B) <= s_B``, and no occupation
  overlaps an ``unavailable`` interval. ``added_km`` prices a loan with the
  objective's itinerary rule (direct transfer within
  ``max_direct_transfer_hours`` of ``e + turnaround``, else back home).
- ``PoolProfile``: the quantity drawn from one pool over time, a step
  function; a loan occupies it over ``[s, e + turnaround)`` (turnaround of
  the pool's type). ``free`` is the least quantity left over an interval.
- ``Occupancy``: both for a whole problem, plus conversions between the
  problem's minutes and datetimes.

Time is integer minutes since the horizon start (``Problem.timebase``), real
minutes also across summer-time changes. Queries are O(log n) for units
(bisect on loan starts) and O(k + log n) for pools (k breakpoints inside the
interval), so 20,000 requests take seconds.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from solver.geo import TravelMatrix
from solver.plan import RequestAssignment
from solver.problem import Pool, Problem, Request, Unit


@dataclass(frozen=True, order=True)
class Loan:
    """One loan of a unit: ``[start, end)`` in minutes (before turnaround) at ``site``.

    ``tag`` names the holder, usually the request id; it is compared last so
    that sorting is deterministic.
    """

    start: int
    end: int
    site: str
    tag: str = ""


class UnitCalendar:
    """The loans of one unit, in time order, and the unit's blackouts.

    Loans added with ``add`` are trusted: callers check ``fits`` first (locked
    requests are added unchecked, the loader having verified them).
    """

    def __init__(self, problem: Problem, travel: TravelMatrix, unit: Unit) -> None:
        own_type = problem.type_by_id[unit.type]
        self.unit = unit
        self.turnaround = own_type.turnaround_minutes
        self.direct_gap = own_type.max_direct_transfer_hours * 60  # minutes
        self._travel = travel
        self.loans: list[Loan] = []
        self._starts: list[int] = []  # loans' starts, for bisect
        tb = problem.timebase
        self.blackouts: list[tuple[int, int]] = sorted(
            (tb.to_minutes(b.start.astimezone(UTC)), tb.to_minutes(b.end.astimezone(UTC)))
            for b in unit.unavailable
        )

    def _neighbours(self, start: int) -> tuple[Loan | None, Loan | None]:
        index = bisect_left(self._starts, start)
        before = self.loans[index - 1] if index > 0 else None
        after = self.loans[index] if index < len(self.loans) else None
        return before, after

    def fits(self, start: int, end: int, site: str) -> bool:
        """Whether a loan ``[start, end)`` at ``site`` can be added (spec rule 3)."""
        release = end + self.turnaround
        for b_start, b_end in self.blackouts:
            if b_start < release and start < b_end:
                return False
        before, after = self._neighbours(start)
        minutes = self._travel.minutes
        if before is not None and (
            before.end + self.turnaround + minutes(before.site, site) > start
        ):
            return False
        return after is None or release + minutes(site, after.site) <= after.start

    def blockers(self, start: int, end: int, site: str) -> list[Loan]:
        """The loans that keep ``[start, end)`` at ``site`` from fitting (blackouts aside)."""
        release = end + self.turnaround
        minutes = self._travel.minutes
        return [
            loan
            for loan in self.loans
            if loan.end + self.turnaround + minutes(loan.site, site) > start
            and release + minutes(site, loan.site) > loan.start
        ]

    def loans_near(self, first: int, last: int) -> list[Loan]:
        """The loans that start before ``last`` and end after ``first`` (or just before).

        Loans of one unit never overlap, so only the one loan starting before
        ``first`` can reach into ``[first, last)``; it is included.
        """
        low = max(0, bisect_left(self._starts, first) - 1)
        high = bisect_left(self._starts, last)
        return self.loans[low:high]

    def _link_km(self, before: Loan | None, after: Loan | None) -> float:
        """Km between two successive loans (or home at either end), by the itinerary rule."""
        home, km = self.unit.home, self._travel.km
        if before is None and after is None:
            return 0.0
        if before is None:
            return km(home, after.site)  # type: ignore[union-attr]
        if after is None:
            return km(before.site, home)
        if after.start - (before.end + self.turnaround) <= self.direct_gap:
            return km(before.site, after.site)
        return km(before.site, home) + km(home, after.site)

    def added_km(self, start: int, end: int, site: str) -> float:
        """How many km the unit's itinerary grows by when this loan is added."""
        before, after = self._neighbours(start)
        new = Loan(start, end, site)
        return self._link_km(before, new) + self._link_km(new, after) - self._link_km(before, after)

    def add(self, start: int, end: int, site: str, tag: str = "") -> None:
        loan = Loan(start, end, site, tag)
        index = bisect_left(self.loans, loan)
        self.loans.insert(index, loan)
        self._starts.insert(index, start)

    def remove(self, start: int, end: int, site: str, tag: str = "") -> None:
        """Removes a loan added with the same arguments.

        Raises:
            ValueError: no such loan.
        """
        index = self.loans.index(Loan(start, end, site, tag))
        del self.loans[index]
        del self._starts[index]

    def km(self) -> float:
        """The km of the unit's whole itinerary: home, its loans in order, home."""
        if not self.loans:
            return 0.0
        total = self._link_km(None, self.loans[0]) + self._link_km(self.loans[-1], None)
        for before, after in zip(self.loans, self.loans[1:], strict=False):
            total += self._link_km(before, after)
        return total


class PoolProfile:
    """The quantity drawn from one pool over time, as a step function.

    ``_times[i]`` is a breakpoint and ``_levels[i]`` the quantity drawn over
    ``[_times[i], _times[i + 1])``; before the first breakpoint nothing is drawn.
    """

    def __init__(self, pool: Pool, turnaround: int) -> None:
        self.pool = pool
        self.turnaround = turnaround
        self._times: list[int] = []
        self._levels: list[int] = []

    def _breakpoint(self, moment: int) -> int:
        """The index of the breakpoint at ``moment``, inserting it if needed."""
        index = bisect_left(self._times, moment)
        if index < len(self._times) and self._times[index] == moment:
            return index
        level = self._levels[index - 1] if index > 0 else 0
        self._times.insert(index, moment)
        self._levels.insert(index, level)
        return index

    def breakpoints(self, first: int, last: int) -> list[int]:
        """The moments in ``[first, last]`` where the quantity drawn changes."""
        return self._times[bisect_left(self._times, first) : bisect_right(self._times, last)]

    def peak(self, start: int, end: int) -> int:
        """The most drawn at any instant of the occupation ``[start, end + turnaround)``."""
        release = end + self.turnaround
        first = max(0, bisect_right(self._times, start) - 1)
        last = bisect_left(self._times, release)
        return max(self._levels[first:last], default=0)

    def free(self, start: int, end: int) -> int:
        """The quantity a loan ``[start, end)`` can still draw (spec rule 4)."""
        return self.pool.quantity - self.peak(start, end)

    def add(self, start: int, end: int, quantity: int) -> None:
        """Draws ``quantity`` over ``[start, end + turnaround)`` (negative to give back)."""
        first = self._breakpoint(start)
        last = self._breakpoint(end + self.turnaround)
        for index in range(first, last):
            self._levels[index] += quantity


class Occupancy:
    """Calendars of every unit and profiles of every pool of one problem."""

    def __init__(self, problem: Problem, travel: TravelMatrix | None = None) -> None:
        self.problem = problem
        self.travel = travel or TravelMatrix(problem)
        self.units = {u.id: UnitCalendar(problem, self.travel, u) for u in problem.units}
        self.pools = {
            p.id: PoolProfile(p, problem.type_by_id[p.type].turnaround_minutes)
            for p in problem.pools
        }
        self.horizon = (0, self.minutes(problem.horizon.end))
        self._units_by_type: dict[str, list[str]] = {}
        for unit in sorted(problem.units, key=lambda u: u.id):
            self._units_by_type.setdefault(unit.type, []).append(unit.id)
        self._pools_by_type: dict[str, list[str]] = {}
        for pool in sorted(problem.pools, key=lambda p: p.id):
            self._pools_by_type.setdefault(pool.type, []).append(pool.id)

    def minutes(self, moment: datetime) -> int:
        """``moment`` in the problem's minutes (real minutes, also across DST)."""
        return self.problem.timebase.to_minutes(moment.astimezone(UTC))

    def unit_candidates(self, type_id: str) -> list[tuple[str, bool]]:
        """Unit ids that may serve a line of ``type_id``: own type first, in id order.

        Each comes with whether it is a substitute.
        """
        own = [(u, False) for u in self._units_by_type.get(type_id, [])]
        subs = [
            (u, True)
            for sub in self.problem.type_by_id[type_id].substitutes
            for u in self._units_by_type.get(sub, [])
        ]
        return own + subs

    def pool_candidates(self, type_id: str) -> list[str]:
        """Pool ids of ``type_id``, in id order."""
        return self._pools_by_type.get(type_id, [])

    def window(self, request: Request) -> tuple[int, int, int, int]:
        """``(start, end, min_shift, max_shift)`` of a request in minutes.

        The allowed shifts keep ``[start + d, end + d)`` in both the window and
        the horizon.
        """
        start, end = self.minutes(request.start), self.minutes(request.end)
        lo = max(self.minutes(request.earliest_start), self.horizon[0]) - start
        hi = min(self.minutes(request.latest_end), self.horizon[1]) - end
        return start, end, lo, hi

    def add_assignment(self, assignment: RequestAssignment) -> None:
        """Books a served assignment's units and draws, without checking them."""
        if not assignment.served or assignment.start is None or assignment.end is None:
            return
        request = self.problem.request_by_id[assignment.id]
        start, end = self.minutes(assignment.start), self.minutes(assignment.end)
        for line in assignment.lines:
            for unit_id in line.units:
                self.units[unit_id].add(start, end, request.site, assignment.id)
            for draw in line.pools:
                self.pools[draw.pool].add(start, end, draw.quantity)

    def remove_assignment(self, assignment: RequestAssignment) -> None:
        """Undoes ``add_assignment``."""
        if not assignment.served or assignment.start is None or assignment.end is None:
            return
        request = self.problem.request_by_id[assignment.id]
        start, end = self.minutes(assignment.start), self.minutes(assignment.end)
        for line in assignment.lines:
            for unit_id in line.units:
                self.units[unit_id].remove(start, end, request.site, assignment.id)
            for draw in line.pools:
                self.pools[draw.pool].add(start, end, -draw.quantity)

    def fits_assignment(self, assignment: RequestAssignment) -> bool:
        """Whether a served assignment can be booked now, as it is.

        Checks the request's lines (types, quantities, eligible units, pools of
        the right type), the window, the horizon, and every unit and pool
        against what is already booked, including the assignment's own lines.
        """
        problem = self.problem
        request = problem.request_by_id.get(assignment.id)
        if request is None or not assignment.served:
            return False
        if assignment.start is None or assignment.end is None:
            return False
        start, end = self.minutes(assignment.start), self.minutes(assignment.end)
        base_start, base_end, lo, hi = self.window(request)
        if end - start != base_end - base_start or not lo <= start - base_start <= hi:
            return False
        if len(assignment.lines) != len(request.lines):
            return False
        seen: set[str] = set()
        drawn: dict[str, int] = {}
        for line, wanted in zip(assignment.lines, request.lines, strict=True):
            if line.type != wanted.type:
                return False
            if problem.is_pooled(wanted.type):
                if line.units or sum(d.quantity for d in line.pools) != wanted.quantity:
                    return False
                for draw in line.pools:
                    pool = problem.pool_by_id.get(draw.pool)
                    if pool is None or pool.type != wanted.type or draw.quantity < 1:
                        return False
                    drawn[draw.pool] = drawn.get(draw.pool, 0) + draw.quantity
                continue
            eligible = set(problem.eligible_unit_types(wanted.type))
            if line.pools or len(line.units) != wanted.quantity:
                return False
            for unit_id in line.units:
                unit = problem.unit_by_id.get(unit_id)
                if unit is None or unit.type not in eligible or unit_id in seen:
                    return False
                seen.add(unit_id)
                if not self.units[unit_id].fits(start, end, request.site):
                    return False
        return all(self.pools[p].free(start, end) >= q for p, q in drawn.items())

    def to_datetime(self, request: Request, shift: int) -> tuple[datetime, datetime]:
        """The served ``(start, end)`` of ``request`` shifted by ``shift`` real minutes.

        Shift 0 returns the request's own datetimes unchanged; otherwise the
        result keeps the offset of the request's own start and end.
        """
        if shift == 0:
            return request.start, request.end
        delta = timedelta(minutes=shift)
        start = (request.start.astimezone(UTC) + delta).astimezone(request.start.tzinfo)
        end = (request.end.astimezone(UTC) + delta).astimezone(request.end.tzinfo)
        return start, end


def sorted_shifts(candidates: Sequence[int], lo: int, hi: int) -> list[int]:
    """Distinct shifts inside ``[lo, hi]``, smallest absolute value first (later first on ties).

    Ties go to the later date because a loan moved later keeps the borrower's
    preparation time; the order only matters among equal shifts.
    """
    inside = {d for d in candidates if lo <= d <= hi}
    return sorted(inside, key=lambda d: (abs(d), -d))
