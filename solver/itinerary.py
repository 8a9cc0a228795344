"""Transport distances of a plan, computed exactly as the objective says
(``docs/file-formats.md``).

The checker and every strategy compute km with these functions, so that a
plan's ``metrics.km`` and an optimiser's own figure agree to the last leg.
All times are integer minutes in the problem's ``TimeBase``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import pairwise

from solver.geo import TravelMatrix
from solver.plan import RequestAssignment
from solver.problem import EquipmentType, Pool, Problem, Unit


@dataclass(frozen=True, order=True)
class UnitLoan:
    """One unit serving one line of one served request, in the problem's minutes.

    Ordered by ``(start, end, request, line)`` so that sorting a unit's loans
    gives the objective's "time order" deterministically.
    """

    start: int
    end: int
    request: str
    line: int  # index of the line in the request
    site: str


def direct_transfer_minutes(equipment_type: EquipmentType) -> float:
    """The longest idle gap, in minutes, after which a unit still travels directly."""
    return equipment_type.max_direct_transfer_hours * 60


def unit_itinerary_km(
    problem: Problem,
    travel: TravelMatrix,
    unit: Unit,
    loans: Sequence[tuple[int, int, str]],
) -> float:
    """Road km driven by one unit over its loans: home, loan sites in time order, home.

    Between two successive loans A then B the leg is A -> B when
    ``start_B - (end_A + turnaround) <= max_direct_transfer_hours * 60``
    (turnaround and direct-transfer limit of the unit's own type), otherwise
    A -> home -> B. Feasibility is not checked here.

    Args:
        problem: the problem the unit belongs to (for its type).
        travel: the problem's travel matrix.
        unit: the unit.
        loans: ``(start_minute, end_minute, site_id)`` of each loan of the unit,
            in any order; ``end_minute`` is the loan's end, before turnaround.

    Returns:
        The unrounded distance in km; 0.0 when the unit has no loans.
    """
    if not loans:
        return 0.0
    unit_type = problem.type_by_id[unit.type]
    turnaround = unit_type.turnaround_minutes
    direct_limit = direct_transfer_minutes(unit_type)
    ordered = sorted(loans)
    km = travel.km(unit.home, ordered[0][2])
    for (_, prev_end, prev_site), (next_start, _, next_site) in pairwise(ordered):
        if next_start - (prev_end + turnaround) <= direct_limit:
            km += travel.km(prev_site, next_site)
        else:
            km += travel.km(prev_site, unit.home) + travel.km(unit.home, next_site)
    km += travel.km(ordered[-1][2], unit.home)
    return km


def draw_km(travel: TravelMatrix, pool: Pool, site_id: str) -> float:
    """Road km of one draw from ``pool`` for a request at ``site_id``.

    Delivery and collection: twice the pool-site-to-request-site distance,
    whatever the quantity drawn.
    """
    return 2 * travel.km(pool.site, site_id)


def minutes_of(problem: Problem, moment: datetime) -> int:
    """``moment`` in the problem's minutes, counting real time across summer-time changes.

    Converting to UTC first matters when ``moment`` and the horizon share one
    ``ZoneInfo``: Python would otherwise subtract them by wall clock.
    """
    return problem.timebase.to_minutes(moment.astimezone(UTC))


def served_minutes(problem: Problem, assignment: RequestAssignment) -> tuple[int, int] | None:
    """``(start, end)`` of a served assignment in the problem's minutes, else None."""
    if not assignment.served or assignment.start is None or assignment.end is None:
        return None
    return minutes_of(problem, assignment.start), minutes_of(problem, assignment.end)


def unit_loans(
    problem: Problem, assignments: Iterable[RequestAssignment]
) -> dict[str, list[UnitLoan]]:
    """The loans of each unit named by the served assignments, sorted in time order.

    Assignments of unknown requests and names of unknown units are skipped (the
    checker reports them); a unit named twice is listed twice.
    """
    loans: dict[str, list[UnitLoan]] = {}
    for assignment in assignments:
        request = problem.request_by_id.get(assignment.id)
        interval = served_minutes(problem, assignment)
        if request is None or interval is None:
            continue
        for index, line in enumerate(assignment.lines):
            for unit_id in line.units:
                if unit_id in problem.unit_by_id:
                    loans.setdefault(unit_id, []).append(
                        UnitLoan(interval[0], interval[1], assignment.id, index, request.site)
                    )
    for unit_loan_list in loans.values():
        unit_loan_list.sort()
    return loans


def plan_km(
    problem: Problem,
    assignments: Iterable[RequestAssignment],
    travel: TravelMatrix | None = None,
) -> float:
    """Total unrounded km of the served assignments: unit itineraries plus pool draws.

    Units are summed in the problem's order, then draws in assignment order, so
    the float sum is the same for the same plan whatever made it.
    """
    travel = travel or TravelMatrix(problem)
    assignments = list(assignments)
    loans = unit_loans(problem, assignments)
    km = 0.0
    for unit in problem.units:
        unit_loan_list = loans.get(unit.id)
        if unit_loan_list:
            km += unit_itinerary_km(
                problem, travel, unit, [(ln.start, ln.end, ln.site) for ln in unit_loan_list]
            )
    for assignment in assignments:
        request = problem.request_by_id.get(assignment.id)
        if request is None or not assignment.served:
            continue
        for line in assignment.lines:
            for draw in line.pools:
                pool = problem.pool_by_id.get(draw.pool)
                if pool is not None:
                    km += draw_km(travel, pool, request.site)
    return km
