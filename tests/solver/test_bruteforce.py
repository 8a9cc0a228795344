"""The optimiser against brute force on small random problems.

For one-unit lines, a set of served requests is feasible when each unit's
requests can be put in some order whose earliest starts (each start as early
as the window and the previous loan's end, turnaround and travel allow) stay
inside every window. Enumerating the units of every request and every order
gives the best served value exactly, to compare with the optimiser's.
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from solver.baseline import solve_fcfs, solve_greedy
from solver.check import check_plan
from solver.cpsat import solve_cpsat
from solver.geo import TravelMatrix
from solver.options import SolveOptions
from solver.plan import LineAssignment, RequestAssignment
from solver.problem import Interval, Problem, Unit

OPTIONS = SolveOptions(time_limit_seconds=10, workers=1, seed=0)
SITES = ("depot", "melun", "dammarie")
TYPES = ("podium", "minibus-9", "minibus-12")


def _minutes(problem: Problem, moment: datetime) -> int:
    return problem.timebase.to_minutes(moment)


def _unit_fits(problem: Problem, travel: TravelMatrix, unit: Unit, rids: list[str]) -> bool:
    """Whether some order of ``rids`` on ``unit`` keeps every start in its window."""
    turnaround = problem.type_by_id[unit.type].turnaround_minutes
    for order in itertools.permutations(rids):
        ok, prev = True, None
        for rid in order:
            request = problem.request_by_id[rid]
            duration = _minutes(problem, request.end) - _minutes(problem, request.start)
            lo = _minutes(problem, request.earliest_start)
            hi = _minutes(problem, request.latest_end) - duration
            start = lo
            if prev is not None:
                ready = prev[0] + turnaround + travel.minutes(prev[1], request.site)
                start = max(start, ready)
            if start > hi:
                ok = False
                break
            prev = (start + duration, request.site)
        if ok:
            return True
    return False


def brute_force_value(problem: Problem) -> int:
    """The best served value, by enumerating units and orders (one-unit lines)."""
    travel = TravelMatrix(problem)
    options = []
    for request in problem.requests:
        eligible = [None]
        for t in problem.eligible_unit_types(request.lines[0].type):
            eligible.extend(u.id for u in problem.units_of_type(t))
        options.append(eligible)
    best = 0
    for choice in itertools.product(*options):
        value = sum(problem.value_of(r) for r, u in zip(problem.requests, choice, strict=True) if u)
        if value <= best:
            continue
        per_unit: dict[str, list[str]] = {}
        for request, unit_id in zip(problem.requests, choice, strict=True):
            if unit_id is not None:
                per_unit.setdefault(unit_id, []).append(request.id)
        if all(
            _unit_fits(problem, travel, problem.unit_by_id[u], rids) for u, rids in per_unit.items()
        ):
            best = value
    return best


@st.composite
def small_problems(draw, make_problem, make_request, at) -> Problem:
    """2 to 5 one-unit requests on 1 to 3 units, windows allowing shifts."""
    units = [Unit("POD-1", "podium", draw(st.sampled_from(SITES)))]
    if draw(st.booleans()):
        units.append(Unit("POD-2", "podium", draw(st.sampled_from(SITES))))
    if draw(st.booleans()):
        units.append(Unit("MB9-1", "minibus-9", "depot"))
    units.append(Unit("MB12-1", "minibus-12", draw(st.sampled_from(SITES))))
    requests = []
    for i in range(draw(st.integers(2, 5))):
        start = at(2) + timedelta(hours=draw(st.integers(0, 8 * 24)))
        end = start + timedelta(hours=draw(st.integers(2, 60)))
        early = timedelta(hours=draw(st.sampled_from([0, 0, 3, 12, 30])))
        late = timedelta(minutes=draw(st.sampled_from([0, 0, 45, 12 * 60, 36 * 60])))
        requests.append(
            make_request(
                id=f"R-{i}",
                site=draw(st.sampled_from(SITES[1:])),
                priority=draw(st.integers(1, 4)),
                start=start,
                end=end,
                earliest_start=start - early,
                latest_end=end + late,
                lines=[(draw(st.sampled_from(TYPES)), 1)],
            )
        )
    return make_problem(requests=requests, units=units)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_served_value_equals_brute_force(data, make_problem, make_request, at):
    problem = data.draw(small_problems(make_problem, make_request, at))
    plan = solve_cpsat(problem, OPTIONS)
    assert check_plan(problem, plan) == []
    assert plan.metrics.served_value >= solve_fcfs(problem, OPTIONS).metrics.served_value
    expected = brute_force_value(problem)
    assert plan.metrics.served_value == expected
    assert plan.solver.bound[0] >= expected


@st.composite
def mixed_problems(draw, make_problem, make_request, at) -> Problem:
    """Units with blackouts, pools, multi-line requests, a locked request."""
    units = [
        Unit("POD-1", "podium", "depot", (Interval(at(5), at(5, 12)),)),
        Unit("POD-2", "podium", "melun"),
        Unit("MB9-1", "minibus-9", "depot"),
        Unit("MB12-1", "minibus-12", "dammarie", (Interval(at(3, 6), at(4)),)),
    ]
    requests = []
    for i in range(draw(st.integers(3, 8))):
        start = at(2) + timedelta(hours=draw(st.integers(0, 6 * 24)))
        end = start + timedelta(hours=draw(st.integers(2, 48)))
        slack = timedelta(hours=draw(st.sampled_from([0, 6, 24])))
        lines = draw(
            st.lists(
                st.sampled_from(
                    [
                        ("podium", 1),
                        ("podium", 2),
                        ("minibus-9", 1),
                        ("minibus-12", 1),
                        ("chair", 120),
                        ("chair", 250),
                        ("table", 20),
                    ]
                ),
                min_size=1,
                max_size=3,
                unique_by=lambda line: line[0],
            )
        )
        requests.append(
            make_request(
                id=f"R-{i}",
                site=draw(st.sampled_from(SITES)),
                priority=draw(st.integers(1, 4)),
                start=start,
                end=end,
                earliest_start=start - slack,
                latest_end=end + slack,
                lines=lines,
            )
        )
    if draw(st.booleans()):
        lock = RequestAssignment(
            "L-1",
            True,
            at(4, 8),
            at(6, 8),
            (LineAssignment("podium", units=("POD-2",)),),
        )
        requests.append(
            make_request(
                id="L-1",
                start=at(4, 8),
                end=at(6, 8),
                lines=[("podium", 1)],
                locked=lock,
            )
        )
    return make_problem(requests=requests, units=units)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_mixed_plans_are_valid_and_within_their_bound(data, make_problem, make_request, at):
    problem = data.draw(mixed_problems(make_problem, make_request, at))
    plan = solve_cpsat(problem, OPTIONS)
    assert check_plan(problem, plan) == []
    assert plan.metrics.served_value <= plan.solver.bound[0]
    fcfs = solve_fcfs(problem, OPTIONS)
    greedy = solve_greedy(problem, OPTIONS)
    assert plan.metrics.served_value >= max(fcfs.metrics.served_value, greedy.metrics.served_value)
    locked = problem.request_by_id.get("L-1")
    if locked is not None:
        assert plan.assignment_of("L-1") == locked.locked
