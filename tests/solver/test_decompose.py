"""Splitting a problem into independent parts, and sharing time between them."""

from __future__ import annotations

import pytest

from solver.cpsat import solve_cpsat
from solver.decompose import Part, batch_parts, decompose, share_time, type_groups
from solver.instance import Instance
from solver.options import SolveOptions
from solver.problem import EquipmentType, Unit


def test_types_linked_by_substitution_form_one_group(make_problem, make_request):
    requests = [
        make_request(id="R-1", lines=[("minibus-9", 1)]),
        make_request(id="R-2", lines=[("podium", 1)]),
    ]
    groups = type_groups(Instance(make_problem(requests=requests)))
    by_request = {r: set(g.type_ids) for g in groups for r in g.request_ids}
    assert by_request["R-1"] == {"minibus-9", "minibus-12"}
    assert by_request["R-2"] == {"podium"}


def test_unrelated_types_stay_apart_until_a_request_links_them(make_problem, make_request):
    apart = [
        make_request(id="R-1", lines=[("podium", 1)]),
        make_request(id="R-2", lines=[("chair", 10)]),
    ]
    assert len(type_groups(Instance(make_problem(requests=apart)))) == 2
    linked = [*apart, make_request(id="R-3", lines=[("podium", 1), ("chair", 5)])]
    groups = type_groups(Instance(make_problem(requests=linked)))
    assert len(groups) == 1
    assert set(groups[0].request_ids) == {"R-1", "R-2", "R-3"}


def test_types_without_requests_make_no_group(make_problem, make_request):
    groups = type_groups(Instance(make_problem(requests=[make_request(id="R-1")])))
    assert [g.request_ids for g in groups] == [("R-1",)]


def test_requests_far_apart_in_time_are_separate_parts(make_problem, make_request, at):
    requests = [
        make_request(id="R-1", start=at(2, 8), end=at(3, 8)),
        make_request(id="R-2", start=at(20, 8), end=at(21, 8)),
    ]
    _, parts = decompose(Instance(make_problem(requests=requests)))
    assert sorted(p.request_ids for p in parts) == [("R-1",), ("R-2",)]


@pytest.mark.parametrize(("minute", "parts_count"), [(10, 1), (11, 1), (12, 2)])
def test_turnaround_and_travel_link_requests_in_time(
    make_problem, make_request, at, minute, parts_count
):
    # R-1 at Melun ends 08:00; podium turnaround 240 min plus 12 min of travel
    # to Dammarie: R-2 starting before 12:12 may compete for the same unit, from
    # 12:12 on it can follow R-1 whatever happens.
    requests = [
        make_request(id="R-1", site="melun", start=at(2, 8), end=at(3, 8)),
        make_request(id="R-2", site="dammarie", start=at(3, 12, minute), end=at(4, 8)),
    ]
    _, parts = decompose(Instance(make_problem(requests=requests)))
    assert len(parts) == parts_count


def test_a_wide_window_links_requests_it_may_reach(make_problem, make_request, at):
    requests = [
        make_request(id="R-1", start=at(2, 8), end=at(3, 8), latest_end=at(12)),
        make_request(id="R-2", start=at(10, 8), end=at(11, 8)),
    ]
    _, parts = decompose(Instance(make_problem(requests=requests)))
    assert len(parts) == 1
    narrow = [requests[1], make_request(id="R-1", start=at(2, 8), end=at(3, 8))]
    _, parts = decompose(Instance(make_problem(requests=narrow)))
    assert len(parts) == 2


def test_small_parts_are_batched_and_large_ones_stay_alone():
    parts = [
        Part(0, tuple(f"R{i}-{k}" for k in range(n)), (0, 1)) for i, n in enumerate([3, 50, 4, 5])
    ]
    batches = batch_parts(parts, min_size=8)
    assert [[p.size for p in b] for b in batches] == [[50], [3, 4, 5]]


def test_time_is_shared_in_proportion_and_leftovers_go_to_later_parts():
    sizes = [1.0, 3.0]
    assert share_time(sizes, 8.0, 0) == pytest.approx(2.0)
    # The first part used only 0.5 s of its 2 s: the second gets all 7.5 s left.
    assert share_time(sizes, 7.5, 1) == pytest.approx(7.5)
    assert share_time([0.0], 3.0, 0) == 3.0


def test_solving_by_parts_serves_each_part_as_alone(make_problem, make_request, at):
    # Two independent busy periods on one unit: each keeps its most valuable request.
    requests = [
        make_request(id="A-1", priority=1, start=at(2, 8), end=at(4, 8)),
        make_request(id="A-2", priority=3, start=at(3, 8), end=at(5, 8)),
        make_request(id="B-1", priority=4, start=at(20, 8), end=at(22, 8)),
        make_request(id="B-2", priority=2, start=at(21, 8), end=at(23, 8)),
    ]
    problem = make_problem(requests=requests, units=[Unit("POD-1", "podium", "depot")])
    plan = solve_cpsat(problem, SolveOptions(time_limit_seconds=10, workers=1, seed=0))
    assert {a.id for a in plan.requests if a.served} == {"A-2", "B-1"}
    assert plan.solver.bound[0] == 4 + 8


def test_a_type_without_equipment_is_its_own_group(make_problem, make_request):
    types = [EquipmentType("stage", "Scène", 60)]
    problem = make_problem(
        requests=[make_request(id="R-1", lines=[("stage", 1)])],
        types=types,
        units=[],
        pools=[],
    )
    groups, parts = decompose(Instance(problem))
    assert [g.type_ids for g in groups] == [("stage",)]
    assert [p.request_ids for p in parts] == [("R-1",)]
