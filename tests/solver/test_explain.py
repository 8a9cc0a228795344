"""Reasons for unserved requests, one reason kind at a time, on tiny problems.

The default world comes from ``conftest.py``: POD-1 and POD-2 (podium,
turnaround 240 min), MB9-1 (minibus-9, substitute minibus-12) and MB12-1
(minibus-12, turnaround 120 min), pools chair@depot 300 + chair@melun 100 and
table@depot 50; Europe/Paris in July (UTC+02:00). Every hand-built plan is
first checked feasible, since reasons are only defined against feasible plans.
"""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Sequence
from datetime import timedelta

import pytest

from bench.generate import generate
from solver import SolveOptions, solve
from solver.check import check_assignments
from solver.explain import ReasonKind, UnitState, diagnose_unserved, explain_unserved
from solver.explain.index import Occupancy, StateCode, complement
from solver.explain.reason import Reason
from solver.explain.spans import at_least, best_shift, closest, coverage, intersect
from solver.io import problem_from_json
from solver.occupancy import Occupancy as SharedOccupancy
from solver.plan import Draw, LineAssignment, RequestAssignment
from solver.problem import EquipmentType, Interval, Pool, Problem, Unit


def diagnose(problem: Problem, assignments: Sequence[RequestAssignment]) -> dict[str, Reason]:
    """Checks the plan is feasible, then diagnoses it with CP-SAT allowed."""
    assert check_assignments(problem, list(assignments)) == []
    return diagnose_unserved(problem, assignments, time_limit_seconds=5.0)


def ids(reason: Reason) -> set[str]:
    return set(reason.blocking_ids)


def test_no_such_equipment(make_problem, make_request, unserved, at):
    types = (*make_problem().types, EquipmentType("tent", "Tente 5 x 5 m", 60))
    request = make_request(id="R-1", lines=[("chair", 10), ("tent", 1)])
    problem = make_problem(types=types, requests=[request])

    reason = diagnose(problem, [unserved(request)])["R-1"]

    assert reason.kind is ReasonKind.NO_SUCH_EQUIPMENT
    assert reason.type_id == "tent"
    assert (reason.period_start, reason.period_end) == (at(13, 8), at(15, 18))
    assert "tent: no unit or pool" in reason.to_text()


@pytest.mark.parametrize(
    ("lines", "type_id", "asked", "stock"),
    [
        ([("chair", 401)], "chair", 401, 400),  # both chair pools together hold 400
        ([("podium", 3)], "podium", 3, 2),
        ([("minibus-9", 2), ("minibus-12", 1)], "minibus-9", 3, 2),  # MB12-1 counts once
    ],
)
def test_exceeds_stock(make_problem, make_request, unserved, lines, type_id, asked, stock):
    request = make_request(id="R-1", lines=lines)
    problem = make_problem(requests=[request])

    reason = diagnose(problem, [unserved(request)])["R-1"]

    assert reason.kind is ReasonKind.EXCEEDS_STOCK
    assert (reason.type_id, reason.asked, reason.stock) == (type_id, asked, stock)
    assert reason.short_by == asked - stock
    assert f"{asked} asked, only {stock} in stock" in reason.to_text()


def test_outside_horizon(make_problem, make_request, unserved, at):
    # The horizon ends on 1 August 00:00; even the latest shift ends after it.
    request = make_request(
        id="R-1", start=at(31, 8), end=at(31, 8) + timedelta(days=2), earliest_start=at(30, 8)
    )
    problem = make_problem(requests=[request])

    reason = diagnose(problem, [unserved(request)])["R-1"]

    assert reason.kind is ReasonKind.OUTSIDE_HORIZON
    assert reason.type_id is None
    assert reason.shifts_tried
    assert "outside the planning horizon even when shifted (up to 1 day earlier)" in (
        reason.to_text()
    )


def test_maintenance_names_the_unit_and_its_blackout(make_problem, make_request, unserved, at):
    units = (
        Unit("POD-1", "podium", "depot", (Interval(at(1), at(3)),)),
        Unit("POD-2", "podium", "depot", (Interval(at(2, 12), at(4)),)),
    )
    request = make_request(id="R-1", start=at(2, 8), end=at(2, 18))
    problem = make_problem(units=units, requests=[request])

    reason = diagnose(problem, [unserved(request)])["R-1"]

    assert reason.kind is ReasonKind.MAINTENANCE
    assert reason.type_id == "podium"
    assert [s.state for s in reason.unit_statuses] == [UnitState.MAINTENANCE] * 2
    assert (reason.period_start, reason.period_end) == (at(2, 8), at(2, 18))
    assert reason.to_text() == (
        "podium: POD-1 in maintenance 2027-07-01 00:00-2027-07-03 00:00, "
        "POD-2 in maintenance 2027-07-02 12:00-2027-07-04 00:00"
    )


def test_busy_units_with_substitute_and_shifts(make_problem, make_request, serve, unserved, at):
    # The spec's example: both podiums held over the very period asked.
    first = make_request(id="R-0001")
    seventh = make_request(id="R-0007")
    # Shifting by up to a day either way cannot escape loans of 2.5 days.
    asked = make_request(id="R-0002", earliest_start=at(12, 8), latest_end=at(16, 18))
    problem = make_problem(requests=[first, seventh, asked])
    plan = [serve(first, "POD-1"), serve(seventh, "POD-2"), unserved(asked)]

    reason = diagnose(problem, plan)["R-0002"]

    assert reason.kind is ReasonKind.BUSY
    assert reason.type_id == "podium"
    assert ids(reason) == {"R-0001", "R-0007"}
    assert reason.shifts_tried and reason.short_by == 1
    assert reason.shift_minutes == 0
    assert (reason.period_start, reason.period_end) == (at(13, 8), at(15, 18))
    assert reason.to_text() == (
        "podium: both units busy 2027-07-13 08:00-2027-07-15 18:00 (R-0001, R-0007); "
        "no shift inside the window (±1 day) frees it"
    )
    stored = json.loads(json.dumps(reason.to_dict()))
    assert stored["kind"] == "BUSY"
    assert stored["period_start"] == "2027-07-13T08:00:00+02:00"
    assert stored["blocking_ids"] == ["R-0001", "R-0007"]
    assert [u["state"] for u in stored["unit_statuses"]] == ["BUSY", "BUSY"]


def test_busy_substitute_is_named(make_problem, make_request, serve, unserved):
    nine = make_request(id="R-1", lines=[("minibus-9", 1)])
    twelve = make_request(id="R-2", lines=[("minibus-12", 1)])
    asked = make_request(id="R-3", lines=[("minibus-9", 1)])
    problem = make_problem(requests=[nine, twelve, asked])
    plan = [serve(nine, "MB9-1"), serve(twelve, "MB12-1"), unserved(asked)]

    reason = diagnose(problem, plan)["R-3"]

    assert reason.kind is ReasonKind.BUSY
    assert reason.substitutes_tried == ("minibus-12",)
    assert not reason.shifts_tried
    assert ids(reason) == {"R-1", "R-2"}
    assert reason.to_text() == (
        "minibus-9: the only unit is busy 2027-07-13 08:00-2027-07-15 18:00 (R-1); "
        "substitute minibus-12 also busy (R-2)"
    )


def test_busy_pool_shortage_period_and_holders(make_problem, make_request, serve, unserved, at):
    big = make_request(id="R-1", lines=[("chair", 250)], start=at(14, 8), end=at(14, 20))
    other = make_request(id="R-2", lines=[("chair", 70)], start=at(14, 10), end=at(14, 12))
    early = make_request(id="R-4", lines=[("chair", 300)], start=at(11, 8), end=at(12, 8))
    asked = make_request(id="R-3", lines=[("chair", 120)])
    problem = make_problem(requests=[big, other, early, asked])
    plan = [
        serve(big, [("chair@depot", 250)]),
        serve(other, [("chair@melun", 70)]),
        serve(early, [("chair@depot", 300)]),
        unserved(asked),
    ]

    reason = diagnose(problem, plan)["R-3"]

    # depot: 50 left while R-1 holds it; melun: 30 left while R-2 holds it.
    assert reason.kind is ReasonKind.BUSY
    assert (reason.asked, reason.available, reason.short_by) == (120, 80, 40)
    assert reason.blocking_ids == ("R-1", "R-2")  # biggest draw first; R-4 is long back
    assert (reason.period_start, reason.period_end) == (at(14, 8), at(14, 21))
    assert reason.to_text() == (
        "chair: 120 asked, 80 free at best 2027-07-14 08:00-2027-07-14 21:00 (held by R-1, R-2)"
    )


def test_travel_after_the_previous_loan(make_problem, make_request, serve, unserved, at):
    # R-1 ends at Melun 10:00; a minibus-12 needs 120 min turnaround + 12 min
    # to Dammarie, so it is there at 12:12 at the earliest.
    before = make_request(id="R-1", lines=[("minibus-12", 1)], start=at(13, 6), end=at(13, 10))
    asked = make_request(
        id="R-2", site="dammarie", lines=[("minibus-12", 1)], start=at(13, 12), end=at(13, 18)
    )
    problem = make_problem(requests=[before, asked])
    plan = [serve(before, "MB12-1"), unserved(asked)]

    reason = diagnose(problem, plan)["R-2"]

    assert reason.kind is ReasonKind.TRAVEL
    assert reason.type_id == "minibus-12" and ids(reason) == {"R-1"}
    (status,) = reason.unit_statuses
    assert (status.state, status.travel_minutes, status.end) == (
        UnitState.TRAVEL,
        12,
        at(13, 12, 12),
    )
    assert reason.to_text() == (
        "minibus-12: MB12-1 reaches dammarie at 2027-07-13 12:12 at the earliest, after R-1 "
        "(120 min turnaround + 12 min drive)"
    )


def test_shift_to_the_exact_minute_fits(make_problem, make_request, serve, unserved, at):
    """A window reaching exactly e + turnaround + travel makes the request fit."""
    before = make_request(id="R-1", lines=[("minibus-12", 1)], start=at(13, 6), end=at(13, 10))
    asked = make_request(
        id="R-2",
        site="dammarie",
        lines=[("minibus-12", 1)],
        start=at(13, 12),
        end=at(13, 18),
        latest_end=at(13, 18, 12),
    )
    problem = make_problem(requests=[before, asked])
    plan = [serve(before, "MB12-1"), unserved(asked)]

    reason = diagnose(problem, plan)["R-2"]

    assert reason.kind is ReasonKind.NOT_SELECTED
    assert reason.shift_minutes == 12
    assert (reason.period_start, reason.period_end) == (at(13, 12, 12), at(13, 18, 12))
    assert "fits 2027-07-13 12:12-2027-07-13 18:12 beside the planned loans" in reason.to_text()


@pytest.mark.parametrize(
    ("latest_end_minute", "kind"),
    [
        (9 * 60 + 59, ReasonKind.BUSY),  # can start 21:59 at best: POD-1 occupied until 22:00
        (10 * 60 + 14, ReasonKind.TRAVEL),  # 22:14: free, but 15 min from Melun to the depot
        (10 * 60 + 15, ReasonKind.NOT_SELECTED),  # 22:15: exactly in time
    ],
)
def test_turnaround_and_travel_to_the_minute(
    make_problem, make_request, serve, unserved, at, latest_end_minute, kind
):
    units = (
        Unit("POD-1", "podium", "depot"),
        Unit("POD-2", "podium", "depot", (Interval(at(1), at(31)),)),
    )
    before = make_request(id="R-1", start=at(13, 8), end=at(13, 18))
    asked = make_request(
        id="R-2",
        site="depot",
        start=at(13, 20),
        end=at(14, 8),
        latest_end=at(14) + timedelta(minutes=latest_end_minute),
    )
    problem = make_problem(units=units, requests=[before, asked])
    plan = [serve(before, "POD-1"), unserved(asked)]

    reason = diagnose(problem, plan)["R-2"]

    assert reason.kind is kind
    if kind is ReasonKind.NOT_SELECTED:
        assert reason.period_start == at(13, 22, 15)
    else:
        assert reason.blocking_ids == ("R-1",)
        pod1 = next(s for s in reason.unit_statuses if s.unit_id == "POD-1")
        assert pod1.state.value == kind.value


def test_combination_finds_the_conflicting_lines(make_problem, make_request, serve, unserved, at):
    # The only minibus-12 is free from the 11th, chairs are all out on the 12th:
    # a two-day loan inside 10th-14th can have either, never both. Tables are
    # free throughout and must not be blamed.
    bus = make_request(id="R-1", lines=[("minibus-12", 1)], start=at(9, 8), end=at(11, 8))
    chairs = make_request(id="R-2", lines=[("chair", 380)], start=at(12, 10), end=at(13, 10))
    asked = make_request(
        id="R-3",
        start=at(10, 8),
        end=at(12, 8),
        earliest_start=at(10, 8),
        latest_end=at(14, 8),
        lines=[("table", 10), ("minibus-12", 1), ("chair", 50)],
    )
    problem = make_problem(requests=[bus, chairs, asked])
    plan = [
        serve(bus, "MB12-1"),
        serve(chairs, [("chair@depot", 300), ("chair@melun", 80)]),
        unserved(asked),
    ]

    reason = diagnose(problem, plan)["R-3"]

    assert reason.kind is ReasonKind.COMBINATION
    assert reason.types == ("minibus-12", "chair")
    assert reason.shifts_tried
    text = reason.to_text()
    assert text.startswith("minibus-12 + chair: each line fits alone inside the window")
    assert "never all at once" in text


def test_combination_without_time_keeps_the_direct_reason(
    make_problem, make_request, serve, unserved, at
):
    bus = make_request(id="R-1", lines=[("minibus-12", 1)], start=at(9, 8), end=at(11, 8))
    chairs = make_request(id="R-2", lines=[("chair", 380)], start=at(12, 10), end=at(13, 10))
    asked = make_request(
        id="R-3",
        start=at(10, 8),
        end=at(12, 8),
        earliest_start=at(10, 8),
        latest_end=at(14, 8),
        lines=[("table", 10), ("minibus-12", 1), ("chair", 50)],
    )
    problem = make_problem(requests=[bus, chairs, asked])
    plan = [
        serve(bus, "MB12-1"),
        serve(chairs, [("chair@depot", 300), ("chair@melun", 80)]),
        unserved(asked),
    ]

    reason = diagnose_unserved(problem, plan, time_limit_seconds=0.0)["R-3"]

    assert reason.kind is ReasonKind.COMBINATION
    assert reason.types == ("table", "minibus-12", "chair")  # not narrowed down


def test_combination_of_lines_sharing_a_substitute(make_problem, make_request, serve, unserved):
    # MB9-1 is lent; MB12-1 could serve either line, not both.
    nine = make_request(id="R-1", lines=[("minibus-9", 1)])
    asked = make_request(id="R-2", lines=[("minibus-9", 1), ("minibus-12", 1)])
    problem = make_problem(requests=[nine, asked])
    plan = [serve(nine, "MB9-1"), unserved(asked)]

    reason = diagnose(problem, plan)["R-2"]

    assert reason.kind is ReasonKind.COMBINATION
    assert reason.types == ("minibus-9", "minibus-12")
    assert (reason.asked, reason.available) == (2, 1)
    assert ids(reason) == {"R-1"}


def test_two_lines_of_one_pooled_type_conflict_together(
    make_problem, make_request, serve, unserved, at
):
    chairs = make_request(id="R-1", lines=[("chair", 300)])
    asked = make_request(id="R-2", lines=[("table", 5), ("chair", 60), ("chair", 50)])
    problem = make_problem(requests=[chairs, asked])
    plan = [serve(chairs, [("chair@depot", 300)]), unserved(asked)]

    reason = diagnose(problem, plan)["R-2"]

    # 100 chairs left at Melun: either line alone, not both.
    assert reason.kind is ReasonKind.COMBINATION
    assert reason.types == ("chair",)
    assert (reason.asked, reason.available, reason.short_by) == (110, 100, 10)
    assert reason.blocking_ids == ("R-1",)
    assert reason.to_text() == (
        "chair: its lines fit one at a time, not together: "
        "110 asked, 100 free at best 2027-07-13 08:00-2027-07-15 18:00 (held by R-1)"
    )


def test_many_units_are_counted_by_state(make_problem, make_request, serve, unserved, at):
    units = (
        *(Unit(f"POD-{n}", "podium", "depot") for n in range(1, 4)),
        Unit("POD-4", "podium", "depot", (Interval(at(10), at(20)),)),
    )
    holders = [make_request(id=f"R-{n}") for n in range(1, 4)]
    asked = make_request(id="R-9")
    problem = make_problem(units=units, requests=[*holders, asked])
    plan = [serve(r, f"POD-{n}") for n, r in enumerate(holders, start=1)] + [unserved(asked)]

    reason = diagnose(problem, plan)["R-9"]

    assert reason.kind is ReasonKind.BUSY
    assert reason.to_text() == (
        "podium: all 4 units unavailable 2027-07-13 08:00-2027-07-15 18:00: "
        "3 busy (R-1, R-2, R-3), 1 in maintenance (POD-4)"
    )


def test_substitute_in_maintenance_is_named(make_problem, make_request, serve, unserved, at):
    units = (
        Unit("MB9-1", "minibus-9", "depot"),
        Unit("MB12-1", "minibus-12", "depot", (Interval(at(12), at(16)),)),
    )
    nine = make_request(id="R-1", lines=[("minibus-9", 1)])
    asked = make_request(id="R-2", lines=[("minibus-9", 1)])
    problem = make_problem(units=units, requests=[nine, asked])
    plan = [serve(nine, "MB9-1"), unserved(asked)]

    reason = diagnose(problem, plan)["R-2"]

    assert reason.kind is ReasonKind.BUSY
    assert reason.substitutes_tried == ("minibus-12",)
    assert reason.to_text().endswith("; substitute minibus-12 also in maintenance")


def test_lower_priority_tradeoff(make_problem, make_request, serve, unserved, at):
    units = tuple(u for u in make_problem().units if u.id != "POD-2")
    low_a = make_request(id="R-1", priority=1, start=at(13, 8), end=at(14, 8))
    low_b = make_request(id="R-2", priority=1, start=at(14, 14), end=at(15, 18))
    asked = make_request(id="R-3", priority=2)
    problem = make_problem(units=units, requests=[low_a, low_b, asked])
    plan = [serve(low_a, "POD-1"), serve(low_b, "POD-1"), unserved(asked)]

    reason = diagnose(problem, plan)["R-3"]

    # Serving R-3 (value 2) means dropping two priority-1 loans (value 1 + 1).
    assert reason.kind is ReasonKind.LOWER_PRIORITY_TRADEOFF
    assert reason.blocking_ids == ("R-1", "R-2")
    assert (reason.blocking_value, reason.own_value) == (2, 2)
    assert (
        "only by displacing lower-priority R-1, R-2 (total value 2 >= its value 2)"
        in reason.to_text()
    )


def test_no_tradeoff_claimed_when_another_line_is_short_too(
    make_problem, make_request, serve, unserved, at
):
    units = tuple(u for u in make_problem().units if u.id != "POD-2")
    low_a = make_request(id="R-1", priority=1, start=at(13, 8), end=at(14, 8))
    low_b = make_request(id="R-2", priority=1, start=at(14, 14), end=at(15, 18))
    chairs = make_request(id="R-4", priority=4, lines=[("chair", 400)])
    asked = make_request(id="R-3", priority=2, lines=[("podium", 1), ("chair", 10)])
    problem = make_problem(units=units, requests=[low_a, low_b, chairs, asked])
    plan = [
        serve(low_a, "POD-1"),
        serve(low_b, "POD-1"),
        serve(chairs, [("chair@depot", 300), ("chair@melun", 100)]),
        unserved(asked),
    ]

    reason = diagnose(problem, plan)["R-3"]

    # Dropping would not be enough: the chairs are all out too.
    assert reason.kind is ReasonKind.BUSY
    assert reason.types == ("chair",)
    assert reason.to_text().endswith("; also short: chair")


def test_higher_value_request_left_out_is_plain_busy(make_problem, make_request, serve, unserved):
    units = tuple(u for u in make_problem().units if u.id != "POD-2")
    low = make_request(id="R-1", priority=1)
    asked = make_request(id="R-2", priority=3)
    problem = make_problem(units=units, requests=[low, asked])
    plan = [serve(low, "POD-1"), unserved(asked)]

    reason = diagnose(problem, plan)["R-2"]

    # Displacing value 1 for value 4 would pay: not a trade-off, just taken first.
    assert reason.kind is ReasonKind.BUSY
    assert reason.blocking_ids == ("R-1",)


def test_every_unserved_request_gets_a_line(make_problem, make_request, serve, unserved):
    first = make_request(id="R-1")
    second = make_request(id="R-2")
    third = make_request(id="R-3")
    fourth = make_request(id="R-4", lines=[("chair", 500)])
    problem = make_problem(requests=[first, second, third, fourth])
    plan = [serve(first, "POD-1"), serve(second, "POD-2"), unserved(third), unserved(fourth)]

    texts = explain_unserved(problem, plan)
    reasons = diagnose_unserved(problem, plan)

    assert set(texts) == {"R-3", "R-4"}
    assert texts == {key: reason.to_text() for key, reason in reasons.items()}
    assert explain_unserved(problem, plan) == texts  # deterministic


# --- Agreement with a brute-force search -----------------------------------------

LINE_CHOICES = (
    ("podium", 1),
    ("podium", 2),
    ("minibus-9", 1),
    ("minibus-12", 1),
    ("chair", 25),
    ("chair", 50),
    ("table", 12),
)


def candidate_assignments(problem: Problem, request, start, end):
    """Every way to serve ``request`` over ``[start, end)``: distinct units, one pool a type."""
    options = []
    for line in request.lines:
        if problem.is_pooled(line.type):
            options.append(
                [
                    (LineAssignment(line.type, pools=(Draw(pool.id, line.quantity),)), ())
                    for pool in problem.pools
                    if pool.type == line.type
                ]
            )
        else:
            units = [
                u.id
                for t in problem.eligible_unit_types(line.type)
                for u in problem.units_of_type(t)
            ]
            options.append(
                [
                    (LineAssignment(line.type, units=combo), combo)
                    for combo in itertools.combinations(units, line.quantity)
                ]
            )
    for choice in itertools.product(*options):
        used = [u for _, units in choice for u in units]
        if len(used) == len(set(used)):
            yield RequestAssignment(request.id, True, start, end, tuple(line for line, _ in choice))


def fits_at(problem: Problem, plan: list[RequestAssignment], request, shift: int) -> bool:
    """Whether some assignment of ``request`` shifted by ``shift`` minutes passes the checker."""
    delta = timedelta(minutes=shift)
    others = [a for a in plan if a.id != request.id]
    return any(
        not check_assignments(problem, [*others, candidate])
        for candidate in candidate_assignments(
            problem, request, request.start + delta, request.end + delta
        )
    )


def first_come_plan(problem: Problem, skipped: set[str]) -> list[RequestAssignment]:
    """Serves requests in order, unshifted, with the first assignment the checker accepts.

    Requests in ``skipped`` are left out whether they fit or not.
    """
    plan = [RequestAssignment(r.id, False) for r in problem.requests]
    for index, request in enumerate(problem.requests):
        if request.id in skipped:
            continue
        for candidate in candidate_assignments(problem, request, request.start, request.end):
            trial = [*plan[:index], candidate, *plan[index + 1 :]]
            if not check_assignments(problem, trial):
                plan = trial
                break
    return plan


@pytest.mark.parametrize("seed", range(16))
def test_reasons_agree_with_a_brute_force_search(make_problem, make_request, at, seed):
    """A request said to fit fits there; any other reason means no minute of its window fits."""
    rnd = random.Random(seed)
    requests = []
    for number in range(12):
        start = at(13, 6) + timedelta(minutes=15 * rnd.randrange(0, 96))
        end = start + timedelta(minutes=30 * rnd.randrange(4, 20))
        slack = timedelta(minutes=rnd.choice([0, 0, 20, 45, 90]))
        lines = rnd.sample(LINE_CHOICES, rnd.choice([1, 1, 2]))
        if len({t for t, _ in lines}) < len(lines):
            lines = lines[:1]
        requests.append(
            make_request(
                id=f"R-{number}",
                site=rnd.choice(["melun", "dammarie", "depot"]),
                priority=rnd.randint(1, 4),
                start=start,
                end=end,
                earliest_start=start - slack,
                latest_end=end + slack,
                lines=lines,
            )
        )
    units = (
        Unit("POD-1", "podium", "depot"),
        Unit("POD-2", "podium", "depot", (Interval(at(14, 6), at(14, 12)),)),
        Unit("MB9-1", "minibus-9", "depot"),
        Unit("MB12-1", "minibus-12", "depot"),
    )
    pools = (Pool("chair@depot", "chair", "depot", 60), Pool("table@depot", "table", "depot", 20))
    problem = make_problem(units=units, pools=pools, requests=requests)
    plan = first_come_plan(problem, {r.id for r in requests if rnd.random() < 0.2})

    reasons = diagnose(problem, plan)

    assert set(reasons) == {a.id for a in plan if not a.served}
    for request_id, reason in reasons.items():
        request = problem.request_by_id[request_id]
        if reason.kind is ReasonKind.NOT_SELECTED:
            assert fits_at(problem, plan, request, reason.shift_minutes), reason
        else:
            low = int((request.earliest_start - request.start).total_seconds()) // 60
            high = int((request.latest_end - request.end).total_seconds()) // 60
            assert not any(fits_at(problem, plan, request, d) for d in range(low, high + 1)), (
                reason.to_text()
            )


# --- A generated season ------------------------------------------------------------


def serve_at(problem: Problem, plan: Sequence[RequestAssignment], request, shift: int):
    """``request`` served ``shift`` minutes later, on units and pools free beside ``plan``."""
    occupancy = Occupancy(problem, plan)
    start, end = (problem.timebase.to_minutes(t) + shift for t in (request.start, request.end))
    taken: set[str] = set()
    lines = []
    for line in request.lines:
        if problem.is_pooled(line.type):
            draws, missing = [], line.quantity
            for pool_id, profile in occupancy.pools_by_type[line.type]:
                quantity = min(missing, profile.free(start, end + occupancy.turnaround(line.type)))
                if quantity > 0:
                    draws.append(Draw(pool_id, quantity))
                    missing -= quantity
            lines.append(LineAssignment(line.type, pools=tuple(draws)))
            continue
        free = [
            unit.id
            for type_id in problem.eligible_unit_types(line.type)
            for unit in problem.units_of_type(type_id)
            if unit.id not in taken
            and occupancy.units[unit.id].state(start, end, request.site, occupancy.travel)
            is StateCode.FREE
        ]
        taken.update(free[: line.quantity])
        lines.append(LineAssignment(line.type, units=tuple(free[: line.quantity])))
    delta = timedelta(minutes=shift)
    return RequestAssignment(
        request.id, True, request.start + delta, request.end + delta, tuple(lines)
    )


def test_every_unserved_request_of_a_generated_summer_has_a_reason():
    problem = problem_from_json(json.dumps(generate("summer", 1)))
    plan = list(solve(problem, "baseline", SolveOptions(workers=1, seed=0)).requests)
    served = {a.id for a in plan if a.served}
    unserved_ids = [a.id for a in plan if not a.served]
    # Fête de la musique alone asks for more stages than the agglomeration has.
    assert unserved_ids

    reasons = diagnose_unserved(problem, plan, time_limit_seconds=2.0)

    assert list(reasons) == unserved_ids
    for request_id, reason in reasons.items():
        request = problem.request_by_id[request_id]
        assert reason.request_id == request_id
        assert reason.to_text()
        assert set(reason.blocking_ids) <= served
        if reason.type_id is not None:
            assert reason.type_id in {line.type for line in request.lines}
        if reason.kind in (ReasonKind.BUSY, ReasonKind.LOWER_PRIORITY_TRADEOFF):
            assert reason.blocking_ids and reason.short_by > 0
        if reason.kind is ReasonKind.NOT_SELECTED:
            # First come, first served does not shift: what it left out must
            # really fit where the reason says, by the checker's own rules.
            placed = serve_at(problem, plan, request, reason.shift_minutes)
            trial = [placed if a.id == request_id else a for a in plan]
            assert check_assignments(problem, trial) == [], reason.to_text()


def test_occupation_agrees_with_the_shared_occupancy_helpers():
    """Two readings of the spec's rules 3 and 4 give the same answers near real loans."""
    problem = problem_from_json(json.dumps(generate("summer", 2)))
    plan = list(solve(problem, "baseline", SolveOptions(workers=1, seed=0)).requests)
    mine = Occupancy(problem, plan)
    shared = SharedOccupancy(problem)
    for assignment in plan:
        shared.add_assignment(assignment)
    rnd = random.Random(7)
    sites = [site.id for site in problem.sites]
    loans = [(u, loan) for u, calendar in mine.units.items() for loan in calendar.loans]
    assert loans
    for _ in range(3000):
        unit_id, loan = rnd.choice(loans)
        # Around the loan's edges, where turnaround, travel and overlap decide.
        start = rnd.choice([loan.start, loan.busy_until]) + rnd.randrange(-600, 600)
        end = start + rnd.randrange(30, 2000)
        site = rnd.choice(sites)
        calendar = mine.units[unit_id]
        free = calendar.state(start, end, site, mine.travel) is StateCode.FREE
        assert free == shared.units[unit_id].fits(start, end, site)
        spans = calendar.free_shifts(start, end, site, -240, 240, mine.travel)[2]
        shift = rnd.randrange(-240, 241)
        in_spans = any(first <= shift <= last for first, last in spans)
        at_shift = calendar.state(start + shift, end + shift, site, mine.travel)
        assert in_spans == (at_shift is StateCode.FREE)
    for pool in problem.pools:
        edges = [t for loan in mine.pools[pool.id].loans for t in (loan.start, loan.busy_until)]
        for _ in range(200 if edges else 0):
            start = rnd.choice(edges) + rnd.randrange(-600, 600)
            end = start + rnd.randrange(30, 4000)
            tail = end + mine.turnaround(pool.type)
            assert mine.pools[pool.id].free(start, tail) == shared.pools[pool.id].free(start, end)


# --- Shift sets -------------------------------------------------------------------


def test_shift_set_helpers():
    assert complement([(5, 9), (-3, -1), (8, 12)], -10, 20) == [(-10, -4), (0, 4), (13, 20)]
    assert complement([(-20, 30)], -10, 20) == []
    steps = coverage([[(-10, 0)], [(-5, 5)], [(3, 20)]], -10, 20)
    assert steps == [(-10, -6, 1), (-5, 0, 2), (1, 2, 1), (3, 5, 2), (6, 20, 1)]
    assert at_least(steps, 2) == [(-5, 0), (3, 5)]
    assert intersect([(-5, 0), (3, 5)], [(-1, 4)]) == [(-1, 0), (3, 4)]
    assert closest([(-9, -3), (3, 8)]) == -3  # as close either way: earlier first
    # Most units free first, then the smallest shift.
    assert best_shift([steps], lambda values: values) == 0
    assert best_shift([steps, coverage([[(4, 20)]], -10, 20)], lambda v: (v[0], v[1])) == 4
