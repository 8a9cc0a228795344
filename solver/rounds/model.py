"""Delivery rounds (`rounds-problem/1` -> `rounds-plan/1`), as frozen dataclasses.

The field names follow ``docs/rounds-format.md``; ``solver.rounds.io`` reads and
writes them. Times are timezone-aware datetimes on a whole minute. The routing
model counts integer minutes since ``RoundsProblem.origin`` (the earliest
driver's day start); loads are whole numbers of ``load_unit``.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property

ROUNDS_PROBLEM_FORMAT = "rounds-problem/1"
ROUNDS_PLAN_FORMAT = "rounds-plan/1"
DEFAULT_ROAD_FACTOR = 1.3  # the loan optimiser's defaults (solver.problem.Travel)
DEFAULT_SPEED_KMH = 40.0


class StopKind(str, enum.Enum):
    """A delivery unloads equipment at a site; a collection loads it there."""

    DELIVERY = "delivery"
    COLLECTION = "collection"


class DropReason(str, enum.Enum):
    """Why a stop is in no round."""

    TOO_BIG = "too_big"  # its load exceeds every truck's capacity
    WINDOW_UNREACHABLE = "window_unreachable"  # no truck can reach it in time and come back
    TRANSFER_PARTNER = "transfer_partner"  # its transfer partner cannot be served
    NOT_ROUTED = "not_routed"  # possible alone, but no room in the rounds found


@dataclass(frozen=True)
class Window:
    """A closed interval ``[start, end]`` of aware datetimes."""

    start: datetime
    end: datetime


@dataclass(frozen=True)
class Site:
    id: str
    name: str
    lat: float
    lon: float
    address: str | None = None


@dataclass(frozen=True)
class Distance:
    """An override of the road km and minutes from one site to another."""

    from_site: str
    to_site: str
    km: float
    minutes: int


@dataclass(frozen=True)
class Break:
    """The driver's break: ``minutes`` long, starting within ``[earliest, latest]``."""

    earliest: datetime
    latest: datetime
    minutes: int


@dataclass(frozen=True)
class Truck:
    """One truck with its driver for one day (list a truck once per day it works).

    ``cost_per_km``, ``cost_per_hour`` (of the driver's time from leaving the depot
    to coming back) and ``fixed_cost`` (when used) are in one currency for all trucks.
    """

    id: str
    name: str
    depot: str
    capacity: int  # load units
    shift: Window  # leaves the depot at or after start, is back by end
    driver_break: Break | None = None  # "break" in the file
    cost_per_km: float = 1.0
    fixed_cost: float = 0.0
    cost_per_hour: float = 0.0


@dataclass(frozen=True)
class Item:
    """``quantity`` of one equipment type, taking ``load`` load units in all."""

    type: str
    quantity: int
    load: int
    name: str | None = None


@dataclass(frozen=True)
class Stop:
    """A delivery or a collection at a site, served between ``window.start`` and ``.end``.

    ``window`` bounds the start of the service (the truck may wait before it).
    """

    id: str
    kind: StopKind
    site: str
    window: Window
    items: tuple[Item, ...]
    service_minutes: int
    label: str | None = None

    @property
    def load(self) -> int:
        return sum(item.load for item in self.items)


@dataclass(frozen=True)
class Transfer:
    """Equipment collected at one stop and delivered straight to another, same truck.

    The delivery's items all come from the collection (per type, no more than it
    collects); what the collection holds beyond that goes back to the depot.
    """

    collection: str
    delivery: str


@dataclass(frozen=True)
class ServiceTimes:
    """Default service minutes of a stop: ``base + ceil(per_load_unit * load)``."""

    base_minutes: int = 10
    minutes_per_load_unit: float = 1.0

    def minutes_for(self, load: int) -> int:
        return self.base_minutes + math.ceil(self.minutes_per_load_unit * load - 1e-9)


@dataclass(frozen=True)
class RoundsProblem:
    """A whole `rounds-problem/1` document."""

    timezone: str
    load_unit: str
    sites: tuple[Site, ...]
    trucks: tuple[Truck, ...]
    stops: tuple[Stop, ...]
    transfers: tuple[Transfer, ...] = ()
    road_factor: float = DEFAULT_ROAD_FACTOR
    speed_kmh: float = DEFAULT_SPEED_KMH
    distances: tuple[Distance, ...] = ()
    service: ServiceTimes = ServiceTimes()
    format: str = ROUNDS_PROBLEM_FORMAT

    @cached_property
    def site_by_id(self) -> dict[str, Site]:
        return {s.id: s for s in self.sites}

    @cached_property
    def truck_by_id(self) -> dict[str, Truck]:
        return {t.id: t for t in self.trucks}

    @cached_property
    def stop_by_id(self) -> dict[str, Stop]:
        return {s.id: s for s in self.stops}

    @cached_property
    def partner_of(self) -> dict[str, str]:
        """Each stop in a transfer -> the other stop of that transfer."""
        out: dict[str, str] = {}
        for t in self.transfers:
            out[t.collection] = t.delivery
            out[t.delivery] = t.collection
        return out

    @cached_property
    def transferred_load(self) -> dict[str, int]:
        """Load of each transfer's delivery, keyed by both of its stops.

        That load never passes through a depot: it is not loaded at the start of
        the day for the delivery, nor unloaded at the end for the collection.
        """
        out: dict[str, int] = {}
        for t in self.transfers:
            load = self.stop_by_id[t.delivery].load
            out[t.collection] = load
            out[t.delivery] = load
        return out

    @cached_property
    def origin(self) -> datetime:
        """Minute 0 of the routing model: the earliest start of a driver's day."""
        starts = [t.shift.start for t in self.trucks] or [s.window.start for s in self.stops]
        return min(starts, default=datetime(2000, 1, 1, tzinfo=UTC))

    def minute(self, moment: datetime) -> int:
        """Whole minutes from ``origin`` to ``moment`` (through UTC, DST-safe)."""
        seconds = (moment.astimezone(UTC) - self.origin.astimezone(UTC)).total_seconds()
        return int(seconds // 60)

    def moment(self, minute: int) -> datetime:
        return (self.origin.astimezone(UTC) + timedelta(minutes=minute)).astimezone(
            self.origin.tzinfo
        )


@dataclass(frozen=True)
class Visit:
    """One stop in a route: service from ``arrival`` to ``departure``."""

    stop: str
    arrival: datetime
    departure: datetime


@dataclass(frozen=True)
class Route:
    """One truck's round: depot, visits in order, depot."""

    truck: str
    depart: datetime
    back: datetime  # "return" in the file
    visits: tuple[Visit, ...]
    km: float
    load_at_depot: int  # load units put on the truck before it leaves
    driver_break: Window | None = None  # "break" in the file


@dataclass(frozen=True)
class Dropped:
    """A stop in no round, with why."""

    stop: str
    reason: DropReason
    detail: str


@dataclass(frozen=True)
class RoundsMetrics:
    stops: int
    served: int
    dropped: int
    trucks_used: int
    km: float
    cost: float
    duty_minutes: int  # sum over routes of return - departure


@dataclass(frozen=True)
class SolverRun:
    engine: str
    seconds: float
    time_limit: float
    seed: int


@dataclass(frozen=True)
class RoundsPlan:
    """A whole `rounds-plan/1` document."""

    problem: str  # sha256 of the problem file, hex ("" when unknown)
    solver: SolverRun
    routes: tuple[Route, ...]
    dropped: tuple[Dropped, ...]
    metrics: RoundsMetrics
    format: str = ROUNDS_PLAN_FORMAT
