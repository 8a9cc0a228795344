"""Every path of the CP-SAT optimiser on small generated seasons, through the checker.

The staged pipeline with the search after it, the search alone (a
département's season, forced here by lowering its threshold), the dates
stage's batches in worker processes, an anytime stop and short time limits.
One worker and a fixed seed, except where two workers are the point.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace

import pytest

import solver.cpsat as cpsat
import solver.parallel as parallel
from bench.generate import generate
from solver.baseline import solve_fcfs, solve_greedy
from solver.check import check_plan
from solver.cpsat import solve_cpsat
from solver.decompose import batch_parts, decompose
from solver.instance import Instance
from solver.io import problem_from_json
from solver.options import Progress, SolveOptions
from solver.parallel import Batch, date_batch, date_in_processes
from solver.plan import Plan
from solver.problem import Problem


@pytest.fixture(scope="module")
def summer() -> Problem:
    return problem_from_json(json.dumps(generate("summer", 1)))


@pytest.fixture(scope="module")
def small(summer: Problem) -> Problem:
    """The summer's first 80 requests: a few seconds' work on any path."""
    return replace(summer, requests=summer.requests[:80])


def key(plan: Plan) -> tuple[float, ...]:
    m = plan.metrics
    return (-m.served_value, m.changed, m.shift_minutes, m.km)


def options(seconds: float, workers: int = 1, **more: object) -> SolveOptions:
    return SolveOptions(time_limit_seconds=seconds, workers=workers, seed=0, **more)  # type: ignore[arg-type]


def test_the_staged_path_then_the_search_is_valid_and_beats_both_baselines(small) -> None:
    seen: list[Progress] = []
    plan = solve_cpsat(small, options(4, on_progress=seen.append))
    assert check_plan(small, plan) == []
    assert plan.solver.strategy == "cp-sat"
    assert key(plan) <= key(solve_greedy(small, options(4)))
    assert key(plan) <= key(solve_fcfs(small, options(4)))
    assert {"greedy", "dates", "done"} <= {p.message for p in seen}


def test_the_search_alone_path_is_valid_and_no_worse_than_the_greedy(small, monkeypatch) -> None:
    monkeypatch.setattr(cpsat, "SEARCH_ONLY_REQUESTS", 10)
    seen: list[Progress] = []
    plan = solve_cpsat(small, options(4, on_progress=seen.append))
    assert check_plan(small, plan) == []
    assert key(plan) <= key(solve_greedy(small, options(4)))
    messages = [p.message for p in seen]
    assert "dates" not in messages  # the staged pipeline was skipped
    assert messages[0] == "greedy" and messages[-1] == "done"
    assert plan.solver.bound is not None
    assert plan.metrics.served_value <= plan.solver.bound[0]
    assert 0 <= plan.solver.bound[2] <= plan.metrics.shift_minutes


def test_the_dates_batches_come_back_from_worker_processes(small) -> None:
    inst = Instance(small)
    _, parts = decompose(inst)
    batches = batch_parts(parts, 20)
    assert len(batches) >= 2
    jobs = [Batch(tuple(p.request_ids for p in batch), 1.0) for batch in batches]
    greedy = solve_greedy(small, options(4))
    hints = {a.id: a for a in greedy.requests if a.served}
    spawned = date_in_processes(inst, jobs, hints, options(4, workers=2), time.monotonic() + 60)
    assert len(spawned) == len(jobs)
    for job, (found, _) in zip(jobs, spawned, strict=True):
        assert set(found) <= set(job.request_ids)
        # Each batch is dated at least as well as its hint, as in this process.
        value = sum(inst.reqs[r].value for r in found)
        assert value >= sum(inst.reqs[r].value for r in job.request_ids if r in hints)
    alone = [date_batch(inst, job, hints, options(4))[0] for job in jobs]
    assert sum(map(len, alone)) > 0 and sum(len(f) for f, _ in spawned) > 0


def test_the_parallel_path_spawns_its_pool_and_gives_a_valid_plan(small, monkeypatch) -> None:
    monkeypatch.setattr(cpsat, "MIN_PARALLEL_SECONDS", 0.0)
    calls: list[int] = []
    real = parallel.date_in_processes

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        found = real(*args, **kwargs)
        calls.append(len(found))
        return found

    monkeypatch.setattr(cpsat, "date_in_processes", spy)
    plan = solve_cpsat(small, options(6, workers=2))
    assert calls and calls[0] >= 2, "the dates stage did not go to worker processes"
    assert check_plan(small, plan) == []
    assert key(plan) <= key(solve_greedy(small, options(6)))


@pytest.mark.parametrize("stage", ["greedy", "dates", "lns"])
def test_a_stop_at_any_stage_returns_a_valid_plan(small, stage) -> None:
    reached = False

    def note(progress: Progress) -> None:
        nonlocal reached
        reached = reached or progress.message == stage

    plan = solve_cpsat(small, options(8, on_progress=note, should_stop=lambda: reached))
    assert check_plan(small, plan) == []
    assert key(plan) <= key(solve_greedy(small, options(4)))


def test_a_stop_before_anything_still_gives_a_valid_plan(small, monkeypatch) -> None:
    monkeypatch.setattr(cpsat, "SEARCH_ONLY_REQUESTS", 10)
    plan = solve_cpsat(small, options(20, should_stop=lambda: True))
    assert check_plan(small, plan) == []


@pytest.mark.parametrize("seconds", [0.5, 1.0, 3.0])
def test_short_time_limits_give_valid_plans(summer, seconds) -> None:
    plan = solve_cpsat(summer, options(seconds))
    assert check_plan(summer, plan) == []
    assert plan.metrics.served_value >= solve_fcfs(summer, options(seconds)).metrics.served_value
    assert plan.solver.bound is not None
    assert plan.metrics.served_value <= plan.solver.bound[0]
