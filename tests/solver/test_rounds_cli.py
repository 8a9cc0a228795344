"""``python -m solver rounds solve | check``, end to end in a child process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from solver.rounds.io import problem_to_json
from solver.rounds.model import StopKind
from tests.solver.rounds_world import make_problem, make_stop, make_truck

ROOT = Path(__file__).resolve().parents[2]


def run(*args: object) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "solver", "rounds", *map(str, args)],
        check=False,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def write_problem(folder: Path) -> Path:
    problem = make_problem(
        stops=[
            make_stop(id="A", site="a"),
            make_stop(id="B", site="b", kind=StopKind.COLLECTION),
            make_stop(id="C", site="c", load=11),
        ],
        trucks=[make_truck()],
    )
    path = folder / "day.json"
    path.write_text(problem_to_json(problem), encoding="utf-8")
    return path


def test_solve_then_check(tmp_path: Path) -> None:
    problem = write_problem(tmp_path)
    plan = tmp_path / "plan.json"
    solved = run("solve", problem, "-o", plan, "--time-limit", "1", "--seed", "3")
    assert solved.returncode == 0, solved.stderr
    assert "2/3 stops served by 1 truck(s)" in solved.stderr
    assert "dropped C: too_big" in solved.stderr
    document = json.loads(plan.read_text(encoding="utf-8"))
    assert document["format"] == "rounds-plan/1"
    assert document["solver"]["seed"] == 3
    checked = run("check", problem, plan)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.startswith(f"OK: {plan} is a valid rounds plan")


def test_solve_writes_to_stdout_without_output(tmp_path: Path) -> None:
    solved = run("solve", write_problem(tmp_path), "--time-limit", "0.5")
    assert solved.returncode == 0
    assert json.loads(solved.stdout)["metrics"]["served"] == 2


def test_check_exits_1_and_names_each_rule(tmp_path: Path) -> None:
    problem = write_problem(tmp_path)
    plan = tmp_path / "plan.json"
    assert run("solve", problem, "-o", plan, "--time-limit", "0.5").returncode == 0
    document = json.loads(plan.read_text(encoding="utf-8"))
    document["dropped"] = []
    document["routes"][0]["km"] += 5
    plan.write_text(json.dumps(document), encoding="utf-8")
    checked = run("check", problem, plan)
    assert checked.returncode == 1
    lines = checked.stdout.splitlines()
    assert any(line.startswith("[explained] stop 'C' is neither served") for line in lines)
    assert any(line.startswith("[metrics] routes[0] (T1): km is") for line in lines)
    assert "violation(s)" in checked.stderr


def test_a_bad_file_exits_2_with_every_fault(tmp_path: Path) -> None:
    path = write_problem(tmp_path)
    data = json.loads(path.read_text(encoding="utf-8"))
    data["stops"][0]["site"] = "moon"
    data["trucks"][0]["capacity"] = "big"
    path.write_text(json.dumps(data), encoding="utf-8")
    solved = run("solve", path)
    assert solved.returncode == 2
    assert solved.stderr.splitlines() == [
        f"error: {path} is not a valid rounds-problem/1 document (2 faults):",
        "  trucks[0].capacity: must be a whole number, got a string ('big')",
        "  stops[0].site: unknown site 'moon'",
    ]
    assert "Traceback" not in solved.stderr


def test_missing_files_and_bad_outputs_exit_2(tmp_path: Path) -> None:
    missing = run("check", tmp_path / "none.json", tmp_path / "plan.json")
    assert missing.returncode == 2
    assert "cannot read" in missing.stderr
    nowhere = run("solve", write_problem(tmp_path), "-o", tmp_path / "no" / "plan.json")
    assert nowhere.returncode == 2
    assert "cannot write" in nowhere.stderr
    not_a_plan = run("check", write_problem(tmp_path), write_problem(tmp_path))
    assert not_a_plan.returncode == 2
    assert "format: must be 'rounds-plan/1', got 'rounds-problem/1'" in not_a_plan.stderr


def test_bad_arguments_are_usage_errors(tmp_path: Path) -> None:
    refused = run("solve", write_problem(tmp_path), "--time-limit", "0")
    assert refused.returncode == 2
    assert "must be positive" in refused.stderr
