"""What a calendar feed shows, read from the database in a fixed number of queries.

A loan is a request with a served assignment in the APPROVED plan (CONFIRMED) or, for
staff feeds only, in the latest PROPOSED plan (TENTATIVE). Cancelled requests stay for
``CANCELLED_KEEP_DAYS`` as CANCELLED events, at the times subscribers last saw; so do
approved loans the manager declined afterwards.

Queries per feed, whatever its size: plans, assignments with their request, site and
commune, units, pool draws, request lines, event states (six), plus writes of the states
that changed. Each event's SEQUENCE comes from :class:`FeedEventState`: it rises whenever
times, units, quantities, place or status change, even if the code that made the change
forgot to raise ``LoanRequest.sequence``.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Select, and_, exists, insert, or_, select, true, update
from sqlalchemy.orm import Session, aliased

from booking.models import (
    Assignment,
    AssignmentDraw,
    AssignmentUnit,
    Commune,
    EquipmentType,
    FeedKind,
    LoanRequest,
    Plan,
    PlanStatus,
    Pool,
    RequestLine,
    RequestStatus,
    Round,
    RoundDay,
    RoundStop,
    Site,
    Truck,
    Unit,
    User,
)
from booking.models.feeds import FeedEventState

CANCELLED_KEEP_DAYS = 14
# Loans taken back after approval: cancelled by the commune or declined by the manager.
# Both show as CANCELLED events, so that calendars strike them out rather than lose them.
WITHDRAWN = (RequestStatus.CANCELLED, RequestStatus.DECLINED)
# Loans that ended more than this many days ago leave the feed.
PAST_DAYS = 62
# Delivery and collection slots around a delivered loan, in minutes.
ROUND_SLOT_MINUTES = 60

CONFIRMED, TENTATIVE, CANCELLED = "CONFIRMED", "TENTATIVE", "CANCELLED"
STAFF, COMMUNE_AUDIENCE = "staff", "commune"

# Rows of the lookups, per assignment or per loan:
# (unit name, unit code, home depot), (type name, quantity, depot), (type name, quantity,
# is delivered).
_UnitRow = tuple[str, str, str]
_DrawRow = tuple[str, int, str]
_LineRow = tuple[str, int, bool]


@dataclass(frozen=True)
class FeedScope:
    """Which loans a feed shows.

    Attributes:
        kind: the feed kind.
        target_id: the commune, unit or type (None for the round and the manager feed).
        audience: "staff" (sees tentative loans) or "commune".
        commune_id: for technicians' feeds, the only commune whose loans may appear.
    """

    kind: FeedKind
    target_id: int | None
    audience: str
    commune_id: int | None


class EventData(NamedTuple):
    """Everything one VEVENT says; hashable, so it keys the serialised-event cache.

    A named tuple rather than a dataclass: a feed makes thousands of them per build.

    ``kind`` is "loan", "delivery" or "collection"; tuples are (name, code) for units,
    (type name, quantity) for lines, (type name, quantity, depot) for draws.
    """

    loan_id: int
    kind: str
    status: str
    start_dt: datetime
    end_dt: datetime
    title: str
    commune: str
    site: str
    address: str | None
    lat: float
    lon: float
    lines: tuple[tuple[str, int], ...]
    units: tuple[tuple[str, str], ...]
    draws: tuple[tuple[str, int, str], ...]
    depots: tuple[str, ...]
    contact: str
    notes: str
    created_dt: datetime
    # A stop planned in a truck's round: the truck, its place in the round (from 1) and
    # its load in tenths of a pallet place ("" and 0 otherwise).
    truck: str = ""
    position: int = 0
    load: int = 0
    stamp_dt: datetime = datetime.min.replace(tzinfo=UTC)
    sequence: int = 0

    def state_hash(self) -> str:
        """A digest of what subscribers see change: times, place, equipment, status."""
        seen = (
            self.status,
            self.start_dt.isoformat(),
            self.end_dt.isoformat(),
            self.site,
            self.lines,
            self.units,
            self.draws,
            self.truck,
            self.position,
            self.load,
        )
        return hashlib.sha256(repr(seen).encode()).hexdigest()


def _scope_filter(scope: FeedScope) -> ColumnElement[bool]:
    conditions: list[ColumnElement[bool]] = []
    if scope.commune_id is not None:
        conditions.append(LoanRequest.commune_id == scope.commune_id)
    if scope.kind is FeedKind.COMMUNE:
        conditions.append(LoanRequest.commune_id == scope.target_id)
    elif scope.kind is FeedKind.UNIT:
        conditions.append(
            exists().where(
                AssignmentUnit.assignment_id == Assignment.id,
                AssignmentUnit.unit_id == scope.target_id,
            )
        )
    elif scope.kind is FeedKind.TYPE:
        by_line = exists().where(
            RequestLine.request_id == LoanRequest.id, RequestLine.type_id == scope.target_id
        )
        by_unit = exists().where(
            AssignmentUnit.assignment_id == Assignment.id,
            AssignmentUnit.unit_id == Unit.id,
            Unit.type_id == scope.target_id,
        )
        conditions.append(or_(by_line, by_unit))
    elif scope.kind is FeedKind.TRUCK:
        conditions.append(
            exists().where(
                RoundStop.loan_id == LoanRequest.id,
                RoundStop.round_id == Round.id,
                Round.truck_id == scope.target_id,
            )
        )
    elif scope.kind is FeedKind.ROUND:
        conditions.append(
            exists().where(
                RequestLine.request_id == LoanRequest.id,
                RequestLine.type_id == EquipmentType.id,
                EquipmentType.is_delivered.is_(True),
            )
        )
    return and_(true(), *conditions)


def _plan_ids(session: Session) -> tuple[int | None, int | None]:
    """(approved plan id, latest proposed plan id)."""
    rows = session.execute(
        select(Plan.id, Plan.status).where(
            Plan.status.in_([PlanStatus.APPROVED, PlanStatus.PROPOSED])
        )
    ).all()
    approved = max((r.id for r in rows if r.status is PlanStatus.APPROVED), default=None)
    proposed = max((r.id for r in rows if r.status is PlanStatus.PROPOSED), default=None)
    return approved, proposed


def _candidates(
    columns: list[Any],
    scope: FeedScope,
    *,
    approved_id: int | None,
    proposed_id: int | None,
    today: date,
) -> Select[Any]:
    """Served assignments that may become events of the feed (a superset: see _choose)."""
    window_start = datetime.combine(today, time(0), tzinfo=UTC) - timedelta(days=PAST_DAYS)
    cancel_cutoff = datetime.combine(today, time(0), tzinfo=UTC) - timedelta(
        days=CANCELLED_KEEP_DAYS
    )
    plans: list[ColumnElement[bool]] = [
        and_(Plan.status == PlanStatus.SUPERSEDED, LoanRequest.status.in_(WITHDRAWN))
    ]
    if approved_id is not None:
        plans.append(Plan.id == approved_id)
    if proposed_id is not None and scope.audience == STAFF:
        plans.append(Plan.id == proposed_id)
    return (
        select(*columns)
        .select_from(Assignment)
        .join(Plan, Plan.id == Assignment.plan_id)
        .join(LoanRequest, LoanRequest.id == Assignment.request_id)
        .where(
            Assignment.is_served.is_(True),
            Assignment.start_dt.is_not(None),
            Assignment.end_dt >= window_start,
            or_(*plans),
            # A request declined before approval was only ever tentative: it goes at once.
            or_(LoanRequest.status != RequestStatus.DECLINED, Plan.status != PlanStatus.PROPOSED),
            or_(LoanRequest.status.not_in(WITHDRAWN), LoanRequest.updated_at >= cancel_cutoff),
            _scope_filter(scope),
        )
    )


def collect_events(
    session: Session, scope: FeedScope, *, today: date, now: datetime
) -> list[EventData]:
    """The events of a feed, with SEQUENCE and DTSTAMP settled and stored.

    Args:
        session: the database session; event states that changed are committed.
        scope: which loans the feed shows.
        today: the UTC day the feed is built for (moves the window).
        now: when a change of state is recorded as seen.

    Returns:
        Events sorted by start, loan and kind.
    """
    approved_id, proposed_id = _plan_ids(session)
    params = {"approved_id": approved_id, "proposed_id": proposed_id, "today": today}
    chosen = _choose(session, _event_rows(scope, params), approved_id)
    if not chosen:
        return []
    plans = {"approved_id": approved_id, "proposed_id": proposed_id}
    assignment_ids = _candidates([Assignment.id], scope, **plans, today=today).scalar_subquery()
    loan_ids = _candidates([LoanRequest.id], scope, **plans, today=today).scalar_subquery()
    units = _units_by_assignment(session, assignment_ids)
    draws = _draws_by_assignment(session, assignment_ids)
    lines = _lines_by_loan(session, loan_ids)
    rounds = scope.kind in (FeedKind.ROUND, FeedKind.TRUCK)
    planned = _planned_stops(session, loan_ids) if rounds else {}
    events: list[EventData] = []
    for loan_id, row in chosen.items():
        status = _status(row, approved_id)
        if status is None:
            continue
        line_rows = lines.get(loan_id, [])
        base = _loan_event(
            row,
            status,
            line_rows,
            units.get(row.assignment_id, []),
            draws.get(row.assignment_id, []),
        )
        if rounds:
            events.extend(
                e
                for e in _round_events(base, line_rows, planned)
                if scope.kind is FeedKind.ROUND
                or (e.truck and planned[(e.loan_id, e.kind)].truck_id == scope.target_id)
            )
        else:
            events.append(base)
    events = _settle_sequences(session, events, scope, loan_ids, now)
    events.sort(key=lambda e: (e.start_dt, e.loan_id, e.kind))
    return events


def _event_rows(scope: FeedScope, params: dict[str, Any]) -> Select[Any]:
    """The candidate assignments with everything an event shows of its loan and place."""
    submitter = aliased(User)
    return (
        _candidates(
            [
                Assignment.id.label("assignment_id"),
                Assignment.plan_id,
                Plan.status.label("plan_status"),
                Assignment.start_dt,
                Assignment.end_dt,
                LoanRequest.id.label("loan_id"),
                LoanRequest.title,
                LoanRequest.status,
                LoanRequest.sequence,
                LoanRequest.updated_at,
                LoanRequest.submitted_at,
                LoanRequest.notes,
                Commune.name.label("commune"),
                Site.name.label("site"),
                Site.address,
                Site.lat,
                Site.lon,
                submitter.name.label("contact_name"),
                submitter.email.label("contact_email"),
            ],
            scope,
            **params,
        )
        .join(Commune, Commune.id == LoanRequest.commune_id)
        .join(Site, Site.id == LoanRequest.site_id)
        .outerjoin(submitter, submitter.id == LoanRequest.submitted_by_id)
    )


def _choose(session: Session, rows: Select[Any], approved_id: int | None) -> dict[int, Any]:
    """One candidate row per loan, the best by :func:`_rank`, keyed by loan id."""
    chosen: dict[int, Any] = {}
    for row in session.execute(rows):
        kept = chosen.get(row.loan_id)
        if kept is None or _rank(row, approved_id) > _rank(kept, approved_id):
            chosen[row.loan_id] = row
    return chosen


def _units_by_assignment(session: Session, assignment_ids: Any) -> dict[int, list[_UnitRow]]:
    """The named units of each assignment, by code, with their home depot."""
    units: dict[int, list[_UnitRow]] = defaultdict(list)
    depot = aliased(Site)
    for row in session.execute(
        select(AssignmentUnit.assignment_id, Unit.name, Unit.code, depot.name.label("depot"))
        .join(Unit, Unit.id == AssignmentUnit.unit_id)
        .join(depot, depot.id == Unit.home_depot_id)
        .where(AssignmentUnit.assignment_id.in_(assignment_ids))
        .order_by(Unit.code)
    ):
        units[row.assignment_id].append((row.name, row.code, row.depot))
    return units


def _draws_by_assignment(session: Session, assignment_ids: Any) -> dict[int, list[_DrawRow]]:
    """The pool draws of each assignment, by type then depot."""
    draws: dict[int, list[_DrawRow]] = defaultdict(list)
    depot = aliased(Site)
    for row in session.execute(
        select(
            AssignmentDraw.assignment_id,
            EquipmentType.name,
            AssignmentDraw.quantity,
            depot.name.label("depot"),
        )
        .join(Pool, Pool.id == AssignmentDraw.pool_id)
        .join(EquipmentType, EquipmentType.id == Pool.type_id)
        .join(depot, depot.id == Pool.depot_id)
        .where(AssignmentDraw.assignment_id.in_(assignment_ids))
        .order_by(EquipmentType.name, depot.name)
    ):
        draws[row.assignment_id].append((row.name, row.quantity, row.depot))
    return draws


def _lines_by_loan(session: Session, loan_ids: Any) -> dict[int, list[_LineRow]]:
    """The request lines of each loan, in the order they were asked for."""
    lines: dict[int, list[_LineRow]] = defaultdict(list)
    for row in session.execute(
        select(
            RequestLine.request_id,
            EquipmentType.name,
            RequestLine.quantity,
            EquipmentType.is_delivered,
        )
        .join(EquipmentType, EquipmentType.id == RequestLine.type_id)
        .where(RequestLine.request_id.in_(loan_ids))
        .order_by(RequestLine.id)
    ):
        lines[row.request_id].append((row.name, row.quantity, row.is_delivered))
    return lines


def _loan_event(
    row: Any,
    status: str,
    line_rows: list[_LineRow],
    unit_rows: list[_UnitRow],
    draw_rows: list[_DrawRow],
) -> EventData:
    """The loan's own event, before its SEQUENCE and DTSTAMP are settled."""
    contact = row.contact_name or ""
    if row.contact_email:
        contact = f"{contact} <{row.contact_email}>".strip()
    return EventData(
        loan_id=row.loan_id,
        kind="loan",
        status=status,
        start_dt=row.start_dt,
        end_dt=row.end_dt,
        title=row.title or "",
        commune=row.commune,
        site=row.site,
        address=row.address,
        lat=row.lat,
        lon=row.lon,
        lines=tuple((name, qty) for name, qty, _d in line_rows),
        units=tuple((name, code) for name, code, _d in unit_rows),
        draws=tuple(draw_rows),
        depots=tuple(sorted({d for *_rest, d in unit_rows} | {d for *_r, d in draw_rows})),
        contact=contact,
        notes=row.notes or "",
        created_dt=row.submitted_at,
        stamp_dt=row.updated_at,
        sequence=row.sequence,
    )


class PlannedStop(NamedTuple):
    """A stop of a loan in a truck's round, as the rounds optimiser planned it."""

    truck_id: int
    truck: str
    position: int
    arrival_dt: datetime
    departure_dt: datetime
    load: int


def _planned_stops(session: Session, loan_ids: Any) -> dict[tuple[int, str], PlannedStop]:
    """The planned stop of each loan's delivery and collection, from the latest rounds."""
    planned: dict[tuple[int, str], PlannedStop] = {}
    for row in session.execute(
        select(
            RoundStop.loan_id,
            RoundStop.kind,
            RoundStop.position,
            RoundStop.arrival_dt,
            RoundStop.departure_dt,
            RoundStop.load,
            Round.truck_id,
            Truck.name,
        )
        .join(Round, Round.id == RoundStop.round_id)
        .join(Truck, Truck.id == Round.truck_id)
        .join(RoundDay, RoundDay.id == RoundStop.day_id)
        .where(RoundStop.loan_id.in_(loan_ids))
        # The latest computation wins when a loan's stop moved to another day.
        .order_by(RoundDay.computed_at, RoundStop.id)
    ):
        planned[(row.loan_id, row.kind)] = PlannedStop(
            row.truck_id, row.name, row.position, row.arrival_dt, row.departure_dt, row.load
        )
    return planned


def _round_events(
    base: EventData, line_rows: list[_LineRow], planned: dict[tuple[int, str], PlannedStop]
) -> list[EventData]:
    """The delivery and collection of a loan, with its delivered lines only.

    At the planned time in a truck's round when there is one, else in a slot just
    before the loan starts or after it ends.
    """
    if base.status == TENTATIVE:
        # Drivers act on the round: a proposal is not an order.
        return []
    delivered = tuple((n, q) for n, q, is_delivered in line_rows if is_delivered)
    slot = timedelta(minutes=ROUND_SLOT_MINUTES)
    events = [
        base._replace(
            kind="delivery",
            lines=delivered,
            start_dt=base.start_dt - slot,
            end_dt=base.start_dt,
        ),
        base._replace(
            kind="collection",
            lines=delivered,
            start_dt=base.end_dt,
            end_dt=base.end_dt + slot,
        ),
    ]
    for n, event in enumerate(events):
        stop = planned.get((event.loan_id, event.kind))
        if stop is not None and base.status != CANCELLED:
            events[n] = event._replace(
                start_dt=stop.arrival_dt,
                end_dt=stop.departure_dt,
                truck=stop.truck,
                position=stop.position,
                load=stop.load,
            )
    return events


def _rank(row: Any, approved_id: int | None) -> tuple[int, int]:
    """Prefer the approved plan's assignment, then the most recent plan."""
    return (1 if row.plan_id == approved_id else 0, row.plan_id)


def _status(row: Any, approved_id: int | None) -> str | None:
    if row.status in WITHDRAWN:
        return CANCELLED
    if row.plan_id == approved_id:
        return CONFIRMED
    if row.plan_status is PlanStatus.PROPOSED:
        return TENTATIVE
    return None


def _settle_sequences(
    session: Session,
    events: list[EventData],
    scope: FeedScope,
    loan_ids: Any,
    now: datetime,
) -> list[EventData]:
    """Give each event a SEQUENCE that rose with every visible change, and store it."""
    # Plain rows, not ORM objects: thousands of them are read at every rebuild.
    stored = {
        (s.loan_id, s.kind): s
        for s in session.execute(
            select(
                FeedEventState.loan_id,
                FeedEventState.kind,
                FeedEventState.state_hash,
                FeedEventState.sequence,
                FeedEventState.changed_at,
            ).where(FeedEventState.audience == scope.audience, FeedEventState.loan_id.in_(loan_ids))
        )
    }
    inserts: list[dict[str, Any]] = []
    raised: list[tuple[int, str, int]] = []
    changed = False
    settled: list[EventData] = []
    for event in events:
        digest = event.state_hash()
        state = stored.get((event.loan_id, event.kind))
        if state is None:
            sequence, changed_at = event.sequence, event.stamp_dt
            inserts.append(
                {
                    "loan_id": event.loan_id,
                    "kind": event.kind,
                    "audience": scope.audience,
                    "state_hash": digest,
                    "sequence": sequence,
                    "changed_at": changed_at,
                }
            )
        elif state.state_hash != digest:
            changed = True
            sequence = max(state.sequence + 1, event.sequence)
            changed_at = max(now, state.changed_at)
            session.execute(
                update(FeedEventState)
                .where(
                    FeedEventState.loan_id == event.loan_id,
                    FeedEventState.kind == event.kind,
                    FeedEventState.audience == scope.audience,
                )
                .values(state_hash=digest, sequence=sequence, changed_at=changed_at)
            )
        else:
            sequence = max(state.sequence, event.sequence)
            changed_at = state.changed_at
            if sequence != state.sequence:
                raised.append((event.loan_id, event.kind, sequence))
        stamp = max(event.stamp_dt, changed_at).replace(microsecond=0)
        # The last two fields are the stamp and the sequence (cheaper than _replace).
        settled.append(EventData._make((*event[:-2], stamp, sequence)))
    for loan_id, kind, sequence in raised:
        session.execute(
            update(FeedEventState)
            .where(
                FeedEventState.loan_id == loan_id,
                FeedEventState.kind == kind,
                FeedEventState.audience == scope.audience,
            )
            .values(sequence=sequence)
        )
    if inserts:
        session.execute(insert(FeedEventState), inserts)
    if inserts or raised or changed:
        session.commit()
    return settled
