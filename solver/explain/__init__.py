"""Why a request is unserved, in words a fleet manager can act on.

With the plan's served loans fixed, each unserved request is tested at every
shift that matters inside its window: the reason names the type that ran
short, when (local time in ``problem.timezone``), which loans hold it, whether
shifts and substitutes were tried. A direct capacity analysis
(``solver.explain.analysis``, on the occupation built by
``solver.explain.index``) answers almost every case; CP-SAT
(``solver.explain.core``) only finds a smallest set of lines that conflict
when each line fits alone but the request as a whole does not. Reasons are
built by ``solver.explain.details`` and worded by ``solver.explain.reason``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from solver.explain.analysis import Analyser
from solver.explain.details import Tables
from solver.explain.index import Occupancy
from solver.explain.reason import Reason, ReasonKind, UnitState, UnitStatus
from solver.plan import RequestAssignment
from solver.problem import Problem

__all__ = [
    "Reason",
    "ReasonKind",
    "UnitState",
    "UnitStatus",
    "diagnose_unserved",
    "explain_unserved",
]


def diagnose_unserved(
    problem: Problem,
    assignments: Sequence[RequestAssignment],
    time_limit_seconds: float = 5.0,
) -> dict[str, Reason]:
    """Structured reasons for every unserved request of a feasible set of assignments.

    Args:
        problem: the problem the assignments belong to.
        assignments: the plan's requests (served ones with their units and
            draws); only those marked unserved are explained.
        time_limit_seconds: the budget for the CP-SAT conflict searches; when
            it runs out, the remaining combined conflicts keep the direct
            reason (the least bad shift and what is short there).

    Returns:
        A reason per unserved request id known to ``problem``, in the order
        of ``assignments``.
    """
    started = time.monotonic()
    analyser = Analyser(problem, Occupancy(problem, assignments))
    reasons: dict[str, Reason] = {}
    pending: list[tuple[str, Tables]] = []
    for assignment in assignments:
        request = problem.request_by_id.get(assignment.id)
        if assignment.served or request is None or assignment.id in reasons:
            continue
        reason, tables = analyser.diagnose(request)
        reasons[assignment.id] = reason
        if tables is not None:
            pending.append((assignment.id, tables))
    if pending:
        from solver.explain.core import minimal_conflict

        for request_id, tables in pending:
            left = time_limit_seconds - (time.monotonic() - started)
            if left <= 0:
                break
            core = minimal_conflict(tables, tables.lines, left)
            if core:
                request = problem.request_by_id[request_id]
                reasons[request_id] = analyser.combination(request, tables, tables.lines, core)
    return reasons


def explain_unserved(
    problem: Problem,
    assignments: Sequence[RequestAssignment],
    time_limit_seconds: float = 5.0,
) -> dict[str, str]:
    """One English line per unserved request id (see ``diagnose_unserved``)."""
    reasons = diagnose_unserved(problem, assignments, time_limit_seconds)
    return {request_id: reason.to_text() for request_id, reason in reasons.items()}
