"""The lower bound on shift at a served value holds for the plans that reach it."""

from __future__ import annotations

import json

import pytest

from bench.generate import generate
from solver.baseline import solve_greedy
from solver.instance import Instance
from solver.io import problem_from_json
from solver.options import SolveOptions
from solver.shiftbound import shift_lower_bound


@pytest.fixture(scope="module")
def summer():
    return problem_from_json(json.dumps(generate("summer", 2)))


def test_the_bound_is_below_the_greedy_plans_shift(summer) -> None:
    plan = solve_greedy(summer, SolveOptions(time_limit_seconds=5, workers=1))
    bound = shift_lower_bound(Instance(summer), plan.metrics.served_value, 30)
    assert bound is not None
    assert 0 <= bound <= plan.metrics.shift_minutes


def test_more_value_needs_at_least_as_much_shift(summer) -> None:
    inst = Instance(summer)
    values = [0, 900, 980, 1000]
    bounds = [shift_lower_bound(inst, v, 30) for v in values]
    assert bounds[0] == 0
    assert all(b is not None for b in bounds)
    assert bounds == sorted(bounds)  # type: ignore[type-var]
    assert bounds[-1] > 0  # serving almost everything needs some shift


def test_the_bound_stops_at_a_plan_without_shift(make_problem, make_request, at) -> None:
    # Two requests that both fit at their asked dates: nothing forces a shift.
    first = make_request(id="R-1", start=at(2, 8), end=at(3, 18), earliest_start=at(1, 8))
    second = make_request(id="R-2", start=at(10, 8), end=at(11, 18), latest_end=at(12, 18))
    problem = make_problem(requests=[first, second])
    assert shift_lower_bound(Instance(problem), 4, 10) == 0
