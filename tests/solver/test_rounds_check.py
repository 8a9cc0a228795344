"""The rounds checker, rule by rule: one test where the rule holds, one where it breaks."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from solver.rounds.check import check_rounds
from solver.rounds.model import (
    Dropped,
    DropReason,
    Item,
    RoundsPlan,
    RoundsProblem,
    StopKind,
    Visit,
    Window,
)
from tests.solver.rounds_world import (
    lunch,
    make_problem,
    make_stop,
    make_truck,
    planned,
    t,
    transfer,
    with_route,
)

MINUTE = timedelta(minutes=1)


def rules(problem: RoundsProblem, plan: RoundsPlan) -> set[str]:
    return {v.rule for v in check_rounds(problem, plan)}


def shift_visit(plan: RoundsPlan, position: int, minutes: int) -> RoundsPlan:
    visits = list(plan.routes[0].visits)
    v = visits[position]
    visits[position] = Visit(v.stop, v.arrival + minutes * MINUTE, v.departure + minutes * MINUTE)
    return with_route(plan, visits=tuple(visits))


# -- a hand-timed round, to pin the schedule the checker accepts -------------


def test_a_hand_timed_round_is_valid_and_adds_up() -> None:
    stops = [make_stop(id="S1", site="a"), make_stop(id="S2", site="b", load=3)]
    problem = make_problem(stops=stops)
    plan = planned(problem, {"T1": ["S1", "S2"]})
    route = plan.routes[0]
    # 07:00 + 15 min to a, 10 min service, 18 min to b, 10 min, 30 min back.
    assert [(v.arrival, v.departure) for v in route.visits] == [
        (t(7, 15), t(7, 25)),
        (t(7, 43), t(7, 53)),
    ]
    assert (route.depart, route.back) == (t(7), t(8, 23))
    assert route.km == 10 + 12 + 20
    assert route.load_at_depot == 5
    assert check_rounds(problem, plan) == []


# -- capacity -----------------------------------------------------------------


def test_capacity_holds_at_exactly_the_capacity() -> None:
    stops = [make_stop(id="S1", load=6), make_stop(id="S2", site="b", load=4)]
    problem = make_problem(stops=stops)
    assert rules(problem, planned(problem, {"T1": ["S1", "S2"]})) == set()


def test_capacity_is_violated_when_the_depot_loads_too_much() -> None:
    stops = [make_stop(id="S1", load=6), make_stop(id="S2", site="b", load=4)]
    big = make_problem(stops=stops, trucks=[make_truck(capacity=20)])
    plan = planned(big, {"T1": ["S1", "S2"]})
    small = make_problem(stops=stops, trucks=[make_truck(capacity=9)])
    assert rules(small, plan) == {"capacity"}


def test_capacity_is_violated_by_a_collection_on_a_full_truck() -> None:
    stops = [
        make_stop(id="C1", kind=StopKind.COLLECTION, load=5),
        make_stop(id="D1", site="b", load=8),
    ]
    problem = make_problem(stops=stops, trucks=[make_truck(capacity=12)])
    assert rules(problem, planned(problem, {"T1": ["D1", "C1"]})) == set()
    assert rules(problem, planned(problem, {"T1": ["C1", "D1"]})) == {"capacity"}


def test_capacity_counts_load_at_depot_as_written() -> None:
    problem = make_problem()
    plan = planned(problem, {"T1": ["S1"]})
    assert rules(problem, with_route(plan, load_at_depot=3)) == {"capacity"}


# -- time windows -------------------------------------------------------------


def test_time_window_holds_when_the_truck_waits_for_it() -> None:
    problem = make_problem(stops=[make_stop(window=Window(t(9), t(10)))])
    plan = planned(problem, {"T1": ["S1"]})
    assert plan.routes[0].visits[0].arrival == t(9)
    assert rules(problem, plan) == set()


def test_time_window_is_violated_by_a_late_service() -> None:
    problem = make_problem(stops=[make_stop(window=Window(t(9), t(10)))])
    plan = shift_visit(planned(problem, {"T1": ["S1"]}), 0, 61)
    plan = with_route(plan, back=plan.routes[0].back + 61 * MINUTE)
    assert rules(problem, plan) == {"time_window", "metrics"}  # duty grows too


def test_time_window_is_violated_by_a_short_service() -> None:
    problem = make_problem()
    plan = planned(problem, {"T1": ["S1"]})
    visit = plan.routes[0].visits[0]
    short = replace(visit, departure=visit.departure - 5 * MINUTE)
    assert "time_window" in rules(problem, with_route(plan, visits=(short,)))


# -- travel -------------------------------------------------------------------


def test_travel_is_violated_when_a_stop_is_reached_too_soon() -> None:
    stops = [make_stop(id="S1"), make_stop(id="S2", site="b")]
    problem = make_problem(stops=stops)
    plan = shift_visit(planned(problem, {"T1": ["S1", "S2"]}), 1, -5)
    assert rules(problem, plan) == {"travel"}


# -- the driver's day ---------------------------------------------------------


def test_driver_day_is_violated_by_leaving_before_the_shift() -> None:
    problem = make_problem()
    plan = planned(problem, {"T1": ["S1"]})
    assert rules(problem, with_route(plan, depart=t(6, 30))) == {"driver_day", "metrics"}


def test_driver_day_is_violated_by_coming_back_late() -> None:
    stops = [make_stop(window=Window(t(16, 30), t(16, 50)))]
    problem = make_problem(stops=stops)
    assert rules(problem, planned(problem, {"T1": ["S1"]})) == set()
    long_day = make_problem(stops=stops, trucks=[make_truck(shift=Window(t(7), t(18)))])
    late = shift_visit(planned(long_day, {"T1": ["S1"]}), 0, 15)
    late = with_route(late, back=late.routes[0].back + 15 * MINUTE)
    late = replace(late, metrics=replace(late.metrics, duty_minutes=late.metrics.duty_minutes + 15))
    assert late.routes[0].back == t(17, 10)
    assert rules(problem, late) == {"driver_day"}


def test_driver_day_is_violated_without_time_to_drive_back() -> None:
    problem = make_problem()
    plan = planned(problem, {"T1": ["S1"]})
    early = plan.routes[0].visits[0].departure + 5 * MINUTE
    assert "driver_day" in rules(problem, with_route(plan, back=early))


# -- the break ----------------------------------------------------------------


def test_break_holds_on_a_leg_that_makes_room_for_it() -> None:
    stops = [
        make_stop(id="S1", window=Window(t(11, 0), t(11, 30))),
        make_stop(id="S2", site="b", window=Window(t(12, 0), t(13, 0))),
    ]
    problem = make_problem(stops=stops, trucks=[make_truck(driver_break=lunch())])
    plan = planned(problem, {"T1": ["S1", "S2"]})
    brk = plan.routes[0].driver_break
    assert brk is not None and brk.start >= t(11, 30)
    assert rules(problem, plan) == set()


def test_break_is_violated_when_missing() -> None:
    problem = make_problem(trucks=[make_truck(driver_break=lunch())])
    plan = planned(problem, {"T1": ["S1"]})
    assert rules(problem, with_route(plan, driver_break=None)) == {"break"}


def test_break_is_violated_when_too_short_or_outside_its_window() -> None:
    problem = make_problem(trucks=[make_truck(driver_break=lunch())])
    plan = planned(problem, {"T1": ["S1"]})
    assert rules(problem, with_route(plan, driver_break=Window(t(12), t(12, 30)))) == {"break"}
    assert rules(problem, with_route(plan, driver_break=Window(t(14), t(14, 45)))) == {"break"}


def test_break_is_violated_during_a_service() -> None:
    problem = make_problem(
        stops=[make_stop(window=Window(t(12), t(12)), service_minutes=30)],
        trucks=[make_truck(driver_break=lunch(30))],
    )
    plan = planned(problem, {"T1": ["S1"]})
    assert rules(problem, plan) == set()
    assert rules(problem, with_route(plan, driver_break=Window(t(12, 10), t(12, 40)))) == {"break"}


def test_break_on_a_leg_without_room_breaks_travel() -> None:
    stops = [
        make_stop(id="S1", window=Window(t(11), t(11))),
        make_stop(id="S2", site="b", window=Window(t(11), t(17))),
    ]
    brk = lunch(earliest=t(11))
    problem = make_problem(stops=stops, trucks=[make_truck(driver_break=brk)])
    plan = planned(problem, {"T1": ["S1", "S2"]})
    assert rules(problem, plan) == set()
    # S1 ends at 11:10; 18 min of drive and a 45 min break do not fit before 11:58.
    visits = (plan.routes[0].visits[0], Visit("S2", t(11, 58), t(12, 8)))
    bad = with_route(plan, visits=visits, driver_break=Window(t(11, 10), t(11, 55)), back=t(12, 38))
    bad = replace(bad, metrics=replace(bad.metrics, duty_minutes=(12 * 60 + 38) - (10 * 60 + 45)))
    assert plan.routes[0].depart == t(10, 45)
    assert rules(problem, bad) == {"travel"}


def test_a_truck_without_break_may_not_claim_one() -> None:
    problem = make_problem()
    plan = planned(problem, {"T1": ["S1"]})
    assert rules(problem, with_route(plan, driver_break=Window(t(12), t(12, 45)))) == {"break"}


# -- pairing ------------------------------------------------------------------


def pair_problem() -> RoundsProblem:
    stops = [
        make_stop(id="C1", kind=StopKind.COLLECTION, site="a", load=4),
        make_stop(id="D1", site="b", load=4),
    ]
    trucks = [make_truck(id="T1"), make_truck(id="T2")]
    return make_problem(stops=stops, trucks=trucks, transfers=[transfer("C1", "D1")])


def test_pairing_holds_collection_then_delivery_on_one_truck() -> None:
    problem = pair_problem()
    plan = planned(problem, {"T1": ["C1", "D1"]})
    assert plan.routes[0].load_at_depot == 0
    assert rules(problem, plan) == set()


def test_pairing_is_violated_by_delivering_first() -> None:
    problem = pair_problem()
    assert "pairing" in rules(problem, planned(problem, {"T1": ["D1", "C1"]}))


def test_pairing_is_violated_by_two_trucks() -> None:
    problem = pair_problem()
    assert "pairing" in rules(problem, planned(problem, {"T1": ["C1"], "T2": ["D1"]}))


def test_pairing_is_violated_by_serving_half_a_transfer() -> None:
    problem = pair_problem()
    assert "pairing" in rules(problem, planned(problem, {"T1": ["C1"]}))


# -- every stop served or explained --------------------------------------------


def test_explained_is_violated_by_a_forgotten_stop() -> None:
    problem = make_problem(stops=[make_stop(id="S1"), make_stop(id="S2", site="b")])
    plan = planned(problem, {"T1": ["S1"]})
    assert rules(problem, plan) == set()
    forgot = replace(plan, dropped=(), metrics=replace(plan.metrics, dropped=0))
    assert rules(problem, forgot) == {"explained"}


def test_explained_is_violated_by_a_stop_served_twice() -> None:
    problem = make_problem(trucks=[make_truck(id="T1"), make_truck(id="T2")])
    plan = planned(problem, {"T1": ["S1"], "T2": ["S1"]})
    assert "explained" in rules(problem, plan)


def test_explained_refuses_a_false_too_big() -> None:
    problem = make_problem(stops=[make_stop(id="S1"), make_stop(id="S2", site="b")])
    plan = planned(problem, {"T1": ["S1"]})
    lie = replace(plan, dropped=(Dropped("S2", DropReason.TOO_BIG, "too big"),))
    assert rules(problem, lie) == {"explained"}
    huge = make_problem(
        stops=[make_stop(id="S1"), make_stop(id="S2", items=(Item("podium", 1, 16),))]
    )
    assert rules(huge, lie) == set()


# -- plan and metrics ---------------------------------------------------------


def test_plan_is_violated_by_an_unknown_truck() -> None:
    problem = make_problem()
    plan = with_route(planned(problem, {"T1": ["S1"]}), truck="T9")
    assert "plan" in rules(problem, plan)


def test_plan_for_another_problem_is_refused_by_its_sha() -> None:
    problem = make_problem()
    plan = replace(planned(problem, {"T1": ["S1"]}), problem="ab" * 32)
    assert rules(problem, plan) == set()
    assert {v.rule for v in check_rounds(problem, plan, "cd" * 32)} == {"plan"}


def test_metrics_are_violated_by_wrong_km() -> None:
    problem = make_problem()
    plan = planned(problem, {"T1": ["S1"]})
    assert rules(problem, with_route(plan, km=plan.routes[0].km - 1)) == {"metrics"}
    wrong = replace(plan, metrics=replace(plan.metrics, km=plan.metrics.km + 1))
    assert rules(problem, wrong) == {"metrics"}
