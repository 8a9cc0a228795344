"""Generated seasons are valid `loan-problem/1` documents with the expected demand."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timedelta

import pytest

from bench.generate import ELECTION_SUNDAYS, FETE_NATIONALE, generate, main
from solver.io import problem_from_json


@pytest.fixture(scope="module")
def summer() -> dict:
    return generate("summer", 1)


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_summer_is_a_valid_problem(summer: dict) -> None:
    problem = problem_from_json(json.dumps(summer))
    assert len(problem.requests) == len(summer["requests"])
    assert {s.id for s in problem.sites} >= {"depot-vaux", "depot-dammarie", "melun"}
    assert len([t for t in problem.types if problem.units_of_type(t.id)]) == 15
    assert problem.pooled_type_ids >= {"barriere", "chaise", "isoloir", "urne"}


def test_generation_is_deterministic_per_seed(summer: dict) -> None:
    assert generate("summer", 1) == summer
    assert generate("summer", 2)["requests"] != summer["requests"]


def test_summer_size_and_horizon(summer: dict) -> None:
    assert 300 <= len(summer["requests"]) <= 500
    start, end = parse(summer["horizon"]["start"]), parse(summer["horizon"]["end"])
    assert (start.month, end.month) == (6, 9)
    for request in summer["requests"]:
        s, e = parse(request["start"]), parse(request["end"])
        assert start <= parse(request["earliest_start"]) <= s < e
        assert e <= parse(request["latest_end"]) <= end
        assert parse(request["submitted_at"]) < s
        assert 1 <= request["priority"] <= 4


def test_priorities_are_mixed(summer: dict) -> None:
    counts = Counter(r["priority"] for r in summer["requests"])
    assert set(counts) == {1, 2, 3, 4}
    assert max(counts.values()) < 0.6 * len(summer["requests"])


def test_fourteenth_of_july_wants_stages_from_most_communes(summer: dict) -> None:
    eve = FETE_NATIONALE - timedelta(days=1)
    stages = {
        r["commune"]
        for r in summer["requests"]
        if parse(r["start"]).date() == eve and any(ln["type"] == "podium-8x6" for ln in r["lines"])
    }
    assert len(stages) >= 12  # of 20 communes, far more than the 3 stages


def test_election_weekends_borrow_booths_and_ballot_boxes(summer: dict) -> None:
    summer_elections = [d for d in ELECTION_SUNDAYS if d.month == 6]
    for sunday in summer_elections:
        loans = [
            r
            for r in summer["requests"]
            if parse(r["start"]).date() == sunday - timedelta(days=2)
            and {ln["type"] for ln in r["lines"]} == {"urne", "isoloir"}
        ]
        assert len(loans) >= 12
        assert all(r["priority"] == 4 for r in loans)


def test_weekend_events_run_friday_to_monday(summer: dict) -> None:
    friday_to_monday = [
        r
        for r in summer["requests"]
        if parse(r["start"]).weekday() == 4
        and parse(r["end"]) - parse(r["start"]) > timedelta(days=2)
    ]
    assert len(friday_to_monday) >= 50


def test_weekday_tools_have_some_flexibility(summer: dict) -> None:
    flexible = [
        r
        for r in summer["requests"]
        if r["earliest_start"] != r["start"] or r["latest_end"] != r["end"]
    ]
    assert 0.2 * len(summer["requests"]) <= len(flexible) <= 0.9 * len(summer["requests"])


def test_some_units_have_maintenance_weeks(summer: dict) -> None:
    assert any(u["unavailable"] for u in summer["units"])


def test_department_adds_communes_and_depots() -> None:
    # Only the places are built here: generating the whole department takes seconds.
    from bench.generate import SeasonBuilder

    builder = SeasonBuilder("department", 1)
    assert len(builder.communes) == 220
    assert len(builder.depots) == 8
    assert builder.scale > 5
    units = builder.units()
    assert sum(1 for u in units if u["type"] == "nacelle") >= 5


def test_unknown_size_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown size 'huge'"):
        generate("huge", 1)


def test_command_line_writes_the_file(tmp_path) -> None:
    output = tmp_path / "instances" / "summer-3.json"
    assert main(["--size", "summer", "--seed", "3", "-o", str(output)]) == 0
    assert json.loads(output.read_text(encoding="utf-8")) == generate("summer", 3)
