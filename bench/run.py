"""The benchmark: baseline, greedy and CP-SAT side by side on generated seasons.

For each instance (size, seed, time limit) the problem is generated with
``bench.generate``, each strategy solves it in its own process
(``python -m solver solve``) so that wall seconds and peak memory (the
child's ``ru_maxrss``) are its own, and every plan is checked with
``python -m solver check``; a violation is reported loudly and makes the run
exit with status 1. The report (``BENCHMARKS.md`` by default) states the
machine, the command and the date, then per instance the served value
(overall and per priority), its share of an upper bound, km, shift, seconds
and memory, and the ratios of greedy and CP-SAT to the baseline.

Usage::

    python -m bench.run                  # the full benchmark (about 45 minutes)
    python -m bench.run --quick          # one summer and one year, short limits
    python -m bench.run --instance year:1:60 --strategies baseline,greedy -o /tmp/b.md
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.generate import SIZES, generate

DEFAULT_INSTANCES = (
    "summer:1:10",
    "summer:2:10",
    "summer:3:10",
    "year:1:60",
    "year:2:60",
    "year:3:60",
    "department:1:600",
)
QUICK_INSTANCES = ("summer:1:5", "year:1:10")
# The overloaded département at three time limits, the agglomeration's year, and department-1.
PEAK_INSTANCES = (
    "department-peak:1:60",
    "department-peak:1:300",
    "department-peak:1:600",
    "year:1:60",
    "summer:1:10",
    "department:1:60",
)
STRATEGIES = ("baseline", "greedy", "cpsat")
PRIORITIES = (1, 2, 3, 4)
REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class InstanceSpec:
    """One benchmark instance: generated ``size`` with ``seed``, solved in ``seconds``."""

    size: str
    seed: int
    seconds: float

    @property
    def name(self) -> str:
        return f"{self.size}-{self.seed}"


@dataclass
class Run:
    """The outcome of one strategy on one instance."""

    strategy: str
    available: bool = True
    exit_code: int | None = None
    error: str = ""
    wall_seconds: float = 0.0
    peak_mb: float = 0.0
    plan: dict[str, Any] | None = None
    violations: list[str] = field(default_factory=list)
    km_bound: float | None = None  # km no plan can beat with the same requests and dates


def parse_instance(text: str) -> InstanceSpec:
    """Parses ``SIZE:SEED:SECONDS`` (e.g. ``year:1:60``).

    Raises:
        argparse.ArgumentTypeError: the text does not name a size, a seed and seconds.
    """
    parts = text.split(":")
    if len(parts) != 3 or parts[0] not in SIZES:
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected SIZE:SEED:SECONDS with SIZE one of {', '.join(SIZES)}"
        )
    try:
        seed, seconds = int(parts[1]), float(parts[2])
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: SEED must be an integer, SECONDS a number"
        ) from None
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: SECONDS must be positive")
    return InstanceSpec(parts[0], seed, seconds)


def strategy_available(strategy: str) -> bool:
    """Whether the solver package has the module implementing ``strategy``."""
    module = "solver.cpsat" if strategy == "cpsat" else "solver.baseline"
    return importlib.util.find_spec(module) is not None


def run_child(command: Sequence[str], stderr_path: Path) -> tuple[int, float, float]:
    """Runs ``command``; returns (exit code, wall seconds, peak resident MB of the child)."""
    started = time.monotonic()
    with stderr_path.open("wb") as stderr:
        process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=stderr)
        _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    # ru_maxrss is in kilobytes on Linux.
    return process.returncode, time.monotonic() - started, usage.ru_maxrss / 1024


def solve_one(problem_path: Path, strategy: str, seconds: float, workers: int, work: Path) -> Run:
    """Solves and checks one instance with one strategy, each in a child process."""
    run = Run(strategy)
    if not strategy_available(strategy):
        run.available = False
        return run
    plan_path = work / f"{problem_path.stem}.{strategy}.plan.json"
    command = [
        sys.executable, "-m", "solver", "solve", str(problem_path), "--strategy", strategy,
        "--time-limit", f"{seconds:g}", "--workers", str(workers), "--seed", "0",
        "-o", str(plan_path),
    ]  # fmt: skip
    err_path = work / f"{problem_path.stem}.{strategy}.stderr"
    run.exit_code, run.wall_seconds, run.peak_mb = run_child(command, err_path)
    if run.exit_code != 0 or not plan_path.exists():
        lines = err_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
        run.error = f"exit {run.exit_code}: {lines[-1] if lines else 'no message'}"
        return run
    run.plan = json.loads(plan_path.read_text(encoding="utf-8"))
    check = subprocess.run(
        [sys.executable, "-m", "solver", "check", str(problem_path), str(plan_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    if check.returncode != 0:
        found = check.stdout.strip().splitlines() + check.stderr.strip().splitlines()
        run.violations = found or [f"check exited with {check.returncode}"]
    return run


def simple_bound(problem_path: Path, seconds: float) -> tuple[float, str]:
    """An upper bound on served value when no CP-SAT bound is known.

    The LP relaxation of ``solver.bound`` when it is available, else the
    value of every request.
    """
    try:
        from solver.bound import value_upper_bound
        from solver.decompose import decompose
        from solver.instance import Instance
        from solver.io import read_problem

        problem, _ = read_problem(problem_path)
        inst = Instance(problem)
        _, parts = decompose(inst)
        return value_upper_bound(inst, parts, seconds), "LP relaxation"
    except ImportError:
        document = json.loads(problem_path.read_text(encoding="utf-8"))
        values = document["weights"]["priority_value"]
        return float(sum(values[str(r["priority"])] for r in document["requests"])), "all requests"


def km_bound_at_dates(problem_path: Path, plan: dict[str, Any]) -> float | None:
    """``solver.kmbound``'s lower bound for the plan's served requests at its dates.

    None when the solver package cannot be imported (the report then says n/a).
    """
    try:
        from solver.instance import Instance
        from solver.io import plan_from_json, read_problem
        from solver.kmbound import km_lower_bound
    except ImportError:
        return None
    problem, _ = read_problem(problem_path)
    parsed = plan_from_json(json.dumps(plan).encode())
    served = [a for a in parsed.requests if a.served and a.start is not None]
    starts = {a.id: problem.timebase.to_minutes(a.start) for a in served}  # type: ignore[arg-type]
    return km_lower_bound(Instance(problem), starts, starts)


def value_by_priority(document: dict[str, Any], plan: dict[str, Any]) -> dict[int, int]:
    """Served value per priority level."""
    values = document["weights"]["priority_value"]
    priority = {r["id"]: r["priority"] for r in document["requests"]}
    out = dict.fromkeys(PRIORITIES, 0)
    for assignment in plan["requests"]:
        if assignment["served"]:
            p = priority[assignment["id"]]
            out[p] += values[str(p)]
    return out


def machine() -> list[str]:
    """Lines describing the machine and the software versions."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = "unknown"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                ram = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    except OSError:
        pass
    try:
        import ortools

        ortools_version = ortools.__version__
    except ImportError:
        ortools_version = "not installed"
    return [
        f"- CPU: {cpu}, {os.cpu_count()} logical cores; RAM: {ram}",
        f"- Python {platform.python_version()} ({platform.system()} {platform.release()}), "
        f"OR-Tools {ortools_version}",
    ]


def _pct(part: float, whole: float | None) -> str:
    return f"{100 * part / whole:.1f} %" if whole else "n/a"


def _ratio(value: float, base: float) -> str:
    return f"{value / base:.3f}" if base else "n/a"


def instance_section(
    spec: InstanceSpec, document: dict[str, Any], runs: list[Run], bound: tuple[float, str]
) -> list[str]:
    """The Markdown of one instance: a table of runs and ratios to the baseline."""
    values = document["weights"]["priority_value"]
    total = dict.fromkeys(PRIORITIES, 0)
    for r in document["requests"]:
        total[r["priority"]] += values[str(r["priority"])]
    lines = [
        f"### {spec.name} ({len(document['requests'])} requests, {len(document['units'])} units, "
        f"{len(document['pools'])} pools; time limit {spec.seconds:g} s)",
        "",
        f"Upper bound on served value: {bound[0]:.1f} ({bound[1]}). Requested value per "
        "priority 1/2/3/4: " + " / ".join(str(total[p]) for p in PRIORITIES) + ".",
        "",
        "| strategy | status | served | served value | value P1/P2/P3/P4 | % of bound | km "
        "| km/served | shift min | seconds | peak MB | check |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        if not run.available:
            lines.append(f"| {run.strategy} | not available |" + " |" * 10)
            continue
        if run.plan is None:
            lines.append(f"| {run.strategy} | failed: {run.error} |" + " |" * 10)
            continue
        m = run.plan["metrics"]
        by_p = value_by_priority(document, run.plan)
        per_served = m["km"] / m["served"] if m["served"] else 0.0
        check = "OK" if not run.violations else f"**{len(run.violations)} VIOLATIONS**"
        lines.append(
            f"| {run.strategy} | {run.plan['status']} | {m['served']}/{m['requests']} "
            f"| {m['served_value']} | " + "/".join(str(by_p[p]) for p in PRIORITIES) + " "
            f"| {_pct(m['served_value'], bound[0])} | {m['km']:.1f} | {per_served:.2f} "
            f"| {m['shift_minutes']} | {run.wall_seconds:.1f} | {run.peak_mb:.0f} | {check} |"
        )
    base = next((r for r in runs if r.strategy == "baseline" and r.plan), None)
    if base is not None:
        bm = base.plan["metrics"]  # type: ignore[index]
        base_per = bm["km"] / bm["served"] if bm["served"] else 0.0
        lines += [
            "",
            "| vs baseline | served value ratio | km per served ratio "
            "| same, at the km lower bound | km / lower bound |",
            "|---|---|---|---|---|",
        ]
        for run in runs:
            if run.strategy == "baseline" or run.plan is None:
                continue
            m = run.plan["metrics"]
            per = m["km"] / m["served"] if m["served"] else 0.0
            floor = "n/a"
            versus = "n/a"
            if run.km_bound is not None and m["served"]:
                floor = _ratio(run.km_bound / m["served"], base_per)
                versus = _ratio(m["km"], run.km_bound)
            lines.append(
                f"| {run.strategy} | {_ratio(m['served_value'], bm['served_value'])} "
                f"| {_ratio(per, base_per)} | {floor} | {versus} |"
            )
        lines += [
            "",
            "The km lower bound (`solver.kmbound`) holds for any units and pools given to "
            "the same requests at the same dates; the dates come from the shift level, "
            "which the objective puts above km.",
        ]
    lines += levels_table(runs, bound[0])
    for run in runs:
        if run.violations:
            lines += ["", f"**{run.strategy} plan violations on {spec.name}:**", ""]
            lines += [f"    {v}" for v in run.violations[:20]]
    return [*lines, ""]


def levels_table(runs: list[Run], bound: float) -> list[str]:
    """Each level against its own bound: value against the upper bound (and the
    share of the greedy-to-bound gap closed), km against the km lower bound at the
    plan's dates, shift against the lower bound on shift at the plan's value."""
    greedy = next((r for r in runs if r.strategy == "greedy" and r.plan), None)
    greedy_value = greedy.plan["metrics"]["served_value"] if greedy and greedy.plan else None
    greedy_shift = None
    if greedy is not None and greedy.plan and greedy.plan["metrics"]["served"]:
        gm = greedy.plan["metrics"]
        greedy_shift = gm["shift_minutes"] / gm["served"]
    lines = [
        "",
        "| levels | % of bound | greedy-to-bound gap closed | km / km lower bound "
        "| shift min | shift lower bound | shift per served | vs greedy's | peak MB |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        if run.plan is None:
            continue
        m = run.plan["metrics"]
        closed = "n/a"
        if greedy_value is not None and bound > greedy_value and run.strategy != "greedy":
            closed = f"{(m['served_value'] - greedy_value) / (bound - greedy_value):.2f}"
        versus = _ratio(m["km"], run.km_bound) if run.km_bound else "n/a"
        levels = run.plan.get("solver", {}).get("bound") or []
        shift_bound = f"{levels[2]:.0f}" if len(levels) > 2 and levels[2] else "n/a"
        per = m["shift_minutes"] / m["served"] if m["served"] else 0.0
        than = _ratio(per, greedy_shift) if greedy_shift else "n/a"
        lines.append(
            f"| {run.strategy} | {_pct(m['served_value'], bound)} | {closed} | {versus} "
            f"| {m['shift_minutes']} | {shift_bound} | {per:.1f} | {than} | {run.peak_mb:.0f} |"
        )
    return lines


def cpsat_bound(runs: list[Run]) -> float | None:
    for run in runs:
        if run.strategy == "cpsat" and run.plan is not None:
            bound = run.plan.get("solver", {}).get("bound")
            if bound:
                return float(bound[0])
    return None


def write_report(path: Path, report: list[str]) -> None:
    """Writes the optimiser report, keeping the ``## `` sections other benchmarks own.

    This report uses only ``#`` and ``###`` headings, so every ``## `` section of the
    existing file (the calendar feeds' one, say) was written by another script.
    """
    existing = path.read_text(encoding="utf-8") if path.exists() else ""
    start = existing.find("\n## ")
    foreign = existing[start + 1 :] if start >= 0 else ""
    text = "\n".join(report).rstrip("\n") + "\n"
    if foreign:
        text += "\n" + foreign.rstrip("\n") + "\n"
    path.write_text(text, encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--instance",
        action="append",
        type=parse_instance,
        metavar="SIZE:SEED:SECONDS",
        help="an instance to run, repeatable (default: " + " ".join(DEFAULT_INSTANCES) + ")",
    )
    parser.add_argument(
        "--quick", action="store_true", help="run " + " ".join(QUICK_INSTANCES) + " only"
    )
    parser.add_argument(
        "--peak", action="store_true", help="run " + " ".join(PEAK_INSTANCES) + " only"
    )
    parser.add_argument("--strategies", default=",".join(STRATEGIES), help="default: %(default)s")
    parser.add_argument("--workers", type=int, default=2, help="CP-SAT workers (default: 2)")
    parser.add_argument("-o", "--output", default=str(REPO / "BENCHMARKS.md"))
    parser.add_argument(
        "--instances-dir", default=str(REPO / "bench" / "instances"), help="generated problems"
    )
    args = parser.parse_args(argv)
    strategies = [s.strip() for s in args.strategies.split(",") if s.strip()]
    unknown = [s for s in strategies if s not in STRATEGIES]
    if unknown:
        parser.error(f"unknown strategy {', '.join(unknown)}; choose from {', '.join(STRATEGIES)}")
    texts = QUICK_INSTANCES if args.quick else PEAK_INSTANCES if args.peak else DEFAULT_INSTANCES
    specs = args.instance or [parse_instance(t) for t in texts]
    command = "python -m bench.run " + shlex.join(sys.argv[1:] if argv is None else list(argv))
    started = datetime.now(UTC)
    report = [
        "# Benchmarks",
        "",
        f"Run on {started:%Y-%m-%d %H:%M} UTC with `{command}`.",
        "",
        "- Load average at the start: " + ", ".join(f"{x:.2f}" for x in os.getloadavg()) + ".",
        *machine(),
        "- The machine was shared with other work while the benchmark ran: seconds are indicative.",
        f"- Each strategy ran in its own process; CP-SAT with {args.workers} workers, seed 0.",
        "- Instances are generated by `python -m bench.generate --size SIZE --seed SEED`; "
        "FCFS is `baseline`.",
        "",
    ]
    violations = 0
    instances_dir = Path(args.instances_dir)
    instances_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        for spec in specs:
            document = generate(spec.size, spec.seed)
            problem_path = instances_dir / f"{spec.name}.json"
            problem_path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
            runs = []
            for strategy in strategies:
                print(f"{spec.name}: {strategy} ...", file=sys.stderr, flush=True)
                run = solve_one(problem_path, strategy, spec.seconds, args.workers, Path(tmp))
                if run.plan is not None and not run.violations:
                    run.km_bound = km_bound_at_dates(problem_path, run.plan)
                runs.append(run)
                if run.violations:
                    violations += len(run.violations)
                    print(
                        f"VIOLATION: {strategy} on {spec.name}: " + "; ".join(run.violations[:5]),
                        file=sys.stderr,
                    )
                elif run.error:
                    print(f"FAILED: {strategy} on {spec.name}: {run.error}", file=sys.stderr)
            known = cpsat_bound(runs)
            bound = (
                (known, "CP-SAT bound")
                if known is not None
                else simple_bound(problem_path, min(30.0, spec.seconds))
            )
            report += instance_section(spec, document, runs, bound)
            loads = ", ".join(f"{x:.2f}" for x in os.getloadavg())
            report += [f"Load average after {spec.name}: {loads}.", ""]
            write_report(Path(args.output), report)
    print(f"wrote {args.output}", file=sys.stderr)
    if violations:
        print(f"{violations} VIOLATION(S) FOUND: see {args.output}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
