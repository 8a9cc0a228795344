"""Moving unit loans one at a time to units that drive less (``solver.units_local``).

POD-1 lives at the depot, POD-2 at Dammarie. A podium at Melun costs a 20 km
round trip from the depot and 16 km from Dammarie; podiums turn around in
4 hours and travel directly to a next loan starting within 24 hours.
"""

from __future__ import annotations

import time
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from solver.baseline import solve_fcfs
from solver.check import check_assignments, compute_metrics
from solver.instance import Instance
from solver.options import SolveOptions
from solver.plan import RequestAssignment
from solver.problem import Problem, Unit
from solver.units_local import improve_units

PODIUMS = [Unit("POD-1", "podium", "depot"), Unit("POD-2", "podium", "dammarie")]


def units_after(
    problem: Problem, assignments: list[RequestAssignment], kept: dict | None = None
) -> dict[str, tuple[str, ...]]:
    found = improve_units(Instance(problem), assignments, kept or {}, time.monotonic() + 5)
    return {a.id: a.lines[0].units for a in found or assignments}


def test_a_loan_moves_to_the_unit_that_drives_less(make_problem, make_request, serve):
    request = make_request(id="R-1", site="melun")
    problem = make_problem(requests=[request], units=PODIUMS)
    before = [serve(request, "POD-1")]
    after = improve_units(Instance(problem), before, {}, time.monotonic() + 5)
    assert after is not None and after[0].lines[0].units == ("POD-2",)
    assert compute_metrics(problem, before).km == 20.0
    assert compute_metrics(problem, after).km == 16.0


def test_a_busy_unit_is_not_taken(make_problem, make_request, serve, at):
    ours = make_request(id="R-1", site="melun")
    theirs = make_request(id="R-2", site="dammarie", commune="dammarie", start=at(14, 8))
    problem = make_problem(requests=[ours, theirs], units=PODIUMS)
    assert units_after(problem, [serve(ours, "POD-1"), serve(theirs, "POD-2")]) == {
        "R-1": ("POD-1",),
        "R-2": ("POD-2",),
    }


def test_turnaround_and_travel_must_fit_before_the_next_loan(make_problem, make_request, serve, at):
    # R-2 ends at 12:00 at Dammarie; R-1 starts at Melun at 16:00, 4 hours later: the
    # podium would need 4 h of turnaround plus 12 minutes on the road.
    ours = make_request(id="R-1", site="melun", start=at(13, 16), end=at(14, 18))
    theirs = make_request(
        id="R-2", site="dammarie", commune="dammarie", start=at(12, 8), end=at(13, 12)
    )
    problem = make_problem(requests=[ours, theirs], units=PODIUMS)
    assert units_after(problem, [serve(ours, "POD-1"), serve(theirs, "POD-2")])["R-1"] == ("POD-1",)

    # Starting at 16:30 it fits, and the podium goes straight from Dammarie to Melun.
    later = make_request(id="R-1", site="melun", start=at(13, 16, 30), end=at(14, 18))
    problem = make_problem(requests=[later, theirs], units=PODIUMS)
    before = [serve(later, "POD-1"), serve(theirs, "POD-2")]
    found = improve_units(Instance(problem), before, {}, time.monotonic() + 5)
    assert found is not None and found[0].lines[0].units == ("POD-2",)
    assert check_assignments(problem, found) == []
    assert compute_metrics(problem, found).km < compute_metrics(problem, before).km


def test_locked_loans_and_kept_units_stay(make_problem, make_request, serve):
    request = make_request(id="R-1", site="melun")
    problem = make_problem(requests=[request], units=PODIUMS)
    assignments = [serve(request, "POD-1")]
    assert units_after(problem, assignments, kept={"R-1": [("POD-1",)]}) == {"R-1": ("POD-1",)}

    locked = make_request(id="R-1", site="melun", locked=assignments[0])
    assert units_after(make_problem(requests=[locked], units=PODIUMS), assignments) == {
        "R-1": ("POD-1",)
    }


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_moves_keep_the_plan_valid_and_never_add_km(data, make_problem, make_request, at):
    sites = st.sampled_from(["depot", "melun", "dammarie"])
    units = [
        Unit(f"POD-{n}", "podium", data.draw(sites, label="home"))
        for n in range(data.draw(st.integers(2, 3), label="units"))
    ]
    requests = []
    for index in range(data.draw(st.integers(2, 6), label="requests")):
        start = at(data.draw(st.integers(2, 8), label="day"), data.draw(st.integers(6, 20)))
        site = data.draw(sites, label="site")
        requests.append(
            make_request(
                id=f"R-{index}",
                site=site,
                commune="dammarie" if site == "dammarie" else "melun",
                start=start,
                end=start + timedelta(hours=data.draw(st.integers(1, 40), label="hours")),
            )
        )
    problem = make_problem(requests=requests, units=units, pools=[])
    served = [
        a for a in solve_fcfs(problem, SolveOptions(time_limit_seconds=5)).requests if a.served
    ]

    found = improve_units(Instance(problem), served, {}, time.monotonic() + 5)
    after = found or served

    assert check_assignments(problem, after) == []
    assert compute_metrics(problem, after).km <= compute_metrics(problem, served).km
    assert [(a.id, a.start, a.end) for a in after] == [(a.id, a.start, a.end) for a in served]
