"""The command line: ``python -m solver solve | baseline | check | rounds``.

Exit codes: 0 done (or the plan is valid), 1 the plan breaks a rule
(``check``), 2 an input cannot be read or is invalid, or the plan cannot be
written, 3 the solver failed, 130 interrupted. Messages name the file and the
fault; they never carry a stack trace.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import Self

from solver import STRATEGIES, solve
from solver.check import check_plan
from solver.io import FormatError, plan_to_json, read_plan, read_problem
from solver.options import Progress, SolveOptions
from solver.plan import Plan, Status
from solver.problem import Problem
from solver.rounds.cli import add_rounds_parser

EXIT_OK = 0
EXIT_VIOLATIONS = 1
EXIT_BAD_INPUT = 2
EXIT_SOLVER_FAILED = 3
EXIT_INTERRUPTED = 130

_LEVELS = ("served value", "changed", "shift minutes", "km")  # objective levels, in order


class _Refused(Exception):
    """An input or output the command cannot use; ``lines`` say why."""

    def __init__(self, *lines: str) -> None:
        super().__init__(lines[0])
        self.lines = lines


def main(argv: Sequence[str] | None = None) -> int:
    """Runs one command; returns the process exit code."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except _Refused as refused:
        for line in refused.lines:
            print(line, file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m solver``."""
    parser = argparse.ArgumentParser(
        prog="python -m solver",
        description="Plan equipment loans (loan-problem/1 -> loan-plan/1) and check plans.",
        epilog="exit status: 0 done or plan valid, 1 plan breaks a rule (check), "
        "2 unreadable or invalid input, 3 solver failure, 130 interrupted",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    solve_cmd = commands.add_parser("solve", help="make a plan for a problem")
    _add_problem_and_output(solve_cmd)
    solve_cmd.add_argument(
        "--strategy", choices=STRATEGIES, default="cpsat", help="default: %(default)s"
    )
    solve_cmd.add_argument(
        "--time-limit",
        type=_positive(float),
        default=60.0,
        metavar="S",
        help="seconds for the whole solve (default: %(default)s)",
    )
    solve_cmd.add_argument(
        "--workers",
        type=_positive(int),
        default=2,
        metavar="N",
        help="CP-SAT search workers (default: %(default)s)",
    )
    solve_cmd.add_argument(
        "--seed",
        type=_non_negative_int,
        default=0,
        metavar="N",
        help="random seed; with one worker, runs repeat (default: %(default)s)",
    )
    solve_cmd.set_defaults(run=_run_solve)

    baseline_cmd = commands.add_parser(
        "baseline", help="make the first-come-first-served plan (same as solve --strategy baseline)"
    )
    _add_problem_and_output(baseline_cmd)
    baseline_cmd.set_defaults(
        run=_run_solve, strategy="baseline", time_limit=60.0, workers=1, seed=0
    )

    check_cmd = commands.add_parser("check", help="check a plan against its problem")
    check_cmd.add_argument("problem", metavar="PROBLEM.json")
    check_cmd.add_argument("plan", metavar="PLAN.json")
    check_cmd.set_defaults(run=_run_check)
    add_rounds_parser(commands)
    return parser


def _add_problem_and_output(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("problem", metavar="PROBLEM.json")
    parser.add_argument(
        "-o", "--output", metavar="PLAN.json", help="where to write the plan (default: stdout)"
    )


def _positive(kind: Callable[[str], float]) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {text}")
        return value

    return parse


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


# ---------------------------------------------------------------------------
# Commands


def _run_solve(args: argparse.Namespace) -> int:
    problem, sha = _load_problem(args.problem)
    _check_writable(args.output)
    stop = _StopOnInterrupt()
    started = time.monotonic()
    options = SolveOptions(
        time_limit_seconds=args.time_limit,
        workers=args.workers,
        seed=args.seed,
        on_progress=_print_progress,
        should_stop=stop,
    )
    print(
        f"{args.strategy}: {len(problem.requests)} requests, {len(problem.units)} units, "
        f"{len(problem.pools)} pools; time limit {args.time_limit:g} s",
        file=sys.stderr,
    )
    with stop:
        try:
            plan = solve(problem, args.strategy, options, sha)
        except Exception as exc:
            # A bug in a strategy: the user gets a message, not a traceback.
            print(
                f"error: the {args.strategy} strategy failed ({type(exc).__name__}): {exc}",
                file=sys.stderr,
            )
            return EXIT_SOLVER_FAILED
    _write_plan(plan_to_json(plan, problem.timezone), args.output)
    print(summary(plan, time.monotonic() - started), file=sys.stderr)
    return EXIT_OK


def _run_check(args: argparse.Namespace) -> int:
    problem, sha = _load_problem(args.problem)
    plan = _load_plan(args.plan)
    violations = check_plan(problem, plan, problem_sha256=sha)
    if violations:
        for violation in violations:
            print(violation)
        print(f"{args.plan}: {len(violations)} violation(s)", file=sys.stderr)
        return EXIT_VIOLATIONS
    m = plan.metrics
    print(
        f"OK: {args.plan} is a valid plan for {args.problem} ({plan.status.value}): "
        f"{m.served}/{m.requests} requests served, value {m.served_value}, "
        f"{m.changed} changed, shift {m.shift_minutes} min, {m.km:.1f} km"
    )
    return EXIT_OK


# ---------------------------------------------------------------------------
# Reading, writing and reporting


def _load_problem(path: str) -> tuple[Problem, str]:
    try:
        return read_problem(path)
    except OSError as exc:
        raise _Refused(f"error: cannot read {path}: {exc.strerror or exc}") from None
    except FormatError as exc:
        raise _Refused(_invalid(path, "loan-problem/1", exc.errors)) from None


def _load_plan(path: str) -> Plan:
    try:
        return read_plan(path)
    except OSError as exc:
        raise _Refused(f"error: cannot read {path}: {exc.strerror or exc}") from None
    except FormatError as exc:
        raise _Refused(_invalid(path, "loan-plan/1", exc.errors)) from None


def _invalid(path: str, fmt: str, errors: Sequence[str]) -> str:
    count = f"{len(errors)} faults" if len(errors) > 1 else "1 fault"
    return "\n".join(
        [f"error: {path} is not a valid {fmt} document ({count}):", *(f"  {e}" for e in errors)]
    )


def _check_writable(output: str | None) -> None:
    """Refuses an output that cannot be written before spending time on a solve."""
    if output is None or output == "-":
        return
    target = Path(output)
    if target.is_dir():
        raise _Refused(f"error: cannot write {output}: it is a directory")
    if not target.parent.is_dir():
        raise _Refused(f"error: cannot write {output}: no directory {target.parent}")
    if not os.access(target.parent, os.W_OK):
        raise _Refused(f"error: cannot write {output}: permission denied")


def _write_plan(text: str, output: str | None) -> None:
    """Writes to ``output`` through a temporary file, so a reader never sees half a plan."""
    data = text.encode("utf-8")
    if output is None or output == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    target = Path(output)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, target)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError as exc:
        raise _Refused(f"error: cannot write {output}: {exc.strerror or exc}") from None


def _print_progress(progress: Progress) -> None:
    bound = f", bound {progress.bound:g}" if progress.bound is not None else ""
    note = f" ({progress.message})" if progress.message else ""
    print(
        f"[{progress.elapsed_seconds:7.1f} s] served value {progress.served_value}, "
        f"{progress.km:.1f} km{bound}{note}",
        file=sys.stderr,
        flush=True,
    )


def summary(plan: Plan, wall_seconds: float | None = None) -> str:
    """One line saying how good ``plan`` is, for the end of a solve."""
    m = plan.metrics
    seconds = plan.solver.seconds if wall_seconds is None else wall_seconds
    text = (
        f"{plan.status.value}: {m.served}/{m.requests} requests served, "
        f"value {m.served_value}, {m.changed} changed, shift {m.shift_minutes} min, "
        f"{m.km:.1f} km, {seconds:.1f} s"
    )
    if plan.status is Status.OPTIMAL:
        return text + ", proven optimal"
    if plan.solver.bound and plan.solver.objective:
        return text + ", " + _gap(plan.solver.objective, plan.solver.bound)
    return text


def _gap(objective: Sequence[float], bound: Sequence[float]) -> str:
    """The first objective level where the bound is not reached, and by how much."""
    for name, value, limit in zip(_LEVELS, objective, bound, strict=False):
        if abs(value - limit) > 1e-6:
            gap = abs(value - limit) / max(abs(value), abs(limit), 1e-9)
            return f"bound {limit:g} on {name} (gap {gap:.1%})"
    return "bound reached"


class _StopOnInterrupt:
    """``should_stop`` for a solve: the first Ctrl-C asks for the best plan so far.

    A second Ctrl-C interrupts at once. Used as a context manager around the
    solve so that the usual Ctrl-C behaviour is restored afterwards.
    """

    def __init__(self) -> None:
        self.requested = False
        self._previous: object = None

    def __call__(self) -> bool:
        return self.requested

    def __enter__(self) -> Self:
        # Signal handlers can only be set from the main thread (not, e.g., in a job).
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._on_interrupt)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)  # type: ignore[arg-type]

    def _on_interrupt(self, signum: int, frame: FrameType | None) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print(
            "stopping: finishing with the best plan found (Ctrl-C again to abort)",
            file=sys.stderr,
            flush=True,
        )
