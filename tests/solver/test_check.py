"""The plan checker: each feasibility rule holds in one tiny problem, breaks in another.

Distances, turnarounds and units come from the default world of ``conftest``.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from solver.check import (
    Violation,
    assignment_changed,
    check_assignments,
    check_plan,
    compute_metrics,
    objective_of,
)
from solver.geo import TravelMatrix
from solver.itinerary import draw_km, unit_itinerary_km
from solver.plan import Draw, LineAssignment, Metrics, Plan, RequestAssignment, SolverInfo, Status
from solver.problem import Distance, Interval, Pool, Weights


def rules(violations: list[Violation]) -> list[str]:
    return [v.rule for v in violations]


def only(violations: list[Violation]) -> Violation:
    assert len(violations) == 1, "\n".join(map(str, violations))
    return violations[0]


# --- Violation ------------------------------------------------------------------


def test_violation_str_names_rule_and_request():
    assert str(Violation("3", "unit POD-1 overlaps", "R-2")) == "rule 3: R-2: unit POD-1 overlaps"
    assert str(Violation("plan", "status is 'DONE'")) == "plan: status is 'DONE'"


# --- rule 1: times, window, horizon ------------------------------------------------


def test_rule1_holds_at_requested_times(make_problem, make_request, serve):
    request = make_request()
    problem = make_problem(requests=[request])
    assert check_assignments(problem, [serve(request, "POD-1")]) == []


def test_rule1_holds_when_shifted_inside_window(make_problem, make_request, serve, at):
    request = make_request(earliest_start=at(12, 8), latest_end=at(16, 18))
    problem = make_problem(requests=[request])
    assert check_assignments(problem, [serve(request, "POD-1", shift=-1440)]) == []
    assert check_assignments(problem, [serve(request, "POD-1", shift=1440)]) == []


def test_rule1_broken_when_shifted_outside_window(make_problem, make_request, serve, at):
    request = make_request(earliest_start=at(12, 8), latest_end=at(16, 18))
    problem = make_problem(requests=[request])
    violation = only(check_assignments(problem, [serve(request, "POD-1", shift=1441)]))
    assert violation.rule == "1"
    assert violation.request == "R-0001"
    assert "outside its window 2027-07-12 08:00-2027-07-16 18:00" in violation.message
    assert "served 2027-07-14 08:01-2027-07-16 18:01" in violation.message


def test_rule1_broken_when_outside_horizon(make_problem, make_request, serve, at):
    request = make_request(
        start=at(31, 8), end=at(31, 20), latest_end=at(31, 20) + timedelta(days=2)
    )
    problem = make_problem(requests=[request])
    assert check_assignments(problem, [serve(request, "POD-1", shift=240)]) == []
    violation = only(check_assignments(problem, [serve(request, "POD-1", shift=241)]))
    assert violation.rule == "1"
    assert "outside the horizon" in violation.message


def test_rule1_broken_when_duration_changes(make_problem, make_request, at):
    request = make_request(earliest_start=at(12, 8), latest_end=at(16, 18))
    problem = make_problem(requests=[request])
    stretched = RequestAssignment(
        "R-0001", True, at(12, 8), at(15, 18), (LineAssignment("podium", ("POD-1",)),)
    )
    violation = only(check_assignments(problem, [stretched]))
    assert violation.rule == "1"
    assert "lasts 3 d 10 h" in violation.message
    assert "the request lasts 2 d 10 h" in violation.message


def test_rule1_broken_when_not_on_whole_minute(make_problem, make_request, serve):
    request = make_request(
        earliest_start=make_request().start - timedelta(hours=1),
    )
    problem = make_problem(requests=[request])
    violations = check_assignments(problem, [serve(request, "POD-1", shift=timedelta(seconds=-30))])
    assert rules(violations) == ["1", "1"]
    assert "not on a whole minute" in violations[0].message


def test_served_without_times_is_a_plan_fault(make_problem, make_request):
    problem = make_problem(requests=[make_request()])
    assignment = RequestAssignment("R-0001", True, lines=(LineAssignment("podium", ("POD-1",)),))
    violation = only(check_assignments(problem, [assignment]))
    assert violation.rule == "plan"
    assert "without a start and an end" in violation.message


def test_wrong_number_of_lines_is_a_plan_fault(make_problem, make_request, serve):
    request = make_request(lines=[("podium", 1), ("chair", 10)])
    problem = make_problem(requests=[request])
    violation = only(check_assignments(problem, [serve(request, "POD-1")]))
    assert violation.rule == "plan"
    assert "has 1 lines, the request has 2" in violation.message


def test_line_of_another_type_is_a_plan_fault(make_problem, make_request, serve):
    request = make_request()
    problem = make_problem(requests=[request])
    line = LineAssignment("minibus-12", ("POD-1",))
    violation = only(check_assignments(problem, [serve(request, line)]))
    assert violation.rule == "plan"
    assert "line 1 is of type minibus-12, not podium" in violation.message


# --- rule 2: units of lines ----------------------------------------------------------


def test_rule2_holds_with_distinct_units_of_the_type(make_problem, make_request, serve):
    request = make_request(lines=[("podium", 2)])
    problem = make_problem(requests=[request])
    line = LineAssignment("podium", ("POD-2", "POD-1"))
    assert check_assignments(problem, [serve(request, line)]) == []


def test_rule2_holds_with_a_substitute_unit(make_problem, make_request, serve):
    request = make_request(lines=[("minibus-9", 1)])
    problem = make_problem(requests=[request])
    assert check_assignments(problem, [serve(request, "MB12-1")]) == []


def test_rule2_broken_by_substitution_the_other_way(make_problem, make_request, serve):
    request = make_request(lines=[("minibus-12", 1)])
    problem = make_problem(requests=[request])
    violation = only(check_assignments(problem, [serve(request, "MB9-1")]))
    assert violation.rule == "2"
    assert "unit MB9-1 is a minibus-9, which is not one of minibus-12" in violation.message


def test_rule2_broken_by_unit_of_another_type(make_problem, make_request, serve):
    request = make_request()
    problem = make_problem(requests=[request])
    violation = only(check_assignments(problem, [serve(request, "MB9-1")]))
    assert violation.rule == "2"
    assert "MB9-1" in violation.message


def test_rule2_broken_by_too_few_units(make_problem, make_request, serve):
    request = make_request(lines=[("podium", 2)])
    problem = make_problem(requests=[request])
    violation = only(check_assignments(problem, [serve(request, "POD-1")]))
    assert violation.rule == "2"
    assert "line 1 (podium) names 1 units, it asks for 2" in violation.message


def test_rule2_broken_by_the_same_unit_twice_in_a_line(make_problem, make_request, serve):
    request = make_request(lines=[("podium", 2)])
    problem = make_problem(requests=[request])
    line = LineAssignment("podium", ("POD-1", "POD-1"))
    violation = only(check_assignments(problem, [serve(request, line)]))
    assert violation.rule == "2"
    assert "names unit POD-1 2 times" in violation.message


def test_rule2_broken_by_an_unknown_unit(make_problem, make_request, serve):
    request = make_request()
    problem = make_problem(requests=[request])
    violation = only(check_assignments(problem, [serve(request, "POD-9")]))
    assert violation.rule == "2"
    assert "unknown unit POD-9" in violation.message


def test_rule2_broken_by_draws_on_a_unit_line(make_problem, make_request, serve):
    request = make_request()
    problem = make_problem(requests=[request])
    line = LineAssignment("podium", ("POD-1",), (Draw("chair@depot", 1),))
    violation = only(check_assignments(problem, [serve(request, line)]))
    assert violation.rule == "2"
    assert "cannot draw from pools" in violation.message


def test_rule2_holds_with_one_unit_per_line(make_problem, make_request, serve):
    request = make_request(lines=[("minibus-9", 1), ("minibus-12", 1)])
    problem = make_problem(requests=[request])
    assert check_assignments(problem, [serve(request, "MB9-1", "MB12-1")]) == []


def test_rule2_broken_by_one_unit_on_two_lines_of_a_request(make_problem, make_request, serve):
    request = make_request(lines=[("minibus-9", 1), ("minibus-12", 1)])
    problem = make_problem(requests=[request])
    violation = only(check_assignments(problem, [serve(request, "MB12-1", "MB12-1")]))
    assert violation.rule == "2"
    assert "unit MB12-1 serves lines 1, 2 at the same time" in violation.message


# --- rule 3: turnaround, travel, unavailability -----------------------------------------


def test_rule3_broken_by_one_unit_on_two_requests_at_once(make_problem, make_request, serve, at):
    first = make_request(id="R-1")
    second = make_request(id="R-2", start=at(14, 8), end=at(14, 20))
    problem = make_problem(requests=[first, second])
    violation = only(check_assignments(problem, [serve(first, "POD-1"), serve(second, "POD-1")]))
    assert violation.rule == "3"
    assert violation.request == "R-2"
    assert "unit POD-1 serves it 2027-07-14 08:00-2027-07-14 20:00" in violation.message
    assert "overlaps its loan to R-1 2027-07-13 08:00-2027-07-15 18:00" in violation.message
    assert check_assignments(problem, [serve(first, "POD-1"), serve(second, "POD-2")]) == []


def test_rule3_reports_every_overlapping_pair(make_problem, make_request, serve, at):
    long = make_request(id="R-1", start=at(10, 8), end=at(20, 8))
    inner = [make_request(id=f"R-{day}", start=at(day, 8), end=at(day, 9)) for day in (12, 14, 16)]
    problem = make_problem(requests=[long, *inner])
    assignments = [serve(long, "POD-1")] + [serve(r, "POD-1") for r in inner]
    violations = check_assignments(problem, assignments)
    assert sorted(v.request for v in violations if v.rule == "3") == ["R-12", "R-14", "R-16"]


def test_rule3_holds_after_turnaround_at_the_same_site(make_problem, make_request, serve, at):
    first = make_request(id="R-1")
    second = make_request(id="R-2", start=at(15, 22), end=at(16, 8))
    problem = make_problem(requests=[first, second])
    assert check_assignments(problem, [serve(first, "POD-1"), serve(second, "POD-1")]) == []


def test_rule3_broken_during_turnaround(make_problem, make_request, serve, at):
    first = make_request(id="R-1")
    second = make_request(id="R-2", start=at(15, 21, 59), end=at(16, 8))
    problem = make_problem(requests=[first, second])
    violation = only(check_assignments(problem, [serve(first, "POD-1"), serve(second, "POD-1")]))
    assert violation.rule == "3"
    assert violation.request == "R-2"
    assert "turnaround (240 min) after R-1 ended 2027-07-15 18:00" in violation.message
    assert "until 2027-07-15 22:00" in violation.message


@pytest.mark.parametrize(("gap_minutes", "ok"), [(120, True), (119, False), (60, False)])
def test_rule3_substitute_uses_its_own_turnaround(
    make_problem, make_request, serve, at, gap_minutes, ok
):
    # minibus-9 turns around in 60 min, but the minibus-12 serving it needs 120.
    first = make_request(id="R-1", lines=[("minibus-9", 1)])
    start = first.end + timedelta(minutes=gap_minutes)
    second = make_request(id="R-2", lines=[("minibus-9", 1)], start=start, end=at(17, 8))
    problem = make_problem(requests=[first, second])
    violations = check_assignments(problem, [serve(first, "MB12-1"), serve(second, "MB12-1")])
    assert rules(violations) == ([] if ok else ["3"])


def test_rule3_travel_time_between_sites(make_problem, make_request, serve, at):
    first = make_request(id="R-1")  # at melun, ends 15 July 18:00, free at 22:00
    on_time = make_request(id="R-2", site="dammarie", start=at(15, 22, 12), end=at(16, 8))
    late = make_request(id="R-3", site="dammarie", start=at(15, 22, 11), end=at(16, 8))
    problem = make_problem(requests=[first, on_time, late])
    assert check_assignments(problem, [serve(first, "POD-1"), serve(on_time, "POD-1")]) == []
    violation = only(check_assignments(problem, [serve(first, "POD-1"), serve(late, "POD-1")]))
    assert violation.rule == "3"
    assert violation.request == "R-3"
    assert "needs 12 min to reach dammarie" in violation.message
    assert "arriving 2027-07-15 22:12" in violation.message
    assert "this loan starts 2027-07-15 22:11" in violation.message


def test_rule3_travel_uses_the_order_in_time_not_in_the_plan(make_problem, make_request, serve, at):
    first = make_request(id="R-1", site="dammarie", start=at(10, 8), end=at(10, 18))
    second = make_request(id="R-2", start=at(10, 22, 11), end=at(11, 8))
    problem = make_problem(requests=[second, first])
    violation = only(check_assignments(problem, [serve(second, "POD-1"), serve(first, "POD-1")]))
    assert violation.rule == "3"
    assert violation.request == "R-2"


def test_rule3_holds_next_to_unavailability(make_problem, make_request, serve, at):
    units = (
        dataclasses.replace(
            make_problem().unit_by_id["POD-1"], unavailable=(Interval(at(16), at(17)),)
        ),
    )
    before = make_request(id="R-1", start=at(15, 8), end=at(15, 20))  # occupied until 16 00:00
    after = make_request(id="R-2", start=at(17), end=at(17, 20))
    problem = make_problem(units=units, requests=[before, after])
    assert check_assignments(problem, [serve(before, "POD-1"), serve(after, "POD-1")]) == []


def test_rule3_broken_when_turnaround_runs_into_unavailability(
    make_problem, make_request, serve, at
):
    units = (
        dataclasses.replace(
            make_problem().unit_by_id["POD-1"], unavailable=(Interval(at(16), at(17)),)
        ),
    )
    request = make_request(start=at(15, 8), end=at(15, 20, 1))
    problem = make_problem(units=units, requests=[request])
    violation = only(check_assignments(problem, [serve(request, "POD-1")]))
    assert violation.rule == "3"
    assert "occupied 2027-07-15 08:00-2027-07-16 00:01" in violation.message
    assert "unavailable 2027-07-16 00:00-2027-07-17 00:00" in violation.message


def test_rule3_broken_by_a_loan_during_unavailability(make_problem, make_request, serve, at):
    units = (
        dataclasses.replace(
            make_problem().unit_by_id["POD-1"], unavailable=(Interval(at(16), at(17)),)
        ),
    )
    request = make_request(start=at(16, 23, 59), end=at(18))
    problem = make_problem(units=units, requests=[request])
    assert rules(check_assignments(problem, [serve(request, "POD-1")])) == ["3"]


# --- rule 4: pooled lines and pool capacity ------------------------------------------------


def test_rule4_holds_with_draws_summing_to_the_quantity(make_problem, make_request, serve):
    request = make_request(lines=[("chair", 350)])
    problem = make_problem(requests=[request])
    draws = [("chair@depot", 250), ("chair@melun", 100)]
    assert check_assignments(problem, [serve(request, draws)]) == []


def test_rule4_broken_when_draws_do_not_sum(make_problem, make_request, serve):
    request = make_request(lines=[("chair", 120)])
    problem = make_problem(requests=[request])
    violation = only(check_assignments(problem, [serve(request, [("chair@depot", 100)])]))
    assert violation.rule == "4"
    assert "draws sum to 100, the line asks for 120" in violation.message


def test_rule4_broken_by_a_pool_of_another_type(make_problem, make_request, serve):
    request = make_request(lines=[("chair", 10)])
    problem = make_problem(requests=[request])
    violation = only(check_assignments(problem, [serve(request, [("table@depot", 10)])]))
    assert violation.rule == "4"
    assert "pool table@depot holds table, not chair" in violation.message


def test_rule4_broken_by_an_unknown_pool(make_problem, make_request, serve):
    request = make_request(lines=[("chair", 10)])
    problem = make_problem(requests=[request])
    violation = only(check_assignments(problem, [serve(request, [("chair@nowhere", 10)])]))
    assert violation.rule == "4"
    assert "unknown pool chair@nowhere" in violation.message


def test_rule4_broken_by_an_empty_draw(make_problem, make_request, serve):
    request = make_request(lines=[("chair", 10)])
    problem = make_problem(requests=[request])
    draws = [("chair@depot", 10), ("chair@melun", 0)]
    violation = only(check_assignments(problem, [serve(request, draws)]))
    assert violation.rule == "4"
    assert "draws 0 from chair@melun" in violation.message


def test_rule4_broken_by_units_on_a_pooled_line(make_problem, make_request, serve):
    request = make_request(lines=[("chair", 1)])
    problem = make_problem(requests=[request])
    line = LineAssignment("chair", ("POD-1",), (Draw("chair@depot", 1),))
    violation = only(check_assignments(problem, [serve(request, line)]))
    assert violation.rule == "4"
    assert "pooled, it cannot name units (POD-1)" in violation.message


def test_rule4_holds_at_full_capacity(make_problem, make_request, serve, at):
    first = make_request(id="R-1", lines=[("chair", 200)])
    second = make_request(id="R-2", lines=[("chair", 100)], start=at(14, 8), end=at(14, 20))
    problem = make_problem(requests=[first, second])
    assignments = [serve(first, [("chair@depot", 200)]), serve(second, [("chair@depot", 100)])]
    assert check_assignments(problem, assignments) == []


def test_rule4_broken_above_capacity(make_problem, make_request, serve, at):
    first = make_request(id="R-1", lines=[("chair", 200)])
    second = make_request(id="R-2", lines=[("chair", 101)], start=at(14, 8), end=at(14, 20))
    problem = make_problem(requests=[first, second])
    assignments = [serve(first, [("chair@depot", 200)]), serve(second, [("chair@depot", 101)])]
    violation = only(check_assignments(problem, assignments))
    assert violation.rule == "4"
    assert violation.request == "R-2"
    assert "pool chair@depot has 300 chair but 301 are drawn at 2027-07-14 08:00" in (
        violation.message
    )
    assert "(R-1: 200, R-2: 101)" in violation.message


@pytest.mark.parametrize(("hour", "minute", "ok"), [(19, 0, True), (18, 59, False)])
def test_rule4_pool_turnaround(make_problem, make_request, serve, at, hour, minute, ok):
    # chair turns around in 60 min: 300 chairs back at 18:00 are free again at 19:00.
    first = make_request(id="R-1", lines=[("chair", 300)])
    second = make_request(id="R-2", lines=[("chair", 1)], start=at(15, hour, minute), end=at(16, 8))
    problem = make_problem(requests=[first, second])
    assignments = [serve(first, [("chair@depot", 300)]), serve(second, [("chair@depot", 1)])]
    assert rules(check_assignments(problem, assignments)) == ([] if ok else ["4"])


def test_rule4_sums_at_each_instant_not_pairwise(make_problem, make_request, serve, at):
    # Each pair fits 250 chairs but at 12:00 all three hold 300 > 250.
    pools = (Pool("chair@depot", "chair", "depot", 250),)
    requests = [
        make_request(id="R-1", lines=[("chair", 100)], start=at(13, 8), end=at(13, 14)),
        make_request(id="R-2", lines=[("chair", 100)], start=at(13, 10), end=at(13, 16)),
        make_request(id="R-3", lines=[("chair", 100)], start=at(13, 12), end=at(13, 18)),
    ]
    problem = make_problem(pools=pools, requests=requests)
    violation = only(
        check_assignments(problem, [serve(r, [("chair@depot", 100)]) for r in requests])
    )
    assert violation.rule == "4"
    assert violation.request == "R-3"
    assert "300 are drawn at 2027-07-13 12:00" in violation.message


def test_rule4_one_violation_per_overload_period(make_problem, make_request, serve, at):
    pools = (Pool("chair@depot", "chair", "depot", 100),)
    requests = [
        make_request(id=f"R-{i}", lines=[("chair", 60)], start=at(13, 8 + i), end=at(13, 20))
        for i in range(3)
    ]
    problem = make_problem(pools=pools, requests=requests)
    violations = check_assignments(problem, [serve(r, [("chair@depot", 60)]) for r in requests])
    assert [(v.rule, v.request) for v in violations] == [("4", "R-1")]


# --- rule 5: locked requests ------------------------------------------------------------------


@pytest.fixture
def locked_problem(make_problem, make_request, at):
    lines = [("podium", 2), ("chair", 120)]
    base = make_request(lines=lines, earliest_start=at(12, 8))
    locked = RequestAssignment(
        "R-0001",
        True,
        at(12, 8),
        at(14, 18),
        (
            LineAssignment("podium", ("POD-1", "POD-2")),
            LineAssignment("chair", pools=(Draw("chair@depot", 100), Draw("chair@melun", 20))),
        ),
    )
    return make_problem(requests=[dataclasses.replace(base, locked=locked)])


def test_rule5_holds_when_served_as_locked(locked_problem, at):
    same = RequestAssignment(
        "R-0001",
        True,
        at(12, 8).astimezone(UTC),  # the same instant, written in UTC
        at(14, 18),
        (
            LineAssignment("podium", ("POD-2", "POD-1")),
            LineAssignment("chair", pools=(Draw("chair@melun", 20), Draw("chair@depot", 100))),
        ),
    )
    assert check_assignments(locked_problem, [same]) == []


def test_rule5_locked_assignment_checked_alone(locked_problem):
    request = locked_problem.requests[0]
    assert check_assignments(locked_problem, [request.locked]) == []


def test_rule5_broken_when_unserved(locked_problem, unserved):
    violation = only(check_assignments(locked_problem, [unserved("R-0001")]))
    assert violation.rule == "5"
    assert "locked served" in violation.message


def test_rule5_broken_when_moved(locked_problem, serve):
    request = locked_problem.requests[0]
    moved = serve(request, *request.locked.lines)  # at the requested times, not the locked
    violation = only(check_assignments(locked_problem, [moved]))
    assert violation.rule == "5"
    assert "locked 2027-07-12 08:00-2027-07-14 18:00" in violation.message
    assert "served 2027-07-13 08:00-2027-07-15 18:00" in violation.message


def test_rule5_broken_by_other_units(locked_problem):
    locked = locked_problem.requests[0].locked
    lines = (LineAssignment("podium", ("POD-1", "POD-3")), locked.lines[1])
    problem = dataclasses.replace(
        locked_problem,
        units=(*locked_problem.units, dataclasses.replace(locked_problem.units[0], id="POD-3")),
    )
    violation = only(check_assignments(problem, [dataclasses.replace(locked, lines=lines)]))
    assert violation.rule == "5"
    assert "line 1 locked to units POD-1, POD-2, served by POD-1, POD-3" in violation.message


def test_rule5_broken_by_other_pool_quantities(locked_problem):
    locked = locked_problem.requests[0].locked
    chairs = LineAssignment("chair", pools=(Draw("chair@depot", 120),))
    violation = only(
        check_assignments(
            locked_problem, [dataclasses.replace(locked, lines=(locked.lines[0], chairs))]
        )
    )
    assert violation.rule == "5"
    assert "locked to draws 100 from chair@depot, 20 from chair@melun" in violation.message
    assert "served by 120 from chair@depot" in violation.message


def test_rule5_compares_draws_as_a_multiset(make_problem, make_request):
    request = make_request(lines=[("chair", 100)])
    draws = (Draw("chair@depot", 40), Draw("chair@depot", 40), Draw("chair@melun", 20))
    locked = RequestAssignment(
        "R-0001", True, request.start, request.end, (LineAssignment("chair", pools=draws),)
    )
    problem = make_problem(requests=[dataclasses.replace(request, locked=locked)])
    assert check_assignments(problem, [locked]) == []
    # Same sum, same pools and same draw sizes, yet not the same draws.
    other = (Draw("chair@depot", 40), *[Draw("chair@melun", 20)] * 3)
    served = dataclasses.replace(locked, lines=(LineAssignment("chair", pools=other),))
    assert rules(check_assignments(problem, [served])) == ["5"]


def test_rule4_one_report_while_a_pool_stays_short(make_problem, make_request, serve, at):
    # At 14:00 R-1 returns 60 and R-3 draws 60 in the same minute: still short.
    pools = (Pool("chair@depot", "chair", "depot", 100),)
    requests = [
        make_request(id="R-1", lines=[("chair", 60)], start=at(13, 8), end=at(13, 13)),
        make_request(id="R-2", lines=[("chair", 60)], start=at(13, 9), end=at(13, 20)),
        make_request(id="R-3", lines=[("chair", 60)], start=at(13, 14), end=at(13, 20)),
    ]
    problem = make_problem(pools=pools, requests=requests)
    violations = check_assignments(problem, [serve(r, [("chair@depot", 60)]) for r in requests])
    assert [(v.rule, v.request) for v in violations] == [("4", "R-2")]


# --- structural faults of assignments ----------------------------------------------------


def test_unknown_and_repeated_requests_are_plan_faults(make_problem, make_request, serve, unserved):
    request = make_request()
    problem = make_problem(requests=[request])
    violations = check_assignments(
        problem, [serve(request, "POD-1"), unserved(request), unserved("R-9999")]
    )
    assert [(v.rule, v.request) for v in violations] == [
        ("plan", "R-0001"),
        ("plan", "R-9999"),
    ]
    assert "listed more than once" in violations[0].message
    assert "not a request of the problem" in violations[1].message


def test_unserved_with_lines_is_a_plan_fault(make_problem, make_request):
    problem = make_problem(requests=[make_request()])
    assignment = RequestAssignment(
        "R-0001", False, lines=(LineAssignment("podium", ("POD-1",)),), reason="none"
    )
    assert rules(check_assignments(problem, [assignment])) == ["plan"]


# --- metrics: km ---------------------------------------------------------------------------


@pytest.mark.parametrize(("start_minute", "km"), [(0, 38.0), (1, 60.0)])
def test_km_direct_transfer_within_limit_else_via_home(
    make_problem, make_request, serve, at, start_minute, km
):
    # POD-1 is free at 15 July 22:00 (240 min turnaround); podium allows 24 h.
    # Direct: depot-melun 10 + melun-dammarie 8 + dammarie-depot 20 = 38.
    # Via home: 10 + 10 + 20 + 20 = 60.
    first = make_request(id="R-1")
    second = make_request(id="R-2", site="dammarie", start=at(16, 22, start_minute), end=at(17, 8))
    problem = make_problem(requests=[first, second])
    assignments = [serve(first, "POD-1"), serve(second, "POD-1")]
    assert check_assignments(problem, assignments) == []
    assert compute_metrics(problem, assignments).km == km


@pytest.mark.parametrize(("gap_minutes", "km"), [(60, 20.0), (61, 40.0)])
def test_km_without_direct_transfer(make_problem, make_request, serve, at, gap_minutes, km):
    # minibus-9: 0 h direct limit, so only a loan right after turnaround goes direct.
    first = make_request(id="R-1", lines=[("minibus-9", 1)])
    start = first.end + timedelta(minutes=gap_minutes)
    second = make_request(id="R-2", lines=[("minibus-9", 1)], start=start, end=at(17))
    problem = make_problem(requests=[first, second])
    assignments = [serve(first, "MB9-1"), serve(second, "MB9-1")]
    assert check_assignments(problem, assignments) == []
    assert compute_metrics(problem, assignments).km == km


def test_km_pool_draws_are_doubled_whatever_the_quantity(make_problem, make_request, serve):
    # At dammarie: 2 x 20 (depot) + 2 x 8 (melun) = 56, for 1 or 300 chairs alike.
    few = make_request(id="R-1", site="dammarie", lines=[("chair", 2)])
    problem = make_problem(requests=[few])
    assignment = serve(few, [("chair@depot", 1), ("chair@melun", 1)])
    assert compute_metrics(problem, [assignment]).km == 56.0
    many = make_request(id="R-1", site="dammarie", lines=[("chair", 350)])
    problem = make_problem(requests=[many])
    assignment = serve(many, [("chair@depot", 250), ("chair@melun", 100)])
    assert compute_metrics(problem, [assignment]).km == 56.0


def test_km_counts_served_requests_only_and_rounds(make_problem, make_request, serve, unserved):
    distances = (Distance("depot", "melun", 10.04, 15),)
    request = make_request(id="R-1")
    other = make_request(id="R-2", lines=[("chair", 1)])
    problem = make_problem(distances=distances, requests=[request, other])
    metrics = compute_metrics(problem, [serve(request, "POD-1"), unserved(other)])
    assert metrics.km == 20.1  # 2 x 10.04 = 20.08


def test_unit_itinerary_km_sorts_loans_in_time(make_problem):
    problem = make_problem()
    travel = TravelMatrix(problem)
    unit = problem.unit_by_id["POD-1"]
    # Free at 600 + 240 = 840; direct when the next loan starts by 840 + 1440 = 2280:
    # 10 + 8 + 20 = 38, else via the depot 10 + 10 + 20 + 20 = 60.
    assert (
        unit_itinerary_km(problem, travel, unit, [(2280, 3600, "dammarie"), (0, 600, "melun")])
        == 38.0
    )
    assert (
        unit_itinerary_km(problem, travel, unit, [(2281, 3600, "dammarie"), (0, 600, "melun")])
        == 60.0
    )
    assert unit_itinerary_km(problem, travel, unit, []) == 0.0


def test_draw_km_is_a_round_trip(make_problem):
    problem = make_problem()
    travel = TravelMatrix(problem)
    assert draw_km(travel, problem.pool_by_id["chair@melun"], "dammarie") == 16.0
    assert draw_km(travel, problem.pool_by_id["chair@melun"], "melun") == 0.0


# --- metrics: value, shift, changed ------------------------------------------------------


def test_served_value_and_shift(make_problem, make_request, serve, unserved, at):
    wide = {"earliest_start": at(10), "latest_end": at(20)}
    first = make_request(id="R-1", priority=4, **wide)
    second = make_request(id="R-2", priority=1, **wide)
    third = make_request(id="R-3", priority=3, lines=[("chair", 1)])
    weights = Weights(priority_value={1: 1, 2: 3, 3: 5, 4: 10})
    problem = make_problem(requests=[first, second, third], weights=weights)
    assignments = [serve(first, "POD-1", shift=-1440), serve(second, "POD-2", shift=30)]
    metrics = compute_metrics(problem, [*assignments, unserved(third)])
    assert metrics == Metrics(
        requests=3, served=2, served_value=11, changed=0, shift_minutes=1470, km=40.0
    )
    assert objective_of(metrics) == (11.0, 0.0, 1470.0, 40.0)


@pytest.fixture
def previous_world(make_problem, make_request, serve, unserved, at):
    """Five requests served in a previous plan (R-5 unserved, R-4 since withdrawn)."""
    wide = {"earliest_start": at(10), "latest_end": at(20)}
    requests = {
        "R-1": make_request(id="R-1", **wide),
        "R-2": make_request(id="R-2", start=at(20, 8), end=at(20, 20), latest_end=at(21)),
        "R-3": make_request(id="R-3", lines=[("chair", 50)]),
        "R-4": make_request(id="R-4", start=at(25, 8), end=at(25, 20)),
        "R-5": make_request(id="R-5", start=at(27, 8), end=at(27, 20)),
    }
    previous_assignments = (
        serve(requests["R-1"], "POD-1"),
        serve(requests["R-2"], "POD-1"),
        serve(requests["R-3"], [("chair@depot", 50)]),
        serve(requests["R-4"], "POD-2"),
        unserved(requests["R-5"]),
    )
    previous = Plan(
        problem="",
        status=Status.OPTIMAL,
        solver=SolverInfo("cp-sat", 1.0),
        requests=previous_assignments,
        metrics=Metrics(5, 4, 8, 0, 0, 0.0),
    )
    kept = [requests[r] for r in ("R-1", "R-2", "R-3", "R-5")]
    return make_problem(requests=kept, previous=previous), requests


def test_changed_is_zero_when_nothing_moves(previous_world, serve):
    problem, requests = previous_world
    same = [
        serve(requests["R-1"], "POD-1"),
        serve(requests["R-2"], "POD-1"),
        serve(requests["R-3"], [("chair@depot", 50)]),
        serve(requests["R-5"], "POD-2"),  # newly served: not a change
    ]
    assert check_assignments(problem, same) == []
    assert compute_metrics(problem, same).changed == 0


def test_changed_counts_moved_resourced_and_dropped(previous_world, serve, unserved):
    problem, requests = previous_world
    now = [
        serve(requests["R-1"], "POD-1", shift=60),  # moved
        serve(requests["R-2"], "POD-2"),  # other unit
        serve(requests["R-3"], [("chair@melun", 50)]),  # other pool
        unserved(requests["R-5"]),
    ]
    assert compute_metrics(problem, now).changed == 3
    dropped = [serve(requests["R-1"], "POD-1"), unserved(requests["R-2"]), unserved("R-3")]
    assert compute_metrics(problem, dropped).changed == 2


def test_changed_ignores_pool_quantities_split(previous_world, serve):
    problem, requests = previous_world
    previous = problem.previous.assignment_of("R-3")
    same_pool = serve(requests["R-3"], [("chair@depot", 20), ("chair@depot", 30)])
    assert not assignment_changed(previous, same_pool)
    assert assignment_changed(previous, None)


# --- check_plan -------------------------------------------------------------------------


@pytest.fixture
def plan_world(make_problem, make_request, serve, unserved, at):
    first = make_request(id="R-1", lines=[("podium", 1), ("chair", 120)])
    second = make_request(id="R-2", start=at(14, 8), end=at(14, 20))
    problem = make_problem(requests=[first, second])
    assignments = (
        serve(first, "POD-1", [("chair@depot", 120)]),
        unserved(second, "podium: POD-1, POD-2 busy"),
    )

    def make_plan(**params):
        params.setdefault("problem", "ab" * 32)
        params.setdefault("status", Status.BASELINE)
        params.setdefault("solver", SolverInfo("baseline", 0.1))
        params.setdefault("requests", assignments)
        params.setdefault("metrics", compute_metrics(problem, params["requests"]))
        return Plan(**params)

    return problem, make_plan


def test_check_plan_accepts_a_valid_plan(plan_world):
    problem, make_plan = plan_world
    plan = make_plan()
    assert plan.metrics == Metrics(2, 1, 2, 0, 0, 40.0)
    assert check_plan(problem, plan, "AB" * 32) == []


def test_check_plan_reports_a_missing_request(plan_world):
    problem, make_plan = plan_world
    plan = make_plan(requests=make_plan().requests[:1])
    violation = only(check_plan(problem, plan))
    assert (violation.rule, violation.request) == ("plan", "R-2")
    assert "missing" in violation.message


def test_check_plan_reports_a_request_listed_twice(plan_world, unserved):
    problem, make_plan = plan_world
    plan = make_plan(requests=(*make_plan().requests, unserved("R-2")))
    assert [(v.rule, v.request) for v in check_plan(problem, plan)] == [("plan", "R-2")]


def test_check_plan_requires_reasons_on_unserved(plan_world, unserved):
    problem, make_plan = plan_world
    plan = make_plan(requests=(make_plan().requests[0], unserved("R-2", reason=" ")))
    violation = only(check_plan(problem, plan))
    assert "unserved without a reason" in violation.message


def test_check_plan_status_format_and_sha(plan_world):
    problem, make_plan = plan_world
    assert "status is 'DONE'" in only(check_plan(problem, make_plan(status="DONE"))).message
    assert "loan-plan/0" in only(check_plan(problem, make_plan(format="loan-plan/0"))).message
    assert check_plan(problem, make_plan(status="OPTIMAL")) == []
    violation = only(check_plan(problem, make_plan(), problem_sha256="cd" * 32))
    assert "this problem's sha256 is " + "cd" * 32 in violation.message


@pytest.mark.parametrize(("km", "ok"), [(40.0, True), (40.05, True), (39.94, False), (40.2, False)])
def test_check_plan_km_to_a_tenth(plan_world, km, ok):
    problem, make_plan = plan_world
    plan = make_plan(metrics=Metrics(2, 1, 2, 0, 0, km))
    violations = check_plan(problem, plan)
    assert rules(violations) == ([] if ok else ["metrics"])
    if not ok:
        assert f"km is {km}, but the assignments give 40.0" in violations[0].message


def test_check_plan_other_metrics(plan_world):
    problem, make_plan = plan_world
    plan = make_plan(metrics=Metrics(2, 2, 4, 0, 0, 40.0))
    violations = check_plan(problem, plan)
    assert [v.message for v in violations] == [
        "served is 2, but the assignments give 1",
        "served_value is 4, but the assignments give 2",
    ]


def test_check_plan_includes_feasibility(plan_world, serve):
    problem, make_plan = plan_world
    first, second = problem.requests
    plan = make_plan(
        requests=(serve(first, "POD-1", [("chair@depot", 120)]), serve(second, "POD-1"))
    )
    assert rules(check_plan(problem, plan)) == ["3"]


# --- rules 3 and 4 against a minute-by-minute count ------------------------------------

loan_strategy = st.tuples(
    st.integers(0, 300),  # start, minutes after 13 July 00:00
    st.integers(1, 240),  # duration, minutes
    st.sampled_from(["depot", "melun", "dammarie"]),
    st.sampled_from(["POD-1", "POD-2", "chair"]),
    st.integers(60, 200),  # chairs drawn, when the line is chairs
)


def occupied_minutes(start: int, end: int, turnaround: int) -> range:
    return range(start, end + turnaround)


# The factory fixtures hold no state, so sharing them between examples is safe.
@settings(
    max_examples=150,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(st.lists(loan_strategy, min_size=1, max_size=8))
def test_sweeps_agree_with_counting_every_minute(make_problem, make_request, serve, at, loans):
    travel = {("depot", "melun"): 15, ("dammarie", "depot"): 30, ("dammarie", "melun"): 12}
    requests, assignments = [], []
    unit_loans: dict[str, list[tuple[int, int, str]]] = {"POD-1": [], "POD-2": []}
    chairs = [0] * 2000
    for number, (start, duration, site, what, quantity) in enumerate(loans):
        begin = at(13) + timedelta(minutes=start)
        end = begin + timedelta(minutes=duration)
        if what == "chair":
            request = make_request(
                id=f"R-{number}", site=site, start=begin, end=end, lines=[("chair", quantity)]
            )
            assignments.append(serve(request, [("chair@depot", quantity)]))
            for minute in occupied_minutes(start, start + duration, 60):
                chairs[minute] += quantity
        else:
            request = make_request(id=f"R-{number}", site=site, start=begin, end=end)
            assignments.append(serve(request, what))
            unit_loans[what].append((start, start + duration, site))
        requests.append(request)
    problem = make_problem(requests=requests)

    units_ok = True
    for unit_list in unit_loans.values():
        busy = [0] * 2000
        for start, end, _ in unit_list:
            for minute in occupied_minutes(start, end, 240):
                busy[minute] += 1
        units_ok &= max(busy) <= 1
        ordered = sorted(unit_list)
        for (_, end_a, site_a), (start_b, _, site_b) in pairwise(ordered):
            pair = tuple(sorted((site_a, site_b)))
            units_ok &= end_a + 240 + travel.get(pair, 0) <= start_b
    chairs_ok = max(chairs) <= 300

    found = set(rules(check_assignments(problem, assignments)))
    assert found <= {"3", "4"}
    assert ("3" not in found) == units_ok
    assert ("4" not in found) == chairs_ok


def test_rule1_counts_real_minutes_across_the_end_of_summer_time(make_problem, make_request):
    # 30 Oct 20:00 (+02:00) to 31 Oct 20:00 (+01:00) lasts 25 h: moved to start
    # 31 Oct 20:00 (+01:00, 1500 min later) it ends 1 Nov 21:00 local, not 20:00.
    paris = ZoneInfo("Europe/Paris")
    start, end = datetime(2027, 10, 30, 20, tzinfo=paris), datetime(2027, 10, 31, 20, tzinfo=paris)
    horizon = Interval(datetime(2027, 10, 1, tzinfo=paris), datetime(2027, 12, 1, tzinfo=paris))
    request = make_request(start=start, end=end, latest_end=datetime(2027, 11, 3, tzinfo=paris))
    problem = make_problem(horizon=horizon, requests=[request])
    line = LineAssignment("podium", ("POD-1",))
    shifted = RequestAssignment("R-0001", True, start + timedelta(days=1), end, (line,))
    real = dataclasses.replace(shifted, end=datetime(2027, 11, 1, 21, tzinfo=paris), lines=(line,))
    wall = dataclasses.replace(shifted, end=datetime(2027, 11, 1, 20, tzinfo=paris))
    assert check_assignments(problem, [real]) == []
    violation = only(check_assignments(problem, [wall]))
    assert "lasts 1 d, the request lasts 1 d 1 h" in violation.message
    assert compute_metrics(problem, [real]).shift_minutes == 1500


@pytest.mark.parametrize(("minute", "ok"), [(0, True), (-1, False)])
def test_rule3_turnaround_counts_real_minutes_across_summer_time(
    make_problem, make_request, serve, minute, ok
):
    # Ending 31 Oct 00:00 (+02:00), a podium is free 240 real minutes later:
    # 03:00 local (+01:00), only three hours later on the wall clock.
    paris = ZoneInfo("Europe/Paris")
    horizon = Interval(datetime(2027, 10, 1, tzinfo=paris), datetime(2027, 12, 1, tzinfo=paris))
    first = make_request(
        id="R-1",
        start=datetime(2027, 10, 30, 8, tzinfo=paris),
        end=datetime(2027, 10, 31, tzinfo=paris),
    )
    start = (datetime(2027, 10, 31, 2, tzinfo=UTC) + timedelta(minutes=minute)).astimezone(paris)
    second = make_request(id="R-2", start=start, end=datetime(2027, 10, 31, 18, tzinfo=paris))
    problem = make_problem(horizon=horizon, requests=[first, second])
    violations = check_assignments(problem, [serve(first, "POD-1"), serve(second, "POD-1")])
    assert rules(violations) == ([] if ok else ["3"])
    if not ok:
        assert "until 2027-10-31 03:00" in violations[0].message
