"""What the rounds pages show: each truck's round of a day, the stops left out, a map.

The map is drawn by the template as inline SVG from the coordinates computed here: an
equirectangular projection of the day's sites (longitudes shrunk by the cosine of the
mean latitude), fitted into a box of ``MAP_WIDTH`` user units with a margin.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from booking.models import (
    LOAD_SCALE,
    EquipmentType,
    LoanRequest,
    Round,
    RoundDay,
    RoundDayStatus,
    RoundStop,
    RoundStopLine,
    Site,
    Truck,
    User,
)
from booking.services.access import require_staff
from booking.services.rounds import DELIVERY, NO_TRUCK, is_current, working_day

MAP_WIDTH = 640.0
MAP_MARGIN = 24.0
# Colours of the trucks' lines on the map (readable on white, distinct in print).
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2")


def pallets(load: int) -> float:
    """Tenths of a pallet place as pallet places."""
    return load / LOAD_SCALE


@dataclass(frozen=True)
class LineView:
    name: str
    quantity: int
    pallets: float


@dataclass(frozen=True)
class StopView:
    """One stop as the page shows it; ``reason`` is set for the stops left out."""

    id: int
    kind: str
    position: int | None
    loan_id: int
    title: str
    commune: str
    site: str
    address: str | None
    arrival: datetime | None
    departure: datetime | None
    lines: tuple[LineView, ...]
    pallets: float
    reason: str | None = None


@dataclass(frozen=True)
class RoundView:
    """One truck's round: what to load at the depot, then the stops in order."""

    truck_id: int
    truck: str
    depot: str
    capacity: int
    colour: str
    depart: datetime
    back: datetime
    km: float
    hours: float
    break_start: datetime | None
    break_end: datetime | None
    to_load: tuple[LineView, ...]
    load_at_depot: float
    stops: tuple[StopView, ...]


@dataclass(frozen=True)
class MapPoint:
    x: float
    y: float
    label: str


@dataclass(frozen=True)
class MapLine:
    colour: str
    truck: str
    points: str  # "x,y x,y ..." for an SVG polyline


@dataclass(frozen=True)
class MapView:
    width: float
    height: float
    lines: tuple[MapLine, ...]
    depots: tuple[MapPoint, ...]
    sites: tuple[MapPoint, ...]


@dataclass(frozen=True)
class DayView:
    """The rounds page of one day."""

    day: date
    previous: date
    next: date
    computed_at: datetime | None
    failed: str | None
    is_current: bool
    km: float
    rounds: tuple[RoundView, ...]
    unserved: tuple[StopView, ...]
    map: MapView | None
    unsized_types: tuple[str, ...] = field(default=())


def reason_text(stop: RoundStop, largest: int | None) -> str:
    """Why ``stop`` is in no round, in the reader's language."""
    load = f"{pallets(stop.load):g}"
    if stop.reason == "too_big":
        return _(
            "Too big for every truck: it takes %(load)s pallet places and the largest truck "
            "takes %(capacity)s. Split the loan or add a larger truck.",
            load=load,
            capacity=largest if largest is not None else "—",
        )
    if stop.reason == "window_unreachable":
        return _(
            "No truck can get there during opening hours and be back at its depot by the end "
            "of the driver's day (break included)."
        )
    if stop.reason == "transfer_partner":
        return _("The other half of its transfer cannot be served.")
    if stop.reason == "not_routed":
        return _(
            "Possible on its own, but the rounds found have no room left for it (time, "
            "capacity or drivers' days): add a truck or recompute."
        )
    if stop.reason == NO_TRUCK:
        return _("No active truck: add one in the inventory.")
    return _("The rounds of this day could not be computed.")


def _line_views(lines: list[RoundStopLine]) -> tuple[LineView, ...]:
    return tuple(LineView(x.type.name, x.quantity, pallets(x.load)) for x in lines)


def _stop_view(stop: RoundStop, reason: str | None = None) -> StopView:
    loan: LoanRequest = stop.loan
    return StopView(
        id=stop.id,
        kind=stop.kind,
        position=stop.position,
        loan_id=stop.loan_id,
        title=loan.title,
        commune=loan.commune.name,
        site=stop.site.name,
        address=stop.site.address,
        arrival=stop.arrival_dt,
        departure=stop.departure_dt,
        lines=_line_views(stop.lines),
        pallets=pallets(stop.load),
        reason=reason,
    )


def _to_load(stops: list[RoundStop]) -> tuple[LineView, ...]:
    """What the deliveries of a round take from the depot, summed by type."""
    quantity: dict[str, int] = defaultdict(int)
    load: dict[str, int] = defaultdict(int)
    for stop in stops:
        if stop.kind != DELIVERY:
            continue
        for x in stop.lines:
            quantity[x.type.name] += x.quantity
            load[x.type.name] += x.load
    return tuple(LineView(name, quantity[name], pallets(load[name])) for name in sorted(quantity))


def _project(sites: list[Site]) -> dict[int, tuple[float, float]]:
    """Each site's (x, y) in the map's box; north is up."""
    if not sites:
        return {}
    mean_lat = math.radians(sum(s.lat for s in sites) / len(sites))
    xs = [s.lon * math.cos(mean_lat) for s in sites]
    ys = [-s.lat for s in sites]
    span = max(max(xs) - min(xs), max(ys) - min(ys), 1e-6)
    scale = (MAP_WIDTH - 2 * MAP_MARGIN) / span
    return {
        s.id: (
            round(MAP_MARGIN + (x - min(xs)) * scale, 1),
            round(MAP_MARGIN + (y - min(ys)) * scale, 1),
        )
        for s, x, y in zip(sites, xs, ys, strict=True)
    }


def _map(rounds: list[Round], unserved: list[RoundStop], colours: dict[int, str]) -> MapView:
    sites: dict[int, Site] = {}
    for r in rounds:
        sites[r.truck.depot.id] = r.truck.depot
        for stop in r.stops:
            sites[stop.site.id] = stop.site
    for stop in unserved:
        sites[stop.site.id] = stop.site
    xy = _project(list(sites.values()))
    height = max((y for _x, y in xy.values()), default=0.0) + MAP_MARGIN
    lines = []
    for r in rounds:
        path = [r.truck.depot_id, *(s.site_id for s in r.stops), r.truck.depot_id]
        points = " ".join(f"{xy[i][0]},{xy[i][1]}" for i in path)
        lines.append(MapLine(colours[r.id], r.truck.name, points))
    depot_ids = {r.truck.depot_id for r in rounds}
    return MapView(
        width=MAP_WIDTH,
        height=max(height, 2 * MAP_MARGIN),
        lines=tuple(lines),
        depots=tuple(MapPoint(*xy[i], sites[i].name) for i in sorted(depot_ids)),
        sites=tuple(MapPoint(*xy[i], sites[i].name) for i in sorted(set(xy) - depot_ids)),
    )


def day_rounds(session: Session, day: date, *, by: User) -> DayView:
    """The rounds of ``day`` as stored, with what the page needs to show them.

    Raises:
        Forbidden: ``by`` is not a manager or an admin.
    """
    require_staff(by)
    row = session.scalar(
        select(RoundDay)
        .where(RoundDay.day == day)
        .options(
            selectinload(RoundDay.rounds).selectinload(Round.truck).selectinload(Truck.depot),
            selectinload(RoundDay.rounds)
            .selectinload(Round.stops)
            .selectinload(RoundStop.lines)
            .selectinload(RoundStopLine.type),
            selectinload(RoundDay.stops).selectinload(RoundStop.site),
            selectinload(RoundDay.stops).selectinload(RoundStop.lines),
            selectinload(RoundDay.stops)
            .selectinload(RoundStop.loan)
            .selectinload(LoanRequest.commune),
        )
    )
    largest = session.scalar(
        select(Truck.capacity)
        .where(Truck.is_active.is_(True))
        .order_by(Truck.capacity.desc())
        .limit(1)
    )
    unsized = tuple(
        session.scalars(
            select(EquipmentType.name)
            .where(EquipmentType.is_delivered.is_(True), EquipmentType.load_per_item.is_(None))
            .order_by(EquipmentType.name)
        )
    )
    previous, following = working_day(day, -1), working_day(day, 1)
    if row is None:
        return DayView(
            day,
            previous,
            following,
            None,
            None,
            is_current(session, day),
            0.0,
            (),
            (),
            None,
            unsized,
        )
    ordered = sorted(row.rounds, key=lambda r: r.truck.name)
    colours = {r.id: PALETTE[i % len(PALETTE)] for i, r in enumerate(ordered)}
    rounds = tuple(
        RoundView(
            truck_id=r.truck_id,
            truck=r.truck.name,
            depot=r.truck.depot.name,
            capacity=r.truck.capacity,
            colour=colours[r.id],
            depart=r.depart_dt,
            back=r.return_dt,
            km=r.km,
            hours=(r.return_dt - r.depart_dt) / timedelta(hours=1),
            break_start=r.break_start_dt,
            break_end=r.break_end_dt,
            to_load=_to_load(r.stops),
            load_at_depot=pallets(r.load_at_depot),
            stops=tuple(_stop_view(s) for s in r.stops),
        )
        for r in ordered
    )
    left_out = [s for s in row.stops if s.round_id is None]
    return DayView(
        day=day,
        previous=previous,
        next=following,
        computed_at=row.computed_at,
        failed=row.message if row.status is RoundDayStatus.FAILED else None,
        is_current=is_current(session, day),
        km=row.km,
        rounds=rounds,
        unserved=tuple(_stop_view(s, reason_text(s, largest)) for s in left_out),
        map=_map(ordered, left_out, colours) if ordered or left_out else None,
        unsized_types=unsized,
    )
