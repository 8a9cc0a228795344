"""The rounds benchmark: day instances from a season, baselines, and its BENCHMARKS.md section."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.rounds import (
    Outcome,
    day_section,
    derive_days,
    one_trip_km,
    run_nearest,
    write_section,
)
from solver.rounds.check import check_rounds
from solver.rounds.model import StopKind
from tests.solver.rounds_world import make_problem, make_stop


def test_days_of_a_summer_season_are_working_days_with_loads() -> None:
    days = derive_days("summer", 1, 3)
    assert days
    busiest = max(days.values(), key=lambda p: len(p.stops))
    assert len(busiest.stops) >= 15
    assert len({t.depot for t in busiest.trucks}) == 2
    for day, problem in days.items():
        assert day.weekday() < 5
        kinds = {s.kind for s in problem.stops}
        assert kinds <= {StopKind.DELIVERY, StopKind.COLLECTION}
        assert all(s.load > 0 and s.window.start.date() == day for s in problem.stops)


def test_one_trip_per_stop_counts_the_nearest_depot_both_ways() -> None:
    problem = make_problem(stops=[make_stop(id="A", site="a"), make_stop(id="B", site="b")])
    assert one_trip_km(problem) == pytest.approx(2 * 10 + 2 * 20)


def test_nearest_neighbour_gives_a_valid_plan() -> None:
    stops = [make_stop(id=f"S{i}", site=site) for i, site in enumerate("abcab")]
    problem = make_problem(stops=stops)
    outcome = run_nearest(problem, 1.0)
    assert outcome.plan is not None
    assert check_rounds(problem, outcome.plan) == []
    assert outcome.plan.metrics.served == 5


def test_a_missing_engine_is_reported_as_skipped() -> None:
    problem = make_problem()
    lines = day_section(
        "a day", problem, [Outcome("PyVRP", None, 0.0, "not installed: skipped")], 20.0
    )
    assert "| PyVRP | not installed: skipped |" in "\n".join(lines)


def test_the_section_replaces_only_itself(tmp_path: Path) -> None:
    report = tmp_path / "BENCHMARKS.md"
    report.write_text(
        "# Benchmarks\n\nloans\n\n## Delivery rounds\n\nold\n\n## Calendar feeds\n\nfeeds\n",
        encoding="utf-8",
    )
    write_section(report, "## Delivery rounds\n\nnew\n")
    text = report.read_text(encoding="utf-8")
    assert "old" not in text
    assert "## Delivery rounds\n\nnew\n" in text
    assert text.startswith("# Benchmarks\n\nloans\n")
    assert text.endswith("## Calendar feeds\n\nfeeds\n")
