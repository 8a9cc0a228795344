"""JSON documents `rounds-problem/1` and `rounds-plan/1` to and from the dataclasses.

Reading validates the whole document and reports every fault at once in a
``RoundsFormatError``, one line per fault naming the field's JSON path
(``stops[3].site: unknown site 'melun2'``). Unknown fields are refused so that a
typo is never silently ignored. See ``docs/rounds-format.md``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from os import PathLike
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from solver.rounds.model import (
    DEFAULT_ROAD_FACTOR,
    DEFAULT_SPEED_KMH,
    ROUNDS_PLAN_FORMAT,
    ROUNDS_PROBLEM_FORMAT,
    Break,
    Distance,
    Dropped,
    DropReason,
    Item,
    RoundsMetrics,
    RoundsPlan,
    RoundsProblem,
    Route,
    ServiceTimes,
    Site,
    SolverRun,
    Stop,
    StopKind,
    Transfer,
    Truck,
    Visit,
    Window,
)

T = TypeVar("T")
_MISSING: Any = object()
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MINUTE = timedelta(minutes=1)
_RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")


class RoundsFormatError(ValueError):
    """A document that cannot be loaded; ``errors`` lists every fault, one line each."""

    def __init__(self, errors: Iterable[str]) -> None:
        self.errors: list[str] = list(errors)
        super().__init__("\n".join(self.errors))


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def problem_from_json(text: str | bytes) -> RoundsProblem:
    """Parses and validates a `rounds-problem/1` document.

    Raises:
        RoundsFormatError: not JSON, or the document breaks the format.
    """
    reader = _Reader()
    problem = reader.problem(_load(text))
    if reader.errors or problem is None:
        raise RoundsFormatError(reader.errors or ["top level: not a rounds-problem/1 document"])
    return problem


def plan_from_json(text: str | bytes) -> RoundsPlan:
    """Parses the form of a `rounds-plan/1` document (``check`` judges its content).

    Raises:
        RoundsFormatError: not JSON, or the document breaks the format.
    """
    reader = _Reader()
    plan = reader.plan(_load(text))
    if reader.errors or plan is None:
        raise RoundsFormatError(reader.errors or ["top level: not a rounds-plan/1 document"])
    return plan


def read_problem(path: str | PathLike[str]) -> tuple[RoundsProblem, str]:
    """Reads a problem file; returns it with the SHA-256 (hex) of its bytes.

    Raises:
        OSError: the file cannot be read.
        RoundsFormatError: see ``problem_from_json``.
    """
    data = Path(path).read_bytes()
    return problem_from_json(data), sha256_hex(data)


def read_plan(path: str | PathLike[str]) -> RoundsPlan:
    """Reads a plan file.

    Raises:
        OSError: the file cannot be read.
        RoundsFormatError: see ``plan_from_json``.
    """
    return plan_from_json(Path(path).read_bytes())


# ---------------------------------------------------------------------------
# Writing


def _time(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).isoformat()


def problem_to_dict(problem: RoundsProblem) -> dict[str, Any]:
    """The problem as a JSON-ready dict (times in the problem's zone)."""
    zone = ZoneInfo(problem.timezone)

    def window(w: Window) -> dict[str, str]:
        return {"start": _time(w.start, zone), "end": _time(w.end, zone)}

    def truck(t: Truck) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": t.id,
            "name": t.name,
            "depot": t.depot,
            "capacity": t.capacity,
            "shift": window(t.shift),
            "cost_per_km": t.cost_per_km,
            "fixed_cost": t.fixed_cost,
            "cost_per_hour": t.cost_per_hour,
        }
        if t.driver_break is not None:
            out["break"] = {
                "earliest": _time(t.driver_break.earliest, zone),
                "latest": _time(t.driver_break.latest, zone),
                "minutes": t.driver_break.minutes,
            }
        return out

    def item(i: Item) -> dict[str, Any]:
        out: dict[str, Any] = {"type": i.type, "quantity": i.quantity, "load": i.load}
        if i.name is not None:
            out["name"] = i.name
        return out

    def stop(s: Stop) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": s.id,
            "kind": s.kind.value,
            "site": s.site,
            "window": window(s.window),
            "items": [item(i) for i in s.items],
            "service_minutes": s.service_minutes,
        }
        if s.label is not None:
            out["label"] = s.label
        return out

    def site(s: Site) -> dict[str, Any]:
        out: dict[str, Any] = {"id": s.id, "name": s.name, "lat": s.lat, "lon": s.lon}
        if s.address is not None:
            out["address"] = s.address
        return out

    return {
        "format": ROUNDS_PROBLEM_FORMAT,
        "timezone": problem.timezone,
        "load_unit": problem.load_unit,
        "travel": {"road_factor": problem.road_factor, "speed_kmh": problem.speed_kmh},
        "service": {
            "base_minutes": problem.service.base_minutes,
            "minutes_per_load_unit": problem.service.minutes_per_load_unit,
        },
        "sites": [site(s) for s in problem.sites],
        "distances": [
            {"from": d.from_site, "to": d.to_site, "km": d.km, "minutes": d.minutes}
            for d in problem.distances
        ],
        "trucks": [truck(t) for t in problem.trucks],
        "stops": [stop(s) for s in problem.stops],
        "transfers": [
            {"collection": t.collection, "delivery": t.delivery} for t in problem.transfers
        ],
    }


def problem_to_json(problem: RoundsProblem) -> str:
    return json.dumps(problem_to_dict(problem), ensure_ascii=False, indent=2) + "\n"


def plan_to_dict(plan: RoundsPlan, timezone: str) -> dict[str, Any]:
    """The plan as a JSON-ready dict, times written in ``timezone``."""
    zone = ZoneInfo(timezone)
    routes = []
    for r in plan.routes:
        routes.append(
            {
                "truck": r.truck,
                "depart": _time(r.depart, zone),
                "return": _time(r.back, zone),
                "km": round(r.km, 3),
                "load_at_depot": r.load_at_depot,
                "break": None
                if r.driver_break is None
                else {
                    "start": _time(r.driver_break.start, zone),
                    "end": _time(r.driver_break.end, zone),
                },
                "stops": [
                    {
                        "stop": v.stop,
                        "arrival": _time(v.arrival, zone),
                        "departure": _time(v.departure, zone),
                    }
                    for v in r.visits
                ],
            }
        )
    m = plan.metrics
    return {
        "format": ROUNDS_PLAN_FORMAT,
        "problem": plan.problem,
        "solver": {
            "engine": plan.solver.engine,
            "seconds": round(plan.solver.seconds, 3),
            "time_limit": plan.solver.time_limit,
            "seed": plan.solver.seed,
        },
        "routes": routes,
        "dropped": [
            {"stop": d.stop, "reason": d.reason.value, "detail": d.detail} for d in plan.dropped
        ],
        "metrics": {
            "stops": m.stops,
            "served": m.served,
            "dropped": m.dropped,
            "trucks_used": m.trucks_used,
            "km": round(m.km, 3),
            "cost": round(m.cost, 3),
            "duty_minutes": m.duty_minutes,
        },
    }


def plan_to_json(plan: RoundsPlan, timezone: str) -> str:
    return json.dumps(plan_to_dict(plan, timezone), ensure_ascii=False, indent=2) + "\n"


# ---------------------------------------------------------------------------
# Reading


class _Object(dict[str, Any]):
    duplicates: tuple[str, ...] = ()


def _hook(pairs: list[tuple[str, Any]]) -> _Object:
    obj = _Object()
    dup = []
    for key, value in pairs:
        if key in obj:
            dup.append(key)
        obj[key] = value
    obj.duplicates = tuple(dup)
    return obj


def _refuse_constant(name: str) -> Any:
    raise RoundsFormatError([f"not JSON: {name} is not a JSON value"])


def _load(text: str | bytes) -> Any:
    if isinstance(text, bytes | bytearray):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise RoundsFormatError(
                [f"not UTF-8 text: invalid byte at offset {exc.start}"]
            ) from None
    try:
        return json.loads(
            text.removeprefix("\ufeff"), object_pairs_hook=_hook, parse_constant=_refuse_constant
        )
    except json.JSONDecodeError as exc:
        raise RoundsFormatError(
            [f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"]
        ) from None
    except RecursionError:
        raise RoundsFormatError(["not JSON: nested too deeply"]) from None


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"


class _Reader:
    """Collects every fault of one document; each method returns None on a fault."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def error(self, path: str, message: str) -> None:
        self.errors.append(f"{path or 'top level'}: {message}")

    # -- shapes -------------------------------------------------------------

    def obj(
        self, value: Any, path: str, required: Iterable[str], optional: Iterable[str] = ()
    ) -> dict[str, Any] | None:
        if value is _MISSING:
            return None
        if not isinstance(value, dict):
            self.error(path, f"must be an object, got {_kind(value)}")
            return None
        required = tuple(required)
        allowed = set(required) | set(optional)
        for key in getattr(value, "duplicates", ()):
            self.error(f"{path}.{key}" if path else key, "duplicate key")
        for key in value:
            if key not in allowed:
                self.error(f"{path}.{key}" if path else key, "unknown field")
        for key in required:
            if key not in value:
                self.error(f"{path}.{key}" if path else key, "missing required field")
        return value

    def items(self, value: Any, path: str, read: Callable[[Any, str], T | None]) -> list[T] | None:
        if value is _MISSING:
            return None
        if not isinstance(value, list):
            self.error(path, f"must be an array, got {_kind(value)}")
            return None
        out = [read(item, f"{path}[{i}]") for i, item in enumerate(value)]
        good = [item for item in out if item is not None]
        return good if len(good) == len(out) else None

    def ids(self, value: Any, path: str, key: str = "id") -> set[str]:
        seen: set[str] = set()
        if isinstance(value, list):
            for i, item in enumerate(value):
                ident = item.get(key) if isinstance(item, dict) else None
                if isinstance(ident, str):
                    if ident in seen:
                        self.error(f"{path}[{i}].{key}", f"duplicate {key} {ident!r}")
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

    def optional_string(self, o: dict[str, Any], key: str, path: str) -> tuple[bool, str | None]:
        """(ok, value) of an optional string field; null or absent is None."""
        if o.get(key) is None:
            return True, None
        value = self.string(o[key], f"{path}.{key}")
        return value is not None, value

    def integer(self, value: Any, path: str, minimum: int | None = None) -> int | None:
        if value is _MISSING:
            return None
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            self.error(path, f"must be a whole number, got {_kind(value)} ({value!r})")
            return None
        if minimum is not None and value < minimum:
            self.error(path, f"must be at least {minimum}, got {value}")
            return None
        return value

    def number(
        self, value: Any, path: str, minimum: float = 0.0, maximum: float | None = None
    ) -> float | None:
        if value is _MISSING:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
            self.error(path, f"must be a number, got {_kind(value)} ({value!r})")
            return None
        if value in (float("inf"), float("-inf")):
            self.error(path, "must be a finite number")
            return None
        if value < minimum or (maximum is not None and value > maximum):
            bounds = (
                f"between {minimum:g} and {maximum:g}"
                if maximum is not None
                else (f"at least {minimum:g}")
            )
            self.error(path, f"must be {bounds}, got {value}")
            return None
        return float(value)

    def positive(self, value: Any, path: str) -> float | None:
        number = self.number(value, path)
        if number is not None and number <= 0:
            self.error(path, f"must be positive, got {value}")
            return None
        return number

    def time(self, value: Any, path: str) -> datetime | None:
        if value is _MISSING:
            return None
        if not isinstance(value, str) or not _RFC3339.fullmatch(value.strip().upper()):
            self.error(
                path,
                f"must be an RFC 3339 time with an offset (2027-07-14T08:00:00+02:00), "
                f"got {value!r}",
            )
            return None
        try:
            moment = datetime.fromisoformat(value.strip().upper())
        except ValueError as exc:
            self.error(path, f"not a valid time ({exc}): {value!r}")
            return None
        if (moment - _EPOCH) % _MINUTE:
            self.error(path, f"must be at a whole minute: {value!r}")
            return None
        return moment

    def window(self, value: Any, path: str, strict: bool = False) -> Window | None:
        o = self.obj(value, path, ("start", "end"))
        if o is None:
            return None
        start = self.time(o.get("start", _MISSING), f"{path}.start")
        end = self.time(o.get("end", _MISSING), f"{path}.end")
        if start is None or end is None:
            return None
        if end < start or (strict and end == start):
            self.error(f"{path}.end", f"must be after start ({start.isoformat()})")
            return None
        return Window(start, end)

    def ref(self, value: Any, path: str, known: set[str], what: str) -> str | None:
        ident = self.string(value, path)
        if ident is not None and ident not in known:
            self.error(path, f"unknown {what} {ident!r}")
            return None
        return ident

    # -- the problem --------------------------------------------------------

    def problem(self, data: Any) -> RoundsProblem | None:
        o = self.obj(
            data,
            "",
            ("format", "timezone", "load_unit", "sites", "trucks", "stops"),
            ("travel", "service", "distances", "transfers"),
        )
        if o is None:
            return None
        fmt = self.string(o.get("format", _MISSING), "format")
        if fmt is not None and fmt != ROUNDS_PROBLEM_FORMAT:
            self.errors = [f"format: must be {ROUNDS_PROBLEM_FORMAT!r}, got {fmt!r}"]
            return None
        tz = self.string(o.get("timezone", _MISSING), "timezone")
        if tz is not None:
            try:
                ZoneInfo(tz)
            except (ZoneInfoNotFoundError, ValueError):
                self.error("timezone", f"unknown time zone {tz!r} (e.g. 'Europe/Paris')")
                tz = None
        load_unit = self.string(o.get("load_unit", _MISSING), "load_unit")
        road_factor, speed = self.travel(o.get("travel", {}))
        service = self.service(o.get("service", {}))

        site_ids = self.ids(o.get("sites"), "sites")
        self.ids(o.get("trucks"), "trucks")
        stop_ids = self.ids(o.get("stops"), "stops")
        sites = self.items(o.get("sites", _MISSING), "sites", self.site)
        distances = self.items(
            o.get("distances", []), "distances", lambda v, p: self.distance(v, p, site_ids)
        )
        trucks = self.items(
            o.get("trucks", _MISSING), "trucks", lambda v, p: self.truck(v, p, site_ids)
        )
        if trucks is not None and not trucks:
            self.error("trucks", "at least one truck is needed")
            trucks = None
        stops = self.items(
            o.get("stops", _MISSING),
            "stops",
            lambda v, p: self.stop(v, p, site_ids, service),
        )
        transfers = self.items(
            o.get("transfers", []),
            "transfers",
            lambda v, p: self.transfer(v, p, stop_ids),
        )
        if stops is not None and transfers is not None:
            self.check_transfers(transfers, {s.id: s for s in stops})
        if (
            self.errors
            or tz is None
            or load_unit is None
            or road_factor is None
            or speed is None
            or service is None
            or sites is None
            or distances is None
            or trucks is None
            or stops is None
            or transfers is None
        ):
            return None
        return RoundsProblem(
            timezone=tz,
            load_unit=load_unit,
            sites=tuple(sites),
            trucks=tuple(trucks),
            stops=tuple(stops),
            transfers=tuple(transfers),
            road_factor=road_factor,
            speed_kmh=speed,
            distances=tuple(distances),
            service=service,
        )

    def travel(self, value: Any) -> tuple[float | None, float | None]:
        o = self.obj(value, "travel", (), ("road_factor", "speed_kmh"))
        if o is None:
            return None, None
        factor = self.number(o.get("road_factor", DEFAULT_ROAD_FACTOR), "travel.road_factor", 1.0)
        speed = self.positive(o.get("speed_kmh", DEFAULT_SPEED_KMH), "travel.speed_kmh")
        return factor, speed

    def service(self, value: Any) -> ServiceTimes | None:
        o = self.obj(value, "service", (), ("base_minutes", "minutes_per_load_unit"))
        if o is None:
            return None
        default = ServiceTimes()
        base = self.integer(o.get("base_minutes", default.base_minutes), "service.base_minutes", 0)
        per = self.number(
            o.get("minutes_per_load_unit", default.minutes_per_load_unit),
            "service.minutes_per_load_unit",
        )
        if base is None or per is None:
            return None
        return ServiceTimes(base_minutes=base, minutes_per_load_unit=per)

    def site(self, value: Any, path: str) -> Site | None:
        o = self.obj(value, path, ("id", "name", "lat", "lon"), ("address",))
        if o is None:
            return None
        ident = self.string(o.get("id", _MISSING), f"{path}.id")
        name = self.string(o.get("name", _MISSING), f"{path}.name")
        lat = self.number(o.get("lat", _MISSING), f"{path}.lat", -90, 90)
        lon = self.number(o.get("lon", _MISSING), f"{path}.lon", -180, 180)
        ok, address = self.optional_string(o, "address", path)
        if ident is None or name is None or lat is None or lon is None or not ok:
            return None
        return Site(id=ident, name=name, lat=lat, lon=lon, address=address)

    def distance(self, value: Any, path: str, site_ids: set[str]) -> Distance | None:
        o = self.obj(value, path, ("from", "to", "km", "minutes"))
        if o is None:
            return None
        a = self.ref(o.get("from", _MISSING), f"{path}.from", site_ids, "site")
        b = self.ref(o.get("to", _MISSING), f"{path}.to", site_ids, "site")
        km = self.number(o.get("km", _MISSING), f"{path}.km")
        minutes = self.integer(o.get("minutes", _MISSING), f"{path}.minutes", 0)
        if a is not None and a == b:
            self.error(f"{path}.to", f"must differ from 'from' ({a!r})")
            return None
        if a is None or b is None or km is None or minutes is None:
            return None
        return Distance(a, b, km, minutes)

    def truck(self, value: Any, path: str, site_ids: set[str]) -> Truck | None:
        o = self.obj(
            value,
            path,
            ("id", "name", "depot", "capacity", "shift"),
            ("break", "cost_per_km", "fixed_cost", "cost_per_hour"),
        )
        if o is None:
            return None
        ident = self.string(o.get("id", _MISSING), f"{path}.id")
        name = self.string(o.get("name", _MISSING), f"{path}.name")
        depot = self.ref(o.get("depot", _MISSING), f"{path}.depot", site_ids, "site")
        capacity = self.integer(o.get("capacity", _MISSING), f"{path}.capacity", 1)
        shift = self.window(o.get("shift", _MISSING), f"{path}.shift", strict=True)
        cost = self.number(o.get("cost_per_km", 1.0), f"{path}.cost_per_km")
        fixed = self.number(o.get("fixed_cost", 0.0), f"{path}.fixed_cost")
        hourly = self.number(o.get("cost_per_hour", 0.0), f"{path}.cost_per_hour")
        driver_break = None
        if o.get("break") is not None:
            driver_break = self.driver_break(o["break"], f"{path}.break", shift)
            if driver_break is None:
                return None
        if (
            ident is None
            or name is None
            or depot is None
            or capacity is None
            or shift is None
            or cost is None
            or fixed is None
            or hourly is None
        ):
            return None
        return Truck(ident, name, depot, capacity, shift, driver_break, cost, fixed, hourly)

    def driver_break(self, value: Any, path: str, shift: Window | None) -> Break | None:
        o = self.obj(value, path, ("earliest", "latest", "minutes"))
        if o is None:
            return None
        earliest = self.time(o.get("earliest", _MISSING), f"{path}.earliest")
        latest = self.time(o.get("latest", _MISSING), f"{path}.latest")
        minutes = self.integer(o.get("minutes", _MISSING), f"{path}.minutes", 1)
        if earliest is None or latest is None or minutes is None:
            return None
        if latest < earliest:
            self.error(f"{path}.latest", "must not be before earliest")
            return None
        if shift is not None:
            if earliest < shift.start:
                self.error(f"{path}.earliest", "must not be before the shift starts")
                return None
            if latest + timedelta(minutes=minutes) > shift.end:
                self.error(f"{path}.latest", "the break would end after the shift")
                return None
        return Break(earliest, latest, minutes)

    def item(self, value: Any, path: str) -> Item | None:
        o = self.obj(value, path, ("type", "quantity", "load"), ("name",))
        if o is None:
            return None
        type_id = self.string(o.get("type", _MISSING), f"{path}.type")
        quantity = self.integer(o.get("quantity", _MISSING), f"{path}.quantity", 1)
        load = self.integer(o.get("load", _MISSING), f"{path}.load", 0)
        ok, name = self.optional_string(o, "name", path)
        if type_id is None or quantity is None or load is None or not ok:
            return None
        return Item(type_id, quantity, load, name)

    def stop(
        self, value: Any, path: str, site_ids: set[str], service: ServiceTimes | None
    ) -> Stop | None:
        o = self.obj(
            value, path, ("id", "kind", "site", "window", "items"), ("service_minutes", "label")
        )
        if o is None:
            return None
        ident = self.string(o.get("id", _MISSING), f"{path}.id")
        kind_text = self.string(o.get("kind", _MISSING), f"{path}.kind")
        kind = None
        if kind_text is not None:
            try:
                kind = StopKind(kind_text)
            except ValueError:
                self.error(f"{path}.kind", f"must be 'delivery' or 'collection', got {kind_text!r}")
        site = self.ref(o.get("site", _MISSING), f"{path}.site", site_ids, "site")
        window = self.window(o.get("window", _MISSING), f"{path}.window")
        items = self.items(o.get("items", _MISSING), f"{path}.items", self.item)
        if items is not None and not items:
            self.error(f"{path}.items", "a stop needs at least one item")
            items = None
        minutes = None
        if o.get("service_minutes") is not None:
            minutes = self.integer(o["service_minutes"], f"{path}.service_minutes", 0)
            if minutes is None:
                return None
        ok, label = self.optional_string(o, "label", path)
        if (
            ident is None
            or kind is None
            or site is None
            or window is None
            or items is None
            or service is None
            or not ok
        ):
            return None
        if minutes is None:
            minutes = service.minutes_for(sum(i.load for i in items))
        return Stop(ident, kind, site, window, tuple(items), minutes, label)

    def transfer(self, value: Any, path: str, stop_ids: set[str]) -> Transfer | None:
        o = self.obj(value, path, ("collection", "delivery"))
        if o is None:
            return None
        c = self.ref(o.get("collection", _MISSING), f"{path}.collection", stop_ids, "stop")
        d = self.ref(o.get("delivery", _MISSING), f"{path}.delivery", stop_ids, "stop")
        if c is None or d is None:
            return None
        return Transfer(c, d)

    def check_transfers(self, transfers: list[Transfer], stops: dict[str, Stop]) -> None:
        seen: dict[str, int] = {}
        for i, t in enumerate(transfers):
            path = f"transfers[{i}]"
            c, d = stops[t.collection], stops[t.delivery]
            if c.kind is not StopKind.COLLECTION:
                self.error(f"{path}.collection", f"stop {c.id!r} is not a collection")
            if d.kind is not StopKind.DELIVERY:
                self.error(f"{path}.delivery", f"stop {d.id!r} is not a delivery")
            for key, ident in (("collection", t.collection), ("delivery", t.delivery)):
                if ident in seen:
                    self.error(
                        f"{path}.{key}", f"stop {ident!r} is already in transfers[{seen[ident]}]"
                    )
                seen[ident] = i
            collected: dict[str, int] = {}
            for item in c.items:
                collected[item.type] = collected.get(item.type, 0) + item.quantity
            delivered: dict[str, int] = {}
            for item in d.items:
                delivered[item.type] = delivered.get(item.type, 0) + item.quantity
            for type_id, quantity in sorted(delivered.items()):
                if quantity > collected.get(type_id, 0):
                    self.error(
                        f"{path}.delivery",
                        f"delivers {quantity} {type_id!r} but the collection brings "
                        f"{collected.get(type_id, 0)}",
                    )
            if d.load > c.load:
                self.error(
                    f"{path}.delivery",
                    f"delivers {d.load} load units but the collection brings {c.load}",
                )

    # -- the plan -----------------------------------------------------------

    def plan(self, data: Any) -> RoundsPlan | None:
        o = self.obj(data, "", ("format", "problem", "solver", "routes", "dropped", "metrics"))
        if o is None:
            return None
        fmt = self.string(o.get("format", _MISSING), "format")
        if fmt is not None and fmt != ROUNDS_PLAN_FORMAT:
            self.errors = [f"format: must be {ROUNDS_PLAN_FORMAT!r}, got {fmt!r}"]
            return None
        problem = o.get("problem", _MISSING)
        if problem is not _MISSING and not isinstance(problem, str):
            self.error("problem", f"must be a string, got {_kind(problem)}")
        solver = self.solver_run(o.get("solver", _MISSING))
        self.ids(o.get("routes"), "routes", "truck")
        routes = self.items(o.get("routes", _MISSING), "routes", self.route)
        dropped = self.items(o.get("dropped", _MISSING), "dropped", self.dropped)
        metrics = self.metrics(o.get("metrics", _MISSING))
        if self.errors or solver is None or routes is None or dropped is None or metrics is None:
            return None
        return RoundsPlan(str(problem), solver, tuple(routes), tuple(dropped), metrics)

    def solver_run(self, value: Any) -> SolverRun | None:
        o = self.obj(value, "solver", ("engine", "seconds", "time_limit", "seed"))
        if o is None:
            return None
        engine = self.string(o.get("engine", _MISSING), "solver.engine")
        seconds = self.number(o.get("seconds", _MISSING), "solver.seconds")
        limit = self.number(o.get("time_limit", _MISSING), "solver.time_limit")
        seed = self.integer(o.get("seed", _MISSING), "solver.seed", 0)
        if engine is None or seconds is None or limit is None or seed is None:
            return None
        return SolverRun(engine, seconds, limit, seed)

    def route(self, value: Any, path: str) -> Route | None:
        o = self.obj(
            value, path, ("truck", "depart", "return", "km", "load_at_depot", "stops"), ("break",)
        )
        if o is None:
            return None
        truck = self.string(o.get("truck", _MISSING), f"{path}.truck")
        depart = self.time(o.get("depart", _MISSING), f"{path}.depart")
        back = self.time(o.get("return", _MISSING), f"{path}.return")
        km = self.number(o.get("km", _MISSING), f"{path}.km")
        load = self.integer(o.get("load_at_depot", _MISSING), f"{path}.load_at_depot", 0)
        visits = self.items(o.get("stops", _MISSING), f"{path}.stops", self.visit)
        driver_break = None
        if o.get("break") is not None:
            driver_break = self.window(o["break"], f"{path}.break", strict=True)
            if driver_break is None:
                return None
        if (
            truck is None
            or depart is None
            or back is None
            or km is None
            or load is None
            or visits is None
        ):
            return None
        return Route(truck, depart, back, tuple(visits), km, load, driver_break)

    def visit(self, value: Any, path: str) -> Visit | None:
        o = self.obj(value, path, ("stop", "arrival", "departure"))
        if o is None:
            return None
        stop = self.string(o.get("stop", _MISSING), f"{path}.stop")
        arrival = self.time(o.get("arrival", _MISSING), f"{path}.arrival")
        departure = self.time(o.get("departure", _MISSING), f"{path}.departure")
        if stop is None or arrival is None or departure is None:
            return None
        return Visit(stop, arrival, departure)

    def dropped(self, value: Any, path: str) -> Dropped | None:
        o = self.obj(value, path, ("stop", "reason", "detail"))
        if o is None:
            return None
        stop = self.string(o.get("stop", _MISSING), f"{path}.stop")
        reason_text = self.string(o.get("reason", _MISSING), f"{path}.reason")
        detail = self.string(o.get("detail", _MISSING), f"{path}.detail")
        reason = None
        if reason_text is not None:
            try:
                reason = DropReason(reason_text)
            except ValueError:
                choices = ", ".join(r.value for r in DropReason)
                self.error(f"{path}.reason", f"must be one of {choices}, got {reason_text!r}")
        if stop is None or reason is None or detail is None:
            return None
        return Dropped(stop, reason, detail)

    def metrics(self, value: Any) -> RoundsMetrics | None:
        names = ("stops", "served", "dropped", "trucks_used", "km", "cost", "duty_minutes")
        o = self.obj(value, "metrics", names)
        if o is None:
            return None
        counts = [
            self.integer(o.get(n, _MISSING), f"metrics.{n}", 0)
            for n in ("stops", "served", "dropped", "trucks_used", "duty_minutes")
        ]
        km = self.number(o.get("km", _MISSING), "metrics.km")
        cost = self.number(o.get("cost", _MISSING), "metrics.cost")
        stops, served, dropped, used, duty = counts
        if (
            stops is None
            or served is None
            or dropped is None
            or used is None
            or duty is None
            or km is None
            or cost is None
        ):
            return None
        return RoundsMetrics(stops, served, dropped, used, km, cost, duty)
