"""Delivery rounds: approved loans of delivered equipment -> the trucks' rounds of a day.

Each approved loan with lines of delivered types (``EquipmentType.is_delivered``) gives a
delivery on the working day before it starts and a collection on the working day after
it ends, within the communes' opening hours (``SERVICE_HOURS``). The stops of one day
and the active trucks make a ``rounds-problem/1`` (``solver.rounds``), solved with a
short time limit, checked by the rounds checker, and stored as rows: a round per truck
used, its stops in order with their planned times and lines, and the stops that could
not be served with the optimiser's reason. A day is never refused as a whole.

When it runs: after a change is committed (approval of a plan, cancellation, hand-over,
a truck edited), on a background thread of the process that made it
(``services.background``), for ``ROUNDS_DAYS`` days from tomorrow (today's rounds may be
under way: the manager recomputes them by hand); only days whose problem changed are
solved again (the problem's SHA-256 is stored with the day), each with
``ROUNDS_SECONDS``. The manager may also recompute one day by hand. A day's rounds take
seconds, not minutes, so they do not go through the solver's job runner.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from flask import Flask, current_app, has_app_context
from flask_babel import gettext as _
from sqlalchemy import or_, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from booking.db import get_db, utcnow
from booking.models import (
    LOAD_SCALE,
    Assignment,
    EquipmentType,
    LoanRequest,
    Plan,
    PlanStatus,
    RequestLine,
    RequestStatus,
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
from booking.services.audit import record_event
from booking.services.background import coalescing
from booking.services.concurrency import conflict_on_concurrent_write
from booking.timeutil import LOCAL_TZ
from solver.rounds import RoundsOptions, RoundsPlan, RoundsProblem, check_rounds, solve_rounds
from solver.rounds.io import problem_to_json
from solver.rounds.model import Break, Item, ServiceTimes, StopKind, Window
from solver.rounds.model import Site as RoundsSite
from solver.rounds.model import Stop as RoundsStop
from solver.rounds.model import Truck as RoundsTruck

log = logging.getLogger(__name__)

DEFAULT_DAYS = 7
DEFAULT_SECONDS = 2.0
# When communes receive or hand back equipment (Europe/Paris wall-clock times).
SERVICE_HOURS = (time(8, 0), time(17, 0))
# Minutes to unload or load at a site: a base plus per tenth of a pallet place handled.
SERVICE = ServiceTimes(base_minutes=10, minutes_per_load_unit=0.3)
# The driver's break may start this much after its set time, if that helps the round.
BREAK_FLEX_MINUTES = 60
LOAD_UNIT = "tenths of a pallet place"
# Reason of a day's stops when no truck is active: the optimiser needs at least one.
NO_TRUCK = "no_truck"
# Raised when the mapping from rows to a problem changes, so every day is solved again.
MAPPING_VERSION = "1"
# How far a loan's start may lie from its delivery day (weekends, a bank holiday).
_DAY_SLACK = timedelta(days=5)

DELIVERY, COLLECTION = StopKind.DELIVERY.value, StopKind.COLLECTION.value
LOCKED_FOR_DELIVERY = (RequestStatus.APPROVED,)
LOCKED_FOR_COLLECTION = (RequestStatus.APPROVED, RequestStatus.HANDED_OVER)


def working_day(day: date, step: int) -> date:
    """The first weekday ``step`` days (±1) from ``day``, skipping Saturday and Sunday."""
    day += timedelta(days=step)
    while day.weekday() >= 5:
        day += timedelta(days=step)
    return day


def _at(day: date, moment: time) -> datetime:
    return datetime.combine(day, moment, tzinfo=LOCAL_TZ)


def today_local(now: datetime | None = None) -> date:
    """The current day in Europe/Paris."""
    return (now or utcnow()).astimezone(LOCAL_TZ).date()


# --- rows -> problem ------------------------------------------------------------------------


@dataclass(frozen=True)
class StopLine:
    """``quantity`` items of one type at a stop, with their load in tenths of a pallet place."""

    type_id: int
    code: str
    name: str
    quantity: int
    load: int


@dataclass(frozen=True)
class StopRow:
    """A delivery or collection of one loan, as read from the database."""

    loan_id: int
    kind: str
    day: date
    site_id: int
    label: str
    lines: tuple[StopLine, ...]

    @property
    def key(self) -> str:
        return f"{self.kind}-{self.loan_id}"

    @property
    def load(self) -> int:
        return sum(line.load for line in self.lines)


def line_load(quantity: int, load_per_item: float | None) -> int:
    """Tenths of a pallet place ``quantity`` items take (0 when the size is not set)."""
    if load_per_item is None:
        return 0
    return math.ceil(quantity * load_per_item * LOAD_SCALE - 1e-9)


def read_stops(session: Session, first: date, last: date) -> dict[date, list[StopRow]]:
    """The deliveries and collections of the days ``first``..``last``, by day.

    Loans are the served assignments of the approved plan whose request is approved
    (a delivery) or approved or handed over (a collection), with their delivered lines.
    """
    approved_id = session.scalar(select(Plan.id).where(Plan.status == PlanStatus.APPROVED))
    if approved_id is None:
        return {}
    low = _at(first, time(0)) - _DAY_SLACK
    high = _at(last, time(0)) + timedelta(days=1) + _DAY_SLACK
    rows = session.execute(
        select(
            Assignment.start_dt,
            Assignment.end_dt,
            LoanRequest.id,
            LoanRequest.status,
            LoanRequest.site_id,
            LoanRequest.title,
        )
        .join(LoanRequest, LoanRequest.id == Assignment.request_id)
        .where(
            Assignment.plan_id == approved_id,
            Assignment.is_served.is_(True),
            Assignment.start_dt.is_not(None),
            LoanRequest.status.in_(LOCKED_FOR_COLLECTION),
            or_(
                Assignment.start_dt.between(low, high),
                Assignment.end_dt.between(low, high),
            ),
        )
    ).all()
    if not rows:
        return {}
    lines: dict[int, list[StopLine]] = defaultdict(list)
    for line in session.execute(
        select(
            RequestLine.request_id,
            RequestLine.quantity,
            EquipmentType.id,
            EquipmentType.code,
            EquipmentType.name,
            EquipmentType.load_per_item,
        )
        .join(EquipmentType, EquipmentType.id == RequestLine.type_id)
        .where(
            RequestLine.request_id.in_([r.id for r in rows]),
            EquipmentType.is_delivered.is_(True),
        )
        .order_by(RequestLine.id)
    ):
        lines[line.request_id].append(
            StopLine(
                line.id,
                line.code,
                line.name,
                line.quantity,
                line_load(line.quantity, line.load_per_item),
            )
        )
    by_day: dict[date, list[StopRow]] = defaultdict(list)
    for row in rows:
        if row.id not in lines:
            continue
        moves = [(COLLECTION, working_day(row.end_dt.astimezone(LOCAL_TZ).date(), 1))]
        if row.status in LOCKED_FOR_DELIVERY:
            moves.insert(0, (DELIVERY, working_day(row.start_dt.astimezone(LOCAL_TZ).date(), -1)))
        for kind, day in moves:
            if first <= day <= last:
                stop = StopRow(row.id, kind, day, row.site_id, row.title, tuple(lines[row.id]))
                by_day[day].append(stop)
    for stops in by_day.values():
        stops.sort(key=lambda s: (s.kind != DELIVERY, s.loan_id))
    return by_day


def _site_key(site_id: int) -> str:
    return f"site-{site_id}"


def _truck_key(truck_id: int) -> str:
    return f"truck-{truck_id}"


def _minutes(moment: time) -> int:
    return moment.hour * 60 + moment.minute


def rounds_truck(truck: Truck, day: date) -> RoundsTruck:
    """``truck`` on ``day`` as the optimiser sees it (its break may start a little late)."""
    start = _at(day, truck.day_start)
    end = _at(day, truck.day_end)
    driver_break = None
    if truck.break_minutes and truck.break_start is not None:
        earliest = _minutes(truck.break_start)
        latest = min(earliest + BREAK_FLEX_MINUTES, _minutes(truck.day_end) - truck.break_minutes)
        driver_break = Break(
            _at(day, truck.break_start),
            _at(day, time(latest // 60, latest % 60)),
            truck.break_minutes,
        )
    return RoundsTruck(
        id=_truck_key(truck.id),
        name=truck.name,
        depot=_site_key(truck.depot_id),
        capacity=truck.capacity * LOAD_SCALE,
        shift=Window(start, end),
        driver_break=driver_break,
        cost_per_km=truck.cost_per_km,
    )


def build_problem(
    session: Session, day: date, stops: list[StopRow], trucks: list[Truck]
) -> RoundsProblem:
    """The rounds problem of ``day``: its stops and the active trucks (there may be none)."""
    site_ids = {s.site_id for s in stops} | {t.depot_id for t in trucks}
    sites = session.scalars(select(Site).where(Site.id.in_(site_ids)).order_by(Site.id)).all()
    window = Window(_at(day, SERVICE_HOURS[0]), _at(day, SERVICE_HOURS[1]))
    return RoundsProblem(
        timezone=LOCAL_TZ.key,
        load_unit=LOAD_UNIT,
        sites=tuple(
            RoundsSite(_site_key(s.id), s.name, s.lat, s.lon, s.address or None) for s in sites
        ),
        trucks=tuple(rounds_truck(t, day) for t in trucks),
        stops=tuple(
            RoundsStop(
                id=s.key,
                kind=StopKind(s.kind),
                site=_site_key(s.site_id),
                window=window,
                items=tuple(Item(x.code, x.quantity, x.load, x.name) for x in s.lines),
                service_minutes=SERVICE.minutes_for(s.load),
                label=s.label or None,
            )
            for s in stops
        ),
        service=SERVICE,
    )


def fingerprint(problem: RoundsProblem) -> str:
    """SHA-256 of the problem document (and of the mapping's version)."""
    text = MAPPING_VERSION + "\n" + problem_to_json(problem)
    return hashlib.sha256(text.encode()).hexdigest()


# --- solving and storing --------------------------------------------------------------------


def _active_trucks(session: Session) -> list[Truck]:
    return list(session.scalars(select(Truck).where(Truck.is_active.is_(True)).order_by(Truck.id)))


def _settings() -> tuple[int, float]:
    """(days ahead, seconds per day) from the application's settings."""
    if not has_app_context():
        return DEFAULT_DAYS, DEFAULT_SECONDS
    config = current_app.config
    return (
        int(config.get("ROUNDS_DAYS") or DEFAULT_DAYS),
        float(config.get("ROUNDS_SECONDS") or DEFAULT_SECONDS),
    )


def _solve(problem: RoundsProblem, seconds: float) -> tuple[RoundsPlan | None, str | None]:
    """The checked plan, or None and why it could not be made."""
    try:
        plan = solve_rounds(problem, RoundsOptions(time_limit_seconds=seconds, seed=0))
    except Exception as error:  # the optimiser's failure must not lose the day's stops
        log.exception("rounds solver failed")
        return None, f"solver failed: {error}"
    violations = check_rounds(problem, plan)
    if violations:
        return None, "; ".join(f"{v.rule}: {v.message}" for v in violations)
    return plan, None


def _store(
    session: Session,
    day: date,
    stops: list[StopRow],
    problem: RoundsProblem,
    digest: str,
    seconds: float,
) -> RoundDay:
    """Replace the rounds of ``day`` by those of ``problem`` (flushed, not committed)."""
    old = session.scalar(select(RoundDay).where(RoundDay.day == day))
    if old is not None:
        session.delete(old)
        session.flush()
    row = RoundDay(day=day, fingerprint=digest, computed_at=utcnow(), time_limit_seconds=seconds)
    session.add(row)
    stop_rows: dict[str, RoundStop] = {}
    for s in stops:
        stop_rows[s.key] = RoundStop(
            day_row=row,
            loan_id=s.loan_id,
            kind=s.kind,
            site_id=s.site_id,
            load=s.load,
            lines=[
                RoundStopLine(type_id=x.type_id, quantity=x.quantity, load=x.load) for x in s.lines
            ],
        )
        session.add(stop_rows[s.key])
    if not problem.trucks:
        for stop in stop_rows.values():
            stop.reason = NO_TRUCK
        session.flush()
        return row
    plan, failure = _solve(problem, seconds)
    if plan is None:
        row.status = RoundDayStatus.FAILED
        row.message = failure
        for stop in stop_rows.values():
            stop.reason = "failed"
        session.flush()
        return row
    truck_ids = {_truck_key(t.id): t.id for t in _active_trucks(session)}
    for route in plan.routes:
        round_row = Round(
            day_row=row,
            truck_id=truck_ids[route.truck],
            depart_dt=route.depart.astimezone(UTC),
            return_dt=route.back.astimezone(UTC),
            km=route.km,
            load_at_depot=route.load_at_depot,
            break_start_dt=route.driver_break.start.astimezone(UTC) if route.driver_break else None,
            break_end_dt=route.driver_break.end.astimezone(UTC) if route.driver_break else None,
        )
        session.add(round_row)
        for position, visit in enumerate(route.visits, start=1):
            stop = stop_rows[visit.stop]
            stop.round = round_row
            stop.position = position
            stop.arrival_dt = visit.arrival.astimezone(UTC)
            stop.departure_dt = visit.departure.astimezone(UTC)
    for dropped in plan.dropped:
        stop_rows[dropped.stop].reason = dropped.reason.value
        stop_rows[dropped.stop].detail = dropped.detail
    row.km = round(plan.metrics.km, 3)
    session.flush()
    return row


def compute_day(
    session: Session, day: date, *, seconds: float, force: bool = False
) -> RoundDay | None:
    """Compute and store the rounds of ``day`` unless its problem is unchanged.

    Committed here. A day without stops keeps no row.

    Args:
        session: the database session.
        day: the day (Europe/Paris).
        seconds: the optimiser's time limit.
        force: solve again even when the problem has not changed.

    Returns:
        The day's row, or None when it has no stops.
    """
    stops = read_stops(session, day, day).get(day, [])
    old = session.scalar(select(RoundDay).where(RoundDay.day == day))
    if not stops:
        if old is not None:
            session.delete(old)
            session.commit()
        return None
    problem = build_problem(session, day, stops, _active_trucks(session))
    digest = fingerprint(problem)
    if old is not None and old.fingerprint == digest and not force:
        return old
    row = _store(session, day, stops, problem, digest, seconds)
    session.commit()
    return row


def refresh_days(
    session: Session, first: date, days: int, *, seconds: float
) -> list[RoundDay | None]:
    """Compute the rounds of ``days`` working days from ``first`` whose problem changed."""
    return [
        compute_day(session, first + timedelta(days=n), seconds=seconds)
        for n in range(days)
        if (first + timedelta(days=n)).weekday() < 5
    ]


def refresh_after_change(session: Session, *, now: datetime | None = None) -> None:
    """Bring the rounds of the coming days up to date after a committed change.

    On the process's background thread (``ROUNDS_REFRESH = "thread"``, the default), so
    the request that made the change does not wait for the solver; in the caller's
    thread with ``"inline"``, and in tests that share one connection with the requests.
    Never raises: the change is already committed, and the rounds page offers to
    recompute a day whose rounds are out of date.
    """
    if has_app_context() and _refreshes_in_background(current_app):
        app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
        coalescing(app, "rounds", refresh_coming_days).kick()
        return
    refresh_coming_days(session, now=now)


def _refreshes_in_background(app: Flask) -> bool:
    mode = str(app.config.get("ROUNDS_REFRESH") or "thread")
    # Tests share one connection with the requests: no thread may use it.
    return mode == "thread" and get_db(app).override is None


def refresh_coming_days(session: Session, *, now: datetime | None = None) -> None:
    """Compute the rounds of the coming days whose problem changed (nothing while no
    truck exists). Never raises: a failure is logged and the day stays out of date."""
    try:
        if session.scalar(select(Truck.id).limit(1)) is None:
            return
        days, seconds = _settings()
        # Today's rounds may be under way: only the manager recomputes them.
        refresh_days(session, today_local(now) + timedelta(days=1), days, seconds=seconds)
    except SQLAlchemyError:
        session.rollback()
        log.exception("the rounds could not be brought up to date")


def recompute_day(
    session: Session, day: date, *, by: User, seconds: float | None = None
) -> RoundDay | None:
    """Compute the rounds of ``day`` again, even if nothing changed (the manager's button).

    Raises:
        Forbidden: ``by`` is not a manager or an admin.
        Conflict: another computation of the same day got in first.
    """
    require_staff(by)
    limit = seconds if seconds is not None else _settings()[1]
    busy = _("The rounds of this day were being computed at the same moment: reload the page.")
    with conflict_on_concurrent_write(session, busy, duplicate=busy):
        row = compute_day(session, day, seconds=limit, force=True)
    record_event(
        session,
        by=by,
        action="rounds.recompute",
        object_type="round_day",
        object_id=row.id if row is not None else None,
        after={"day": day.isoformat(), "time_limit_seconds": limit},
    )
    session.commit()
    return row


def is_current(session: Session, day: date) -> bool:
    """Whether the stored rounds of ``day`` match the loans and trucks as they are now."""
    stops = read_stops(session, day, day).get(day, [])
    old = session.scalar(select(RoundDay.fingerprint).where(RoundDay.day == day))
    if not stops:
        return old is None
    problem = build_problem(session, day, stops, _active_trucks(session))
    return old == fingerprint(problem)
