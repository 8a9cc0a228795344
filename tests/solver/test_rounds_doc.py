"""The worked example of docs/rounds-format.md is a valid problem with a valid plan."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from solver.rounds.check import check_rounds
from solver.rounds.io import plan_from_json, problem_from_json
from solver.rounds.model import DropReason
from solver.rounds.routing import RoundsOptions, solve_rounds

DOC = Path(__file__).resolve().parents[2] / "docs" / "rounds-format.md"


def blocks() -> list[str]:
    text = DOC.read_text(encoding="utf-8")
    example = text[text.index("## Worked example") :]
    return re.findall(r"```json\n(.*?)\n```", example, re.S)


def test_the_example_plan_is_valid_for_the_example_problem() -> None:
    problem_text, plan_text = blocks()
    problem = problem_from_json(problem_text)
    plan = plan_from_json(plan_text)
    sha = hashlib.sha256((problem_text + "\n").encode("utf-8")).hexdigest()
    assert plan.problem == sha
    assert check_rounds(problem, plan, sha) == []
    assert [(d.stop, d.reason) for d in plan.dropped] == [("deliver-421", DropReason.TOO_BIG)]
    assert plan.routes[0].load_at_depot == 6


def test_solving_the_example_again_gives_a_valid_plan_as_short() -> None:
    problem_text, plan_text = blocks()
    problem = problem_from_json(problem_text)
    plan = solve_rounds(problem, RoundsOptions(1.0))
    assert check_rounds(problem, plan) == []
    assert plan.metrics.served == 4
    assert plan.metrics.km <= plan_from_json(plan_text).metrics.km + 0.001


def test_the_doc_names_every_field_of_both_formats() -> None:
    text = DOC.read_text(encoding="utf-8")
    for field in (
        "load_unit",
        "road_factor",
        "speed_kmh",
        "base_minutes",
        "minutes_per_load_unit",
        "distances",
        "capacity",
        "shift",
        "break",
        "cost_per_km",
        "cost_per_hour",
        "fixed_cost",
        "kind",
        "window",
        "items",
        "service_minutes",
        "label",
        "transfers",
        "load_at_depot",
        "depart",
        "return",
        "arrival",
        "departure",
        "dropped",
        "reason",
        "detail",
        "trucks_used",
        "duty_minutes",
        "address",
    ):
        assert f"`{field}`" in text, field
    for reason in DropReason:
        assert f"`{reason.value}`" in text
