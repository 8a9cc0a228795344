"""The scheduling problem (`loan-problem/1`), as frozen dataclasses.

The field names follow ``docs/file-formats.md``; ``solver.io`` reads and writes
them. Datetimes are timezone-aware, exactly as in the file. The solver's own
time base is integer minutes since ``horizon.start`` (see ``TimeBase``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from solver.plan import Plan, RequestAssignment

PROBLEM_FORMAT = "loan-problem/1"
DEFAULT_PRIORITY_VALUE: Mapping[int, int] = {1: 1, 2: 2, 3: 4, 4: 8}
DEFAULT_MAX_DIRECT_TRANSFER_HOURS = 24.0


@dataclass(frozen=True)
class Interval:
    """A half-open interval ``[start, end)`` of aware datetimes."""

    start: datetime
    end: datetime


@dataclass(frozen=True)
class Travel:
    """Defaults for distances not listed in ``Problem.distances``."""

    road_factor: float = 1.3
    speed_kmh: float = 40.0


@dataclass(frozen=True)
class Site:
    """A depot or a delivery place; ``commune`` is set for delivery places."""

    id: str
    name: str
    lat: float
    lon: float
    commune: str | None = None


@dataclass(frozen=True)
class Distance:
    """An override of the road distance and travel time between two sites."""

    from_site: str  # "from" in the file
    to_site: str  # "to" in the file
    km: float
    minutes: int


@dataclass(frozen=True)
class EquipmentType:
    """A kind of equipment, unit-tracked or pooled (never both)."""

    id: str
    name: str
    turnaround_minutes: int = 0
    max_direct_transfer_hours: float = DEFAULT_MAX_DIRECT_TRANSFER_HOURS
    substitutes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Unit:
    """One tracked piece of equipment; one loan at a time."""

    id: str
    type: str
    home: str
    unavailable: tuple[Interval, ...] = ()


@dataclass(frozen=True)
class Pool:
    """A stock of a pooled type kept at one site."""

    id: str
    type: str
    site: str
    quantity: int


@dataclass(frozen=True)
class Line:
    """One line of a request: ``quantity`` of equipment ``type``."""

    type: str
    quantity: int


@dataclass(frozen=True)
class Request:
    """A loan request, served entirely (one common shift) or not at all."""

    id: str
    commune: str
    site: str
    priority: int
    submitted_at: datetime
    start: datetime
    end: datetime
    earliest_start: datetime
    latest_end: datetime
    lines: tuple[Line, ...]
    locked: RequestAssignment | None = None

    @property
    def duration(self) -> timedelta:
        return self.end - self.start

    @property
    def min_shift(self) -> timedelta:
        """The most negative allowed shift (earlier), as a timedelta <= 0."""
        return self.earliest_start - self.start

    @property
    def max_shift(self) -> timedelta:
        """The most positive allowed shift (later), as a timedelta >= 0."""
        return self.latest_end - self.end


@dataclass(frozen=True)
class Weights:
    priority_value: Mapping[int, int] = field(default_factory=lambda: dict(DEFAULT_PRIORITY_VALUE))


@dataclass(frozen=True)
class Problem:
    """A whole `loan-problem/1` document."""

    timezone: str
    horizon: Interval
    sites: tuple[Site, ...]
    types: tuple[EquipmentType, ...]
    units: tuple[Unit, ...]
    pools: tuple[Pool, ...]
    requests: tuple[Request, ...]
    travel: Travel = Travel()
    distances: tuple[Distance, ...] = ()
    previous: Plan | None = None
    weights: Weights = Weights()
    format: str = PROBLEM_FORMAT

    # Lookups by id. cached_property works on frozen dataclasses because it
    # writes the instance __dict__ directly.
    @cached_property
    def site_by_id(self) -> dict[str, Site]:
        return {s.id: s for s in self.sites}

    @cached_property
    def type_by_id(self) -> dict[str, EquipmentType]:
        return {t.id: t for t in self.types}

    @cached_property
    def unit_by_id(self) -> dict[str, Unit]:
        return {u.id: u for u in self.units}

    @cached_property
    def pool_by_id(self) -> dict[str, Pool]:
        return {p.id: p for p in self.pools}

    @cached_property
    def request_by_id(self) -> dict[str, Request]:
        return {r.id: r for r in self.requests}

    @cached_property
    def pooled_type_ids(self) -> frozenset[str]:
        return frozenset(p.type for p in self.pools)

    def is_pooled(self, type_id: str) -> bool:
        return type_id in self.pooled_type_ids

    def units_of_type(self, type_id: str) -> list[Unit]:
        return [u for u in self.units if u.type == type_id]

    def eligible_unit_types(self, type_id: str) -> tuple[str, ...]:
        """The line's own type first, then its substitutes (unit-tracked only)."""
        return (type_id, *self.type_by_id[type_id].substitutes)

    def value_of(self, request: Request) -> int:
        return self.weights.priority_value[request.priority]

    @cached_property
    def timebase(self) -> TimeBase:
        return TimeBase(self.horizon.start)


@dataclass(frozen=True)
class TimeBase:
    """Integer minutes since ``origin``: the solver's single time base."""

    origin: datetime

    def to_minutes(self, moment: datetime) -> int:
        # Through UTC: subtracting two datetimes that share one ZoneInfo is
        # wall-clock arithmetic and would be an hour off across a DST change.
        seconds = (moment.astimezone(UTC) - self.origin.astimezone(UTC)).total_seconds()
        return int(seconds // 60)

    def to_datetime(self, minutes: int, like: datetime | None = None) -> datetime:
        """The instant ``minutes`` after the origin, in ``like``'s zone if given."""
        moment = self.origin.astimezone(UTC) + timedelta(minutes=minutes)
        return moment.astimezone(like.tzinfo if like is not None else self.origin.tzinfo)
