"""The problem in the optimiser's integer minutes, precomputed once per solve.

Every stage of ``solver.cpsat`` reads requests, units, pools and travel times
from an ``Instance`` rather than from the dataclasses, so that the time base
(integer minutes since ``horizon.start``) and the windows clipped to the
horizon are computed in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from solver.geo import TravelMatrix
from solver.plan import RequestAssignment
from solver.problem import Pool, Problem, Request, Unit

KM_SCALE = 100  # km are integers in hundredths of a km inside the models


@dataclass(frozen=True)
class ReqData:
    """One request in minutes: original start, duration, allowed start range.

    ``lo``..``hi`` is the range of starts that keep ``[start, start + duration)``
    inside the window and the horizon; ``hi < lo`` means it can never be served.
    A locked request has ``lo == hi`` at its locked start.
    """

    request: Request
    value: int
    start: int
    duration: int
    lo: int
    hi: int

    @property
    def id(self) -> str:
        return self.request.id

    @property
    def servable(self) -> bool:
        return self.lo <= self.hi


class Instance:
    """Minute-based view of a problem shared by the optimiser's stages."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        self.timebase = problem.timebase
        self.travel = TravelMatrix(problem)
        tb = self.timebase
        h0 = tb.to_minutes(problem.horizon.start)
        h1 = tb.to_minutes(problem.horizon.end)
        self.horizon = (h0, h1)
        self.reqs: dict[str, ReqData] = {}
        for request in problem.requests:
            start = tb.to_minutes(request.start)
            duration = tb.to_minutes(request.end) - start
            if request.locked is not None and request.locked.start is not None:
                lo = hi = tb.to_minutes(request.locked.start)
            else:
                lo = max(tb.to_minutes(request.earliest_start), h0)
                hi = min(tb.to_minutes(request.latest_end), h1) - duration
            self.reqs[request.id] = ReqData(
                request, problem.value_of(request), start, duration, lo, hi
            )
        self.units_by_type: dict[str, list[Unit]] = {}
        for unit in problem.units:
            self.units_by_type.setdefault(unit.type, []).append(unit)
        self.pools_by_type: dict[str, list[Pool]] = {}
        for pool in problem.pools:
            self.pools_by_type.setdefault(pool.type, []).append(pool)
        self.blackouts: dict[str, list[tuple[int, int]]] = {
            unit.id: sorted(
                (tb.to_minutes(iv.start), tb.to_minutes(iv.end)) for iv in unit.unavailable
            )
            for unit in problem.units
        }

    def turnaround(self, type_id: str) -> int:
        return self.problem.type_by_id[type_id].turnaround_minutes

    def direct_limit(self, type_id: str) -> float:
        return self.problem.type_by_id[type_id].max_direct_transfer_hours * 60

    def eligible_unit_types(self, type_id: str) -> list[str]:
        """Unit-tracked types whose units may serve a line of ``type_id``."""
        if self.problem.is_pooled(type_id):
            return []
        return [t for t in self.problem.eligible_unit_types(type_id) if t in self.units_by_type]

    def km100(self, a: str, b: str) -> int:
        """Road km between two sites, in hundredths, rounded."""
        return round(self.travel.km(a, b) * KM_SCALE)

    @cached_property
    def previous(self) -> dict[str, RequestAssignment]:
        """Served assignments of ``previous`` for requests still in the problem."""
        prev = self.problem.previous
        if prev is None:
            return {}
        return {a.id: a for a in prev.requests if a.served and a.id in self.reqs}

    def is_locked(self, request_id: str) -> bool:
        return self.reqs[request_id].request.locked is not None
