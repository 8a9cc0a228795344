"""Tiny hand-built problems for the solver's tests.

The factories build ``solver.problem`` dataclasses directly (no JSON), with
defaults filled by ``params.setdefault`` so that a test states only what
matters to it::

    def test_something(make_problem, make_request, at):
        request = make_request(id="R-1", start=at(13, 8), end=at(15, 18))
        problem = make_problem(requests=[request])

The default world, chosen so that km and minutes add up by hand:

- sites ``depot`` (every unit's home), ``melun`` and ``dammarie``, with listed
  distances depot-melun 10 km / 15 min, depot-dammarie 20 km / 30 min,
  melun-dammarie 8 km / 12 min (symmetric);
- types ``podium`` (turnaround 240 min, direct transfer within 24 h),
  ``minibus-9`` (60 min, 0 h, substitute ``minibus-12``), ``minibus-12``
  (120 min, 0 h), ``chair`` (60 min) and ``table`` (0 min), the last two pooled;
- units ``POD-1``, ``POD-2`` (podium), ``MB9-1`` (minibus-9), ``MB12-1``
  (minibus-12), all at ``depot``;
- pools ``chair@depot`` (300), ``chair@melun`` (100), ``table@depot`` (50);
- the horizon is July 2027 in Europe/Paris (UTC+02:00); no requests.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from solver.plan import Draw, LineAssignment, RequestAssignment
from solver.problem import (
    Distance,
    EquipmentType,
    Interval,
    Line,
    Pool,
    Problem,
    Request,
    Site,
    Unit,
)

PARIS_SUMMER = timezone(timedelta(hours=2))


def at(day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A local time in July 2027 (Europe/Paris, UTC+02:00)."""
    return datetime(2027, 7, day, hour, minute, tzinfo=PARIS_SUMMER)


@pytest.fixture(name="at")
def at_fixture() -> Callable[..., datetime]:
    """``at(day, hour=0, minute=0)``: a local time in July 2027."""
    return at


def default_sites() -> tuple[Site, ...]:
    return (
        Site("depot", "Centre technique communautaire", 48.5286, 2.6831),
        Site("melun", "Melun - Hôtel de ville", 48.5396, 2.6553, commune="melun"),
        Site("dammarie", "Dammarie-lès-Lys - Mairie", 48.5161, 2.6403, commune="dammarie-les-lys"),
    )


def default_distances() -> tuple[Distance, ...]:
    return (
        Distance("depot", "melun", 10.0, 15),
        Distance("depot", "dammarie", 20.0, 30),
        Distance("melun", "dammarie", 8.0, 12),
    )


def default_types() -> tuple[EquipmentType, ...]:
    return (
        EquipmentType("podium", "Podium 8 x 6 m", 240, 24.0),
        EquipmentType("minibus-9", "Minibus 9 places", 60, 0.0, ("minibus-12",)),
        EquipmentType("minibus-12", "Minibus 12 places", 120, 0.0),
        EquipmentType("chair", "Chaise pliante", 60),
        EquipmentType("table", "Table pliante", 0),
    )


def default_units() -> tuple[Unit, ...]:
    return (
        Unit("POD-1", "podium", "depot"),
        Unit("POD-2", "podium", "depot"),
        Unit("MB9-1", "minibus-9", "depot"),
        Unit("MB12-1", "minibus-12", "depot"),
    )


def default_pools() -> tuple[Pool, ...]:
    return (
        Pool("chair@depot", "chair", "depot", 300),
        Pool("chair@melun", "chair", "melun", 100),
        Pool("table@depot", "table", "depot", 50),
    )


@pytest.fixture
def make_problem() -> Callable[..., Problem]:
    """``make_problem(**params)``: a ``Problem``; any field may be given.

    Sequences may be lists; they are turned into tuples.
    """

    def _make(**params: Any) -> Problem:
        params.setdefault("timezone", "Europe/Paris")
        params.setdefault("horizon", Interval(at(1), at(1) + timedelta(days=31)))
        params.setdefault("sites", default_sites())
        params.setdefault("distances", default_distances())
        params.setdefault("types", default_types())
        params.setdefault("units", default_units())
        params.setdefault("pools", default_pools())
        params.setdefault("requests", ())
        for name in ("sites", "distances", "types", "units", "pools", "requests"):
            params[name] = tuple(params[name])
        return Problem(**params)

    return _make


@pytest.fixture
def make_request() -> Callable[..., Request]:
    """``make_request(**params)``: a ``Request`` at Melun, 13 July 08:00 to 15 July 18:00.

    ``lines`` may be given as ``(type, quantity)`` pairs; the window defaults
    to the request's own times (no shift allowed).
    """

    def _make(**params: Any) -> Request:
        params.setdefault("id", "R-0001")
        params.setdefault("commune", "melun")
        params.setdefault("site", "melun")
        params.setdefault("priority", 2)
        params.setdefault("submitted_at", datetime(2027, 3, 2, 10, 15, tzinfo=PARIS_SUMMER))
        params.setdefault("start", at(13, 8))
        params.setdefault("end", at(15, 18))
        params.setdefault("earliest_start", params["start"])
        params.setdefault("latest_end", params["end"])
        params.setdefault("lines", [("podium", 1)])
        params["lines"] = tuple(
            line if isinstance(line, Line) else Line(*line) for line in params["lines"]
        )
        return Request(**params)

    return _make


def shifted(moment: datetime, delta: timedelta) -> datetime:
    """``moment`` plus ``delta`` of real time, in ``moment``'s timezone.

    Plain ``+`` adds wall-clock time to a ``ZoneInfo`` datetime (and drops
    ``fold``), which is wrong across a change of summer time.
    """
    return (moment.astimezone(UTC) + delta).astimezone(moment.tzinfo)


def units_line(type_id: str, *unit_ids: str) -> LineAssignment:
    """A served unit-tracked line."""
    return LineAssignment(type=type_id, units=tuple(unit_ids))


def pools_line(type_id: str, *draws: tuple[str, int]) -> LineAssignment:
    """A served pooled line from ``(pool, quantity)`` pairs."""
    return LineAssignment(type=type_id, pools=tuple(Draw(p, q) for p, q in draws))


@pytest.fixture
def serve() -> Callable[..., RequestAssignment]:
    """``serve(request, *lines, shift=timedelta())``: the request served, shifted.

    ``lines`` are ``LineAssignment``s, or for brevity a unit id (a one-unit
    line of the request's line type at that position), or a list of
    ``(pool, quantity)`` pairs (a pooled line); ``shift`` may be minutes
    (real minutes, also across a change of summer time).
    """

    def _serve(request: Request, *lines: Any, shift: timedelta | int = 0) -> RequestAssignment:
        delta = shift if isinstance(shift, timedelta) else timedelta(minutes=shift)
        served_lines = []
        for position, line in enumerate(lines):
            type_id = request.lines[position].type if position < len(request.lines) else "?"
            if isinstance(line, LineAssignment):
                served_lines.append(line)
            elif isinstance(line, str):
                served_lines.append(units_line(type_id, line))
            else:
                served_lines.append(pools_line(type_id, *line))
        return RequestAssignment(
            id=request.id,
            served=True,
            start=shifted(request.start, delta),
            end=shifted(request.end, delta),
            lines=tuple(served_lines),
        )

    return _serve


@pytest.fixture
def unserved() -> Callable[..., RequestAssignment]:
    """``unserved(request_or_id, reason="...")``: an unserved assignment."""

    def _unserved(request: Request | str, reason: str = "no unit free") -> RequestAssignment:
        request_id = request if isinstance(request, str) else request.id
        return RequestAssignment(id=request_id, served=False, reason=reason)

    return _unserved
