"""The km lower bound: below every valid plan's km, and exact on simple cases."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from solver.baseline import solve_fcfs, solve_greedy
from solver.cpsat import solve_cpsat
from solver.instance import Instance
from solver.kmbound import km_lower_bound
from solver.options import SolveOptions
from solver.problem import Unit
from tests.solver.test_bruteforce import mixed_problems

OPTIONS = SolveOptions(time_limit_seconds=10, workers=1, seed=0)


def test_one_loan_costs_the_round_trip_from_the_nearest_home(make_problem, make_request, at):
    request = make_request(id="R-1", site="dammarie", start=at(10, 8), end=at(10, 18))
    units = [Unit("POD-1", "podium", "depot"), Unit("POD-2", "podium", "melun")]
    problem = make_problem(requests=[request], units=units)
    # melun-dammarie is 8 km, depot-dammarie 20 km.
    assert km_lower_bound(Instance(problem), ["R-1"]) == 16.0


def test_loans_that_may_chain_share_the_transfer(make_problem, make_request, at):
    # Melun on the 10th, Dammarie the next morning: depot -> melun -> dammarie -> depot.
    requests = [
        make_request(id="R-1", site="melun", start=at(10, 8), end=at(10, 18)),
        make_request(id="R-2", site="dammarie", start=at(11, 8), end=at(11, 18)),
    ]
    problem = make_problem(requests=requests, units=[Unit("POD-1", "podium", "depot")])
    assert km_lower_bound(Instance(problem), ["R-1", "R-2"]) == 10 + 8 + 20
    plan = solve_cpsat(problem, OPTIONS)
    assert plan.metrics.km == 10 + 8 + 20


def test_loans_too_far_apart_each_go_home(make_problem, make_request, at):
    requests = [
        make_request(id="R-1", site="melun", start=at(10, 8), end=at(10, 18)),
        make_request(id="R-2", site="dammarie", start=at(20, 8), end=at(20, 18)),
    ]
    problem = make_problem(requests=requests, units=[Unit("POD-1", "podium", "depot")])
    assert km_lower_bound(Instance(problem), ["R-1", "R-2"]) == 2 * 10 + 2 * 20


def test_given_dates_can_only_raise_the_bound(make_problem, make_request, at):
    # R-2 may start from the 11th (chain) to the 20th (back home first).
    requests = [
        make_request(id="R-1", site="melun", start=at(10, 8), end=at(10, 18)),
        make_request(
            id="R-2",
            site="dammarie",
            start=at(20, 8),
            end=at(20, 18),
            earliest_start=at(11, 8),
        ),
    ]
    problem = make_problem(requests=requests, units=[Unit("POD-1", "podium", "depot")])
    inst = Instance(problem)
    tb = problem.timebase
    at_asked = {"R-1": tb.to_minutes(at(10, 8)), "R-2": tb.to_minutes(at(20, 8))}
    assert km_lower_bound(inst, ["R-1", "R-2"]) == 38
    assert km_lower_bound(inst, ["R-1", "R-2"], at_asked) == 60


def test_a_pooled_line_too_big_for_one_pool_needs_two_draws(make_problem, make_request, at):
    # 350 chairs: chair@depot holds 300, chair@melun 100; both are needed.
    request = make_request(id="R-1", site="melun", lines=[("chair", 350)])
    problem = make_problem(requests=[request])
    assert km_lower_bound(Instance(problem), ["R-1"]) == 2 * 10 + 2 * 0


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_no_strategy_drives_fewer_km_than_the_bound(data, make_problem, make_request, at):
    problem = data.draw(mixed_problems(make_problem, make_request, at))
    inst = Instance(problem)
    for solve in (solve_fcfs, solve_greedy, solve_cpsat):
        plan = solve(problem, OPTIONS)
        served = [a.id for a in plan.requests if a.served]
        starts = {a.id: problem.timebase.to_minutes(a.start) for a in plan.requests if a.served}
        assert km_lower_bound(inst, served) <= km_lower_bound(inst, served, starts) + 1e-9
        assert km_lower_bound(inst, served, starts) <= plan.metrics.km + 0.1
