"""The CP-SAT optimiser on tiny hand-built problems: one pair of tests per rule.

Each pair shows the rule holding (the optimiser serves what fits) and the rule
biting (what would break it is left unserved, shifted or moved). Every plan is
also re-checked with ``solver.check``.
"""

from __future__ import annotations

from solver.check import check_plan
from solver.cpsat import solve_cpsat
from solver.options import SolveOptions
from solver.plan import LineAssignment, Plan, RequestAssignment, Status
from solver.problem import EquipmentType, Interval, Pool, Unit

OPTIONS = SolveOptions(time_limit_seconds=10, workers=1, seed=0)


def solve(problem) -> Plan:
    plan = solve_cpsat(problem, OPTIONS)
    assert check_plan(problem, plan) == []
    assert plan.solver.strategy == "cp-sat"
    assert plan.status in (Status.OPTIMAL, Status.FEASIBLE)
    return plan


def served_ids(plan: Plan) -> set[str]:
    return {a.id for a in plan.requests if a.served}


def test_two_requests_for_one_unit_that_do_not_overlap_are_both_served(
    make_problem, make_request, at
):
    first = make_request(id="R-1", start=at(2, 8), end=at(3, 18))
    second = make_request(id="R-2", start=at(10, 8), end=at(11, 18))
    units = [Unit("POD-1", "podium", "depot")]
    plan = solve(make_problem(requests=[first, second], units=units))
    assert served_ids(plan) == {"R-1", "R-2"}


def test_two_requests_overlapping_on_the_only_unit_serve_the_more_valuable(
    make_problem, make_request, at
):
    low = make_request(id="R-1", priority=1, start=at(2, 8), end=at(4, 18))
    high = make_request(id="R-2", priority=3, start=at(3, 8), end=at(5, 18))
    units = [Unit("POD-1", "podium", "depot")]
    plan = solve(make_problem(requests=[low, high], units=units))
    assert served_ids(plan) == {"R-2"}
    assert plan.solver.bound[0] == plan.metrics.served_value == 4


def test_the_shift_that_makes_both_fit_is_found(make_problem, make_request, at):
    fixed = make_request(id="R-1", start=at(2, 8), end=at(4, 8))
    movable = make_request(
        id="R-2",
        start=at(3, 8),
        end=at(4, 8),
        earliest_start=at(1, 0),
        latest_end=at(8, 0),
    )
    units = [Unit("POD-1", "podium", "depot")]
    plan = solve(make_problem(requests=[fixed, movable], units=units))
    assert served_ids(plan) == {"R-1", "R-2"}
    moved = plan.assignment_of("R-2")
    # Smallest shift: start after R-1's end plus its 240 min turnaround (28 h
    # later), rather than end 240 min before R-1 starts (52 h earlier).
    assert moved.start == at(4, 12)
    assert plan.metrics.shift_minutes == 28 * 60


def test_a_request_is_not_shifted_when_nothing_asks_for_it(make_problem, make_request, at):
    request = make_request(id="R-1", earliest_start=at(1), latest_end=at(20))
    plan = solve(make_problem(requests=[request]))
    assert plan.assignment_of("R-1").start == request.start
    assert plan.metrics.shift_minutes == 0


def test_turnaround_and_travel_leave_enough_room(make_problem, make_request, at):
    # Melun loan ends 08:00, turnaround 240 min, travel melun->dammarie 12 min.
    first = make_request(id="R-1", site="melun", start=at(2, 8), end=at(3, 8))
    second = make_request(id="R-2", site="dammarie", start=at(3, 12, 12), end=at(4, 8))
    units = [Unit("POD-1", "podium", "depot")]
    plan = solve(make_problem(requests=[first, second], units=units))
    assert served_ids(plan) == {"R-1", "R-2"}


def test_turnaround_and_travel_one_minute_short_serves_one(make_problem, make_request, at):
    first = make_request(id="R-1", site="melun", start=at(2, 8), end=at(3, 8))
    second = make_request(id="R-2", site="dammarie", start=at(3, 12, 11), end=at(4, 8))
    units = [Unit("POD-1", "podium", "depot")]
    plan = solve(make_problem(requests=[first, second], units=units))
    assert len(served_ids(plan)) == 1


def test_a_blackout_away_from_the_loan_does_not_matter(make_problem, make_request, at):
    request = make_request(id="R-1", start=at(13, 8), end=at(15, 18))
    unit = Unit("POD-1", "podium", "depot", (Interval(at(20), at(22)),))
    plan = solve(make_problem(requests=[request], units=[unit]))
    assert served_ids(plan) == {"R-1"}


def test_a_blackout_blocks_its_unit_and_another_unit_is_used(make_problem, make_request, at):
    request = make_request(id="R-1", start=at(13, 8), end=at(15, 18))
    broken = Unit("POD-1", "podium", "depot", (Interval(at(15, 20), at(16)),))
    plan = solve(make_problem(requests=[request], units=[broken, Unit("POD-2", "podium", "melun")]))
    assert plan.assignment_of("R-1").lines[0].units == ("POD-2",)


def test_a_blackout_on_the_only_unit_leaves_the_request_unserved(make_problem, make_request, at):
    request = make_request(id="R-1", start=at(13, 8), end=at(15, 18))
    broken = Unit("POD-1", "podium", "depot", (Interval(at(14), at(14, 12)),))
    plan = solve(make_problem(requests=[request], units=[broken]))
    assert served_ids(plan) == set()
    assert plan.solver.bound[0] >= 0


def test_a_substitute_serves_when_the_own_type_is_busy(make_problem, make_request, at):
    first = make_request(id="R-1", lines=[("minibus-9", 1)])
    second = make_request(id="R-2", lines=[("minibus-9", 1)])
    plan = solve(make_problem(requests=[first, second]))
    assert served_ids(plan) == {"R-1", "R-2"}
    used = {u for a in plan.requests for line in a.lines for u in line.units}
    assert used == {"MB9-1", "MB12-1"}


def test_substitution_is_one_way(make_problem, make_request, at):
    # A 12-seat request cannot take the 9-seat minibus: only one is served.
    first = make_request(id="R-1", lines=[("minibus-12", 1)])
    second = make_request(id="R-2", lines=[("minibus-12", 1)])
    plan = solve(make_problem(requests=[first, second]))
    assert len(served_ids(plan)) == 1
    used = {u for a in plan.requests for line in a.lines for u in line.units}
    assert used == {"MB12-1"}


def test_a_pooled_line_is_split_across_pools(make_problem, make_request, at):
    request = make_request(id="R-1", lines=[("chair", 350)])
    plan = solve(make_problem(requests=[request]))
    draws = {d.pool: d.quantity for d in plan.assignment_of("R-1").lines[0].pools}
    assert set(draws) == {"chair@melun", "chair@depot"}
    assert sum(draws.values()) == 350


def test_a_pooled_line_beyond_all_pools_is_unserved(make_problem, make_request, at):
    first = make_request(id="R-1", lines=[("chair", 300)], priority=3)
    second = make_request(id="R-2", lines=[("chair", 150)], priority=1)
    plan = solve(make_problem(requests=[first, second]))
    assert served_ids(plan) == {"R-1"}


def test_the_nearest_pool_is_drawn_from(make_problem, make_request, at):
    request = make_request(id="R-1", site="melun", lines=[("chair", 80)])
    plan = solve(make_problem(requests=[request]))
    assert plan.assignment_of("R-1").lines[0].pools[0].pool == "chair@melun"
    assert plan.metrics.km == 0


def test_a_locked_request_is_kept_exactly(make_problem, make_request, at):
    locked = RequestAssignment(
        "R-1",
        True,
        at(13, 8),
        at(15, 18),
        (LineAssignment("podium", units=("POD-2",)),),
    )
    first = make_request(id="R-1", priority=1, locked=locked)
    second = make_request(id="R-2", priority=4)
    units = [Unit("POD-1", "podium", "depot"), Unit("POD-2", "podium", "dammarie")]
    plan = solve(make_problem(requests=[first, second], units=units))
    assert plan.assignment_of("R-1") == locked
    assert plan.assignment_of("R-2").lines[0].units == ("POD-1",)


def test_a_locked_request_beats_a_more_valuable_one(make_problem, make_request, at):
    locked = RequestAssignment(
        "R-1",
        True,
        at(13, 8),
        at(15, 18),
        (LineAssignment("podium", units=("POD-1",)),),
    )
    first = make_request(id="R-1", priority=1, locked=locked)
    second = make_request(id="R-2", priority=4)
    units = [Unit("POD-1", "podium", "depot")]
    plan = solve(make_problem(requests=[first, second], units=units))
    assert served_ids(plan) == {"R-1"}


def _previous_plan(assignments) -> Plan:
    from solver.plan import Metrics, SolverInfo

    return Plan(
        "",
        Status.FEASIBLE,
        SolverInfo("cp-sat", 0.0),
        tuple(assignments),
        Metrics(len(assignments), 0, 0, 0, 0, 0.0),
    )


def test_previous_units_are_kept_when_value_ties(make_problem, make_request, at):
    request = make_request(id="R-1", site="melun")
    far = RequestAssignment(
        "R-1",
        True,
        request.start,
        request.end,
        (LineAssignment("podium", units=("POD-2",)),),
    )
    units = [Unit("POD-1", "podium", "melun"), Unit("POD-2", "podium", "dammarie")]
    problem = make_problem(requests=[request], units=units, previous=_previous_plan([far]))
    plan = solve(problem)
    # POD-1 would save km, but keeping POD-2 ranks first.
    assert plan.assignment_of("R-1").lines[0].units == ("POD-2",)
    assert plan.metrics.changed == 0


def test_previous_gives_way_to_served_value(make_problem, make_request, at):
    old = make_request(id="R-1", priority=1)
    new = make_request(id="R-2", priority=4)
    before = RequestAssignment(
        "R-1", True, old.start, old.end, (LineAssignment("podium", units=("POD-1",)),)
    )
    units = [Unit("POD-1", "podium", "depot")]
    problem = make_problem(requests=[old, new], units=units, previous=_previous_plan([before]))
    plan = solve(problem)
    assert served_ids(plan) == {"R-2"}
    assert plan.metrics.changed == 1


def test_the_nearest_depot_unit_is_chosen(make_problem, make_request, at):
    request = make_request(id="R-1", site="dammarie")
    units = [Unit("POD-1", "podium", "melun"), Unit("POD-2", "podium", "dammarie")]
    plan = solve(make_problem(requests=[request], units=units))
    assert plan.assignment_of("R-1").lines[0].units == ("POD-2",)
    assert plan.metrics.km == 0


def test_a_direct_transfer_is_used(make_problem, make_request, at):
    # Two successive loans within 24 h: one unit chains them (melun -> dammarie
    # directly) rather than two units each doing a round trip from the depot.
    first = make_request(id="R-1", site="melun", start=at(2, 8), end=at(3, 8))
    second = make_request(id="R-2", site="dammarie", start=at(3, 18), end=at(4, 8))
    plan = solve(make_problem(requests=[first, second]))
    u1 = plan.assignment_of("R-1").lines[0].units
    u2 = plan.assignment_of("R-2").lines[0].units
    assert u1 == u2
    assert plan.metrics.km == 10 + 8 + 20


def test_no_direct_transfer_when_loans_are_far_apart_in_time(make_problem, make_request, at):
    first = make_request(id="R-1", site="melun", start=at(2, 8), end=at(3, 8))
    second = make_request(id="R-2", site="dammarie", start=at(9, 8), end=at(10, 8))
    plan = solve(make_problem(requests=[first, second]))
    assert plan.metrics.km == 2 * 10 + 2 * 20


def test_an_unservable_window_is_left_unserved(make_problem, make_request, at):
    request = make_request(id="R-1", start=at(13, 8), end=at(15, 18), lines=[("podium", 3)])
    plan = solve(make_problem(requests=[request]))
    assert served_ids(plan) == set()
    assert plan.solver.bound[0] == 0


def test_the_time_limit_and_progress_are_honoured(make_problem, make_request, at):
    seen = []
    requests = [make_request(id=f"R-{i}", start=at(2 + i, 8), end=at(3 + i, 8)) for i in range(5)]
    options = SolveOptions(time_limit_seconds=5, workers=1, seed=0, on_progress=seen.append)
    plan = solve_cpsat(make_problem(requests=requests), options)
    assert plan.metrics.served == 5
    assert seen and seen[-1].served_value == plan.metrics.served_value


def test_should_stop_still_returns_a_valid_plan(make_problem, make_request, at):
    requests = [
        make_request(
            id=f"R-{i}",
            start=at(2 + i, 8),
            end=at(4 + i, 8),
            earliest_start=at(1),
            latest_end=at(30),
        )
        for i in range(8)
    ]
    problem = make_problem(requests=requests)
    options = SolveOptions(time_limit_seconds=5, workers=1, seed=0, should_stop=lambda: True)
    plan = solve_cpsat(problem, options)
    assert check_plan(problem, plan) == []


def test_same_seed_gives_the_same_plan(make_problem, make_request, at):
    requests = [
        make_request(
            id=f"R-{i}",
            start=at(2 + 2 * i, 8),
            end=at(3 + 2 * i, 8),
            earliest_start=at(1 + 2 * i),
            latest_end=at(5 + 2 * i),
            site=("melun", "dammarie")[i % 2],
        )
        for i in range(8)
    ]
    problem = make_problem(requests=requests, units=[Unit("POD-1", "podium", "depot")])
    first = solve(problem)
    second = solve(problem)
    assert first.requests == second.requests
    assert first.metrics.served == 8


def test_types_and_pools_given_in_any_order(make_problem, make_request, at):
    # A type without units or pools cannot be served; the rest still is.
    types = [EquipmentType("stage", "Scène", 60), EquipmentType("chair", "Chaise", 0)]
    pools = [Pool("chair@depot", "chair", "depot", 10)]
    requests = [
        make_request(id="R-1", lines=[("stage", 1)]),
        make_request(id="R-2", lines=[("chair", 10)]),
    ]
    plan = solve(make_problem(requests=requests, types=types, units=[], pools=pools))
    assert served_ids(plan) == {"R-2"}
    assert plan.solver.bound[0] == plan.metrics.served_value
