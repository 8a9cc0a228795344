"""First-come-first-served and greedy strategies, on tiny and generated problems."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from bench.generate import generate
from solver.baseline import solve_fcfs, solve_greedy
from solver.check import check_plan
from solver.io import problem_from_json
from solver.options import SolveOptions
from solver.plan import Draw, Metrics, Plan, SolverInfo, Status
from solver.problem import Problem, Unit
from tests.solver.conftest import PARIS_SUMMER, at, pools_line, units_line

OPTIONS = SolveOptions(time_limit_seconds=10, workers=1, seed=0)
ONE_PODIUM = [Unit("POD-1", "podium", "depot")]


def submitted(day: int) -> datetime:
    return datetime(2027, 3, day, 10, 0, tzinfo=PARIS_SUMMER)


def solved(problem: Problem, strategy: str) -> dict[str, object]:
    plan = solve_fcfs(problem, OPTIONS) if strategy == "fcfs" else solve_greedy(problem, OPTIONS)
    assert check_plan(problem, plan) == []
    assert plan.status is Status.BASELINE
    return {a.id: a for a in plan.requests}


def test_fcfs_serves_the_earlier_request_whatever_its_priority(make_problem, make_request) -> None:
    early_low = make_request(id="R-1", priority=1, submitted_at=submitted(1))
    late_high = make_request(id="R-2", priority=4, submitted_at=submitted(5))
    problem = make_problem(units=ONE_PODIUM, requests=[late_high, early_low])
    fcfs = solved(problem, "fcfs")
    assert fcfs["R-1"].served and not fcfs["R-2"].served
    assert fcfs["R-2"].reason  # an unserved request says why
    greedy = solved(problem, "greedy")
    assert greedy["R-2"].served and not greedy["R-1"].served


def test_fcfs_breaks_submission_ties_by_id(make_problem, make_request) -> None:
    first = make_request(id="R-1", submitted_at=submitted(1))
    second = make_request(id="R-2", submitted_at=submitted(1))
    problem = make_problem(units=ONE_PODIUM, requests=[second, first])
    fcfs = solved(problem, "fcfs")
    assert fcfs["R-1"].served and not fcfs["R-2"].served


def test_fcfs_never_shifts_but_greedy_does(make_problem, make_request) -> None:
    first = make_request(id="R-1", submitted_at=submitted(1))
    movable = make_request(
        id="R-2", submitted_at=submitted(2), start=at(14, 8), end=at(15, 18), latest_end=at(19, 18)
    )
    problem = make_problem(units=ONE_PODIUM, requests=[first, movable])
    fcfs = solved(problem, "fcfs")
    assert not fcfs["R-2"].served
    greedy = solved(problem, "greedy")
    assert greedy["R-1"].served and greedy["R-2"].served
    # The smallest feasible shift: right after R-1 ends (15 July 18:00) plus turnaround.
    assert greedy["R-2"].start == at(15, 22)


def test_fcfs_serves_all_lines_or_nothing(make_problem, make_request) -> None:
    too_many_chairs = make_request(
        id="R-1", submitted_at=submitted(1), lines=[("podium", 1), ("chair", 500)]
    )
    podium_only = make_request(id="R-2", submitted_at=submitted(2))
    problem = make_problem(units=ONE_PODIUM, requests=[too_many_chairs, podium_only])
    fcfs = solved(problem, "fcfs")
    assert not fcfs["R-1"].served
    assert fcfs["R-2"].served and fcfs["R-2"].lines[0].units == ("POD-1",)


def test_fcfs_uses_substitutes_only_after_own_type(make_problem, make_request) -> None:
    first = make_request(id="R-1", submitted_at=submitted(1), lines=[("minibus-9", 1)])
    second = make_request(id="R-2", submitted_at=submitted(2), lines=[("minibus-9", 1)])
    third = make_request(id="R-3", submitted_at=submitted(3), lines=[("minibus-9", 1)])
    problem = make_problem(requests=[first, second, third])
    fcfs = solved(problem, "fcfs")
    assert fcfs["R-1"].lines[0].units == ("MB9-1",)
    assert fcfs["R-2"].lines[0].units == ("MB12-1",)
    assert not fcfs["R-3"].served


def test_fcfs_splits_a_draw_across_pools_in_id_order(make_problem, make_request) -> None:
    request = make_request(lines=[("chair", 350)])
    fcfs = solved(make_problem(requests=[request]), "fcfs")
    assert fcfs["R-0001"].lines[0].pools == (Draw("chair@depot", 300), Draw("chair@melun", 50))


def test_greedy_draws_from_the_nearest_pools(make_problem, make_request) -> None:
    small = make_request(id="R-1", lines=[("chair", 80)])
    problem = make_problem(requests=[small])
    assert solved(problem, "fcfs")["R-1"].lines[0].pools == (Draw("chair@depot", 80),)
    assert solved(problem, "greedy")["R-1"].lines[0].pools == (Draw("chair@melun", 80),)
    large = make_request(id="R-1", lines=[("chair", 350)])
    greedy = solved(make_problem(requests=[large]), "greedy")
    assert greedy["R-1"].lines[0].pools == (Draw("chair@melun", 100), Draw("chair@depot", 250))


def test_greedy_prefers_the_nearer_unit(make_problem, make_request) -> None:
    units = [Unit("POD-1", "podium", "depot"), Unit("POD-2", "podium", "melun")]
    problem = make_problem(units=units, requests=[make_request(site="melun")])
    assert solved(problem, "fcfs")["R-0001"].lines[0].units == ("POD-1",)
    greedy_plan = solve_greedy(problem, OPTIONS)
    assert greedy_plan.requests[0].lines[0].units == ("POD-2",)
    assert greedy_plan.metrics.km == 0
    assert solve_fcfs(problem, OPTIONS).metrics.km == pytest.approx(20.0)


def test_locked_requests_are_kept_exactly(make_problem, make_request, serve) -> None:
    base = make_request(id="R-2", submitted_at=submitted(9), priority=1, start=at(13, 10))
    locked = serve(base, "POD-1")
    locked_request = make_request(
        id="R-2", submitted_at=submitted(9), priority=1, start=at(13, 10), locked=locked
    )
    earlier = make_request(id="R-1", submitted_at=submitted(1), priority=4)
    problem = make_problem(units=ONE_PODIUM, requests=[earlier, locked_request])
    for strategy in ("fcfs", "greedy"):
        plan = solved(problem, strategy)
        assert plan["R-2"].served
        assert plan["R-2"].lines == locked.lines and plan["R-2"].start == locked.start
        assert not plan["R-1"].served


def test_greedy_keeps_the_previous_assignments_that_still_fit(
    make_problem, make_request, serve
) -> None:
    request = make_request(id="R-1", lines=[("podium", 1), ("chair", 50)])
    previous_assignment = serve(request, "POD-2", [("chair@depot", 50)])
    previous = Plan(
        problem="",
        status=Status.BASELINE,
        solver=SolverInfo(strategy="greedy", seconds=0),
        requests=(previous_assignment,),
        metrics=Metrics(1, 1, 2, 0, 0, 0.0),
    )
    problem = make_problem(requests=[request], previous=previous)
    plan = solve_greedy(problem, OPTIONS)
    assert plan.metrics.changed == 0
    assert plan.requests[0].lines == (
        units_line("podium", "POD-2"),
        pools_line("chair", ("chair@depot", 50)),
    )


def test_two_lines_of_one_type_get_distinct_units(make_problem, make_request) -> None:
    request = make_request(lines=[("podium", 1), ("podium", 1)])
    for strategy in ("fcfs", "greedy"):
        plan = solved(make_problem(requests=[request]), strategy)
        units = [u for line in plan["R-0001"].lines for u in line.units]
        assert sorted(units) == ["POD-1", "POD-2"]


def test_greedy_moves_to_the_minute_precise_gap(make_problem, make_request) -> None:
    # POD-1 is busy from 13 July 08:00; R-2 (12 July 08:00 to 13 July 09:00)
    # fits only if it ends by 04:00 (turnaround 240 min, same site): 5 hours earlier.
    busy = make_request(id="R-1", submitted_at=submitted(1), start=at(13, 8), end=at(15, 18))
    flexible = make_request(
        id="R-2",
        submitted_at=submitted(2),
        start=at(12, 8),
        end=at(13, 9),
        earliest_start=at(11, 8),
        latest_end=at(14, 9),
    )
    problem = make_problem(units=ONE_PODIUM, requests=[busy, flexible])
    greedy = solved(problem, "greedy")
    assert greedy["R-2"].served
    assert greedy["R-2"].end == at(13, 4)
    assert greedy["R-2"].start == at(12, 8) - timedelta(hours=5)


@pytest.mark.parametrize("seed", [1, 2])
def test_greedy_serves_at_least_fcfs_value_on_generated_seasons(seed: int) -> None:
    problem = problem_from_json(json.dumps(generate("summer", seed)))
    fcfs = solve_fcfs(problem, OPTIONS)
    greedy = solve_greedy(problem, OPTIONS)
    assert check_plan(problem, fcfs) == []
    assert check_plan(problem, greedy) == []
    assert fcfs.metrics.shift_minutes == 0
    assert greedy.metrics.served_value >= fcfs.metrics.served_value
    assert greedy.metrics.km / greedy.metrics.served < fcfs.metrics.km / fcfs.metrics.served


def test_dates_outside_the_horizon_are_never_served_as_asked(make_problem, make_request) -> None:
    # Desired 30 June 20:00 to 1 July 18:00, but the horizon starts on 1 July.
    request = make_request(
        start=datetime(2027, 6, 30, 20, 0, tzinfo=PARIS_SUMMER),
        end=at(1, 18),
        latest_end=at(3, 18),
    )
    problem = make_problem(requests=[request])
    assert not solved(problem, "fcfs")["R-0001"].served
    greedy = solved(problem, "greedy")["R-0001"]
    assert greedy.served and greedy.start == at(1, 0)
