"""Options shared by every strategy, and the progress they report."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Progress:
    """One improvement seen during a solve (reported on stderr by the CLI)."""

    elapsed_seconds: float
    served_value: int
    km: float
    bound: float | None  # upper bound on served value, when known
    message: str = ""
    changed: int | None = None  # the other levels of the objective, when known
    shift_minutes: int | None = None
    shift_bound: float | None = None  # lower bound on shift at this served value, when known


@dataclass(frozen=True)
class SolveOptions:
    """How to run a strategy.

    ``time_limit_seconds`` bounds the whole solve; ``workers`` and ``seed`` make
    CP-SAT runs repeatable (tests use one worker and a fixed seed).
    ``on_progress`` is called at each improvement; ``should_stop`` is polled
    and, when it returns True, the solve ends early with the best plan found.
    """

    time_limit_seconds: float = 60.0
    workers: int = 2
    seed: int = 0
    on_progress: Callable[[Progress], None] | None = None
    should_stop: Callable[[], bool] | None = None
