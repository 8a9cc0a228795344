"""The large-neighbourhood search on a generated summer: valid, never worse, anytime."""

from __future__ import annotations

import json
import time

import pytest

import solver.cpsat as cpsat
from bench.generate import generate
from solver.baseline import solve_greedy
from solver.check import check_assignments, check_plan, compute_metrics
from solver.cpsat import solve_cpsat
from solver.instance import Instance
from solver.io import problem_from_json
from solver.lns import LnsStats, PlanState, search
from solver.options import Progress, SolveOptions
from solver.plan import RequestAssignment
from solver.problem import Problem

OPTIONS = SolveOptions(time_limit_seconds=5, workers=1, seed=0)


@pytest.fixture(scope="module")
def summer() -> Problem:
    return problem_from_json(json.dumps(generate("summer", 1)))


@pytest.fixture(scope="module")
def greedy(summer: Problem) -> list[RequestAssignment]:
    plan = solve_greedy(summer, OPTIONS)
    return [a for a in plan.requests if a.served]


def key_of(problem: Problem, served: list[RequestAssignment]) -> tuple[float, ...]:
    by_id = {a.id: a for a in served}
    ordered = [by_id.get(r.id) or RequestAssignment(r.id, False) for r in problem.requests]
    assert check_assignments(problem, ordered) == []
    m = compute_metrics(problem, ordered)
    return (-m.served_value, m.changed, m.shift_minutes, m.km)


def test_plan_state_measures_a_plan_as_the_checker_does(summer, greedy) -> None:
    state = PlanState(Instance(summer), greedy)
    value, changed, shift, km = state.key()
    assert (value, changed, shift) == key_of(summer, greedy)[:3]
    assert km == pytest.approx(key_of(summer, greedy)[3], abs=0.05)


def test_plan_state_takes_out_and_puts_back_exactly(summer, greedy) -> None:
    state = PlanState(Instance(summer), greedy)
    before = state.key()
    some = [a.id for a in greedy[::7]]
    taken, touched = state.replace(some, [])
    assert state.key()[0] > before[0]  # less value served
    assert touched
    state.replace([], taken)
    assert state.key()[:3] == before[:3]
    assert state.key()[3] == pytest.approx(before[3])


def test_search_improves_the_greedy_plan_and_keeps_it_valid(summer, greedy) -> None:
    stats = LnsStats()
    seen: list[tuple[float, ...]] = []
    found = search(
        Instance(summer),
        greedy,
        OPTIONS,
        time.monotonic() + 60,
        on_improve=seen.append,
        stats=stats,
        max_iterations=25,
    )
    start, end = key_of(summer, greedy), key_of(summer, found)
    assert end <= start
    assert stats.iterations == 25
    assert stats.rejected == 0  # every neighbourhood's model kept the rules
    assert stats.improved >= 1 and end < start
    assert seen == sorted(seen, reverse=True)  # each report better than the one before
    assert seen[-1][:3] == end[:3]


def test_search_stops_at_once_when_asked(summer, greedy) -> None:
    stop = SolveOptions(time_limit_seconds=5, workers=1, seed=0, should_stop=lambda: True)
    found = search(Instance(summer), greedy, stop, time.monotonic() + 60)
    assert key_of(summer, found) == key_of(summer, greedy)


def test_cpsat_reports_every_level_while_searching(summer, monkeypatch) -> None:
    # The search alone, as on a département's season: on a summer the staged
    # pipeline may leave it no time.
    monkeypatch.setattr(cpsat, "SEARCH_ONLY_REQUESTS", 100)
    seen: list[Progress] = []
    options = SolveOptions(time_limit_seconds=6, workers=1, seed=0, on_progress=seen.append)
    plan = solve_cpsat(summer, options)
    assert check_plan(summer, plan) == []
    searched = [p for p in seen if p.message == "lns"]
    assert searched, "the search reported no improvement"
    assert all(p.shift_minutes is not None and p.changed is not None for p in searched)
    keys = [(-p.served_value, p.changed, p.shift_minutes) for p in searched]
    assert keys == sorted(keys, reverse=True)  # the levels above km never get worse
    assert seen[-1].message == "done"
    assert plan.metrics.served_value >= searched[-1].served_value
    # The plan carries its lower bound on shift, at most its own shift.
    assert plan.solver.bound is not None
    assert 0 <= plan.solver.bound[2] <= plan.metrics.shift_minutes


def test_cpsat_stopped_during_the_search_returns_a_valid_plan(summer, monkeypatch) -> None:
    monkeypatch.setattr(cpsat, "SEARCH_ONLY_REQUESTS", 100)
    searching = False

    def note(progress: Progress) -> None:
        nonlocal searching
        searching = searching or progress.message == "lns"

    options = SolveOptions(
        time_limit_seconds=30, workers=1, seed=0, on_progress=note, should_stop=lambda: searching
    )
    started = time.monotonic()
    plan = solve_cpsat(summer, options)
    assert check_plan(summer, plan) == []
    assert searching
    assert time.monotonic() - started < 30
