"""Generated seasons are valid `loan-problem/1` documents with the expected demand."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timedelta

import pytest

from bench.generate import ELECTION_SUNDAYS, FETE_NATIONALE, SeasonBuilder, generate, main
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


@pytest.fixture(scope="module")
def peak() -> dict:
    return generate("department-peak", 1)


def _km(a: dict, b: dict) -> float:
    from solver.geo import haversine_km

    return haversine_km(a["lat"], a["lon"], b["lat"], b["lon"])


def test_department_peak_spreads_communes_and_depots_over_a_departement(peak: dict) -> None:
    communes = [s for s in peak["sites"] if s.get("commune") and s["id"] == s["commune"]]
    depots = [s for s in peak["sites"] if not s.get("commune")]
    assert len(communes) >= 200
    assert 6 <= len(depots) <= 10
    middle = {
        "lat": sum(c["lat"] for c in communes) / len(communes),
        "lon": sum(c["lon"] for c in communes) / len(communes),
    }
    assert max(_km(middle, c) for c in communes) <= 33  # about 60 km across
    for depot in depots:
        nearest = min(_km(depot, other) for other in depots if other is not depot)
        assert 10 <= nearest <= 30
    assert 10_000 <= len(peak["requests"]) <= 25_000


def test_department_peak_lets_a_third_of_the_requests_move_one_to_three_days(peak: dict) -> None:
    flexible = [
        r
        for r in peak["requests"]
        if r["earliest_start"] != r["start"] or r["latest_end"] != r["end"]
    ]
    assert 0.28 <= len(flexible) / len(peak["requests"]) <= 0.40
    days = {
        (parse(r["start"]) - parse(r["earliest_start"])).days
        for r in flexible
        if (parse(r["start"]) - parse(r["earliest_start"])).days < 4
    }
    assert days >= {0, 1, 2, 3}


def test_department_peak_asks_more_than_its_stock_on_peak_days(peak: dict) -> None:
    # Barriers out over 14 July and booths on an election weekend, against all the stock.
    stock = Counter()
    for pool in peak["pools"]:
        stock[pool["type"]] += pool["quantity"]
    for kind, day in (("barriere", FETE_NATIONALE), ("isoloir", ELECTION_SUNDAYS[2])):
        asked = sum(
            line["quantity"]
            for r in peak["requests"]
            if parse(r["start"]).date() <= day < parse(r["end"]).date()
            for line in r["lines"]
            if line["type"] == kind
        )
        assert 1.3 * stock[kind] <= asked, kind


def test_department_peak_vehicles_drive_directly_and_have_substitutes(peak: dict) -> None:
    types = {t["id"]: t for t in peak["types"] if "max_direct_transfer_hours" in t}
    assert types["minibus-9"]["max_direct_transfer_hours"] >= 12
    assert types["camion-benne"]["max_direct_transfer_hours"] >= 12
    assert "minibus-12" in types["minibus-9"]["substitutes"]
    department = SeasonBuilder("department", 1)
    assert len(peak["units"]) < len(department.units())  # less stock than the department's
