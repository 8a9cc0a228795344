"""The units stage (``solver.units.UnitsModel``) against brute force, dates fixed.

The model carries redundant constraints to tighten its relaxation (cliques
of loans per unit, one direct leg in and out per loan); these tests show
that they cut off no plan: the model's served value and km equal the best
over every choice of units, and its km is proven optimal.
"""

from __future__ import annotations

import itertools
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from solver.check import check_assignments, compute_metrics
from solver.instance import Instance
from solver.options import SolveOptions
from solver.plan import LineAssignment, RequestAssignment
from solver.problem import Unit
from solver.units import UnitsModel, make_loans

OPTIONS = SolveOptions(time_limit_seconds=10, workers=1, seed=0)
UNITS = (
    Unit("POD-1", "podium", "depot"),
    Unit("POD-2", "podium", "dammarie"),
    Unit("POD-3", "podium", "depot"),
)


def _assignments(problem, units_of) -> list[RequestAssignment]:
    """Requests served with ``units_of[request id]`` (absent: unserved)."""
    return [
        RequestAssignment(
            r.id, True, r.start, r.end, (LineAssignment(r.lines[0].type, units_of[r.id]),)
        )
        for r in problem.requests
        if r.id in units_of
    ]


def _brute_force(problem) -> tuple[int, float]:
    """The best (served value, -km) over every choice of units, as (value, km)."""
    options = []
    for request in problem.requests:
        choices: list[tuple[str, ...] | None] = [None]
        choices.extend(itertools.combinations([u.id for u in UNITS], request.lines[0].quantity))
        options.append(choices)
    best = (0, 0.0)
    for choice in itertools.product(*options):
        units_of = {r.id: c for r, c in zip(problem.requests, choice, strict=True) if c}
        assignments = _assignments(problem, units_of)
        if check_assignments(problem, assignments):
            continue
        metrics = compute_metrics(problem, assignments)
        if (metrics.served_value, -metrics.km) > (best[0], -best[1]):
            best = (metrics.served_value, metrics.km)
    return best


def _solve(problem) -> tuple[int, float, bool]:
    inst = Instance(problem)
    starts = {rid: rd.start for rid, rd in inst.reqs.items()}
    model = UnitsModel(inst, make_loans(inst, ["podium"], starts, {}))
    found, results = model.solve(10.0, OPTIONS)
    assert found is not None
    units_of = {rid: units for (rid, _), units in found.items()}
    assignments = _assignments(problem, units_of)
    assert check_assignments(problem, assignments) == []
    metrics = compute_metrics(problem, assignments)
    return metrics.served_value, metrics.km, results[-1].optimal


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_units_reach_the_best_value_and_km_of_brute_force(data, make_problem, make_request, at):
    requests = []
    for index in range(data.draw(st.integers(2, 5), label="requests")):
        start = at(2, 8) + timedelta(hours=data.draw(st.integers(0, 96), label="start"))
        hours = data.draw(st.integers(2, 30), label="hours")
        requests.append(
            make_request(
                id=f"R-{index}",
                priority=data.draw(st.integers(1, 2), label="priority"),
                site=data.draw(st.sampled_from(["depot", "melun", "dammarie"]), label="site"),
                start=start,
                end=start + timedelta(hours=hours),
                lines=[("podium", data.draw(st.integers(1, 2), label="quantity"))],
            )
        )
    problem = make_problem(requests=requests, units=UNITS)
    value, km, optimal = _solve(problem)
    assert (value, km) == _brute_force(problem)
    assert optimal


def test_a_chain_of_direct_transfers_is_found(make_problem, make_request, at):
    # Three podium loans a day apart at Melun and Dammarie: one unit from the
    # depot chains them (10 + 8 + 8 + 10 = 36 km) instead of three round trips.
    requests = [
        make_request(id="R-1", site="melun", start=at(2, 8), end=at(2, 18)),
        make_request(id="R-2", site="dammarie", start=at(3, 8), end=at(3, 18)),
        make_request(id="R-3", site="melun", start=at(4, 8), end=at(4, 18)),
    ]
    problem = make_problem(requests=requests, units=UNITS[:1])
    assert _solve(problem) == (6, 36.0, True)
