"""Tiny hand-built rounds problems for the rounds tests.

The default world, chosen so that km and minutes add up by hand: Friday
18 June 2027 in Europe/Paris (UTC+02:00); sites ``depot``, ``a``, ``b`` and
``c`` with listed symmetric distances

    depot-a 10 km / 15 min   depot-b 20 km / 30 min   depot-c 30 km / 45 min
    a-b     12 km / 18 min   a-c     25 km / 38 min   b-c     15 km / 23 min

and one truck ``T1`` at ``depot``: capacity 10, 07:00-17:00, no break. Stops
default to a 10-minute delivery of 2 load units at ``a`` open all day.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any

from solver.rounds.model import (
    Break,
    Distance,
    Item,
    RoundsPlan,
    RoundsProblem,
    Route,
    Site,
    SolverRun,
    Stop,
    StopKind,
    Transfer,
    Truck,
    Window,
)
from solver.rounds.routing import assemble_plan, make_route
from solver.rounds.travel import RoundsTravel

PARIS = timezone(timedelta(hours=2))
LEGS = {
    ("depot", "a"): (10.0, 15),
    ("depot", "b"): (20.0, 30),
    ("depot", "c"): (30.0, 45),
    ("a", "b"): (12.0, 18),
    ("a", "c"): (25.0, 38),
    ("b", "c"): (15.0, 23),
}
SITES = {
    "depot": (48.5286, 2.6831),
    "a": (48.5394, 2.6608),
    "b": (48.5186, 2.5636),
    "c": (48.5572, 2.5497),
    "d": (48.5530, 2.6770),
    "depot2": (48.5140, 2.6300),
}
RUN = SolverRun("hand", 0.0, 0.0, 0)


def t(hour: int, minute: int = 0, day: int = 18) -> datetime:
    """A local time in June 2027 (UTC+02:00)."""
    return datetime(2027, 6, day, hour, minute, tzinfo=PARIS)


def make_truck(**params: Any) -> Truck:
    params.setdefault("id", "T1")
    params.setdefault("name", f"Truck {params['id']}")
    params.setdefault("depot", "depot")
    params.setdefault("capacity", 10)
    params.setdefault("shift", Window(t(7), t(17)))
    return Truck(**params)


def lunch(
    minutes: int = 45, earliest: datetime | None = None, latest: datetime | None = None
) -> Break:
    return Break(earliest or t(11, 30), latest or t(13, 30), minutes)


def make_stop(**params: Any) -> Stop:
    load = params.pop("load", 2)
    params.setdefault("id", "S1")
    params.setdefault("kind", StopKind.DELIVERY)
    params.setdefault("site", "a")
    params.setdefault("window", Window(t(7), t(17)))
    params.setdefault("items", (Item("barriere", load * 10, load),))
    params.setdefault("service_minutes", 10)
    return Stop(**params)


def make_problem(**params: Any) -> RoundsProblem:
    """A problem in the default world; ``listed=False`` computes legs from coordinates."""
    listed = params.pop("listed", True)
    params.setdefault("timezone", "Europe/Paris")
    params.setdefault("load_unit", "pallet places")
    params.setdefault(
        "sites", tuple(Site(name, name.upper(), lat, lon) for name, (lat, lon) in SITES.items())
    )
    params.setdefault("trucks", (make_truck(),))
    params.setdefault("stops", (make_stop(),))
    if listed:
        params.setdefault(
            "distances", tuple(Distance(a, b, km, m) for (a, b), (km, m) in LEGS.items())
        )
    for key in ("trucks", "stops", "transfers", "sites", "distances"):
        if key in params:
            params[key] = tuple(params[key])
    return RoundsProblem(**params)


def transfer(collection: str, delivery: str) -> Transfer:
    return Transfer(collection, delivery)


def planned(problem: RoundsProblem, rounds: dict[str, list[str]]) -> RoundsPlan:
    """The plan serving ``truck id -> stop ids in order``, timed by ``schedule``.

    Stops in no round are dropped as ``not_routed``.
    """
    from solver.rounds.model import Dropped, DropReason

    travel = RoundsTravel(problem)
    routes: list[Route] = []
    served: set[str] = set()
    for truck_id, stop_ids in rounds.items():
        route = make_route(
            problem,
            travel,
            problem.truck_by_id[truck_id],
            [problem.stop_by_id[s] for s in stop_ids],
        )
        assert route is not None, f"{truck_id}: {stop_ids} cannot be scheduled"
        routes.append(route)
        served.update(stop_ids)
    dropped = [
        Dropped(s.id, DropReason.NOT_ROUTED, "left out by the test")
        for s in problem.stops
        if s.id not in served
    ]
    return assemble_plan(problem, routes, dropped, RUN)


def with_route(plan: RoundsPlan, index: int = 0, **changes: Any) -> RoundsPlan:
    """``plan`` with its ``index``-th route changed."""
    routes = list(plan.routes)
    routes[index] = replace(routes[index], **changes)
    return replace(plan, routes=tuple(routes))
