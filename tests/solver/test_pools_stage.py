"""The pool-draw stage (``solver.pools``): fewer km, dates and earlier levels kept.

The default world has ``chair@depot`` (300) and ``chair@melun`` (100);
depot-melun is 10 km, depot-dammarie 20 km, melun-dammarie 8 km, so a draw
costs 0 km at Melun from ``chair@melun``, 20 km from ``chair@depot``, and at
Dammarie 16 km from ``chair@melun`` or 40 km from ``chair@depot``.
"""

from __future__ import annotations

import itertools
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from solver.assemble import build_plan
from solver.baseline import solve_fcfs
from solver.check import check_assignments, check_plan, compute_metrics
from solver.cpsat import _Clock, _final_draws, _key_of
from solver.instance import Instance
from solver.options import SolveOptions
from solver.plan import Draw, LineAssignment, Plan, RequestAssignment, Status
from solver.pools import improve_draws
from solver.problem import Pool

OPTIONS = SolveOptions(time_limit_seconds=10, workers=1, seed=0)


def _two_requests(make_problem, make_request, serve, at, **problem_params):
    """R-1 at Melun and R-2 at Dammarie, both wanting 100 chairs at the same time.

    Served R-1 from Melun (0 km) and R-2 from the depot (40 km): 40 km, where
    swapping gives 20 + 16 = 36 km. No single request can move on its own:
    ``chair@melun`` holds only 100.
    """
    melun = make_request(id="R-1", site="melun", lines=[("chair", 100)])
    dammarie = make_request(id="R-2", site="dammarie", commune="dammarie", lines=[("chair", 100)])
    problem = make_problem(requests=[melun, dammarie], **problem_params)
    assignments = [
        serve(melun, [("chair@melun", 100)]),
        serve(dammarie, [("chair@depot", 100)]),
    ]
    return problem, assignments


def _plan(problem, assignments) -> Plan:
    plan = build_plan(problem, assignments, strategy="test", status=Status.FEASIBLE, seconds=0)
    assert check_plan(problem, plan) == []
    return plan


def _pools(assignment: RequestAssignment) -> dict[str, int]:
    return {d.pool: d.quantity for line in assignment.lines for d in line.pools}


def test_draws_are_swapped_between_requests_to_lower_km(make_problem, make_request, serve, at):
    problem, assignments = _two_requests(make_problem, make_request, serve, at)
    assert compute_metrics(problem, assignments).km == 40.0
    found = improve_draws(Instance(problem), assignments, set(), OPTIONS, 5.0)
    assert found is not None
    plan = _plan(problem, found)
    assert plan.metrics.km == 36.0
    assert _pools(plan.assignment_of("R-1")) == {"chair@depot": 100}
    assert _pools(plan.assignment_of("R-2")) == {"chair@melun": 100}
    assert [a.start for a in plan.requests] == [a.start for a in assignments]


def test_the_cpsat_stage_lowers_km_of_a_valid_plan(make_problem, make_request, serve, at):
    problem, assignments = _two_requests(make_problem, make_request, serve, at)
    clock = _Clock(OPTIONS, len(problem.requests))
    key = _key_of(problem, assignments)
    found = _final_draws(Instance(problem), problem, assignments, key, OPTIONS, clock)
    plan = _plan(problem, found)
    assert plan.metrics.km == 36.0
    assert plan.metrics.served == 2


def test_a_split_line_is_joined_on_its_nearest_pool(make_problem, make_request, serve, at):
    request = make_request(id="R-1", site="melun", lines=[("chair", 80)])
    problem = make_problem(requests=[request])
    assignments = [serve(request, [("chair@depot", 40), ("chair@melun", 40)])]
    found = improve_draws(Instance(problem), assignments, set(), OPTIONS, 5.0)
    assert found is not None
    assert _pools(found[0]) == {"chair@melun": 80}
    assert _plan(problem, found).metrics.km == 0.0


def test_draws_that_cannot_be_bettered_are_left_alone(make_problem, make_request, serve, at):
    request = make_request(id="R-1", site="melun", lines=[("chair", 100)])
    problem = make_problem(requests=[request])
    assignments = [serve(request, [("chair@melun", 100)])]
    assert improve_draws(Instance(problem), assignments, set(), OPTIONS, 5.0) is None


def test_capacity_over_turnaround_is_respected(make_problem, make_request, serve, at):
    # R-2 starts 30 minutes after R-1 ends: within the chairs' 60 min turnaround,
    # so both cannot draw 100 from chair@melun.
    first = make_request(id="R-1", site="melun", lines=[("chair", 100)], end=at(13, 18))
    second = make_request(
        id="R-2", site="melun", lines=[("chair", 100)], start=at(13, 18, 30), end=at(14, 18)
    )
    problem = make_problem(requests=[first, second])
    assignments = [
        serve(first, [("chair@depot", 100)]),
        serve(second, [("chair@melun", 100)]),
    ]
    found = improve_draws(Instance(problem), assignments, set(), OPTIONS, 5.0)
    assert found is None  # one of them must come from the depot: 20 km is the least


def test_a_locked_request_keeps_its_draws(make_problem, make_request, serve, at):
    melun = make_request(id="R-1", site="melun", lines=[("chair", 100)])
    locked = serve(melun, [("chair@melun", 100)])
    melun = make_request(id="R-1", site="melun", lines=[("chair", 100)], locked=locked)
    problem, assignments = _two_requests(make_problem, make_request, serve, at)
    problem = make_problem(requests=[melun, problem.requests[1]])
    assert improve_draws(Instance(problem), assignments, set(), OPTIONS, 5.0) is None


def test_requests_served_as_before_keep_their_pools(make_problem, make_request, serve, at):
    problem, assignments = _two_requests(make_problem, make_request, serve, at)
    previous = _plan(problem, assignments)
    problem, assignments = _two_requests(make_problem, make_request, serve, at, previous=previous)
    assert compute_metrics(problem, assignments).changed == 0
    inst = Instance(problem)
    assert improve_draws(inst, assignments, {"R-1", "R-2"}, OPTIONS, 5.0) is None
    clock = _Clock(OPTIONS, len(problem.requests))
    key = _key_of(problem, assignments)
    kept = _final_draws(inst, problem, assignments, key, OPTIONS, clock)
    assert compute_metrics(problem, kept).changed == 0
    assert compute_metrics(problem, kept).km == 40.0


def test_quantities_of_kept_pools_may_change(make_problem, make_request, serve, at):
    # R-1 kept on both pools: it may rebalance (changed counts pools only), which
    # frees chair@melun for R-2 at Dammarie.
    melun = make_request(id="R-1", site="melun", lines=[("chair", 120)])
    dammarie = make_request(id="R-2", site="dammarie", commune="dammarie", lines=[("chair", 20)])
    before = [serve(melun, [("chair@depot", 20), ("chair@melun", 100)])]
    previous = _plan(make_problem(requests=[melun, dammarie]), before)
    problem = make_problem(requests=[melun, dammarie], previous=previous)
    assignments = [
        serve(melun, [("chair@depot", 20), ("chair@melun", 100)]),
        serve(dammarie, [("chair@depot", 20)]),
    ]
    found = improve_draws(Instance(problem), assignments, {"R-1"}, OPTIONS, 5.0)
    assert found is not None
    plan = _plan(problem, found)
    kept = _pools(plan.assignment_of("R-1"))
    assert set(kept) == {"chair@depot", "chair@melun"}
    assert kept["chair@melun"] <= 80
    assert _pools(plan.assignment_of("R-2")) == {"chair@melun": 20}
    assert plan.metrics.changed == 0
    assert plan.metrics.km == 36.0


# --- against brute force ----------------------------------------------------------


def _best_km(problem, assignments) -> float:
    """The fewest km over every choice of draws, dates and units kept."""
    pooled = [
        (index, position)
        for index, a in enumerate(assignments)
        for position, line in enumerate(a.lines)
        if line.pools
    ]
    choices = []
    for index, position in pooled:
        line = assignments[index].lines[position]
        quantity = sum(d.quantity for d in line.pools)
        pools = [p for p in problem.pools if p.type == line.type]
        options = []
        for split in itertools.product(range(quantity + 1), repeat=len(pools)):
            if sum(split) == quantity:
                options.append(tuple(Draw(p.id, q) for p, q in zip(pools, split, strict=True) if q))
        choices.append(options)
    best = compute_metrics(problem, assignments).km
    for choice in itertools.product(*choices):
        changed = [list(a.lines) for a in assignments]
        for (index, position), draws in zip(pooled, choice, strict=True):
            changed[index][position] = LineAssignment(
                assignments[index].lines[position].type, pools=draws
            )
        candidate = [
            RequestAssignment(a.id, True, a.start, a.end, tuple(lines))
            for a, lines in zip(assignments, changed, strict=True)
        ]
        if not check_assignments(problem, candidate):
            best = min(best, compute_metrics(problem, candidate).km)
    return best


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_draws_reach_the_fewest_km_of_brute_force(data, make_problem, make_request, at):
    pools = [Pool("chair@depot", "chair", "depot", 3), Pool("chair@melun", "chair", "melun", 2)]
    requests = []
    for index in range(data.draw(st.integers(2, 3), label="requests")):
        day = data.draw(st.integers(2, 4), label="day")
        hours = data.draw(st.integers(4, 30), label="hours")
        start = at(day, 8)
        requests.append(
            make_request(
                id=f"R-{index}",
                site=data.draw(st.sampled_from(["depot", "melun", "dammarie"]), label="site"),
                start=start,
                end=start + timedelta(hours=hours),
                lines=[("chair", data.draw(st.integers(1, 3), label="quantity"))],
            )
        )
    problem = make_problem(requests=requests, units=[], pools=pools)
    start = solve_fcfs(problem, OPTIONS)
    assignments = [a for a in start.requests if a.served]
    before = compute_metrics(problem, assignments)
    found = improve_draws(Instance(problem), assignments, set(), OPTIONS, 5.0)
    after = assignments if found is None else found
    assert check_assignments(problem, after) == []
    metrics = compute_metrics(problem, after)
    assert metrics.km <= before.km
    assert (metrics.served_value, metrics.shift_minutes) == (
        before.served_value,
        before.shift_minutes,
    )
    assert [a.start for a in after] == [a.start for a in assignments]
    assert metrics.km == _best_km(problem, assignments)
