"""Turning a strategy's decisions into a checked `loan-plan/1` document.

Every strategy ends here, so every plan is checked, explained and measured the
same way: reasons for unserved requests from ``solver.explain``, metrics and
objective from ``solver.check``.
"""

from __future__ import annotations

from collections.abc import Sequence

from solver.plan import Plan, RequestAssignment, SolverInfo, Status
from solver.problem import Problem


class InvalidPlanError(RuntimeError):
    """A strategy produced a plan that breaks a rule of ``solver.check`` (a bug)."""


def build_plan(
    problem: Problem,
    assignments: Sequence[RequestAssignment],
    *,
    strategy: str,
    status: Status,
    seconds: float,
    problem_sha256: str = "",
    bound: tuple[float, ...] | None = None,
    explain_seconds: float = 5.0,
) -> Plan:
    """Orders, explains, measures and checks a strategy's assignments.

    ``assignments`` may omit unserved requests: every request of the problem
    missing from it is added as unserved. Reasons already given are kept.

    Raises:
        InvalidPlanError: the assignments break a feasibility rule.
    """
    from solver.check import check_assignments, compute_metrics, objective_of
    from solver.explain import explain_unserved

    by_id = {a.id: a for a in assignments}
    ordered = [
        by_id.get(r.id) or RequestAssignment(id=r.id, served=False) for r in problem.requests
    ]
    violations = check_assignments(problem, ordered)
    if violations:
        raise InvalidPlanError(
            f"{strategy} made an invalid plan:\n" + "\n".join(str(v) for v in violations)
        )
    reasons = explain_unserved(problem, ordered, time_limit_seconds=explain_seconds)
    ordered = [
        a
        if a.served or a.reason
        else RequestAssignment(id=a.id, served=False, reason=reasons.get(a.id, ""))
        for a in ordered
    ]
    metrics = compute_metrics(problem, ordered)
    return Plan(
        problem=problem_sha256,
        status=status,
        solver=SolverInfo(
            strategy=strategy,
            seconds=round(seconds, 3),
            objective=objective_of(metrics),
            bound=bound,
        ),
        requests=tuple(ordered),
        metrics=metrics,
    )
