"""Reading and writing `rounds-problem/1` and `rounds-plan/1`: round trips and faults by path."""

from __future__ import annotations

import json
from typing import Any

import pytest

from solver.rounds.io import (
    RoundsFormatError,
    plan_from_json,
    plan_to_json,
    problem_from_json,
    problem_to_json,
)
from solver.rounds.model import StopKind
from solver.rounds.routing import RoundsOptions, solve_rounds
from tests.solver.rounds_world import lunch, make_problem, make_stop, make_truck, transfer


def document(**changes: Any) -> dict[str, Any]:
    problem = make_problem(
        stops=[
            make_stop(id="C", kind=StopKind.COLLECTION, load=4),
            make_stop(id="D", site="b", load=3),
        ],
        trucks=[make_truck(driver_break=lunch())],
        transfers=[transfer("C", "D")],
    )
    data: dict[str, Any] = json.loads(problem_to_json(problem))
    data.update(changes)
    return data


def faults(data: Any) -> list[str]:
    with pytest.raises(RoundsFormatError) as caught:
        problem_from_json(json.dumps(data))
    return caught.value.errors


def test_a_problem_survives_a_round_trip() -> None:
    problem = problem_from_json(json.dumps(document()))
    again = problem_from_json(problem_to_json(problem))
    assert again == problem
    assert again.trucks[0].driver_break == lunch()


def test_a_plan_survives_a_round_trip() -> None:
    problem = problem_from_json(json.dumps(document()))
    plan = solve_rounds(problem, RoundsOptions(0.5))
    assert plan_from_json(plan_to_json(plan, problem.timezone)).routes == plan.routes


def test_service_minutes_default_to_base_plus_per_load_unit() -> None:
    data = document(service={"base_minutes": 5, "minutes_per_load_unit": 2.5})
    del data["stops"][0]["service_minutes"]
    assert problem_from_json(json.dumps(data)).stops[0].service_minutes == 5 + 10


def test_every_fault_is_named_by_its_path() -> None:
    data = document(colour="red")
    data["trucks"][0]["capacity"] = 0
    data["trucks"][0]["depot"] = "nowhere"
    data["stops"][0]["window"]["end"] = "2027-06-18T06:00:00+02:00"
    data["stops"][1]["kind"] = "drop-off"
    data["stops"][1]["items"] = []
    data["sites"][1]["lat"] = 123
    assert faults(data) == [
        "colour: unknown field",
        "sites[1].lat: must be between -90 and 90, got 123",
        "trucks[0].depot: unknown site 'nowhere'",
        "trucks[0].capacity: must be at least 1, got 0",
        "stops[0].window.end: must be after start (2027-06-18T07:00:00+02:00)",
        "stops[1].kind: must be 'delivery' or 'collection', got 'drop-off'",
        "stops[1].items: a stop needs at least one item",
    ]


def test_times_need_an_offset_and_a_whole_minute() -> None:
    data = document()
    data["trucks"][0]["shift"]["start"] = "2027-06-18T07:00:00"
    data["stops"][0]["window"]["start"] = "2027-06-18T07:00:30+02:00"
    errors = faults(data)
    assert errors[0].startswith("trucks[0].shift.start: must be an RFC 3339 time with an offset")
    assert errors[1].startswith("stops[0].window.start: must be at a whole minute")


def test_the_break_must_lie_within_the_shift() -> None:
    data = document()
    data["trucks"][0]["break"]["latest"] = "2027-06-18T16:30:00+02:00"
    assert faults(data) == ["trucks[0].break.latest: the break would end after the shift"]


def test_transfers_must_pair_a_collection_with_a_smaller_delivery() -> None:
    data = document(transfers=[{"collection": "D", "delivery": "C"}])
    assert faults(data) == [
        "transfers[0].collection: stop 'D' is not a collection",
        "transfers[0].delivery: stop 'C' is not a delivery",
        "transfers[0].delivery: delivers 40 'barriere' but the collection brings 30",
        "transfers[0].delivery: delivers 4 load units but the collection brings 3",
    ]


def test_a_stop_is_in_one_transfer_at_most() -> None:
    data = document()
    data["transfers"].append({"collection": "C", "delivery": "D"})
    assert faults(data) == [
        "transfers[1].collection: stop 'C' is already in transfers[0]",
        "transfers[1].delivery: stop 'D' is already in transfers[0]",
    ]


def test_duplicate_ids_and_an_empty_fleet_are_refused() -> None:
    data = document(trucks=[])
    data["stops"][1]["id"] = "C"
    errors = faults(data)
    assert "stops[1].id: duplicate id 'C'" in errors
    assert "trucks: at least one truck is needed" in errors


def test_another_format_is_named_alone() -> None:
    assert faults({"format": "loan-problem/1", "sites": 3}) == [
        "format: must be 'rounds-problem/1', got 'loan-problem/1'"
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "not JSON: Expecting property name enclosed in double quotes at line 1 column 2"),
        ("[]", "top level: must be an object, got an array"),
        ('{"a": NaN}', "not JSON: NaN is not a JSON value"),
    ],
)
def test_not_a_document(text: str, message: str) -> None:
    with pytest.raises(RoundsFormatError) as caught:
        problem_from_json(text)
    assert caught.value.errors[0] == message


def test_a_plan_with_an_unknown_reason_is_refused() -> None:
    problem = problem_from_json(json.dumps(document()))
    data = json.loads(plan_to_json(solve_rounds(problem, RoundsOptions(0.5)), problem.timezone))
    data["dropped"] = [{"stop": "C", "reason": "lazy", "detail": "x"}]
    data["routes"][0]["stops"][0]["arrival"] = "soon"
    with pytest.raises(RoundsFormatError) as caught:
        plan_from_json(json.dumps(data))
    assert caught.value.errors[0].startswith("routes[0].stops[0].arrival: must be an RFC 3339")
    assert caught.value.errors[1].startswith("dropped[0].reason: must be one of too_big,")
