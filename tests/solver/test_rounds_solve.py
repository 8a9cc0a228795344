"""The rounds optimiser on small hand-built days; every plan goes through the checker."""

from __future__ import annotations

from itertools import pairwise, permutations, product

import pytest

from solver.rounds.check import check_rounds
from solver.rounds.model import DropReason, Item, RoundsPlan, RoundsProblem, StopKind, Window
from solver.rounds.routing import RoundsOptions, solve_rounds
from solver.rounds.schedule import load_profile, schedule
from solver.rounds.travel import RoundsTravel
from tests.solver.rounds_world import lunch, make_problem, make_stop, make_truck, t, transfer

FAST = RoundsOptions(time_limit_seconds=1.0, seed=0)


def solve(problem: RoundsProblem) -> RoundsPlan:
    plan = solve_rounds(problem, FAST)
    assert [str(v) for v in check_rounds(problem, plan)] == []
    return plan


def orders(plan: RoundsPlan) -> dict[str, list[str]]:
    return {r.truck: [v.stop for v in r.visits] for r in plan.routes}


def reasons(plan: RoundsPlan) -> dict[str, DropReason]:
    return {d.stop: d.reason for d in plan.dropped}


def brute_force_km(problem: RoundsProblem) -> float:
    """The least km serving every stop: every split over trucks, every order."""
    travel = RoundsTravel(problem)
    best = float("inf")
    stops = problem.stops
    for owners in product(range(len(problem.trucks)), repeat=len(stops)):
        total = 0.0
        for v, truck in enumerate(problem.trucks):
            mine = [s for s, owner in zip(stops, owners, strict=True) if owner == v]
            if not mine:
                continue
            least = float("inf")
            for order in permutations(mine):
                start, after = load_profile(problem, order)
                if max([start, *after]) > truck.capacity:
                    continue
                if schedule(problem, travel, truck, order) is None:
                    continue
                sites = [truck.depot, *(s.site for s in order), truck.depot]
                least = min(least, sum(travel.km(a, b) for a, b in pairwise(sites)))
            total += least
        best = min(best, total)
    return best


def test_one_truck_serves_three_communes_in_one_round() -> None:
    stops = [make_stop(id="A", site="a"), make_stop(id="B", site="b"), make_stop(id="C", site="c")]
    plan = solve(make_problem(stops=stops))
    assert plan.metrics.served == 3
    assert plan.metrics.trucks_used == 1
    # depot-a-b-c-depot = 10 + 12 + 15 + 30, or its reverse: less than three trips (120 km).
    assert plan.metrics.km == pytest.approx(67.0)


def test_optimal_on_a_tiny_day_against_every_order() -> None:
    stops = [
        make_stop(id="A", site="a", load=4),
        make_stop(id="B", site="b", load=3, window=Window(t(9), t(10))),
        make_stop(id="C", site="c", load=3),
        make_stop(id="D", site="d", kind=StopKind.COLLECTION, load=5),
        make_stop(id="A2", site="a", kind=StopKind.COLLECTION, load=2, window=Window(t(13), t(14))),
    ]
    trucks = [make_truck(id="T1", capacity=10), make_truck(id="T2", capacity=6, depot="depot2")]
    problem = make_problem(stops=stops, trucks=trucks, listed=False)
    plan = solve(problem)
    assert plan.metrics.served == 5
    assert plan.metrics.km == pytest.approx(brute_force_km(problem), abs=1e-6)


def test_capacity_splits_the_deliveries_over_two_trucks() -> None:
    stops = [make_stop(id="A", site="a", load=7), make_stop(id="B", site="b", load=7)]
    trucks = [make_truck(id="T1"), make_truck(id="T2")]
    plan = solve(make_problem(stops=stops, trucks=trucks))
    assert plan.metrics.trucks_used == 2
    assert sorted(r.load_at_depot for r in plan.routes) == [7, 7]


def test_collections_come_back_to_the_depot_and_deliveries_leave_it() -> None:
    stops = [
        make_stop(id="C", site="a", kind=StopKind.COLLECTION, load=8),
        make_stop(id="D", site="b", load=8),
    ]
    plan = solve(make_problem(stops=stops))
    # One truck of 10: deliver first, then collect.
    assert orders(plan) == {"T1": ["D", "C"]}
    assert plan.routes[0].load_at_depot == 8


def test_each_depot_serves_its_own_side() -> None:
    stops = [make_stop(id="NEAR2", site="b"), make_stop(id="NEAR1", site="d")]
    trucks = [make_truck(id="T1"), make_truck(id="T2", depot="depot2")]
    plan = solve(make_problem(stops=stops, trucks=trucks, listed=False))
    assert orders(plan) == {"T1": ["NEAR1"], "T2": ["NEAR2"]}


def test_the_driver_takes_the_break_within_its_window() -> None:
    stops = [
        make_stop(id="A", site="a", window=Window(t(11), t(12))),
        make_stop(id="B", site="b", window=Window(t(12), t(13))),
    ]
    truck = make_truck(driver_break=lunch(45))
    plan = solve(make_problem(stops=stops, trucks=[truck]))
    brk = plan.routes[0].driver_break
    assert brk is not None
    assert t(11, 30) <= brk.start <= t(13, 30)
    assert plan.metrics.served == 2


def test_a_transfer_goes_straight_from_one_commune_to_the_next() -> None:
    stops = [
        make_stop(id="C", site="a", kind=StopKind.COLLECTION, load=6),
        make_stop(id="D", site="b", load=6, window=Window(t(10), t(12))),
        make_stop(id="E", site="c", load=6),
    ]
    problem = make_problem(stops=stops, transfers=[transfer("C", "D")])
    plan = solve(problem)
    order = orders(plan)["T1"]
    assert order.index("C") < order.index("D")
    # Only E's 6 leave the depot; E must be unloaded before C's 6 come on board.
    assert plan.routes[0].load_at_depot == 6
    assert order.index("E") < order.index("C")


def test_too_big_stops_are_dropped_with_their_reason_and_the_day_goes_on() -> None:
    stops = [
        make_stop(id="STAGE", items=(Item("podium-8x6", 1, 16),)),
        make_stop(id="OK", site="b"),
    ]
    plan = solve(make_problem(stops=stops))
    assert reasons(plan) == {"STAGE": DropReason.TOO_BIG}
    assert "exceeds the capacity of every truck" in plan.dropped[0].detail
    assert orders(plan) == {"T1": ["OK"]}


def test_an_unreachable_window_is_dropped_with_its_times() -> None:
    stops = [
        make_stop(id="EARLY", site="c", window=Window(t(7), t(7, 30))),  # 45 min away
        make_stop(id="LATE", site="a", window=Window(t(16, 55), t(17))),  # 15 min back
        make_stop(id="OK", site="b"),
    ]
    plan = solve(make_problem(stops=stops))
    assert reasons(plan) == {
        "EARLY": DropReason.WINDOW_UNREACHABLE,
        "LATE": DropReason.WINDOW_UNREACHABLE,
    }
    detail = {d.stop: d.detail for d in plan.dropped}
    assert "earliest arrival from a depot is 2027-06-18 07:45" in detail["EARLY"]
    assert "back at its depot" in detail["LATE"]


def test_a_transfer_whose_collection_is_impossible_drops_its_delivery_too() -> None:
    stops = [
        make_stop(id="C", site="a", kind=StopKind.COLLECTION, load=12, items=(Item("x", 1, 12),)),
        make_stop(id="D", site="b", load=5, items=(Item("x", 1, 5),)),
    ]
    plan = solve(make_problem(stops=stops, transfers=[transfer("C", "D")]))
    assert reasons(plan) == {"C": DropReason.TOO_BIG, "D": DropReason.TRANSFER_PARTNER}


def test_a_transfer_in_the_wrong_order_of_windows_is_unreachable() -> None:
    stops = [
        make_stop(id="C", site="a", kind=StopKind.COLLECTION, window=Window(t(14), t(15))),
        make_stop(id="D", site="b", window=Window(t(8), t(9))),
    ]
    plan = solve(make_problem(stops=stops, transfers=[transfer("C", "D")]))
    assert reasons(plan) == {
        "C": DropReason.WINDOW_UNREACHABLE,
        "D": DropReason.WINDOW_UNREACHABLE,
    }


def test_stops_that_fit_alone_but_not_together_are_not_routed() -> None:
    # Both at 08:00 sharp, 12 km apart, one truck: only one can be served.
    stops = [
        make_stop(id="A", site="a", window=Window(t(8), t(8))),
        make_stop(id="B", site="b", window=Window(t(8), t(8))),
    ]
    plan = solve(make_problem(stops=stops))
    assert plan.metrics.served == 1
    assert list(reasons(plan).values()) == [DropReason.NOT_ROUTED]


def test_a_day_with_no_possible_stop_is_a_plan_without_routes() -> None:
    stops = [make_stop(id="X", items=(Item("podium", 1, 99),))]
    plan = solve(make_problem(stops=stops))
    assert plan.routes == ()
    assert plan.metrics.dropped == 1


def test_the_same_seed_gives_the_same_rounds() -> None:
    stops = [make_stop(id=f"S{i}", site=site) for i, site in enumerate("abcdab")]
    trucks = [make_truck(id="T1", capacity=6), make_truck(id="T2", capacity=6)]
    problem = make_problem(stops=stops, trucks=trucks, listed=False)
    assert orders(solve(problem)) == orders(solve(problem))


def test_a_stop_too_big_for_one_truck_goes_on_the_other() -> None:
    # The small truck at depot2 is nearer to b, but only the big one can carry 8.
    stops = [make_stop(id="BIG", site="b", load=8), make_stop(id="SMALL", site="d", load=2)]
    trucks = [make_truck(id="T1", capacity=10), make_truck(id="T2", capacity=6, depot="depot2")]
    plan = solve(make_problem(stops=stops, trucks=trucks, listed=False))
    assert plan.metrics.served == 2
    assert "BIG" in orders(plan)["T1"]


def test_a_stop_outside_one_drivers_day_goes_to_the_other_driver() -> None:
    stops = [make_stop(id="LATE", site="a", window=Window(t(16), t(16, 30)))]
    trucks = [
        make_truck(id="EARLY", shift=Window(t(6), t(14))),
        make_truck(id="LATER", shift=Window(t(9), t(18))),
    ]
    plan = solve(make_problem(stops=stops, trucks=trucks))
    assert orders(plan) == {"LATER": ["LATE"]}
