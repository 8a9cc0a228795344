"""Moving pooled lines one at a time to nearer pools (``solver.pools_local``).

Distances: depot-melun 10 km, depot-dammarie 20 km, melun-dammarie 8 km; a draw
costs twice its pool's distance to the request's site.
"""

from __future__ import annotations

import time
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from solver.baseline import solve_fcfs
from solver.check import check_assignments, compute_metrics
from solver.instance import Instance
from solver.options import SolveOptions
from solver.plan import RequestAssignment
from solver.pools import _with_draws, pooled_lines
from solver.pools_local import reinsert_nearest
from solver.problem import Pool, Problem

THREE_POOLS = [
    Pool("chair@depot", "chair", "depot", 300),
    Pool("chair@melun", "chair", "melun", 100),
    Pool("chair@dammarie", "chair", "dammarie", 50),
]


def moved(
    problem: Problem, assignments: list[RequestAssignment], kept: frozenset[str] = frozenset()
) -> dict[str, tuple[tuple[str, int], ...]]:
    """The new draws of the chair lines, by request."""
    inst = Instance(problem)
    lines = pooled_lines(inst, assignments, set(kept))["chair"]
    found = reinsert_nearest(inst, "chair", lines, time.monotonic() + 5)
    return {request: draws for (request, _line), draws in found.items()}


def test_a_far_draw_moves_to_the_nearest_pool_with_room(make_problem, make_request, serve):
    request = make_request(id="R-1", site="melun", lines=[("chair", 80)])
    problem = make_problem(requests=[request])
    assert moved(problem, [serve(request, [("chair@depot", 80)])]) == {
        "R-1": (("chair@melun", 80),)
    }


def test_a_line_is_split_when_two_near_pools_cost_less(make_problem, make_request, serve):
    # 120 chairs at Melun from the depot: 20 km. Melun's 100 and Dammarie's 20: 16 km.
    request = make_request(id="R-1", site="melun", lines=[("chair", 120)])
    problem = make_problem(requests=[request], pools=THREE_POOLS)
    assert moved(problem, [serve(request, [("chair@depot", 120)])]) == {
        "R-1": (("chair@melun", 100), ("chair@dammarie", 20))
    }


def test_a_split_costing_more_is_not_made(make_problem, make_request, serve):
    # 150 chairs at Dammarie from the depot: 40 km. Melun's 100 and the depot's other 50
    # would cost 16 + 40 = 56 km: the line stays.
    request = make_request(id="R-1", site="dammarie", commune="dammarie", lines=[("chair", 150)])
    problem = make_problem(requests=[request])
    assert moved(problem, [serve(request, [("chair@depot", 150)])]) == {}


def test_a_pool_busy_until_the_end_of_its_turnaround_is_not_used(
    make_problem, make_request, serve, at
):
    # R-2 takes Melun's 100 chairs 30 minutes after R-1 ends, within the 60 min turnaround.
    first = make_request(id="R-1", site="melun", lines=[("chair", 100)], end=at(13, 18))
    second = make_request(
        id="R-2", site="melun", lines=[("chair", 100)], start=at(13, 18, 30), end=at(14, 18)
    )
    problem = make_problem(requests=[first, second])
    assignments = [serve(first, [("chair@depot", 100)]), serve(second, [("chair@melun", 100)])]
    assert moved(problem, assignments) == {}

    # An hour and a half later, the chairs are back in time: R-1 moves to Melun.
    later = make_request(
        id="R-2", site="melun", lines=[("chair", 100)], start=at(13, 19, 30), end=at(14, 18)
    )
    problem = make_problem(requests=[first, later])
    assignments = [serve(first, [("chair@depot", 100)]), serve(later, [("chair@melun", 100)])]
    assert moved(problem, assignments) == {"R-1": (("chair@melun", 100),)}


def test_locked_lines_and_kept_pools_stay(make_problem, make_request, serve):
    request = make_request(id="R-1", site="melun", lines=[("chair", 80)])
    problem = make_problem(requests=[request])
    assignments = [serve(request, [("chair@depot", 80)])]
    assert moved(problem, assignments, kept=frozenset({"R-1"})) == {}

    locked = make_request(id="R-1", site="melun", lines=[("chair", 80)], locked=assignments[0])
    assert moved(make_problem(requests=[locked]), assignments) == {}


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_moves_keep_the_plan_valid_and_never_add_km(data, make_problem, make_request, at):
    pools = [Pool(p.id, p.type, p.site, data.draw(st.integers(1, 4))) for p in THREE_POOLS]
    requests = []
    for index in range(data.draw(st.integers(2, 6), label="requests")):
        start = at(data.draw(st.integers(2, 5), label="day"), data.draw(st.integers(6, 18)))
        requests.append(
            make_request(
                id=f"R-{index}",
                site=data.draw(st.sampled_from(["depot", "melun", "dammarie"]), label="site"),
                start=start,
                end=start + timedelta(hours=data.draw(st.integers(1, 40), label="hours")),
                lines=[("chair", data.draw(st.integers(1, 4), label="quantity"))],
            )
        )
    problem = make_problem(requests=requests, units=[], pools=pools)
    served = [
        a for a in solve_fcfs(problem, SolveOptions(time_limit_seconds=5)).requests if a.served
    ]
    inst = Instance(problem)
    lines = pooled_lines(inst, served, set()).get("chair", [])
    found = reinsert_nearest(inst, "chair", lines, time.monotonic() + 5)
    after = [_with_draws(a, found) for a in served]

    assert check_assignments(problem, after) == []
    assert compute_metrics(problem, after).km <= compute_metrics(problem, served).km
    for (request, _line), draws in found.items():
        before = next(a for a in served if a.id == request)
        assert sum(q for _pool, q in draws) == sum(d.quantity for d in before.lines[0].pools)
