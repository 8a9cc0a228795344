"""The km each served loan accounts for, from the stored problem and plan of a plan row.

A plan stores its total km (``metrics["km"]``), computed by ``solver.itinerary`` from
unit itineraries and pool draws. To report km per commune and per period, each leg of
those itineraries is given to one loan, so that a plan's loans add up to its total:

- a unit's leg towards a loan's site (from its depot, from the previous loan's site, or
  from its depot after going home) goes to that loan;
- the leg back to the depot goes to the loan it leaves from;
- a pool draw (there and back) goes to the loan it serves.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from itertools import pairwise

from booking.models import Plan
from booking.services.planning.ids import request_id_of
from solver.geo import TravelMatrix
from solver.io import FormatError, plan_from_json, problem_from_json
from solver.itinerary import direct_transfer_minutes, draw_km, unit_loans
from solver.plan import Plan as SolverPlan
from solver.problem import Problem


def _attribute(problem: Problem, plan: SolverPlan) -> dict[str, float]:
    """km of each served request id of ``plan`` (problem ids); they sum to the plan's km."""
    travel = TravelMatrix(problem)
    km: dict[str, float] = {}
    loans = unit_loans(problem, plan.requests)
    for unit in problem.units:
        ordered = loans.get(unit.id)
        if not ordered:
            continue
        unit_type = problem.type_by_id[unit.type]
        turnaround = unit_type.turnaround_minutes
        direct_limit = direct_transfer_minutes(unit_type)
        first = ordered[0]
        km[first.request] = km.get(first.request, 0.0) + travel.km(unit.home, first.site)
        for previous, following in pairwise(ordered):
            if following.start - (previous.end + turnaround) <= direct_limit:
                leg = travel.km(previous.site, following.site)
                km[following.request] = km.get(following.request, 0.0) + leg
            else:
                back = travel.km(previous.site, unit.home)
                km[previous.request] = km.get(previous.request, 0.0) + back
                there = travel.km(unit.home, following.site)
                km[following.request] = km.get(following.request, 0.0) + there
        last = ordered[-1]
        km[last.request] = km.get(last.request, 0.0) + travel.km(last.site, unit.home)
    for assignment in plan.requests:
        request = problem.request_by_id.get(assignment.id)
        if request is None or not assignment.served:
            continue
        for line in assignment.lines:
            for draw in line.pools:
                pool = problem.pool_by_id.get(draw.pool)
                if pool is not None:
                    km[assignment.id] = km.get(assignment.id, 0.0) + draw_km(
                        travel, pool, request.site
                    )
    return km


def commune_figures(problem: Problem, plan: SolverPlan) -> dict[str, dict[str, float]]:
    """Requests served and km driven for each commune (by slug) in ``plan``.

    The km are each served request's share of the itineraries (see the module), so the
    communes' km add up to the plan's. Stored with the plan and with its first come,
    first served baseline, they let a commune's report compare the two.
    """
    km = _attribute(problem, plan)
    figures: dict[str, dict[str, float]] = {}
    for assignment in plan.requests:
        request = problem.request_by_id.get(assignment.id)
        if request is None or not assignment.served:
            continue
        entry = figures.setdefault(request.commune, {"served": 0, "km": 0.0})
        entry["served"] += 1
        entry["km"] = round(entry["km"] + km.get(assignment.id, 0.0), 3)
    return figures


def loan_km(plans: Iterable[tuple[Plan, Iterable[int]]]) -> dict[int, float]:
    """The km of each request, read from the plan that serves it.

    Args:
        plans: pairs of a plan row and the database ids of the requests to read from it.

    Returns:
        km by request id; a request the plan does not serve, or a plan whose stored
        documents cannot be read (an old format), gives no entry.
    """
    found: dict[int, float] = {}
    for plan, request_ids in plans:
        wanted = set(request_ids)
        if not wanted or not plan.problem_json or not plan.plan_json:
            continue
        try:
            problem = problem_from_json(json.dumps(plan.problem_json))
            solver_plan = plan_from_json(json.dumps(plan.plan_json))
        except FormatError:
            continue
        for key, value in _attribute(problem, solver_plan).items():
            request_id = request_id_of(key)
            if request_id is not None and request_id in wanted:
                found[request_id] = value
    return found
