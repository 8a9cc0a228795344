"""The examples of docs/file-formats.md are valid: the doc cannot drift from the code."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest

from solver.check import check_plan
from solver.cli import main
from solver.io import plan_from_json, problem_from_json, sha256_hex

DOC = Path(__file__).resolve().parents[2] / "docs" / "file-formats.md"
_JSON_BLOCK = re.compile(r"^```json\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def _blocks() -> list[str]:
    return _JSON_BLOCK.findall(DOC.read_text(encoding="utf-8"))


def _block(kind: str) -> str:
    """The one block that is a whole document of ``kind`` ("loan-problem/1"...)."""
    found = [b for b in _blocks() if json.loads(b).get("format") == kind]
    assert len(found) == 1, f"expected one {kind} example in {DOC.name}"
    return found[0]


@pytest.mark.parametrize("index", range(len(_blocks())))
def test_every_json_block_is_json(index: int) -> None:
    json.loads(_blocks()[index])


def test_problem_example_loads() -> None:
    problem = problem_from_json(_block("loan-problem/1"))
    assert [r.id for r in problem.requests] == ["R-1", "R-2", "R-3"]


def test_plan_example_names_the_problem_file_it_was_made_for() -> None:
    # The doc says: save each block as shown, with a final newline.
    problem_file = _block("loan-problem/1").encode("utf-8")
    plan = plan_from_json(_block("loan-plan/1"))
    assert plan.problem == sha256_hex(problem_file)


def test_plan_example_passes_the_command_line_checker(tmp_path: Path) -> None:
    problem_path = tmp_path / "problem.json"
    plan_path = tmp_path / "plan.json"
    problem_path.write_text(_block("loan-problem/1"), encoding="utf-8")
    plan_path.write_text(_block("loan-plan/1"), encoding="utf-8")
    assert main(["check", str(problem_path), str(plan_path)]) == 0


def test_locked_and_previous_examples_load_and_keep_the_plan_valid() -> None:
    fragments = [json.loads(b) for b in _blocks() if "format" not in json.loads(b)]
    locked = [f["locked"] for f in fragments if "locked" in f]
    assert len(locked) == 1
    document = json.loads(_block("loan-problem/1"))
    document["requests"][0]["locked"] = locked[0]
    document["previous"] = json.loads(_block("loan-plan/1"))
    problem = problem_from_json(json.dumps(document))
    assert problem.requests[0].locked is not None
    plan = plan_from_json(_block("loan-plan/1"))
    assert check_plan(problem, replace(plan, problem="")) == []
