"""The plan (`loan-plan/1`), as frozen dataclasses."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

PLAN_FORMAT = "loan-plan/1"


class Status(str, enum.Enum):
    OPTIMAL = "OPTIMAL"
    FEASIBLE = "FEASIBLE"
    BASELINE = "BASELINE"


@dataclass(frozen=True)
class Draw:
    """A quantity drawn from one pool for one pooled line."""

    pool: str
    quantity: int


@dataclass(frozen=True)
class LineAssignment:
    """How one request line is served: units for tracked types, draws for pooled.

    Lines are matched to the request's lines by position; ``type`` repeats the
    requested type (not the type of a substitute unit).
    """

    type: str
    units: tuple[str, ...] = ()
    pools: tuple[Draw, ...] = ()


@dataclass(frozen=True)
class RequestAssignment:
    """One request in a plan: served over ``[start, end)`` or not, with a reason."""

    id: str
    served: bool
    start: datetime | None = None
    end: datetime | None = None
    lines: tuple[LineAssignment, ...] = ()
    reason: str | None = None


@dataclass(frozen=True)
class SolverInfo:
    """Which strategy made the plan and how well it did.

    ``objective`` and ``bound`` are the lexicographic levels, in order: served
    value, changed, shift minutes, km.
    """

    strategy: str
    seconds: float
    objective: tuple[float, ...] | None = None
    bound: tuple[float, ...] | None = None


@dataclass(frozen=True)
class Metrics:
    requests: int
    served: int
    served_value: int
    changed: int
    shift_minutes: int
    km: float


@dataclass(frozen=True)
class Plan:
    """A whole `loan-plan/1` document."""

    problem: str  # sha256 of the problem file, hex
    status: Status
    solver: SolverInfo
    requests: tuple[RequestAssignment, ...]
    metrics: Metrics
    format: str = PLAN_FORMAT

    def assignment_of(self, request_id: str) -> RequestAssignment | None:
        for assignment in self.requests:
            if assignment.id == request_id:
                return assignment
        return None
