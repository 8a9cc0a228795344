"""Reading and writing `loan-problem/1` and `loan-plan/1` documents (solver.io)."""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from solver.io import (
    FormatError,
    plan_from_json,
    plan_to_json,
    problem_from_json,
    problem_to_json,
    read_plan,
    read_problem,
    sha256_hex,
)
from solver.plan import (
    Draw,
    LineAssignment,
    Metrics,
    Plan,
    RequestAssignment,
    SolverInfo,
    Status,
)
from solver.problem import DEFAULT_PRIORITY_VALUE, Travel

DATA = Path(__file__).resolve().parents[1] / "data" / "solver"
SPEC_EXAMPLE = DATA / "spec-example.json"
CAMVS = DATA / "camvs-july.json"

Doc = dict[str, Any]

# The plan of the spec, made to fit spec-example.json.
SPEC_PLAN: Doc = {
    "format": "loan-plan/1",
    "problem": "0" * 64,
    "status": "OPTIMAL",
    "solver": {
        "strategy": "cp-sat",
        "seconds": 4.2,
        "objective": [2, 0, 1440, 13.6],
        "bound": [2, 0, 1440, 13.6],
    },
    "requests": [
        {
            "id": "R-0001",
            "served": True,
            "start": "2027-07-12T08:00:00+02:00",
            "end": "2027-07-14T18:00:00+02:00",
            "lines": [
                {"type": "podium-8x6", "units": ["POD-1"]},
                {"type": "chair", "pools": [{"pool": "chair@vaux", "quantity": 120}]},
            ],
        },
        {"id": "R-0002", "served": False, "reason": "podium-8x6: POD-1 busy (R-0001)"},
    ],
    "metrics": {
        "requests": 2,
        "served": 1,
        "served_value": 2,
        "changed": 0,
        "shift_minutes": 1440,
        "km": 13.6,
    },
}


def load(path: Path) -> Doc:
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture
def doc() -> Doc:
    """A valid, realistic problem (8 requests, units, pools, a locked request)."""
    return load(CAMVS)


def errors_of(document: Any) -> list[str]:
    with pytest.raises(FormatError) as caught:
        problem_from_json(json.dumps(document))
    assert caught.value.errors, "a FormatError always lists its faults"
    return caught.value.errors


def plan_errors_of(document: Any) -> list[str]:
    with pytest.raises(FormatError) as caught:
        plan_from_json(json.dumps(document))
    return caught.value.errors


def setter(path: str, value: Any) -> Callable[[Doc], None]:
    """A mutation setting the field at a JSON path like ``requests[1].lines[0].type``."""

    def mutate(document: Doc) -> None:
        parts = path.replace("[", ".").replace("]", "").split(".")
        target: Any = document
        for part in parts[:-1]:
            target = target[int(part)] if isinstance(target, list) else target[part]
        last = parts[-1]
        if isinstance(target, list):
            target[int(last)] = value
        else:
            target[last] = value

    return mutate


def deleter(path: str) -> Callable[[Doc], None]:
    def mutate(document: Doc) -> None:
        parts = path.split(".")
        target: Any = document
        for part in parts[:-1]:
            name, _, index = part.partition("[")
            target = target[name]
            if index:
                target = target[int(index.rstrip("]"))]
        del target[parts[-1]]

    return mutate


def add_unit(document: Doc) -> None:
    document["units"].append({"id": "CH-1", "type": "chair", "home": "depot-vaux"})


def lock_r7_on_pod1_in_maintenance(document: Doc) -> None:
    # POD-1 is unavailable from 1 to 3 July; R-0007 may move into that time.
    document["requests"][6]["locked"] = {
        "served": True,
        "start": "2027-07-01T09:00:00+02:00",
        "end": "2027-07-03T18:00:00+02:00",
        "lines": [
            {"type": "podium-8x6", "units": ["POD-1"]},
            {"type": "chair", "pools": [{"pool": "chair@vaux", "quantity": 80}]},
        ],
    }


def lock_r2_on_pod2_like_r3(document: Doc) -> None:
    # R-0003 is locked on POD-2 over 13-14 July; R-0002 overlaps it.
    document["requests"][1]["locked"] = {
        "id": "R-0002",
        "served": True,
        "start": "2027-07-14T08:00:00+02:00",
        "end": "2027-07-14T23:00:00+02:00",
        "lines": [
            {"type": "podium-8x6", "units": ["POD-2"]},
            {"type": "chair", "pools": [{"pool": "chair@vaux", "quantity": 150}]},
            {"type": "table", "pools": [{"pool": "table@vaux", "quantity": 20}]},
        ],
    }


# (mutation, path the message must name, what it must say); each mutation makes
# exactly one fault, so exactly one message is expected.
REFUSALS: list[tuple[str, Callable[[Doc], None], str, str]] = [
    (
        "unknown site",
        setter("requests[1].site", "melun2"),
        "requests[1].site",
        "unknown site 'melun2'",
    ),
    (
        "end not after start",
        setter("requests[1].end", "2027-07-14T08:00:00+02:00"),
        "requests[1].end",
        "must be after start (2027-07-14T08:00:00+02:00)",
    ),
    (
        "time without offset",
        setter("horizon.start", "2027-06-01T00:00:00"),
        "horizon.start",
        "time without an offset: '2027-06-01T00:00:00'",
    ),
    (
        "not a time",
        setter("requests[0].start", "14 juillet"),
        "requests[0].start",
        "not an RFC 3339 time",
    ),
    (
        "impossible date",
        setter("requests[0].start", "2027-02-30T08:00:00+01:00"),
        "requests[0].start",
        "not a valid time",
    ),
    (
        "time with seconds",
        setter("requests[0].start", "2027-07-13T08:00:30+02:00"),
        "requests[0].start",
        "whole minute",
    ),
    (
        "unavailability with seconds",
        setter("units[0].unavailable[0].end", "2027-07-03T00:00:00.5+02:00"),
        "units[0].unavailable[0].end",
        "whole minute",
    ),
    ("duplicate unit id", setter("units[2].id", "POD-1"), "units[2].id", "duplicate id 'POD-1'"),
    ("duplicate request id", setter("requests[3].id", "R-0001"), "requests[3].id", "duplicate id"),
    ("duplicate pool id", setter("pools[1].id", "chair@vaux"), "pools[1].id", "duplicate id"),
    (
        "unknown nested field",
        setter("requests[0].lines[1].typo", 1),
        "requests[0].lines[1].typo",
        "unknown field",
    ),
    ("unknown top-level field", setter("horizn", {}), "horizn", "unknown field"),
    ("unknown field in a site", setter("sites[0].city", "Vaux"), "sites[0].city", "unknown field"),
    ("unknown field in travel", setter("travel.speed", 40), "travel.speed", "unknown field"),
    ("type with units and pools", add_unit, "types[4]", "type 'chair' has both units and pools"),
    (
        "window shorter than the request",
        setter("requests[4].latest_end", "2027-07-09T11:00:00+02:00"),
        "requests[4]",
        "window [earliest_start, latest_end] is shorter than the request (3 h < 11 h)",
    ),
    (
        "window outside the horizon",
        setter("requests[7].end", "2027-09-01T19:00:00+02:00"),
        "requests[7]",
        "inside the horizon",
    ),
    (
        "quantity 0",
        setter("requests[0].lines[0].quantity", 0),
        "requests[0].lines[0].quantity",
        "at least 1",
    ),
    (
        "priority 5",
        setter("requests[0].priority", 5),
        "requests[0].priority",
        "between 1 and 4, got 5",
    ),
    ("priority 0", setter("requests[0].priority", 0), "requests[0].priority", "between 1 and 4"),
    (
        "priority as text",
        setter("requests[0].priority", "4"),
        "requests[0].priority",
        "got a string",
    ),
    (
        "bool is not an int",
        setter("requests[0].priority", True),
        "requests[0].priority",
        "got a boolean",
    ),
    ("fractional quantity", setter("pools[0].quantity", 12.5), "pools[0].quantity", "whole number"),
    ("text for a number", setter("sites[0].lat", "48.5"), "sites[0].lat", "must be a number"),
    ("latitude out of range", setter("sites[0].lat", 95), "sites[0].lat", "between -90 and 90"),
    ("array for an object", setter("horizon", []), "horizon", "must be an object, got an array"),
    ("object for an array", setter("pools", {}), "pools", "must be an array, got an object"),
    (
        "unknown substitute",
        setter("types[1].substitutes", ["minibus-15"]),
        "types[1].substitutes[0]",
        "unknown type 'minibus-15'",
    ),
    (
        "substitutes on a pooled type",
        setter("types[4].substitutes", ["minibus-12"]),
        "types[4].substitutes",
        "a pooled type cannot have substitutes",
    ),
    (
        "pooled substitute",
        setter("types[1].substitutes", ["chair"]),
        "types[1].substitutes[0]",
        "'chair' is a pooled type",
    ),
    (
        "self substitute",
        setter("types[1].substitutes", ["minibus-9"]),
        "types[1].substitutes[0]",
        "itself",
    ),
    (
        "horizon end not after start",
        setter("horizon.end", "2027-06-01T00:00:00+02:00"),
        "horizon.end",
        "must be after start",
    ),
    (
        "unknown time zone",
        setter("timezone", "Europe/Melun"),
        "timezone",
        "unknown time zone 'Europe/Melun'",
    ),
    ("wrong format", setter("format", "loan-problem/2"), "format", "must be 'loan-problem/1'"),
    (
        "missing field",
        deleter("requests[0].submitted_at"),
        "requests[0].submitted_at",
        "missing required",
    ),
    ("missing type name", deleter("types[0].name"), "types[0].name", "missing required field"),
    (
        "missing turnaround",
        deleter("types[0].turnaround_minutes"),
        "types[0].turnaround_minutes",
        "missing",
    ),
    (
        "negative turnaround",
        setter("types[0].turnaround_minutes", -30),
        "types[0].turnaround_minutes",
        "at least 0, got -30",
    ),
    (
        "negative transfer hours",
        setter("types[0].max_direct_transfer_hours", -1),
        "types[0].max_direct_transfer_hours",
        "at least 0",
    ),
    ("pool quantity 0", setter("pools[0].quantity", 0), "pools[0].quantity", "at least 1, got 0"),
    (
        "pool of unknown site",
        setter("pools[0].site", "depot-x"),
        "pools[0].site",
        "unknown site 'depot-x'",
    ),
    (
        "pool of unknown type",
        setter("pools[0].type", "bench"),
        "pools[0].type",
        "unknown type 'bench'",
    ),
    (
        "unit of unknown type",
        setter("units[0].type", "stage"),
        "units[0].type",
        "unknown type 'stage'",
    ),
    ("unit of unknown home", setter("units[0].home", "depot-x"), "units[0].home", "unknown site"),
    (
        "line of unknown type",
        setter("requests[0].lines[0].type", "stage"),
        "requests[0].lines[0].type",
        "unknown type",
    ),
    (
        "distance to unknown site",
        setter("distances[0].to", "nowhere"),
        "distances[0].to",
        "unknown site 'nowhere'",
    ),
    (
        "distance to itself",
        setter("distances[0].to", "depot-vaux"),
        "distances[0].to",
        "must differ",
    ),
    ("negative distance", setter("distances[0].km", -1), "distances[0].km", "at least 0"),
    (
        "distance listed twice",
        lambda d: d["distances"].append(dict(d["distances"][1], km=12)),
        "distances[3]",
        "pair 'depot-dammarie' -> 'saint-fargeau-ponthierry' listed twice",
    ),
    (
        "empty unavailability",
        setter("units[0].unavailable[0].end", "2027-07-01T00:00:00+02:00"),
        "units[0].unavailable[0].end",
        "must be after start",
    ),
    ("no lines", setter("requests[0].lines", []), "requests[0].lines", "at least one line"),
    (
        "empty commune",
        setter("requests[0].commune", " "),
        "requests[0].commune",
        "must not be empty",
    ),
    ("zero speed", setter("travel.speed_kmh", 0), "travel.speed_kmh", "must be positive"),
    (
        "priority value 0",
        setter("weights.priority_value.3", 0),
        "weights.priority_value.3",
        "at least 1, got 0",
    ),
    (
        "priority value missing",
        deleter("weights.priority_value.4"),
        "weights.priority_value.4",
        "missing",
    ),
    (
        "priority value unknown",
        setter("weights.priority_value.5", 16),
        "weights.priority_value.5",
        "unknown",
    ),
    (
        "priority value as text",
        setter("weights.priority_value.1", "1"),
        "weights.priority_value.1",
        "got a string",
    ),
    (
        "locked id of another request",
        setter("requests[2].locked.id", "R-0004"),
        "requests[2].locked.id",
        "must be the request's id 'R-0003', got 'R-0004'",
    ),
    (
        "locked but not served",
        setter("requests[2].locked.served", False),
        "requests[2].locked.served",
        "must be served",
    ),
    (
        "locked with a reason",
        setter("requests[2].locked.reason", "x"),
        "requests[2].locked.reason",
        "only an unserved request has a reason",
    ),
    (
        "locked without times",
        deleter("requests[2].locked.start"),
        "requests[2].locked.start",
        "missing required field",
    ),
    (
        "locked on a unit in maintenance",
        lock_r7_on_pod1_in_maintenance,
        "requests[6].locked",
        "infeasible locked assignment: rule 3: R-0007",
    ),
    (
        "locked on an unknown unit",
        setter("requests[2].locked.lines[0].units", ["POD-9"]),
        "requests[2].locked",
        "unknown unit POD-9",
    ),
    (
        "locked on an unknown pool",
        setter("requests[2].locked.lines[2].pools[0].pool", "barrier@x"),
        "requests[2].locked",
        "unknown pool barrier@x",
    ),
    (
        "locked with the wrong unit count",
        setter("requests[2].locked.lines[1].units", ["TENT-1"]),
        "requests[2].locked",
        "infeasible locked assignment",
    ),
    (
        "locked outside the window",
        lambda d: d["requests"][2]["locked"].update(
            start="2027-07-12T14:00:00+02:00", end="2027-07-13T23:30:00+02:00"
        ),
        "requests[2].locked",
        "infeasible locked assignment: rule 1: R-0003",
    ),
    (
        "odd key",
        lambda d: d["requests"][2]["locked"].update({"odd\nkey": 1}),
        'requests[2].locked["odd\\nkey"]',
        "unknown field",
    ),
    (
        "previous with an unknown field",
        setter("previous", {**copy.deepcopy(SPEC_PLAN), "comment": "x"}),
        "previous.comment",
        "unknown field",
    ),
    (
        "previous of another format",
        setter("previous", {**copy.deepcopy(SPEC_PLAN), "format": "loan-plan/0"}),
        "previous.format",
        "must be 'loan-plan/1'",
    ),
]


@pytest.mark.parametrize(
    ("mutate", "path", "fault"),
    [pytest.param(m, p, f, id=name) for name, m, p, f in REFUSALS],
)
def test_refusal_names_the_field_and_the_fault(
    doc: Doc, mutate: Callable[[Doc], None], path: str, fault: str
) -> None:
    mutate(doc)
    errors = errors_of(doc)
    assert len(errors) == 1, errors
    assert errors[0].startswith(f"{path}: "), errors
    assert fault in errors[0], errors


def test_two_locked_requests_on_one_unit_are_refused(doc: Doc) -> None:
    lock_r2_on_pod2_like_r3(doc)
    errors = errors_of(doc)
    assert errors
    assert all("infeasible locked assignment" in e for e in errors), errors
    assert any("POD-2" in e for e in errors), errors
    assert all(e.startswith(("requests[1].locked: ", "requests[2].locked: ")) for e in errors)


def test_a_feasible_locked_assignment_is_kept(doc: Doc) -> None:
    problem = problem_from_json(json.dumps(doc))
    locked = problem.request_by_id["R-0003"].locked
    assert locked is not None
    assert locked.id == "R-0003"  # taken from the request when omitted
    assert [line.units for line in locked.lines] == [("POD-2",), ("TENT-1", "TENT-3"), ()]
    assert locked.lines[2].pools[0].pool == "barrier@vaux"
    assert locked.lines[2].pools[0].quantity == 40


def test_every_fault_is_reported_at_once(doc: Doc) -> None:
    doc["requests"][1]["site"] = "melun2"
    doc["units"][2]["id"] = "POD-1"
    doc["types"][0]["turnaround_minutes"] = -1
    doc["pools"][3]["quantity"] = 0
    doc["requests"][5]["lines"][0]["typo"] = True
    errors = errors_of(doc)
    assert [e.split(":")[0] for e in errors] == [
        "units[2].id",
        "types[0].turnaround_minutes",
        "pools[3].quantity",
        "requests[1].site",
        "requests[5].lines[0].typo",
    ]


def test_the_message_of_the_error_is_all_its_lines(doc: Doc) -> None:
    doc["requests"][1]["site"] = "melun2"
    doc["requests"][2]["priority"] = 9
    with pytest.raises(FormatError) as caught:
        problem_from_json(json.dumps(doc))
    assert str(caught.value).splitlines() == caught.value.errors
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "not JSON: Expecting value at line 1 column 1"),
        ('{"format": "loan-problem/1",', "not JSON: "),
        ('{"a": NaN}', "not JSON: NaN is not a JSON value"),
        (b"\xff\xfe{}", "not UTF-8 text"),
        ("[]", "top level: must be an object, got an array"),
        ("null", "top level: must be an object, got null"),
    ],
)
def test_refuses_what_is_not_a_json_object(text: str | bytes, message: str) -> None:
    with pytest.raises(FormatError) as caught:
        problem_from_json(text)
    assert caught.value.errors[0].startswith(message)


def test_refuses_a_key_given_twice() -> None:
    text = SPEC_EXAMPLE.read_text(encoding="utf-8").replace(
        '"priority": 2,', '"priority": 2, "priority": 4,'
    )
    with pytest.raises(FormatError) as caught:
        problem_from_json(text)
    assert caught.value.errors == ["requests[0].priority: duplicate key"]


def test_the_spec_example_as_printed_lacks_the_minibus_12_type() -> None:
    document = load(SPEC_EXAMPLE)
    document["types"] = [t for t in document["types"] if t["id"] != "minibus-12"]
    assert errors_of(document) == ["types[1].substitutes[0]: unknown type 'minibus-12'"]


def test_reads_the_spec_example() -> None:
    problem, digest = read_problem(SPEC_EXAMPLE)
    assert digest == hashlib.sha256(SPEC_EXAMPLE.read_bytes()).hexdigest()
    assert problem.timezone == "Europe/Paris"
    assert problem.horizon.start == datetime(2027, 6, 1, tzinfo=timezone(timedelta(hours=2)))
    request = problem.requests[0]
    assert request.earliest_start == datetime(2027, 7, 12, 8, tzinfo=timezone(timedelta(hours=2)))
    assert request.min_shift == timedelta(days=-1)
    assert request.max_shift == timedelta(0)
    assert [(line.type, line.quantity) for line in request.lines] == [
        ("podium-8x6", 1),
        ("chair", 120),
    ]
    assert problem.is_pooled("chair") and not problem.is_pooled("podium-8x6")
    assert problem.type_by_id["minibus-9"].substitutes == ("minibus-12",)
    assert problem.type_by_id["minibus-9"].max_direct_transfer_hours == 0
    assert problem.distances[0].from_site == "depot-vaux"
    assert problem.distances[0].minutes == 9
    assert problem.unit_by_id["POD-1"].unavailable[0].end.day == 3
    assert problem.site_by_id["melun"].commune == "melun"
    assert problem.site_by_id["depot-vaux"].commune is None


def test_defaults_of_optional_fields() -> None:
    document = load(SPEC_EXAMPLE)
    for key in ("travel", "distances", "previous", "weights"):
        del document[key]
    request = document["requests"][0]
    for key in ("earliest_start", "latest_end", "locked"):
        del request[key]
    for t in document["types"]:
        t.pop("max_direct_transfer_hours", None)
        t.pop("substitutes", None)
    del document["units"][0]["unavailable"]
    problem = problem_from_json(json.dumps(document))
    parsed = problem.requests[0]
    assert parsed.earliest_start == parsed.start
    assert parsed.latest_end == parsed.end
    assert parsed.locked is None
    assert all(t.max_direct_transfer_hours == 24 for t in problem.types)
    assert all(t.substitutes == () for t in problem.types)
    assert problem.travel == Travel(road_factor=1.3, speed_kmh=40)
    assert problem.distances == ()
    assert problem.previous is None
    assert dict(problem.weights.priority_value) == dict(DEFAULT_PRIORITY_VALUE)
    assert problem.units[0].unavailable == ()


def test_explicit_weights_and_travel_are_read(doc: Doc) -> None:
    doc["weights"] = {"priority_value": {"1": 1, "2": 3, "3": 9, "4": 27}}
    doc["travel"] = {"road_factor": 1.5}
    problem = problem_from_json(json.dumps(doc))
    assert problem.weights.priority_value == {1: 1, 2: 3, 3: 9, 4: 27}
    assert problem.value_of(problem.requests[0]) == 27  # priority 4
    assert problem.travel == Travel(road_factor=1.5, speed_kmh=40)


@pytest.mark.parametrize("path", [SPEC_EXAMPLE, CAMVS])
def test_problem_round_trips(path: Path) -> None:
    problem, _ = read_problem(path)
    text = problem_to_json(problem)
    again = problem_from_json(text)
    assert again == problem
    assert problem_to_json(again) == text


def test_problem_output_follows_the_spec(doc: Doc) -> None:
    problem = problem_from_json(json.dumps(doc))
    text = problem_to_json(problem)
    out = json.loads(text)
    assert list(out) == [
        "format",
        "timezone",
        "horizon",
        "travel",
        "sites",
        "distances",
        "types",
        "units",
        "pools",
        "requests",
        "previous",
        "weights",
    ]
    assert list(out["requests"][0]) == [
        "id",
        "commune",
        "site",
        "priority",
        "submitted_at",
        "start",
        "end",
        "earliest_start",
        "latest_end",
        "lines",
        "locked",
    ]
    assert list(out["requests"][2]["locked"]) == ["id", "served", "start", "end", "lines"]
    assert "Dépôt de Dammarie-lès-Lys" in text  # not escaped
    assert text.startswith('{\n  "format": "loan-problem/1",')
    assert out["requests"][0]["submitted_at"] == "2027-03-02T10:15:00+01:00"  # offset kept
    assert out["travel"] == {"road_factor": 1.3, "speed_kmh": 40}
    assert out["types"][0]["max_direct_transfer_hours"] == 24


def test_problem_with_previous_round_trips(doc: Doc) -> None:
    doc["previous"] = copy.deepcopy(SPEC_PLAN)
    problem = problem_from_json(json.dumps(doc))
    assert problem.previous is not None
    assert problem.previous.status is Status.OPTIMAL
    assert problem.previous.requests[0].lines[0].units == ("POD-1",)
    assert problem_from_json(problem_to_json(problem)) == problem
    assert json.loads(problem_to_json(problem))["previous"] == SPEC_PLAN


def test_submitted_at_may_carry_seconds(doc: Doc) -> None:
    doc["requests"][0]["submitted_at"] = "2027-03-02T10:15:42.123456+01:00"
    problem = problem_from_json(json.dumps(doc))
    assert problem.requests[0].submitted_at.microsecond == 123456
    assert problem_from_json(problem_to_json(problem)) == problem


def test_utc_times_are_read() -> None:
    document = load(SPEC_EXAMPLE)
    document["horizon"]["start"] = "2027-05-31T22:00:00Z"
    problem = problem_from_json(json.dumps(document))
    assert problem.horizon.start == datetime(2027, 6, 1, tzinfo=timezone(timedelta(hours=2)))


# -- plans ---------------------------------------------------------------------


def test_plan_round_trips() -> None:
    plan = plan_from_json(json.dumps(SPEC_PLAN))
    assert plan.status is Status.OPTIMAL
    assert plan.solver.objective == (2, 0, 1440, 13.6)
    assert plan.requests[1].reason == "podium-8x6: POD-1 busy (R-0001)"
    assert plan.metrics.km == 13.6
    text = plan_to_json(plan)
    assert json.loads(text) == SPEC_PLAN
    assert plan_from_json(text) == plan


def test_plan_times_are_written_in_the_local_offset() -> None:
    document = copy.deepcopy(SPEC_PLAN)
    document["requests"][0]["start"] = "2027-07-12T06:00:00Z"
    document["requests"][0]["end"] = "2027-12-14T17:00:00+00:00"
    plan = plan_from_json(json.dumps(document))
    out = json.loads(plan_to_json(plan, "Europe/Paris"))["requests"][0]
    assert out["start"] == "2027-07-12T08:00:00+02:00"
    assert out["end"] == "2027-12-14T18:00:00+01:00"  # winter time
    kept = json.loads(plan_to_json(plan))["requests"][0]
    assert kept["start"] == "2027-07-12T06:00:00+00:00"


def test_read_plan_and_sha256(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(SPEC_PLAN), encoding="utf-8")
    assert read_plan(path).problem == "0" * 64
    assert sha256_hex(b"abc") == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )
    with pytest.raises(FileNotFoundError):
        read_plan(tmp_path / "missing.json")


PLAN_REFUSALS: list[tuple[str, Callable[[Doc], None], str, str]] = [
    ("unknown field", setter("solver.workers", 2), "solver.workers", "unknown field"),
    ("wrong format", setter("format", "loan-problem/1"), "format", "must be 'loan-plan/1'"),
    ("unknown status", setter("status", "GOOD"), "status", "must be one of OPTIMAL, FEASIBLE"),
    ("served without start", deleter("requests[0].start"), "requests[0].start", "missing"),
    (
        "unserved with lines",
        setter("requests[1].lines", []),
        "requests[1].lines",
        "only a served request",
    ),
    (
        "served with a reason",
        setter("requests[0].reason", "x"),
        "requests[0].reason",
        "only an unserved",
    ),
    (
        "line with nothing",
        setter("requests[0].lines[0].units", []),
        "requests[0].lines[0]",
        "units or its pools",
    ),
    (
        "draw of 0",
        setter("requests[0].lines[1].pools[0].quantity", 0),
        "requests[0].lines[1].pools[0].quantity",
        "at least 1",
    ),
    (
        "unit as a number",
        setter("requests[0].lines[0].units", [1]),
        "requests[0].lines[0].units[0]",
        "string",
    ),
    ("negative metric", setter("metrics.changed", -1), "metrics.changed", "at least 0"),
    (
        "objective of text",
        setter("solver.objective", ["a"]),
        "solver.objective[0]",
        "must be a number",
    ),
    (
        "duplicate request",
        setter("requests[1].id", "R-0001"),
        "requests[1].id",
        "duplicate id 'R-0001'",
    ),
    ("served as text", setter("requests[1].served", "no"), "requests[1].served", "true or false"),
    (
        "end before start",
        setter("requests[0].end", "2027-07-11T08:00:00+02:00"),
        "requests[0].end",
        "must be after start",
    ),
    ("missing metrics", deleter("metrics"), "metrics", "missing required field"),
]


@pytest.mark.parametrize(
    ("mutate", "path", "fault"),
    [pytest.param(m, p, f, id=name) for name, m, p, f in PLAN_REFUSALS],
)
def test_plan_refusal_names_the_field_and_the_fault(
    mutate: Callable[[Doc], None], path: str, fault: str
) -> None:
    document = copy.deepcopy(SPEC_PLAN)
    mutate(document)
    errors = plan_errors_of(document)
    assert len(errors) == 1, errors
    assert errors[0].startswith(f"{path}: "), errors
    assert fault in errors[0], errors


# -- robustness: any damage gives a FormatError, never another exception --------

_JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-5, 500)
    | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            out.extend(_paths(item, (*prefix, key)))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            out.extend(_paths(item, (*prefix, i)))
    return out


_CAMVS_DOC = load(CAMVS)
_CAMVS_PATHS = _paths(_CAMVS_DOC)


@settings(max_examples=150, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(_CAMVS_PATHS), _JSON_VALUES, st.booleans()), max_size=3))
def test_damaged_documents_give_format_errors(
    damage: list[tuple[tuple[Any, ...], Any, bool]],
) -> None:
    document = copy.deepcopy(_CAMVS_DOC)
    for path, value, delete in damage:
        target: Any = document
        try:
            for step in path[:-1]:
                target = target[step]
            if delete and isinstance(target, dict):
                del target[path[-1]]
            else:
                target[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue  # an earlier change removed this path
    try:
        problem_from_json(json.dumps(document))
    except FormatError as exc:
        assert exc.errors
        assert all(isinstance(e, str) and "\n" not in e for e in exc.errors)


_IDS = st.text("ABCPR-0123456789@éè ", min_size=1, max_size=8).filter(lambda s: s.strip())
_MOMENTS = st.builds(
    lambda minutes, offset: (
        datetime(2027, 1, 1, tzinfo=timezone(timedelta(minutes=offset)))
        + timedelta(minutes=minutes)
    ),
    st.integers(0, 525_600),
    st.sampled_from([0, 60, 120, -300, 330]),
)


@st.composite
def _assignments(draw: st.DrawFn, ident: str) -> RequestAssignment:
    if not draw(st.booleans()):
        return RequestAssignment(id=ident, served=False, reason=draw(st.none() | st.text()))
    start = draw(_MOMENTS)
    lines = draw(
        st.lists(
            st.builds(
                LineAssignment,
                type=_IDS,
                units=st.lists(_IDS, min_size=1, max_size=3).map(tuple),
            )
            | st.builds(
                LineAssignment,
                type=_IDS,
                pools=st.lists(
                    st.builds(Draw, pool=_IDS, quantity=st.integers(1, 500)), min_size=1
                ).map(tuple),
            ),
            min_size=1,
            max_size=3,
        )
    )
    end = start + timedelta(minutes=draw(st.integers(1, 10_000)))
    return RequestAssignment(id=ident, served=True, start=start, end=end, lines=tuple(lines))


@st.composite
def _plans(draw: st.DrawFn) -> Plan:
    ids = draw(st.lists(_IDS, unique=True, max_size=5))
    levels = st.none() | st.tuples(*[st.integers(0, 10**6) | st.floats(0, 1e6)] * 4)
    return Plan(
        problem=draw(st.text(max_size=64)),
        status=draw(st.sampled_from(list(Status))),
        solver=SolverInfo(
            strategy=draw(_IDS),
            seconds=draw(st.floats(0, 1e4)),
            objective=draw(levels),
            bound=draw(levels),
        ),
        requests=tuple(draw(_assignments(i)) for i in ids),
        metrics=Metrics(
            requests=len(ids),
            served=draw(st.integers(0, 10)),
            served_value=draw(st.integers(0, 100)),
            changed=draw(st.integers(0, 10)),
            shift_minutes=draw(st.integers(0, 10**5)),
            km=draw(st.floats(0, 1e5)),
        ),
    )


@settings(max_examples=100, derandomize=True)
@given(_plans())
def test_any_plan_round_trips(plan: Plan) -> None:
    assert plan_from_json(plan_to_json(plan)) == plan
    again = plan_from_json(plan_to_json(plan, "Europe/Paris"))
    assert again == plan  # the same instants, in Paris offsets
