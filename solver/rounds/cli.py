"""``python -m solver rounds solve | check``: the rounds commands of the solver CLI.

Exit codes as for the loan commands: 0 done (or the plan is valid), 1 the plan
breaks a rule (``check``), 2 an input cannot be read or is invalid, or the plan
cannot be written (every fault named by its field path), 3 the solver failed.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from solver.rounds.check import check_rounds
from solver.rounds.io import RoundsFormatError, plan_to_json, read_plan, read_problem
from solver.rounds.model import RoundsPlan, RoundsProblem
from solver.rounds.routing import RoundsOptions, solve_rounds

EXIT_OK = 0
EXIT_VIOLATIONS = 1
EXIT_BAD_INPUT = 2
EXIT_SOLVER_FAILED = 3


class _Refused(Exception):
    """An input or output the command cannot use; ``lines`` say why."""

    def __init__(self, *lines: str) -> None:
        super().__init__(lines[0])
        self.lines = lines


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if not 0 <= value < 2**31:
        raise argparse.ArgumentTypeError(f"must be between 0 and 2147483647, got {text}")
    return value


def add_rounds_parser(commands: Any) -> None:
    """Adds ``rounds solve`` and ``rounds check`` to the solver's subcommands."""
    rounds = commands.add_parser(
        "rounds",
        help="plan delivery rounds (rounds-problem/1 -> rounds-plan/1) or check them",
        description="Plan trucks' delivery and collection rounds, or check a plan.",
        epilog="exit status: 0 done or plan valid, 1 plan breaks a rule (check), "
        "2 unreadable or invalid input, 3 solver failure",
    )
    sub = rounds.add_subparsers(dest="rounds_command", required=True, metavar="COMMAND")
    solve_cmd = sub.add_parser("solve", help="plan the rounds of a problem")
    solve_cmd.add_argument("problem", metavar="PROBLEM.json")
    solve_cmd.add_argument(
        "-o", "--output", metavar="PLAN.json", help="where to write the plan (default: stdout)"
    )
    solve_cmd.add_argument(
        "--time-limit",
        type=_positive_float,
        default=10.0,
        metavar="S",
        help="seconds of search (default: %(default)s)",
    )
    solve_cmd.add_argument(
        "--seed", type=_seed, default=0, metavar="N", help="random seed (default: %(default)s)"
    )
    solve_cmd.set_defaults(run=run_rounds_solve)
    check_cmd = sub.add_parser("check", help="check a rounds plan against its problem")
    check_cmd.add_argument("problem", metavar="PROBLEM.json")
    check_cmd.add_argument("plan", metavar="PLAN.json")
    check_cmd.set_defaults(run=run_rounds_check)


def _refused(run: Any) -> Any:
    def wrapper(args: argparse.Namespace) -> int:
        try:
            return int(run(args))
        except _Refused as refused:
            for line in refused.lines:
                print(line, file=sys.stderr)
            return EXIT_BAD_INPUT

    return wrapper


def _invalid(path: str, fmt: str, errors: Sequence[str]) -> str:
    count = f"{len(errors)} faults" if len(errors) > 1 else "1 fault"
    return "\n".join(
        [f"error: {path} is not a valid {fmt} document ({count}):", *(f"  {e}" for e in errors)]
    )


def _load_problem(path: str) -> tuple[RoundsProblem, str]:
    try:
        return read_problem(path)
    except OSError as exc:
        raise _Refused(f"error: cannot read {path}: {exc.strerror or exc}") from None
    except RoundsFormatError as exc:
        raise _Refused(_invalid(path, "rounds-problem/1", exc.errors)) from None


def _load_plan(path: str) -> RoundsPlan:
    try:
        return read_plan(path)
    except OSError as exc:
        raise _Refused(f"error: cannot read {path}: {exc.strerror or exc}") from None
    except RoundsFormatError as exc:
        raise _Refused(_invalid(path, "rounds-plan/1", exc.errors)) from None


def _write(text: str, output: str | None) -> None:
    """Writes through a temporary file, so that a reader never sees half a plan."""
    data = text.encode("utf-8")
    if output is None or output == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    target = Path(output)
    if target.is_dir() or not target.parent.is_dir():
        raise _Refused(f"error: cannot write {output}: no such file location or a directory")
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


@_refused
def run_rounds_solve(args: argparse.Namespace) -> int:
    """``rounds solve``: plans, writes the plan, prints a summary on stderr."""
    problem, sha = _load_problem(args.problem)
    if args.output not in (None, "-"):
        target = Path(args.output)
        if target.is_dir() or not target.parent.is_dir():
            raise _Refused(f"error: cannot write {args.output}: no such directory or a directory")
    print(
        f"rounds: {len(problem.stops)} stops, {len(problem.trucks)} trucks; "
        f"time limit {args.time_limit:g} s",
        file=sys.stderr,
    )
    started = time.monotonic()
    try:
        plan = solve_rounds(problem, RoundsOptions(args.time_limit, args.seed), sha)
    except Exception as exc:  # a bug: a message, not a traceback
        print(f"error: the rounds solver failed ({type(exc).__name__}): {exc}", file=sys.stderr)
        return EXIT_SOLVER_FAILED
    _write(plan_to_json(plan, problem.timezone), args.output)
    m = plan.metrics
    print(
        f"{m.served}/{m.stops} stops served by {m.trucks_used} truck(s), {m.km:.1f} km, "
        f"{m.dropped} dropped, {time.monotonic() - started:.1f} s",
        file=sys.stderr,
    )
    for d in plan.dropped:
        print(f"  dropped {d.stop}: {d.reason.value}: {d.detail}", file=sys.stderr)
    return EXIT_OK


@_refused
def run_rounds_check(args: argparse.Namespace) -> int:
    """``rounds check``: prints each violation; exit 1 if any."""
    problem, sha = _load_problem(args.problem)
    plan = _load_plan(args.plan)
    violations = check_rounds(problem, plan, sha)
    if violations:
        for violation in violations:
            print(violation)
        print(f"{args.plan}: {len(violations)} violation(s)", file=sys.stderr)
        return EXIT_VIOLATIONS
    m = plan.metrics
    print(
        f"OK: {args.plan} is a valid rounds plan for {args.problem}: {m.served}/{m.stops} "
        f"stops served by {m.trucks_used} truck(s), {m.km:.1f} km, {m.dropped} dropped"
    )
    return EXIT_OK
