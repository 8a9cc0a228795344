"""Delivery rounds: which truck serves which deliveries and collections, in which order.

``rounds-problem/1`` -> ``rounds-plan/1`` (see ``docs/rounds-format.md``). Pure:
the standard library and OR-Tools only, like the loan optimiser.
"""

from solver.rounds.check import Violation, check_rounds
from solver.rounds.io import (
    RoundsFormatError,
    plan_from_json,
    plan_to_json,
    problem_from_json,
    problem_to_json,
    read_plan,
    read_problem,
)
from solver.rounds.model import RoundsPlan, RoundsProblem
from solver.rounds.routing import RoundsOptions, solve_rounds

__all__ = [
    "RoundsFormatError",
    "RoundsOptions",
    "RoundsPlan",
    "RoundsProblem",
    "Violation",
    "check_rounds",
    "plan_from_json",
    "plan_to_json",
    "problem_from_json",
    "problem_to_json",
    "read_plan",
    "read_problem",
    "solve_rounds",
]
