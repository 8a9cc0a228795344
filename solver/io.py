"""JSON documents (`loan-problem/1`, `loan-plan/1`) to and from the dataclasses.

Reading validates the whole document and reports every fault at once in a
``FormatError``, one line per fault, each naming the JSON path of the field
(``requests[14].site: unknown site 'melun2'``). Unknown fields are refused
everywhere so that a typo is never silently ignored.

Schedule times must fall on a whole minute, since the solver counts in
minutes; ``submitted_at`` only orders requests and may carry seconds.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from os import PathLike
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from solver.plan import (
    PLAN_FORMAT,
    Draw,
    LineAssignment,
    Metrics,
    Plan,
    RequestAssignment,
    SolverInfo,
    Status,
)
from solver.problem import (
    DEFAULT_MAX_DIRECT_TRANSFER_HOURS,
    DEFAULT_PRIORITY_VALUE,
    PROBLEM_FORMAT,
    Distance,
    EquipmentType,
    Interval,
    Line,
    Pool,
    Problem,
    Request,
    Site,
    Travel,
    Unit,
    Weights,
)

__all__ = [
    "FormatError",
    "plan_from_json",
    "plan_to_json",
    "problem_from_json",
    "problem_to_json",
    "read_plan",
    "read_problem",
    "sha256_hex",
]

T = TypeVar("T")
_MISSING: Any = object()  # a field absent from its object (already reported)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MINUTE = timedelta(minutes=1)
_RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")
_NO_OFFSET = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d(:\d\d(\.\d+)?)?")
_PRIORITIES = (1, 2, 3, 4)


class FormatError(ValueError):
    """A document that cannot be loaded; ``errors`` lists every fault, one line each."""

    def __init__(self, errors: Iterable[str]) -> None:
        self.errors: list[str] = list(errors)
        super().__init__("\n".join(self.errors))


def sha256_hex(data: bytes) -> str:
    """The SHA-256 of ``data``, as lowercase hex (a plan's ``problem`` field)."""
    return hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------------------
# Public reading and writing


def problem_from_json(text: str | bytes) -> Problem:
    """Parses and validates a `loan-problem/1` document.

    Raises:
        FormatError: the text is not JSON, breaks the format, or holds a locked
            assignment that is itself infeasible; ``errors`` names every fault.
    """
    reader = _Reader()
    problem = reader.problem(_load_json(text))
    if reader.errors or problem is None:
        raise FormatError(reader.errors or ["top level: not a loan-problem/1 document"])
    locked_errors = _locked_violations(problem)
    if locked_errors:
        raise FormatError(locked_errors)
    return problem


def plan_from_json(text: str | bytes) -> Plan:
    """Parses and validates the form of a `loan-plan/1` document.

    Only the form is checked here; whether the plan fits a problem is the job
    of ``solver.check``.

    Raises:
        FormatError: the text is not JSON or breaks the format.
    """
    reader = _Reader()
    plan = reader.plan(_load_json(text), "")
    if reader.errors or plan is None:
        raise FormatError(reader.errors or ["top level: not a loan-plan/1 document"])
    return plan


def read_problem(path: str | PathLike[str]) -> tuple[Problem, str]:
    """Reads a problem file; returns it with the SHA-256 (hex) of the file's bytes.

    Raises:
        OSError: the file cannot be read.
        FormatError: see ``problem_from_json``.
    """
    data = Path(path).read_bytes()
    return problem_from_json(data), sha256_hex(data)


def read_plan(path: str | PathLike[str]) -> Plan:
    """Reads a plan file.

    Raises:
        OSError: the file cannot be read.
        FormatError: see ``plan_from_json``.
    """
    return plan_from_json(Path(path).read_bytes())


def problem_to_json(problem: Problem) -> str:
    """The problem as a `loan-problem/1` document; times keep their offsets."""
    return _dump(_problem_dict(problem))


def plan_to_json(plan: Plan, timezone: str | None = None) -> str:
    """The plan as a `loan-plan/1` document.

    Args:
        plan: the plan to write.
        timezone: an IANA zone (the problem's); when given, every time is
            written with that zone's local offset at that instant, otherwise
            with the offset it carries.

    Raises:
        zoneinfo.ZoneInfoNotFoundError: ``timezone`` is not a known zone.
    """
    zone = ZoneInfo(timezone) if timezone else None
    return _dump(_plan_dict(plan, zone))


# ---------------------------------------------------------------------------
# JSON text


class _Object(dict[str, Any]):
    """A JSON object that remembers the keys it saw more than once."""

    duplicates: tuple[str, ...] = ()


def _object_hook(pairs: list[tuple[str, Any]]) -> _Object:
    obj = _Object()
    duplicates = []
    for key, value in pairs:
        if key in obj:
            duplicates.append(key)
        obj[key] = value
    obj.duplicates = tuple(duplicates)
    return obj


def _refuse_constant(name: str) -> Any:
    raise FormatError([f"not JSON: {name} is not a JSON value"])


def _load_json(text: str | bytes) -> Any:
    if isinstance(text, (bytes, bytearray)):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise FormatError([f"not UTF-8 text: invalid byte at offset {exc.start}"]) from None
    text = text.removeprefix("\ufeff")
    try:
        return json.loads(text, object_pairs_hook=_object_hook, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise FormatError(
            [f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"]
        ) from None
    except RecursionError:
        raise FormatError(["not JSON: nested too deeply"]) from None


def _dump(document: dict[str, Any]) -> str:
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


# ---------------------------------------------------------------------------
# Validation


def _kind(value: Any) -> str:
    """The JSON name of a value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


_PLAIN_KEY = re.compile(r"[A-Za-z0-9_@-]+")


def _join(path: str, key: str) -> str:
    """``path.key``, or ``path["odd key"]`` when the key could be misread."""
    if not _PLAIN_KEY.fullmatch(key):
        return f"{path}[{json.dumps(key, ensure_ascii=False)}]"
    return f"{path}.{key}" if path else key


def _hours(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    hours, rest = divmod(minutes, 60)
    if not hours:
        return f"{rest} min"
    return f"{hours} h {rest} min" if rest else f"{hours} h"


class _Reader:
    """Collects every fault of one document while building its dataclasses.

    Each method returns the value read, or None when it is invalid (the fault is
    then recorded), so that one bad field does not hide the others.
    """

    def __init__(self) -> None:
        self.errors: list[str] = []

    def error(self, path: str, message: str) -> None:
        self.errors.append(f"{path or 'top level'}: {message}")

    # -- shapes -------------------------------------------------------------

    def obj(
        self, value: Any, path: str, required: Iterable[str], optional: Iterable[str] = ()
    ) -> dict[str, Any] | None:
        """Checks that ``value`` is an object with exactly the allowed fields."""
        if value is _MISSING:
            return None
        if not isinstance(value, dict):
            self.error(path, f"must be an object, got {_kind(value)}")
            return None
        required = tuple(required)
        allowed = set(required) | set(optional)
        for key in getattr(value, "duplicates", ()):
            self.error(_join(path, key), "duplicate key")
        for key in value:
            if key not in allowed:
                self.error(_join(path, key), "unknown field")
        for key in required:
            if key not in value:
                self.error(_join(path, key), "missing required field")
        return value

    def items(self, value: Any, path: str, read: Callable[[Any, str], T | None]) -> list[T] | None:
        """Reads an array with ``read(item, item_path)``; None if any item is bad."""
        if value is _MISSING:
            return None
        if not isinstance(value, list):
            self.error(path, f"must be an array, got {_kind(value)}")
            return None
        out = [read(item, f"{path}[{i}]") for i, item in enumerate(value)]
        read_ok = [item for item in out if item is not None]
        return read_ok if len(read_ok) == len(out) else None

    def ids(self, value: Any, path: str) -> set[str]:
        """The string ids of an array's objects; reports duplicates."""
        seen: set[str] = set()
        if not isinstance(value, list):
            return seen
        for i, item in enumerate(value):
            ident = item.get("id") if isinstance(item, dict) else None
            if isinstance(ident, str):
                if ident in seen:
                    self.error(f"{path}[{i}].id", f"duplicate id {ident!r}")
                seen.add(ident)
        return seen

    # -- scalars ------------------------------------------------------------

    def string(self, value: Any, path: str) -> str | None:
        if value is _MISSING:
            return None
        if not isinstance(value, str):
            self.error(path, f"must be a string, got {_kind(value)}")
            return None
        if not value.strip():
            self.error(path, "must not be empty")
            return None
        return value

    def integer(
        self, value: Any, path: str, minimum: int | None = None, maximum: int | None = None
    ) -> int | None:
        if value is _MISSING:
            return None
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            self.error(path, f"must be a whole number, got {_kind(value)} ({value!r})")
            return None
        if minimum is not None and maximum is not None and not minimum <= value <= maximum:
            self.error(path, f"must be between {minimum} and {maximum}, got {value}")
            return None
        if minimum is not None and value < minimum:
            self.error(path, f"must be at least {minimum}, got {value}")
            return None
        return value

    def number(
        self,
        value: Any,
        path: str,
        minimum: float | None = None,
        maximum: float | None = None,
        positive: bool = False,
    ) -> float | None:
        if value is _MISSING:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.error(path, f"must be a number, got {_kind(value)} ({value!r})")
            return None
        if not math.isfinite(value):
            self.error(path, f"must be a finite number, got {value!r}")
            return None
        if positive and value <= 0:
            self.error(path, f"must be positive, got {value}")
            return None
        if minimum is not None and maximum is not None and not minimum <= value <= maximum:
            self.error(path, f"must be between {minimum:g} and {maximum:g}, got {value}")
            return None
        if minimum is not None and value < minimum:
            self.error(path, f"must be at least {minimum:g}, got {value}")
            return None
        return float(value)

    def boolean(self, value: Any, path: str) -> bool | None:
        if value is _MISSING:
            return None
        if not isinstance(value, bool):
            self.error(path, f"must be true or false, got {_kind(value)}")
            return None
        return value

    def time(self, value: Any, path: str, whole_minute: bool = True) -> datetime | None:
        """An RFC 3339 time with an offset, e.g. ``2027-07-14T08:00:00+02:00``."""
        if value is _MISSING:
            return None
        if not isinstance(value, str):
            self.error(path, f"must be an RFC 3339 time string, got {_kind(value)}")
            return None
        text = value.strip()
        if not _RFC3339.fullmatch(text.upper()):
            if _NO_OFFSET.fullmatch(text):
                self.error(path, f"time without an offset: {value!r}")
            else:
                self.error(
                    path, f"not an RFC 3339 time (like 2027-07-14T08:00:00+02:00): {value!r}"
                )
            return None
        try:
            moment = datetime.fromisoformat(text.upper())
        except ValueError as exc:
            self.error(path, f"not a valid time ({exc}): {value!r}")
            return None
        if whole_minute and (moment - _EPOCH) % _MINUTE:
            self.error(path, f"must be at a whole minute (the solver counts minutes): {value!r}")
            return None
        return moment

    def interval(self, value: Any, path: str) -> Interval | None:
        o = self.obj(value, path, ("start", "end"))
        if o is None:
            return None
        start = self.time(o.get("start", _MISSING), f"{path}.start")
        end = self.time(o.get("end", _MISSING), f"{path}.end")
        if start is None or end is None:
            return None
        if end <= start:
            self.error(f"{path}.end", f"must be after start ({start.isoformat()})")
            return None
        return Interval(start, end)

    def ref(self, value: Any, path: str, known: set[str], what: str) -> str | None:
        """A reference to an id of ``known``."""
        ident = self.string(value, path)
        if ident is not None and ident not in known:
            self.error(path, f"unknown {what} {ident!r}")
            return None
        return ident

    # -- the problem --------------------------------------------------------

    def problem(self, data: Any) -> Problem | None:
        required = ("format", "timezone", "horizon", "sites", "types", "units", "pools")
        o = self.obj(
            data, "", (*required, "requests"), ("travel", "distances", "previous", "weights")
        )
        if o is None:
            return None
        fmt = self.string(o.get("format", _MISSING), "format")
        if fmt is not None and fmt != PROBLEM_FORMAT:
            # Another document (a plan, a newer version): its other faults are noise.
            self.errors = [f"format: must be {PROBLEM_FORMAT!r}, got {fmt!r}"]
            return None
        tz = self.string(o.get("timezone", _MISSING), "timezone")
        if tz is not None:
            try:
                ZoneInfo(tz)
            except (ZoneInfoNotFoundError, ValueError):
                self.error("timezone", f"unknown time zone {tz!r} (e.g. 'Europe/Paris')")
                tz = None
        horizon = self.interval(o.get("horizon", _MISSING), "horizon")
        travel = self.travel(o.get("travel", {}), "travel")

        raw = {key: o.get(key, _MISSING) for key in ("sites", "types", "units", "pools")}
        raw_requests = o.get("requests", _MISSING)
        site_ids = self.ids(raw["sites"], "sites")
        type_ids = self.ids(raw["types"], "types")
        unit_types = self._referenced_types(raw["units"])
        pool_types = self._referenced_types(raw["pools"])
        self.ids(raw["units"], "units")
        self.ids(raw["pools"], "pools")
        self.ids(raw_requests, "requests")

        sites = self.items(raw["sites"], "sites", self.site)
        distances = self.items(
            o.get("distances", []), "distances", lambda v, p: self.distance(v, p, site_ids)
        )
        if distances:
            self._check_distance_pairs(distances)
        types = self.items(
            raw["types"],
            "types",
            lambda v, p: self.equipment_type(v, p, type_ids, unit_types, pool_types),
        )
        units = self.items(raw["units"], "units", lambda v, p: self.unit(v, p, site_ids, type_ids))
        pools = self.items(raw["pools"], "pools", lambda v, p: self.pool(v, p, site_ids, type_ids))
        requests = self.items(
            raw_requests,
            "requests",
            lambda v, p: self.request(v, p, site_ids, type_ids, horizon),
        )
        previous = None
        if o.get("previous") is not None:
            previous = self.plan(o["previous"], "previous")
        weights = self.weights(o.get("weights", {}), "weights")

        if (
            self.errors
            or tz is None
            or horizon is None
            or travel is None
            or sites is None
            or distances is None
            or types is None
            or units is None
            or pools is None
            or requests is None
            or weights is None
        ):
            return None
        return Problem(
            timezone=tz,
            horizon=horizon,
            sites=tuple(sites),
            types=tuple(types),
            units=tuple(units),
            pools=tuple(pools),
            requests=tuple(requests),
            travel=travel,
            distances=tuple(distances),
            previous=previous,
            weights=weights,
        )

    @staticmethod
    def _referenced_types(value: Any) -> set[str]:
        if not isinstance(value, list):
            return set()
        return {
            item["type"]
            for item in value
            if isinstance(item, dict) and isinstance(item.get("type"), str)
        }

    def travel(self, value: Any, path: str) -> Travel | None:
        o = self.obj(value, path, (), ("road_factor", "speed_kmh"))
        if o is None:
            return None
        default = Travel()
        factor = self.number(
            o.get("road_factor", default.road_factor), f"{path}.road_factor", positive=True
        )
        speed = self.number(
            o.get("speed_kmh", default.speed_kmh), f"{path}.speed_kmh", positive=True
        )
        if factor is None or speed is None:
            return None
        return Travel(road_factor=factor, speed_kmh=speed)

    def site(self, value: Any, path: str) -> Site | None:
        o = self.obj(value, path, ("id", "name", "lat", "lon"), ("commune",))
        if o is None:
            return None
        ident = self.string(o.get("id", _MISSING), f"{path}.id")
        name = self.string(o.get("name", _MISSING), f"{path}.name")
        lat = self.number(o.get("lat", _MISSING), f"{path}.lat", -90, 90)
        lon = self.number(o.get("lon", _MISSING), f"{path}.lon", -180, 180)
        commune = None
        if o.get("commune") is not None:
            commune = self.string(o["commune"], f"{path}.commune")
            if commune is None:
                return None
        if ident is None or name is None or lat is None or lon is None:
            return None
        return Site(id=ident, name=name, lat=lat, lon=lon, commune=commune)

    def distance(self, value: Any, path: str, site_ids: set[str]) -> Distance | None:
        o = self.obj(value, path, ("from", "to", "km", "minutes"))
        if o is None:
            return None
        a = self.ref(o.get("from", _MISSING), f"{path}.from", site_ids, "site")
        b = self.ref(o.get("to", _MISSING), f"{path}.to", site_ids, "site")
        km = self.number(o.get("km", _MISSING), f"{path}.km", minimum=0)
        minutes = self.integer(o.get("minutes", _MISSING), f"{path}.minutes", minimum=0)
        if a is not None and a == b:
            self.error(f"{path}.to", f"must differ from 'from' ({a!r})")
            return None
        if a is None or b is None or km is None or minutes is None:
            return None
        return Distance(from_site=a, to_site=b, km=km, minutes=minutes)

    def _check_distance_pairs(self, distances: list[Distance]) -> None:
        seen: set[tuple[str, str]] = set()
        for i, d in enumerate(distances):
            pair = (d.from_site, d.to_site)
            if pair in seen:
                self.error(f"distances[{i}]", f"pair {d.from_site!r} -> {d.to_site!r} listed twice")
            seen.add(pair)

    def equipment_type(
        self,
        value: Any,
        path: str,
        type_ids: set[str],
        unit_types: set[str],
        pool_types: set[str],
    ) -> EquipmentType | None:
        o = self.obj(
            value,
            path,
            ("id", "name", "turnaround_minutes"),
            ("max_direct_transfer_hours", "substitutes"),
        )
        if o is None:
            return None
        ident = self.string(o.get("id", _MISSING), f"{path}.id")
        name = self.string(o.get("name", _MISSING), f"{path}.name")
        turnaround = self.integer(
            o.get("turnaround_minutes", _MISSING), f"{path}.turnaround_minutes", minimum=0
        )
        transfer = self.number(
            o.get("max_direct_transfer_hours", DEFAULT_MAX_DIRECT_TRANSFER_HOURS),
            f"{path}.max_direct_transfer_hours",
            minimum=0,
        )
        pooled = ident in pool_types
        if pooled and ident in unit_types:
            self.error(path, f"type {ident!r} has both units and pools")
        substitutes = self.items(
            o.get("substitutes", []),
            f"{path}.substitutes",
            lambda v, p: self.ref(v, p, type_ids, "type"),
        )
        if substitutes:
            if pooled:
                self.error(f"{path}.substitutes", "a pooled type cannot have substitutes")
            for i, sub in enumerate(substitutes):
                where = f"{path}.substitutes[{i}]"
                if sub == ident:
                    self.error(where, "a type cannot substitute for itself")
                elif sub in pool_types:
                    self.error(
                        where, f"{sub!r} is a pooled type; only unit-tracked types substitute"
                    )
                elif sub in substitutes[:i]:
                    self.error(where, f"{sub!r} listed twice")
        if ident is None or name is None or turnaround is None or transfer is None:
            return None
        if substitutes is None:
            return None
        return EquipmentType(
            id=ident,
            name=name,
            turnaround_minutes=turnaround,
            max_direct_transfer_hours=transfer,
            substitutes=tuple(substitutes),
        )

    def unit(self, value: Any, path: str, site_ids: set[str], type_ids: set[str]) -> Unit | None:
        o = self.obj(value, path, ("id", "type", "home"), ("unavailable",))
        if o is None:
            return None
        ident = self.string(o.get("id", _MISSING), f"{path}.id")
        type_id = self.ref(o.get("type", _MISSING), f"{path}.type", type_ids, "type")
        home = self.ref(o.get("home", _MISSING), f"{path}.home", site_ids, "site")
        unavailable = self.items(o.get("unavailable", []), f"{path}.unavailable", self.interval)
        if ident is None or type_id is None or home is None or unavailable is None:
            return None
        return Unit(id=ident, type=type_id, home=home, unavailable=tuple(unavailable))

    def pool(self, value: Any, path: str, site_ids: set[str], type_ids: set[str]) -> Pool | None:
        o = self.obj(value, path, ("id", "type", "site", "quantity"))
        if o is None:
            return None
        ident = self.string(o.get("id", _MISSING), f"{path}.id")
        type_id = self.ref(o.get("type", _MISSING), f"{path}.type", type_ids, "type")
        site = self.ref(o.get("site", _MISSING), f"{path}.site", site_ids, "site")
        quantity = self.integer(o.get("quantity", _MISSING), f"{path}.quantity", minimum=1)
        if ident is None or type_id is None or site is None or quantity is None:
            return None
        return Pool(id=ident, type=type_id, site=site, quantity=quantity)

    def line(self, value: Any, path: str, type_ids: set[str]) -> Line | None:
        o = self.obj(value, path, ("type", "quantity"))
        if o is None:
            return None
        type_id = self.ref(o.get("type", _MISSING), f"{path}.type", type_ids, "type")
        quantity = self.integer(o.get("quantity", _MISSING), f"{path}.quantity", minimum=1)
        if type_id is None or quantity is None:
            return None
        return Line(type=type_id, quantity=quantity)

    def request(
        self,
        value: Any,
        path: str,
        site_ids: set[str],
        type_ids: set[str],
        horizon: Interval | None,
    ) -> Request | None:
        required = ("id", "commune", "site", "priority", "submitted_at", "start", "end", "lines")
        o = self.obj(value, path, required, ("earliest_start", "latest_end", "locked"))
        if o is None:
            return None
        ident = self.string(o.get("id", _MISSING), f"{path}.id")
        commune = self.string(o.get("commune", _MISSING), f"{path}.commune")
        site = self.ref(o.get("site", _MISSING), f"{path}.site", site_ids, "site")
        priority = self.integer(o.get("priority", _MISSING), f"{path}.priority", 1, 4)
        submitted = self.time(o.get("submitted_at", _MISSING), f"{path}.submitted_at", False)
        start = self.time(o.get("start", _MISSING), f"{path}.start")
        end = self.time(o.get("end", _MISSING), f"{path}.end")
        earliest = start
        if o.get("earliest_start") is not None:
            earliest = self.time(o["earliest_start"], f"{path}.earliest_start")
        latest = end
        if o.get("latest_end") is not None:
            latest = self.time(o["latest_end"], f"{path}.latest_end")
        lines = self.items(
            o.get("lines", _MISSING), f"{path}.lines", lambda v, p: self.line(v, p, type_ids)
        )
        if lines is not None and not lines:
            self.error(f"{path}.lines", "a request needs at least one line")
            lines = None
        locked = None
        if o.get("locked") is not None:
            locked = self.assignment(o["locked"], f"{path}.locked", locked=True, request_id=ident)
        if (
            ident is None
            or commune is None
            or site is None
            or priority is None
            or submitted is None
            or start is None
            or end is None
            or earliest is None
            or latest is None
            or lines is None
        ):
            return None
        if not self._request_times_fit(path, start, end, earliest, latest, horizon):
            return None
        if o.get("locked") is not None and locked is None:
            return None
        return Request(
            id=ident,
            commune=commune,
            site=site,
            priority=priority,
            submitted_at=submitted,
            start=start,
            end=end,
            earliest_start=earliest,
            latest_end=latest,
            lines=tuple(lines),
            locked=locked,
        )

    def _request_times_fit(
        self,
        path: str,
        start: datetime,
        end: datetime,
        earliest: datetime,
        latest: datetime,
        horizon: Interval | None,
    ) -> bool:
        """Checks that ``[start, end)`` is non-empty and can be shifted into the window."""
        if end <= start:
            self.error(f"{path}.end", f"must be after start ({start.isoformat()})")
            return False
        duration = end - start
        if latest - earliest < duration:
            self.error(
                path,
                "window [earliest_start, latest_end] is shorter than the request "
                f"({_hours(max(latest - earliest, timedelta(0)))} < {_hours(duration)})",
            )
            return False
        if horizon is not None:
            lo, hi = max(earliest, horizon.start), min(latest, horizon.end)
            if hi - lo < duration:
                self.error(
                    path,
                    "window [earliest_start, latest_end] does not leave room for the request"
                    f" inside the horizon ({_hours(max(hi - lo, timedelta(0)))}"
                    f" < {_hours(duration)})",
                )
                return False
        return True

    def weights(self, value: Any, path: str) -> Weights | None:
        o = self.obj(value, path, (), ("priority_value",))
        if o is None:
            return None
        raw = o.get("priority_value")
        if raw is None:
            return Weights()
        where = f"{path}.priority_value"
        values = self.obj(raw, where, [str(p) for p in _PRIORITIES])
        if values is None:
            return None
        out: dict[int, int] = {}
        for p in _PRIORITIES:
            value = self.integer(values.get(str(p), _MISSING), f"{where}.{p}", minimum=1)
            if value is not None:
                out[p] = value
        if len(out) != len(_PRIORITIES) or len(values) != len(_PRIORITIES):
            return None
        return Weights(priority_value=out)

    # -- plans (a whole plan, or a problem's `previous`) ---------------------

    def plan(self, data: Any, path: str) -> Plan | None:
        keys = ("format", "problem", "status", "solver", "requests", "metrics")
        o = self.obj(data, path, keys)
        if o is None:
            return None
        fmt = self.string(o.get("format", _MISSING), _join(path, "format"))
        if fmt is not None and fmt != PLAN_FORMAT:
            self.error(_join(path, "format"), f"must be {PLAN_FORMAT!r}, got {fmt!r}")
            return None
        problem = o.get("problem", _MISSING)
        if problem is not _MISSING and not isinstance(problem, str):
            self.error(_join(path, "problem"), f"must be a string, got {_kind(problem)}")
        status = self.status(o.get("status", _MISSING), _join(path, "status"))
        info = self.solver_info(o.get("solver", _MISSING), _join(path, "solver"))
        where = _join(path, "requests")
        raw_requests = o.get("requests", _MISSING)
        self.ids(raw_requests, where)
        requests = self.items(raw_requests, where, self.assignment)
        metrics = self.metrics(o.get("metrics", _MISSING), _join(path, "metrics"))
        if (
            not isinstance(problem, str)
            or status is None
            or info is None
            or requests is None
            or metrics is None
        ):
            return None
        return Plan(
            problem=problem,
            status=status,
            solver=info,
            requests=tuple(requests),
            metrics=metrics,
        )

    def status(self, value: Any, path: str) -> Status | None:
        text = self.string(value, path)
        if text is None:
            return None
        try:
            return Status(text)
        except ValueError:
            choices = ", ".join(s.value for s in Status)
            self.error(path, f"must be one of {choices}, got {text!r}")
            return None

    def solver_info(self, value: Any, path: str) -> SolverInfo | None:
        o = self.obj(value, path, ("strategy", "seconds"), ("objective", "bound"))
        if o is None:
            return None
        strategy = self.string(o.get("strategy", _MISSING), f"{path}.strategy")
        seconds = self.number(o.get("seconds", _MISSING), f"{path}.seconds", minimum=0)
        levels: dict[str, tuple[float, ...] | None] = {}
        for key in ("objective", "bound"):
            raw = o.get(key)
            levels[key] = None
            if raw is not None:
                read = self.items(raw, f"{path}.{key}", self._level)
                levels[key] = tuple(read) if read is not None else None
                if read is None:
                    return None
        if strategy is None or seconds is None:
            return None
        return SolverInfo(strategy=strategy, seconds=seconds, **levels)

    def _level(self, value: Any, path: str) -> float | None:
        if self.number(value, path) is None:
            return None
        # Integers stay integers so that a plan is written back as it was read.
        return int(value) if isinstance(value, int) else float(value)

    def metrics(self, value: Any, path: str) -> Metrics | None:
        counts = ("requests", "served", "served_value", "changed", "shift_minutes")
        o = self.obj(value, path, (*counts, "km"))
        if o is None:
            return None
        read: dict[str, int] = {}
        for key in counts:
            value = self.integer(o.get(key, _MISSING), f"{path}.{key}", minimum=0)
            if value is not None:
                read[key] = value
        km = self.number(o.get("km", _MISSING), f"{path}.km", minimum=0)
        if km is None or len(read) != len(counts):
            return None
        return Metrics(km=km, **read)

    def assignment(
        self, value: Any, path: str, *, locked: bool = False, request_id: str | None = None
    ) -> RequestAssignment | None:
        """A request of a plan or, with ``locked``, the ``locked`` field of request ``request_id``.

        A locked assignment must be served, may omit its ``id`` (it is then
        the request's), and has no ``reason``.
        """
        if locked:
            o = self.obj(value, path, ("served",), ("id", "start", "end", "lines", "reason"))
        else:
            o = self.obj(value, path, ("id", "served"), ("start", "end", "lines", "reason"))
        if o is None:
            return None
        ident: str | None = None
        if "id" in o:
            ident = self.string(o["id"], f"{path}.id")
            if ident is None:
                return None
            if locked and request_id is not None and ident != request_id:
                self.error(f"{path}.id", f"must be the request's id {request_id!r}, got {ident!r}")
                return None
        elif locked:
            ident = request_id
        served = self.boolean(o.get("served", _MISSING), f"{path}.served")
        if served is None or ident is None:
            return None
        if locked and not served:
            self.error(f"{path}.served", "a locked assignment must be served (true)")
            return None
        if not served:
            for key in ("start", "end", "lines"):
                if key in o:
                    self.error(f"{path}.{key}", "only a served request has this field")
            reason = o.get("reason")
            if reason is not None and not isinstance(reason, str):
                self.error(f"{path}.reason", f"must be a string, got {_kind(reason)}")
                return None
            return RequestAssignment(id=ident, served=False, reason=reason)
        if "reason" in o:
            self.error(f"{path}.reason", "only an unserved request has a reason")
        for key in ("start", "end", "lines"):
            if key not in o:
                self.error(f"{path}.{key}", "missing required field (the request is served)")
        start = self.time(o.get("start", _MISSING), f"{path}.start")
        end = self.time(o.get("end", _MISSING), f"{path}.end")
        lines = self.items(o.get("lines", _MISSING), f"{path}.lines", self.line_assignment)
        if start is None or end is None or lines is None or "reason" in o:
            return None
        if end <= start:
            self.error(f"{path}.end", f"must be after start ({start.isoformat()})")
            return None
        return RequestAssignment(id=ident, served=True, start=start, end=end, lines=tuple(lines))

    def line_assignment(self, value: Any, path: str) -> LineAssignment | None:
        o = self.obj(value, path, ("type",), ("units", "pools"))
        if o is None:
            return None
        type_id = self.string(o.get("type", _MISSING), f"{path}.type")
        units = self.items(o.get("units", []), f"{path}.units", self.string)
        draws = self.items(o.get("pools", []), f"{path}.pools", self.draw)
        if units is not None and draws is not None and not units and not draws:
            self.error(path, "a served line names its units or its pools")
            return None
        if type_id is None or units is None or draws is None:
            return None
        return LineAssignment(type=type_id, units=tuple(units), pools=tuple(draws))

    def draw(self, value: Any, path: str) -> Draw | None:
        o = self.obj(value, path, ("pool", "quantity"))
        if o is None:
            return None
        pool = self.string(o.get("pool", _MISSING), f"{path}.pool")
        quantity = self.integer(o.get("quantity", _MISSING), f"{path}.quantity", minimum=1)
        if pool is None or quantity is None:
            return None
        return Draw(pool=pool, quantity=quantity)


def _locked_violations(problem: Problem) -> list[str]:
    """Faults of the locked assignments, checked together against the problem."""
    locked = [r.locked for r in problem.requests if r.locked is not None]
    if not locked:
        return []
    # Imported here: the checker reads problems, and this module is its reader.
    from solver.check import check_assignments

    index = {r.id: i for i, r in enumerate(problem.requests)}
    out = []
    for violation in check_assignments(problem, locked):
        request_id = violation.request
        where = f"requests[{index[request_id]}].locked" if request_id in index else "requests"
        text = str(violation).replace("\n", " ")
        out.append(f"{where}: infeasible locked assignment: {text}")
    return out


# ---------------------------------------------------------------------------
# Writing


def _number(value: float) -> float | int:
    """Writes 24.0 as 24, as a person would."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _levels(values: tuple[float, ...] | None) -> list[float | int] | None:
    return [_number(v) for v in values] if values is not None else None


def _time(moment: datetime, zone: ZoneInfo | None = None) -> str:
    return (moment.astimezone(zone) if zone is not None else moment).isoformat()


def _problem_dict(problem: Problem) -> dict[str, Any]:
    return {
        "format": problem.format,
        "timezone": problem.timezone,
        "horizon": _interval_dict(problem.horizon),
        "travel": {
            "road_factor": _number(problem.travel.road_factor),
            "speed_kmh": _number(problem.travel.speed_kmh),
        },
        "sites": [_site_dict(s) for s in problem.sites],
        "distances": [
            {"from": d.from_site, "to": d.to_site, "km": _number(d.km), "minutes": d.minutes}
            for d in problem.distances
        ],
        "types": [
            {
                "id": t.id,
                "name": t.name,
                "turnaround_minutes": t.turnaround_minutes,
                "max_direct_transfer_hours": _number(t.max_direct_transfer_hours),
                "substitutes": list(t.substitutes),
            }
            for t in problem.types
        ],
        "units": [
            {
                "id": u.id,
                "type": u.type,
                "home": u.home,
                "unavailable": [_interval_dict(i) for i in u.unavailable],
            }
            for u in problem.units
        ],
        "pools": [
            {"id": p.id, "type": p.type, "site": p.site, "quantity": p.quantity}
            for p in problem.pools
        ],
        "requests": [_request_dict(r) for r in problem.requests],
        "previous": _plan_dict(problem.previous, None) if problem.previous else None,
        "weights": {"priority_value": _priority_dict(problem.weights.priority_value)},
    }


def _priority_dict(values: Mapping[int, int]) -> dict[str, int]:
    return {str(p): values.get(p, DEFAULT_PRIORITY_VALUE[p]) for p in _PRIORITIES}


def _interval_dict(interval: Interval) -> dict[str, str]:
    return {"start": _time(interval.start), "end": _time(interval.end)}


def _site_dict(site: Site) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": site.id,
        "name": site.name,
        "lat": _number(site.lat),
        "lon": _number(site.lon),
    }
    if site.commune is not None:
        out["commune"] = site.commune
    return out


def _request_dict(request: Request) -> dict[str, Any]:
    return {
        "id": request.id,
        "commune": request.commune,
        "site": request.site,
        "priority": request.priority,
        "submitted_at": _time(request.submitted_at),
        "start": _time(request.start),
        "end": _time(request.end),
        "earliest_start": _time(request.earliest_start),
        "latest_end": _time(request.latest_end),
        "lines": [{"type": line.type, "quantity": line.quantity} for line in request.lines],
        "locked": _assignment_dict(request.locked, None) if request.locked else None,
    }


def _plan_dict(plan: Plan, zone: ZoneInfo | None) -> dict[str, Any]:
    info = plan.solver
    metrics = plan.metrics
    return {
        "format": plan.format,
        "problem": plan.problem,
        "status": plan.status.value,
        "solver": {
            "strategy": info.strategy,
            "seconds": _number(info.seconds),
            "objective": _levels(info.objective),
            "bound": _levels(info.bound),
        },
        "requests": [_assignment_dict(a, zone) for a in plan.requests],
        "metrics": {
            "requests": metrics.requests,
            "served": metrics.served,
            "served_value": metrics.served_value,
            "changed": metrics.changed,
            "shift_minutes": metrics.shift_minutes,
            "km": _number(metrics.km),
        },
    }


def _assignment_dict(assignment: RequestAssignment, zone: ZoneInfo | None) -> dict[str, Any]:
    out: dict[str, Any] = {"id": assignment.id, "served": assignment.served}
    if not assignment.served:
        if assignment.reason is not None:
            out["reason"] = assignment.reason
        return out
    if assignment.start is not None:
        out["start"] = _time(assignment.start, zone)
    if assignment.end is not None:
        out["end"] = _time(assignment.end, zone)
    out["lines"] = [_line_dict(line) for line in assignment.lines]
    return out


def _line_dict(line: LineAssignment) -> dict[str, Any]:
    out: dict[str, Any] = {"type": line.type}
    if line.units or not line.pools:
        out["units"] = list(line.units)
    if line.pools:
        out["pools"] = [{"pool": d.pool, "quantity": d.quantity} for d in line.pools]
    return out
