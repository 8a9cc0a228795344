"""Replanning groups of nearby rounds (``solver.rounds.lns``); plans go through the checker."""

from __future__ import annotations

import random
import time
from collections.abc import Sequence

import pytest

from solver.rounds.check import check_rounds
from solver.rounds.lns import LnsOptions, Orders, RoundCost, group_problem, improve
from solver.rounds.model import RoundsProblem, Site, Stop, StopKind, Truck, Window
from solver.rounds.routing import (
    RoundsOptions,
    _route_orders,
    _search_parameters,
    make_route,
    route_cost,
    solve_rounds,
)
from solver.rounds.screen import screen
from solver.rounds.travel import RoundsTravel
from tests.solver.rounds_world import make_problem, make_stop, make_truck, planned, t, transfer


def km_cost(problem: RoundsProblem) -> tuple[RoundsTravel, RoundCost]:
    travel = RoundsTravel(problem)

    def cost(truck: Truck, stops: Sequence[Stop]) -> float | None:
        route = make_route(problem, travel, truck, stops)
        return None if route is None else route_cost(truck, route)

    return travel, cost


def orders_of(problem: RoundsProblem, rounds: dict[str, list[str]]) -> Orders:
    return {truck: [problem.stop_by_id[s] for s in ids] for truck, ids in rounds.items()}


def ids(orders: Orders) -> dict[str, list[str]]:
    return {truck: [s.id for s in stops] for truck, stops in orders.items() if stops}


def far_future() -> float:
    return time.monotonic() + 60


TWO_TRUCKS = [make_truck(id="T1"), make_truck(id="T2")]
STOPS = [make_stop(id="A", site="a"), make_stop(id="B", site="b"), make_stop(id="C", site="c")]


def test_a_better_group_replaces_the_rounds_it_covers() -> None:
    problem = make_problem(stops=STOPS, trucks=TWO_TRUCKS)
    _, cost = km_cost(problem)
    start = orders_of(problem, {"T1": ["A", "C"], "T2": ["B"]})  # 10+25+30 + 20+20 = 105 km

    def one_round(group: RoundsProblem, rng: random.Random) -> Orders:
        return {"T1": [group.stop_by_id[s] for s in ("A", "B", "C")]}  # 67 km

    best, stats = improve(problem, start, [], one_round, cost, far_future(), 0)
    assert ids(best) == {"T1": ["A", "B", "C"]}
    assert stats.improved == 1
    assert check_rounds(problem, planned(problem, ids(best))) == []


def test_a_worse_or_infeasible_group_is_never_kept() -> None:
    problem = make_problem(stops=STOPS, trucks=TWO_TRUCKS)
    _, cost = km_cost(problem)
    start = orders_of(problem, {"T1": ["A", "B", "C"]})
    proposals = [
        {"T1": ["C", "A"], "T2": ["B"]},  # more km
        {"T1": ["A", "B"]},  # serves fewer stops
        {"T1": ["A", "B", "C", "A"]},  # serves A twice
        {"T1": ["A", "B", "C"], "T3": ["A"]},  # a truck outside the group
    ]
    calls = 0

    def worse(group: RoundsProblem, rng: random.Random) -> Orders:
        nonlocal calls
        calls += 1
        return orders_of(group, proposals[calls % len(proposals)])

    best, stats = improve(
        problem,
        start,
        [],
        worse,
        cost,
        far_future(),
        0,
        LnsOptions(stall=10),
    )
    assert ids(best) == {"T1": ["A", "B", "C"]}
    assert stats.improved == 0
    assert calls == stats.groups <= 10


def test_an_unrouted_stop_is_offered_again_and_served() -> None:
    problem = make_problem(stops=STOPS, trucks=TWO_TRUCKS)
    _, cost = km_cost(problem)
    start = orders_of(problem, {"T1": ["A", "B"]})
    offered: list[set[str]] = []

    def serve_all(group: RoundsProblem, rng: random.Random) -> Orders:
        offered.append({s.id for s in group.stops})
        return {"T1": [group.stop_by_id[s] for s in ("A", "B", "C")]}

    best, _ = improve(
        problem,
        start,
        [problem.stop_by_id["C"]],
        serve_all,
        cost,
        far_future(),
        0,
    )
    assert offered[0] == {"A", "B", "C"}
    assert ids(best) == {"T1": ["A", "B", "C"]}


def test_a_group_keeps_its_transfers_and_only_its_own() -> None:
    stops = [
        make_stop(id="C", site="a", kind=StopKind.COLLECTION),
        make_stop(id="D", site="b"),
        make_stop(id="E", site="c"),
        make_stop(id="F", site="c", kind=StopKind.COLLECTION),
        make_stop(id="G", site="a"),
    ]
    problem = make_problem(stops=stops, transfers=[transfer("C", "D"), transfer("F", "G")])
    group = group_problem(problem, ["T1"], [problem.stop_by_id[s] for s in ("C", "D", "E", "F")])
    assert [s.id for s in group.stops] == ["C", "D", "E", "F"]
    assert [(x.collection, x.delivery) for x in group.transfers] == [("C", "D")]
    assert [x.id for x in group.trucks] == ["T1"]


def busy_day(seed: int) -> RoundsProblem:
    """Two depots, six trucks nearly full, 30 deliveries and collections around them."""
    rng = random.Random(seed)
    depots = [Site("north", "North", 48.60, 2.60), Site("south", "South", 48.45, 2.70)]
    sites = [
        Site(f"s{i}", f"Site {i}", 48.42 + rng.random() * 0.22, 2.52 + rng.random() * 0.26)
        for i in range(30)
    ]
    stops = [
        make_stop(
            id=f"S{i}",
            site=site.id,
            kind=StopKind.COLLECTION if i % 5 == 0 else StopKind.DELIVERY,
            load=rng.choice([1, 2, 3, 4, 6]),
            window=Window(t(8), t(16)),
        )
        for i, site in enumerate(sites)
    ]
    trucks = [
        make_truck(id=f"{d.id}-{n}", depot=d.id, capacity=16, shift=Window(t(7, 30), t(16, 30)))
        for d in depots
        for n in (1, 2, 3)
    ]
    return make_problem(stops=stops, trucks=trucks, sites=[*depots, *sites], listed=False)


@pytest.mark.parametrize("seed", [1, 2])
def test_replanning_groups_never_loses_to_the_descent_it_starts_from(seed: int) -> None:
    problem = busy_day(seed)
    travel = RoundsTravel(problem)
    eligible = screen(problem, travel).eligible
    stops = [s for s in problem.stops if s.id in eligible]
    descent = _search_parameters(30, 1)  # GREEDY_DESCENT
    first = _route_orders(problem, travel, stops, eligible, descent, 0)
    assert first is not None
    first_km = sum(
        r.km
        for v, order in first.items()
        if (r := make_route(problem, travel, problem.trucks[v], order)) is not None
    )
    plan = solve_rounds(problem, RoundsOptions(time_limit_seconds=1.5, seed=0))
    assert [str(v) for v in check_rounds(problem, plan)] == []
    assert plan.metrics.served == sum(len(o) for o in first.values())
    assert plan.metrics.km <= first_km + 1e-6
