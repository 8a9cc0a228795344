"""Prêt Commun's optimiser: a pure library for `loan-problem/1`.

It imports only the standard library and OR-Tools. ``solve`` is the one entry
point used by the command line and the web application alike.
"""

from __future__ import annotations

from solver.options import Progress, SolveOptions
from solver.plan import Plan
from solver.problem import Problem

STRATEGIES = ("cpsat", "greedy", "baseline")

__all__ = ["STRATEGIES", "Plan", "Problem", "Progress", "SolveOptions", "solve"]


def solve(
    problem: Problem,
    strategy: str = "cpsat",
    options: SolveOptions | None = None,
    problem_sha256: str = "",
) -> Plan:
    """Plans ``problem`` with ``strategy``; the plan passes ``solver.check``.

    Raises:
        ValueError: ``strategy`` is not one of ``STRATEGIES``.
    """
    options = options or SolveOptions()
    if strategy == "cpsat":
        from solver.cpsat import solve_cpsat

        return solve_cpsat(problem, options, problem_sha256)
    if strategy == "greedy":
        from solver.baseline import solve_greedy

        return solve_greedy(problem, options, problem_sha256)
    if strategy == "baseline":
        from solver.baseline import solve_fcfs

        return solve_fcfs(problem, options, problem_sha256)
    raise ValueError(f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")
