"""Upper bounds on served value: the LP relaxation and its CP-SAT tightening."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from solver.bound import part_bound, relaxation_bound, tighten_bounds
from solver.cpsat import solve_cpsat
from solver.decompose import decompose
from solver.instance import Instance
from solver.options import SolveOptions
from solver.problem import Interval, Unit
from tests.solver.test_bruteforce import brute_force_value, small_problems

OPTIONS = SolveOptions(time_limit_seconds=10, workers=1, seed=0)


def _two_long_loans_in_a_short_window(make_problem, make_request, at):
    """One podium, loans of 23 and 28 hours that cannot both be served.

    R-0 may start from 10 July 14:00 to 20:00, R-1 from 9 July 16:00 to 11 July
    04:00: whichever goes first ends (with its 4 hours of turnaround) after the
    other's latest start. The LP's buckets see only the sure part of each
    occupation, and let one and a half loans through.
    """
    requests = [
        make_request(
            id="R-0",
            priority=4,
            start=at(10, 14),
            end=at(11, 13),
            earliest_start=at(10, 14),
            latest_end=at(11, 19),
        ),
        make_request(
            id="R-1",
            priority=4,
            start=at(10, 16),
            end=at(11, 20),
            earliest_start=at(9, 16),
            latest_end=at(12, 8),
        ),
    ]
    return make_problem(requests=requests, units=[Unit("POD-1", "podium", "depot")])


def test_the_cp_sat_relaxation_is_tighter_than_the_lp(make_problem, make_request, at):
    problem = _two_long_loans_in_a_short_window(make_problem, make_request, at)
    inst = Instance(problem)
    ids = [r.id for r in problem.requests]
    assert part_bound(inst, ids) > 8
    assert relaxation_bound(inst, ids, 5.0, OPTIONS) == 8 == brute_force_value(problem)


def test_tightening_touches_only_parts_with_a_gap(make_problem, make_request, at):
    problem = _two_long_loans_in_a_short_window(make_problem, make_request, at)
    inst = Instance(problem)
    _, parts = decompose(inst)
    assert len(parts) == 1
    # A plan already at the bound leaves it alone; one below it gets the tighter bound.
    assert tighten_bounds(inst, parts, [12.0], [12.0], 5.0, OPTIONS) == [12.0]
    assert tighten_bounds(inst, parts, [12.0], [8.0], 5.0, OPTIONS) == [8.0]
    assert tighten_bounds(inst, parts, [12.0], [8.0], 0.0, OPTIONS) == [12.0]


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_both_bounds_are_at_least_the_best_plan(data, make_problem, make_request, at):
    problem = data.draw(small_problems(make_problem, make_request, at))
    inst = Instance(problem)
    ids = [r.id for r in problem.requests]
    best = brute_force_value(problem)
    lp = part_bound(inst, ids)
    relaxed = relaxation_bound(inst, ids, 5.0, OPTIONS)
    assert lp >= best
    assert relaxed is not None and relaxed >= best


def test_blackouts_count_against_the_relaxation(make_problem, make_request, at):
    # The only podium is in maintenance over the whole window: nothing can be served.
    request = make_request(id="R-1", start=at(10, 8), end=at(10, 18))
    free = make_problem(requests=[request], units=[Unit("POD-1", "podium", "depot")])
    blocked = make_problem(
        requests=[request],
        units=[Unit("POD-1", "podium", "depot", unavailable=(Interval(at(9), at(12)),))],
    )
    assert relaxation_bound(Instance(free), ["R-1"], 5.0, OPTIONS) == free.value_of(request)
    assert relaxation_bound(Instance(blocked), ["R-1"], 5.0, OPTIONS) == 0


def test_a_long_window_is_bounded_by_units_not_time(make_problem, make_request, at):
    # Three week-long loans with a month to move in and one podium: all three fit.
    requests = [
        make_request(
            id=f"R-{i}",
            start=at(1, 8),
            end=at(1, 8) + timedelta(days=6),
            earliest_start=at(1, 8),
            latest_end=at(31, 8),
        )
        for i in range(3)
    ]
    problem = make_problem(requests=requests, units=[Unit("POD-1", "podium", "depot")])
    ids = [r.id for r in problem.requests]
    assert relaxation_bound(Instance(problem), ids, 5.0, OPTIONS) == 3 * problem.value_of(
        problem.requests[0]
    )


def test_the_optimiser_reports_the_tightened_bound(make_problem, make_request, at):
    problem = _two_long_loans_in_a_short_window(make_problem, make_request, at)
    plan = solve_cpsat(problem, OPTIONS)
    assert plan.metrics.served_value == 8
    assert plan.solver.bound[0] == 8
