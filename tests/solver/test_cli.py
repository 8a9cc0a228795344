"""The command line, end to end: ``python -m solver solve | baseline | check``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from solver import cli
from solver.check import check_plan, compute_metrics, objective_of
from solver.io import plan_from_json, plan_to_json, read_problem
from solver.plan import Draw, LineAssignment, Plan, RequestAssignment, SolverInfo, Status
from solver.problem import Problem

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "solver"
CAMVS = DATA / "camvs-july.json"
SPEC_EXAMPLE = DATA / "spec-example.json"


def run(*args: object) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "solver", *map(str, args)],
        check=False,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def assert_refused(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    """Exit 2, a message naming the fault, and never a stack trace."""
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr + result.stdout
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr


def hand_made_plan(problem: Problem, sha: str) -> Plan:
    """A valid plan for camvs-july.json: R-0003 as locked, R-0001 on POD-1, the rest not."""
    locked = problem.request_by_id["R-0003"].locked
    assert locked is not None
    r1 = problem.request_by_id["R-0001"]
    served_r1 = RequestAssignment(
        id="R-0001",
        served=True,
        start=r1.start,
        end=r1.end,
        lines=(
            LineAssignment(type="podium-8x6", units=("POD-1",)),
            LineAssignment(type="chair", pools=(Draw("chair@vaux", 250),)),
            LineAssignment(type="barrier", pools=(Draw("barrier@vaux", 80),)),
        ),
    )
    assignments = [
        served_r1
        if r.id == "R-0001"
        else locked
        if r.id == "R-0003"
        else RequestAssignment(id=r.id, served=False, reason="not planned in this test")
        for r in problem.requests
    ]
    metrics = compute_metrics(problem, assignments)
    return Plan(
        problem=sha,
        status=Status.BASELINE,
        solver=SolverInfo(strategy="by hand", seconds=0.0, objective=objective_of(metrics)),
        requests=tuple(assignments),
        metrics=metrics,
    )


@pytest.fixture
def valid_plan_file(tmp_path: Path) -> Path:
    problem, sha = read_problem(CAMVS)
    plan = hand_made_plan(problem, sha)
    assert check_plan(problem, plan, sha) == []
    path = tmp_path / "plan.json"
    path.write_text(plan_to_json(plan, problem.timezone), encoding="utf-8")
    return path


def write_json(path: Path, document: Any) -> Path:
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    return path


# -- check ---------------------------------------------------------------------


def test_check_accepts_a_valid_plan(valid_plan_file: Path) -> None:
    result = run("check", CAMVS, valid_plan_file)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("OK: ")
    assert "2/8 requests served" in lines[0]


def test_check_lists_each_violation_of_a_tampered_plan(
    valid_plan_file: Path, tmp_path: Path
) -> None:
    document = json.loads(valid_plan_file.read_text(encoding="utf-8"))
    # R-0001 now takes POD-2, which the locked R-0003 holds at the same time,
    # and the plan claims a km figure it does not have.
    document["requests"][0]["lines"][0]["units"] = ["POD-2"]
    document["metrics"]["km"] += 10
    tampered = write_json(tmp_path / "tampered.json", document)
    result = run("check", CAMVS, tampered)
    assert result.returncode == 1, result
    lines = result.stdout.splitlines()
    assert len(lines) >= 2
    assert any(line.startswith("rule 3: ") and "POD-2" in line for line in lines), lines
    assert any(line.startswith("metrics: km") for line in lines), lines
    assert "Traceback" not in result.stderr


def test_check_refuses_a_plan_of_another_problem(valid_plan_file: Path) -> None:
    result = run("check", SPEC_EXAMPLE, valid_plan_file)
    assert result.returncode == 1
    assert any("sha256" in line for line in result.stdout.splitlines())


# -- refusals: exit 2, a clear message, no traceback ---------------------------


def test_missing_problem_file(tmp_path: Path) -> None:
    result = run("solve", tmp_path / "nope.json", "--strategy", "baseline")
    assert_refused(result, "nope.json", "No such file or directory")


def test_problem_that_is_not_json(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"format": "loan-problem/1",', encoding="utf-8")
    result = run("solve", path, "-o", tmp_path / "plan.json")
    assert_refused(result, "broken.json is not a valid loan-problem/1 document", "not JSON")
    assert not (tmp_path / "plan.json").exists()


def test_invalid_problem_lists_every_fault(tmp_path: Path) -> None:
    document = json.loads(CAMVS.read_text(encoding="utf-8"))
    document["requests"][1]["site"] = "melun2"
    document["types"][0]["turnaround_minutes"] = -1
    path = write_json(tmp_path / "bad.json", document)
    result = run("baseline", path)
    assert_refused(
        result,
        "(2 faults)",
        "requests[1].site: unknown site 'melun2'",
        "types[0].turnaround_minutes: must be at least 0",
    )
    assert result.stdout == ""


def test_check_with_a_bad_plan_file(tmp_path: Path) -> None:
    path = write_json(tmp_path / "plan.json", {"format": "loan-plan/1", "status": "DONE"})
    result = run("check", CAMVS, path)
    assert_refused(
        result, "plan.json is not a valid loan-plan/1 document", "status: must be one of"
    )


def test_check_with_a_missing_plan(tmp_path: Path) -> None:
    assert_refused(run("check", CAMVS, tmp_path / "none.json"), "cannot read", "none.json")


def test_check_with_the_files_swapped(valid_plan_file: Path) -> None:
    result = run("check", valid_plan_file, CAMVS)
    assert_refused(result, "format: must be 'loan-problem/1', got 'loan-plan/1'")


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["solve", str(CAMVS), "--time-limit", "0"], "must be positive"),
        (["solve", str(CAMVS), "--workers", "two"], "not a number"),
        (["solve", str(CAMVS), "--strategy", "magic"], "invalid choice: 'magic'"),
        (["plan", str(CAMVS)], "invalid choice: 'plan'"),
        ([], "the following arguments are required: COMMAND"),
    ],
)
def test_bad_arguments(args: list[str], fragment: str) -> None:
    assert_refused(run(*args), fragment)


# -- solve ---------------------------------------------------------------------


def test_solve_with_cpsat_writes_a_valid_plan(tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    result = run("solve", CAMVS, "-o", out, "--time-limit", 5, "--workers", 1, "--seed", 0)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    problem, sha = read_problem(CAMVS)
    plan = plan_from_json(out.read_bytes())
    assert plan.problem == sha
    assert plan.status in (Status.OPTIMAL, Status.FEASIBLE)
    assert plan.solver.bound is not None
    assert check_plan(problem, plan, sha) == []
    # R-0003 is locked on POD-2 and the two podiums are wanted by three
    # overlapping requests: at least one request stays unserved, with a reason.
    assert plan.assignment_of("R-0003") == problem.request_by_id["R-0003"].locked
    unserved = [a for a in plan.requests if not a.served]
    assert unserved and all(a.reason for a in unserved)
    stderr = result.stderr.splitlines()
    assert any(line.startswith("[") and "served value" in line for line in stderr), stderr
    m = plan.metrics
    assert stderr[-1].startswith(f"{plan.status.value}: {m.served}/8 requests served")
    assert f"value {m.served_value}" in stderr[-1]
    assert f"{m.km:.1f} km" in stderr[-1]
    assert f"shift {m.shift_minutes} min" in stderr[-1]
    assert run("check", CAMVS, out).returncode == 0


def test_solve_without_output_prints_the_plan(tmp_path: Path) -> None:
    result = run("solve", SPEC_EXAMPLE, "--time-limit", 5, "--workers", 1)
    assert result.returncode == 0, result.stderr
    plan = plan_from_json(result.stdout)
    problem, sha = read_problem(SPEC_EXAMPLE)
    assert plan.problem == sha
    assert check_plan(problem, plan, sha) == []
    assert plan.metrics.served == 1
    assert '"format": "loan-plan/1"' in result.stdout
    assert "+02:00" in result.stdout  # times in Paris summer time


def test_solve_refuses_an_unwritable_output_before_solving(tmp_path: Path) -> None:
    result = run("solve", CAMVS, "-o", tmp_path / "no" / "such" / "plan.json")
    assert_refused(result, "cannot write", "no directory")
    assert "served" not in result.stderr  # it stopped before solving


def test_a_failing_strategy_gives_a_message_and_exit_3(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(*args: object, **kwargs: object) -> Plan:
        raise RuntimeError("no solution store")

    monkeypatch.setattr(cli, "solve", broken)
    assert cli.main(["solve", str(CAMVS), "--time-limit", "1"]) == cli.EXIT_SOLVER_FAILED
    err = capsys.readouterr().err
    assert "error: the cpsat strategy failed (RuntimeError): no solution store" in err
    assert "Traceback" not in err


def test_first_interrupt_asks_to_stop_and_second_aborts() -> None:
    stop = cli._StopOnInterrupt()
    with stop:
        assert not stop()
        signal.raise_signal(signal.SIGINT)
        assert stop()
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


@pytest.mark.parametrize(
    ("objective", "bound", "expected"),
    [
        ((22, 0, 1640, 214.0), (22, 0, 0, 0), "bound 0 on shift minutes (gap 100.0%)"),
        ((20, 0, 0, 10.0), (25, 0, 0, 0), "bound 25 on served value (gap 20.0%)"),
        ((22, 0, 0, 100.0), (22, 0, 0, 90.0), "bound 90 on km (gap 10.0%)"),
        ((22, 0, 0, 100.0), (22, 0, 0, 100.0), "bound reached"),
    ],
)
def test_summary_says_where_the_bound_is_not_reached(
    objective: tuple[float, ...], bound: tuple[float, ...], expected: str
) -> None:
    problem, sha = read_problem(CAMVS)
    plan = hand_made_plan(problem, sha)
    plan = replace(
        plan,
        status=Status.FEASIBLE,
        solver=SolverInfo(strategy="cp-sat", seconds=1.0, objective=objective, bound=bound),
    )
    line = cli.summary(plan, 2.0)
    assert line.startswith("FEASIBLE: 2/8 requests served, value 12, 0 changed, shift 0 min")
    assert line.endswith(f", 2.0 s, {expected}")


def test_invalid_problem_file_message_in_full() -> None:
    path = DATA / "invalid-problem.json"
    result = run("check", path, SPEC_EXAMPLE)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"error: {path} is not a valid loan-problem/1 document (5 faults):",
        "  horizon.end: time without an offset: '2027-09-01T00:00:00'",
        "  units[0].colour: unknown field",
        "  pools[0].quantity: must be at least 1, got 0",
        "  requests[0].site: unknown site 'melun2'",
        "  requests[0].priority: must be between 1 and 4, got 5",
    ]
    assert result.stdout == ""


@pytest.mark.parametrize(
    "args",
    [["baseline"], ["solve", "--strategy", "baseline"], ["solve", "--strategy", "greedy"]],
    ids=["baseline", "solve-baseline", "solve-greedy"],
)
def test_non_optimising_strategies_write_checked_plans(tmp_path: Path, args: list[str]) -> None:
    out = tmp_path / "plan.json"
    result = run(args[0], CAMVS, *args[1:], "-o", out)
    assert result.returncode == 0, result.stderr
    problem, sha = read_problem(CAMVS)
    plan = plan_from_json(out.read_bytes())
    assert plan.status is Status.BASELINE
    assert check_plan(problem, plan, sha) == []
    assert plan.assignment_of("R-0003") == problem.request_by_id["R-0003"].locked
    assert result.stderr.splitlines()[-1].startswith(f"BASELINE: {plan.metrics.served}/8")
    assert run("check", CAMVS, out).returncode == 0


def test_the_optimiser_serves_at_least_the_baseline_value(tmp_path: Path) -> None:
    baseline, optimised = tmp_path / "baseline.json", tmp_path / "cpsat.json"
    assert run("baseline", CAMVS, "-o", baseline).returncode == 0
    result = run("solve", CAMVS, "-o", optimised, "--time-limit", 5, "--workers", 1)
    assert result.returncode == 0, result.stderr
    fcfs = plan_from_json(baseline.read_bytes()).metrics
    best = plan_from_json(optimised.read_bytes()).metrics
    assert best.served_value >= fcfs.served_value
