"""Unit loans moved one at a time to units that drive less: the fast half of the units stage.

The CP-SAT units model (:mod:`solver.units`) proves most groups optimal on a
season of an agglomeration, but on a department's the largest groups have far
more (loan, unit) pairs than it can build in its time and keep the nearest-first
units. This local search works on any size: each loan of a unit is taken off it
and put on the eligible unit where it adds the fewest km, counted as
:mod:`solver.itinerary` counts them (home, loans in time order, home; a direct
leg when the next loan starts soon enough after the turnaround). A move is made
only where the loan fits between the new unit's loans with turnaround and travel
time, and only when it saves km, so a valid plan stays valid and the km only go
down. Eligible units are free of blackouts over the loan (``make_loans``).

Locked lines keep their units, and lines served as in ``previous`` keep theirs
(``changed`` compares units), so they are left as they are.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace

from solver.decompose import unit_type_groups
from solver.instance import Instance
from solver.plan import RequestAssignment
from solver.units import Loan, UnitTimes, make_loans

Slot = tuple[str, int]  # (request, line)


class UnitSchedules:
    """Each unit's loans in time order, with the km their legs cost."""

    def __init__(self, inst: Instance, loans: Sequence[Loan]) -> None:
        self.inst = inst
        self.times: dict[str, UnitTimes] = {}
        self.loans: dict[str, list[Loan]] = {}
        self.starts: dict[str, list[int]] = {}
        for loan in loans:
            for unit_id in loan.units:
                if unit_id not in self.times:
                    self.times[unit_id] = UnitTimes(inst, inst.problem.unit_by_id[unit_id])
                    self.loans[unit_id], self.starts[unit_id] = [], []

    def add(self, unit_id: str, loan: Loan) -> None:
        index = bisect.bisect_right(self.starts[unit_id], loan.start)
        self.starts[unit_id].insert(index, loan.start)
        self.loans[unit_id].insert(index, loan)

    def remove(self, unit_id: str, loan: Loan) -> None:
        index = bisect.bisect_left(self.starts[unit_id], loan.start)
        while self.loans[unit_id][index] is not loan:
            index += 1
        del self.starts[unit_id][index], self.loans[unit_id][index]

    def neighbours(self, unit_id: str, loan: Loan) -> tuple[Loan | None, Loan | None]:
        """The unit's loans just before and just after ``loan``'s start (it not on it)."""
        index = bisect.bisect_right(self.starts[unit_id], loan.start)
        on_unit = self.loans[unit_id]
        before = on_unit[index - 1] if index > 0 else None
        after = on_unit[index] if index < len(on_unit) else None
        return before, after

    def fits(self, unit_id: str, loan: Loan) -> bool:
        """Whether ``loan`` fits between the unit's loans, turnaround and travel included."""
        before, after = self.neighbours(unit_id, loan)
        times = self.times[unit_id]
        return (before is None or times.fits_before(before, loan)) and (
            after is None or times.fits_before(loan, after)
        )

    def leg(self, unit_id: str, before: Loan | None, after: Loan | None) -> int:
        """km100 from ``before`` to ``after`` (None: the unit's home)."""
        times = self.times[unit_id]
        home = times.unit.home
        km = self.inst.km100
        if before is None and after is None:
            return 0
        if before is None:
            return km(home, after.site)  # type: ignore[union-attr]
        if after is None:
            return km(before.site, home)
        if times.saving(before, after) is None:  # too long a wait: back home in between
            return km(before.site, home) + km(home, after.site)
        return km(before.site, after.site)

    def added_km(self, unit_id: str, loan: Loan) -> int:
        """km100 the unit drives more with ``loan`` than without (it not on it)."""
        before, after = self.neighbours(unit_id, loan)
        return (
            self.leg(unit_id, before, loan)
            + self.leg(unit_id, loan, after)
            - self.leg(unit_id, before, after)
        )


def relocate_units(
    inst: Instance,
    loans: Sequence[Loan],
    units: Mapping[Slot, tuple[str, ...]],
    deadline: float,
) -> dict[Slot, tuple[str, ...]]:
    """New units for the loans of one group where another unit drives fewer km.

    Args:
        inst: the instance.
        loans: the group's loans (``make_loans``).
        units: their current units, a valid assignment.
        deadline: ``time.monotonic()`` value to stop at.

    Returns:
        ``(request, line) -> units`` for the loans whose units changed.
    """
    schedules = UnitSchedules(inst, loans)
    current = {(ln.request, ln.line): list(units[(ln.request, ln.line)]) for ln in loans}
    for loan in loans:
        for unit_id in current[(loan.request, loan.line)]:
            schedules.add(unit_id, loan)
    movable = [ln for ln in loans if ln.locked is None and ln.previous is None]
    improved = True
    while improved and time.monotonic() < deadline:
        improved = False
        for loan in movable:
            if time.monotonic() >= deadline:
                break
            improved |= _move_each_unit(schedules, loan, current[(loan.request, loan.line)])
    return {slot: tuple(chosen) for slot, chosen in current.items() if tuple(chosen) != units[slot]}


def _move_each_unit(schedules: UnitSchedules, loan: Loan, chosen: list[str]) -> bool:
    """Moves each of ``loan``'s units to a cheaper free unit; whether any moved."""
    moved = False
    for position, unit_id in enumerate(chosen):
        schedules.remove(unit_id, loan)
        kept_km = schedules.added_km(unit_id, loan)
        best, best_km = unit_id, kept_km
        for other in loan.units:
            if other in chosen or not schedules.fits(other, loan):
                continue
            other_km = schedules.added_km(other, loan)
            if other_km < best_km:
                best, best_km = other, other_km
        schedules.add(best, loan)
        if best != unit_id:
            chosen[position] = best
            moved = True
    return moved


def improve_units(
    inst: Instance,
    assignments: Sequence[RequestAssignment],
    kept: Mapping[str, Sequence[tuple[str, ...]]],
    deadline: float,
) -> list[RequestAssignment] | None:
    """The assignments with units moved where they drive fewer km, dates kept.

    Args:
        inst: the instance.
        assignments: a valid plan's assignments.
        kept: previous units per line of the requests kept at their previous start.
        deadline: ``time.monotonic()`` value to stop at.

    Returns:
        The new assignments, or None when no unit moved.
    """
    served = [a for a in assignments if a.served and a.start is not None]
    starts = {a.id: inst.timebase.to_minutes(a.start) for a in served}  # type: ignore[arg-type]
    current = {(a.id, i): la.units for a in served for i, la in enumerate(a.lines) if la.units}
    found: dict[Slot, tuple[str, ...]] = {}
    for types in unit_type_groups(inst):
        loans = make_loans(inst, types, starts, kept)
        loans = [ln for ln in loans if (ln.request, ln.line) in current]
        found.update(relocate_units(inst, loans, current, deadline))
    if not found:
        return None
    return [_with_units(a, found) for a in assignments]


def _with_units(a: RequestAssignment, found: Mapping[Slot, tuple[str, ...]]) -> RequestAssignment:
    if not any((a.id, i) in found for i in range(len(a.lines))):
        return a
    lines = tuple(
        replace(la, units=found[(a.id, i)]) if (a.id, i) in found else la
        for i, la in enumerate(a.lines)
    )
    return replace(a, lines=lines)
