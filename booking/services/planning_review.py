"""What the planning pages show: the manager's dashboard and the review of a plan."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from booking.db import utcnow
from booking.models import (
    Assignment,
    LoanRequest,
    Plan,
    PlanStatus,
    Pool,
    RequestStatus,
    SolverJob,
    Unavailability,
    Unit,
    UnitStatus,
    User,
)
from booking.services.access import get_or_404, require_staff
from booking.services.planning_data import OPEN_STATUSES, data_fingerprint
from booking.services.planning_reasons import describe_reason

UPCOMING_DAYS = 7


@dataclass
class Dashboard:
    """The fleet manager's planning home."""

    waiting: list[LoanRequest]
    proposed: list[Plan]
    approved: Plan | None
    handovers: list[tuple[datetime, str, LoanRequest]]  # (when, "out" or "back", request)
    overdue: list[LoanRequest]
    maintenance: list[Unit]
    jobs: list[SolverJob]


def dashboard(session: Session, *, by: User, now: datetime | None = None) -> Dashboard:
    """Requests to plan, plans to approve, the next days' hand-overs, overdue returns,
    equipment out of service and the latest runs.

    Raises:
        Forbidden: ``by`` is not staff.
    """
    require_staff(by)
    now = now or utcnow()
    soon = now + timedelta(days=UPCOMING_DAYS)
    approved = session.scalars(select(Plan).where(Plan.status == PlanStatus.APPROVED)).first()
    handovers: list[tuple[datetime, str, LoanRequest]] = []
    if approved is not None:
        for a in session.scalars(
            select(Assignment)
            .where(
                Assignment.plan_id == approved.id,
                Assignment.is_served.is_(True),
                or_(Assignment.start_dt.between(now, soon), Assignment.end_dt.between(now, soon)),
            )
            .options(selectinload(Assignment.request))
        ):
            if a.request.status not in (RequestStatus.APPROVED, RequestStatus.HANDED_OVER):
                continue
            assert a.start_dt is not None and a.end_dt is not None
            if now <= a.start_dt <= soon and a.request.status is RequestStatus.APPROVED:
                handovers.append((a.start_dt, "out", a.request))
            if now <= a.end_dt <= soon:
                handovers.append((a.end_dt, "back", a.request))
    handovers.sort(key=lambda h: (h[0], h[2].id))
    overdue = list(
        session.scalars(
            select(LoanRequest)
            .where(
                LoanRequest.status == RequestStatus.HANDED_OVER,
                LoanRequest.requested_end_dt < now,
            )
            .order_by(LoanRequest.requested_end_dt)
        )
    )
    blacked_out = select(Unavailability.unit_id).where(
        Unavailability.start_dt <= now, Unavailability.end_dt > now
    )
    maintenance = list(
        session.scalars(
            select(Unit)
            .where(or_(Unit.status == UnitStatus.MAINTENANCE, Unit.id.in_(blacked_out)))
            .order_by(Unit.code)
        )
    )
    return Dashboard(
        waiting=list(
            session.scalars(
                select(LoanRequest)
                .where(LoanRequest.status.in_(OPEN_STATUSES))
                .order_by(LoanRequest.requested_start_dt, LoanRequest.id)
            )
        ),
        proposed=list(
            session.scalars(
                select(Plan).where(Plan.status == PlanStatus.PROPOSED).order_by(Plan.id.desc())
            )
        ),
        approved=approved,
        handovers=handovers,
        overdue=overdue,
        maintenance=maintenance,
        jobs=list(session.scalars(select(SolverJob).order_by(SolverJob.id.desc()).limit(5))),
    )


# --- review -------------------------------------------------------------------------------


@dataclass
class Bar:
    """One block on a timeline, positioned in percent of the horizon."""

    left: float
    width: float
    label: str
    title: str
    kind: str  # "loan", "locked", "pinned", "blocked"
    lane: int = 0


@dataclass
class Row:
    label: str
    bars: list[Bar] = field(default_factory=list)
    lanes: int = 1


@dataclass
class CommuneLine:
    name: str
    requests: int
    served: int

    @property
    def share(self) -> float:
        return self.served / self.requests if self.requests else 0.0


@dataclass
class Review:
    plan: Plan
    assignments: list[Assignment]
    reasons: dict[int, str]
    diff: dict[str, list[LoanRequest]]
    unit_rows: list[Row]
    pool_rows: list[Row]
    communes: list[CommuneLine]
    horizon: tuple[datetime, datetime]
    days: list[tuple[float, datetime]]
    is_stale: bool


def _percent(moment: datetime, start: datetime, span: float) -> float:
    return max(0.0, min(100.0, (moment - start).total_seconds() / span * 100))


def _place(bars: list[tuple[datetime, datetime, Bar]]) -> int:
    """Give overlapping bars different lanes; return the number of lanes."""
    ends: list[datetime] = []
    for start, end, bar in sorted(bars, key=lambda b: b[0]):
        for lane, lane_end in enumerate(ends):
            if lane_end <= start:
                bar.lane, ends[lane] = lane, end
                break
        else:
            bar.lane = len(ends)
            ends.append(end)
    return max(len(ends), 1)


def get_plan(session: Session, plan_id: int, *, by: User) -> Plan:
    """A plan, for staff.

    Raises:
        Forbidden: ``by`` is not staff.
        NotFound: no such plan.
    """
    require_staff(by)
    return get_or_404(session, Plan, plan_id)


def review(session: Session, plan_id: int, *, by: User) -> Review:
    """Everything the review page of a plan shows.

    Raises:
        Forbidden: ``by`` is not staff.
        NotFound: no such plan.
    """
    require_staff(by)
    plan = get_or_404(session, Plan, plan_id)
    horizon_json = plan.problem_json["horizon"]
    h_start = datetime.fromisoformat(horizon_json["start"]).astimezone(UTC)
    h_end = datetime.fromisoformat(horizon_json["end"]).astimezone(UTC)
    span = max((h_end - h_start).total_seconds(), 60.0)
    assignments = sorted(
        plan.assignments,
        key=lambda a: (not a.is_served, a.start_dt or a.request.requested_start_dt, a.id),
    )
    reasons = {
        a.request_id: describe_reason(session, a.reason) for a in assignments if not a.is_served
    }
    requests = {a.request_id: a.request for a in assignments}
    diff = {
        key: [requests[i] if i in requests else session.get(LoanRequest, i) for i in ids]
        for key, ids in (plan.diff or {}).items()
        if key != "against_plan_id"
    }

    unit_bars: dict[int, list[tuple[datetime, datetime, Bar]]] = {}
    pool_bars: dict[int, list[tuple[datetime, datetime, Bar]]] = {}
    for a in assignments:
        if not a.is_served or a.start_dt is None or a.end_dt is None:
            continue
        loan = a.request
        kind = "pinned" if a.is_pinned else "loan"
        if loan.status not in OPEN_STATUSES:
            kind = "locked"
        left = _percent(a.start_dt, h_start, span)
        width = max(_percent(a.end_dt, h_start, span) - left, 0.4)
        title = f"n° {loan.id} {loan.title} · {loan.commune.name}"
        for au in a.units:
            bar = Bar(left, width, f"n° {loan.id}", title, kind)
            unit_bars.setdefault(au.unit_id, []).append((a.start_dt, a.end_dt, bar))
        for ad in a.draws:
            bar = Bar(left, width, f"{ad.quantity} · n° {loan.id}", title, kind)
            pool_bars.setdefault(ad.pool_id, []).append((a.start_dt, a.end_dt, bar))
    unit_codes = [u["id"] for u in plan.problem_json.get("units", [])]
    unit_rows = []
    for unit in session.scalars(select(Unit).where(Unit.code.in_(unit_codes)).order_by(Unit.code)):
        bars = unit_bars.get(unit.id, [])
        for blocked in next(u for u in plan.problem_json["units"] if u["id"] == unit.code)[
            "unavailable"
        ]:
            s = datetime.fromisoformat(blocked["start"]).astimezone(UTC)
            e = datetime.fromisoformat(blocked["end"]).astimezone(UTC)
            left = _percent(s, h_start, span)
            bars.append((s, e, Bar(left, _percent(e, h_start, span) - left, "", "", "blocked")))
        row = Row(f"{unit.code} · {unit.name}", [b for _s, _e, b in bars])
        row.lanes = _place(bars)
        unit_rows.append(row)
    pool_rows = []
    for pool in session.scalars(select(Pool).where(Pool.id.in_(list(pool_bars))).order_by(Pool.id)):
        bars = pool_bars[pool.id]
        row = Row(f"{pool.type.name} · {pool.depot.name} ({pool.quantity})", [b for *_x, b in bars])
        row.lanes = _place(bars)
        pool_rows.append(row)

    communes: dict[str, CommuneLine] = {}
    for a in assignments:
        name = a.request.commune.name
        line = communes.setdefault(name, CommuneLine(name, 0, 0))
        line.requests += 1
        line.served += int(a.is_served)
    days = []
    day = h_start
    step = timedelta(days=max(1, int(span // 86400 // 14)))
    while day < h_end:
        days.append((_percent(day, h_start, span), day))
        day += step
    is_stale = plan.status is PlanStatus.PROPOSED and (
        data_fingerprint(session, horizon=None) != plan.data_fingerprint
    )
    return Review(
        plan=plan,
        assignments=assignments,
        reasons=reasons,
        diff=diff,
        unit_rows=unit_rows,
        pool_rows=pool_rows,
        communes=sorted(communes.values(), key=lambda c: c.name),
        horizon=(h_start, h_end),
        days=days,
        is_stale=is_stale,
    )


def shift_minutes(assignment: Assignment) -> int:
    """How far a served assignment moves its request, in minutes (+ later, - earlier)."""
    if assignment.start_dt is None:
        return 0
    return int((assignment.start_dt - assignment.request.requested_start_dt).total_seconds() // 60)


def metrics_rows(plan: Plan) -> list[tuple[str, Any, Any]]:
    """(key, this plan, first-come-first-served) for the headline table."""
    ours, fcfs = plan.metrics or {}, plan.baseline_metrics or {}
    keys = ("served", "served_value", "km", "km_per_served", "shifted", "shift_minutes")
    return [(key, ours.get(key), fcfs.get(key)) for key in keys]


def unit_choices(session: Session, plan: Plan) -> dict[int, list[Unit]]:
    """For each unit-tracked line id of the plan's served requests, the units it may get:
    the plan's units of the line's type or of its substitutes."""
    codes = {u["id"] for u in plan.problem_json.get("units", [])}
    units = [u for u in session.scalars(select(Unit).order_by(Unit.code)) if u.code in codes]
    choices: dict[int, list[Unit]] = {}
    for a in plan.assignments:
        if not a.is_served:
            continue
        for line in a.request.lines:
            eligible = {line.type_id, *(s.id for s in line.type.substitutes)}
            if any(au.line_id == line.id for au in a.units):
                choices[line.id] = [u for u in units if u.type_id in eligible]
    return choices
