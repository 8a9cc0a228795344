"""The benchmark runner solves in child processes, checks plans and writes a report."""

from __future__ import annotations

import argparse

import pytest

from bench.generate import generate
from bench.run import InstanceSpec, Run, instance_section, main, parse_instance, write_report


def test_runner_writes_a_report_for_a_small_instance(tmp_path) -> None:
    report = tmp_path / "bench.md"
    code = main(
        [
            "--instance",
            "summer:1:2",
            "--strategies",
            "baseline,greedy",
            "-o",
            str(report),
            "--instances-dir",
            str(tmp_path / "instances"),
        ]
    )
    assert code == 0
    text = report.read_text(encoding="utf-8")
    assert "### summer-1 (" in text
    assert "python -m bench.run --instance summer:1:2" in text
    rows = [line for line in text.splitlines() if line.startswith(("| baseline", "| greedy"))]
    # Two results, greedy's ratio to the baseline, then each level against its bound.
    assert len(rows) == 5
    assert "| 1.000 |" in rows[4]  # the greedy's shift per served request is its own
    assert all(row.rstrip().endswith("| OK |") for row in rows[:2])
    assert "CPU:" in text and "OR-Tools" in text
    assert (tmp_path / "instances" / "summer-1.json").exists()
    assert "Load average at the start: " in text and "Load average after summer-1: " in text
    # The greedy's km against the lower bound at its own dates: at least 1.
    greedy_ratio = rows[2].split("|")
    floor, versus = float(greedy_ratio[4]), float(greedy_ratio[5])
    assert 0 < floor <= float(greedy_ratio[3])
    assert versus >= 1.0


def _plan(served: list[str], unserved: list[str], km: float, value: int) -> dict:
    requests = [{"id": r, "served": True} for r in served]
    requests += [{"id": r, "served": False, "reason": "x"} for r in unserved]
    return {
        "status": "BASELINE",
        "requests": requests,
        "solver": {"strategy": "baseline", "seconds": 0.1},
        "metrics": {
            "requests": len(requests),
            "served": len(served),
            "served_value": value,
            "changed": 0,
            "shift_minutes": 0,
            "km": km,
        },
    }


def test_report_section_flags_missing_strategies_and_violations() -> None:
    document = generate("summer", 1)
    ids = [r["id"] for r in document["requests"]]
    base = Run("baseline", plan=_plan(ids[:10], ids[10:], 100.0, 40))
    bad = Run("greedy", plan=_plan(ids[:20], ids[20:], 100.0, 80), violations=["unit X twice"])
    missing = Run("cpsat", available=False)
    lines = instance_section(
        InstanceSpec("summer", 1, 5), document, [base, bad, missing], (160, "t")
    )
    text = "\n".join(lines)
    assert "| cpsat | not available |" in text
    assert "**1 VIOLATIONS**" in text and "unit X twice" in text
    assert "| 25.0 % |" in text  # 40 of a bound of 160
    assert "| greedy | 2.000 | 0.500 |" in text  # twice the value, half the km per request


def test_instance_argument_is_validated() -> None:
    assert parse_instance("year:2:60") == InstanceSpec("year", 2, 60.0)
    for wrong in ("year:2", "galaxy:1:60", "year:x:60", "year:1:0"):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_instance(wrong)


def test_report_keeps_the_sections_other_benchmarks_wrote(tmp_path) -> None:
    path = tmp_path / "BENCHMARKS.md"
    path.write_text("# Benchmarks\n\nold run\n\n## Calendar feeds\n\nfeeds table\n")
    write_report(path, ["# Benchmarks", "", "new run"])
    text = path.read_text()
    assert "old run" not in text
    assert text.index("new run") < text.index("## Calendar feeds")
    assert "feeds table" in text
