"""What the planning pages show: the manager's dashboard and the review of a plan."""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, inspect, or_, select
from sqlalchemy.orm import Session, defer, joinedload, selectinload

from booking.db import utcnow
from booking.models import (
    OPEN_STATUSES,
    Assignment,
    AssignmentDraw,
    AssignmentUnit,
    Commune,
    EquipmentType,
    LoanRequest,
    Plan,
    PlanStatus,
    Pool,
    RequestLine,
    SolverJob,
    Unit,
    User,
)
from booking.services.access import get_or_404, require_staff
from booking.services.dashboard import HandoverBoard, handover_board
from booking.services.paging import Pager, make_pager
from booking.services.planning.data import current_fingerprint, stale_message
from booking.services.planning.ids import request_id_of
from booking.services.planning.reasons import describe_reason
from booking.timeutil import from_local, to_local


@dataclass(frozen=True)
class Dashboard:
    """The fleet manager's planning home."""

    waiting: list[LoanRequest]
    proposed: list[Plan]
    approved: Plan | None
    handovers: HandoverBoard
    jobs: list[SolverJob]


def dashboard(session: Session, *, by: User, now: datetime | None = None) -> Dashboard:
    """Requests to plan, plans to approve, the next days' hand-overs, overdue returns,
    equipment out of service and the latest runs.

    Hand-overs and overdue returns are at the approved plan's (possibly shifted) dates,
    as on the hand-over pages.

    Raises:
        Forbidden: ``by`` is not staff.
    """
    require_staff(by)
    now = now or utcnow()
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
        approved=session.scalars(select(Plan).where(Plan.status == PlanStatus.APPROVED)).first(),
        handovers=handover_board(session, by=by, now=now),
        jobs=list(session.scalars(select(SolverJob).order_by(SolverJob.id.desc()).limit(5))),
    )


# --- review -------------------------------------------------------------------------------

# A one-year plan holds tens of thousands of loans: the review shows them a page at a time.
LOANS_PER_PAGE = 50
UNSERVED_PER_PAGE = 50
# Requests named in each list of changes before "show all".
CHANGES_SHOWN = 50
# Plans longer than this show their timelines four weeks at a time.
TIMELINE_DAYS = 28
# Sections listing more than this open folded: the review opens on its summary.
SHORT_LIST = 8


@dataclass
class Bar:
    """One block on a timeline, positioned in percent of the period shown."""

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
    """What the review page of a plan shows; long lists come a page at a time.

    ``loans``: the page of served assignments, by start; ``unserved``: the page of
    unserved ones, by requested start, with their ``reasons`` by request id. ``diff``
    names at most ``CHANGES_SHOWN`` requests per kind of change unless all were asked for;
    ``diff_counts`` has the totals. The timelines cover ``window``, a part of ``horizon``
    for long plans (``window_previous`` and ``window_next`` start the neighbouring ones).
    """

    plan: Plan
    loans: list[Assignment]
    loans_pager: Pager
    unserved: list[Assignment]
    unserved_pager: Pager
    reasons: dict[int, str]
    diff: dict[str, list[LoanRequest]]
    diff_counts: dict[str, int]
    unit_rows: list[Row]
    pool_rows: list[Row]
    communes: list[CommuneLine]
    horizon: tuple[datetime, datetime]
    window: tuple[datetime, datetime]
    window_previous: date | None
    window_next: date | None
    days: list[AxisMark]
    stale_message: str | None
    unit_codes: frozenset[str] = frozenset()

    @property
    def folded(self) -> frozenset[str]:
        """The sections (by id) whose lists are longer than ``SHORT_LIST``: they open
        folded, unless the address asks for a page of them."""
        lengths = {
            "changes": sum(self.diff_counts.values()),
            "unserved": self.unserved_pager.total,
            "loans": self.loans_pager.total,
            "timelines": len(self.unit_rows) + len(self.pool_rows),
            "communes": len(self.communes),
        }
        return frozenset(key for key, length in lengths.items() if length > SHORT_LIST)

    @property
    def is_stale(self) -> bool:
        """Whether the data changed since the plan was proposed (it cannot be approved)."""
        return self.stale_message is not None


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


def _loan_options() -> tuple[Any, ...]:
    """Everything the loans table reads of an assignment, in a fixed number of queries.

    Rows a row points to (its commune, unit, pool, type) are joined rather than read
    after: a separate read is skipped when they are all in the session already, which
    would make the number of queries depend on what was read before.
    """
    request = selectinload(Assignment.request)
    return (
        request.joinedload(LoanRequest.commune),
        request.selectinload(LoanRequest.lines)
        .joinedload(RequestLine.type)
        .selectinload(EquipmentType.substitutes),
        selectinload(Assignment.units).joinedload(AssignmentUnit.unit),
        selectinload(Assignment.draws).joinedload(AssignmentDraw.pool).joinedload(Pool.depot),
    )


def _reasons(session: Session, unserved: list[Assignment]) -> dict[int, str]:
    """The unserved assignments' reasons in words; the requests they name are read at once."""
    named: set[int] = set()
    for a in unserved:
        if isinstance(a.reason, dict):
            for key in a.reason.get("blocking_ids") or []:
                request_id = request_id_of(str(key))
                if request_id is not None:
                    named.add(request_id)
    # Held here so that they stay in the session's identity map (it keeps weak references):
    # describe_reason then finds them without a query each.
    held = list(
        session.scalars(
            select(LoanRequest)
            .where(LoanRequest.id.in_(named))
            .options(joinedload(LoanRequest.commune))
        )
        if named
        else []
    )
    names = dict(session.execute(select(EquipmentType.code, EquipmentType.name)).all())
    described = {
        a.request_id: describe_reason(
            session, a.reason if isinstance(a.reason, dict) else None, type_names=names
        )
        for a in unserved
    }
    del held
    return described


def _diff(
    session: Session, plan: Plan, all_changes: bool
) -> tuple[dict[str, list[LoanRequest]], dict[str, int]]:
    lists = {k: list(v) for k, v in (plan.diff or {}).items() if k != "against_plan_id"}
    shown = {k: ids if all_changes else ids[:CHANGES_SHOWN] for k, ids in lists.items()}
    wanted = {i for ids in shown.values() for i in ids}
    loans = {
        r.id: r
        for r in session.scalars(
            select(LoanRequest)
            .where(LoanRequest.id.in_(wanted))
            .options(joinedload(LoanRequest.commune))
        )
    }
    diff = {k: [loans[i] for i in ids if i in loans] for k, ids in shown.items()}
    return diff, {k: len(ids) for k, ids in lists.items()}


def _window(
    h_start: datetime, h_end: datetime, start: date | None
) -> tuple[datetime, datetime, date | None, date | None]:
    """The period the timelines show: the whole horizon, or ``TIMELINE_DAYS`` of it from
    the local day ``start``; with the local first days of the periods before and after."""
    length = timedelta(days=TIMELINE_DAYS)
    if h_end - h_start <= length + timedelta(days=TIMELINE_DAYS // 2):
        return h_start, h_end, None, None
    w_start = h_start
    if start is not None:
        wanted = from_local(datetime.combine(start, time()))
        w_start = min(max(wanted, h_start), h_end - length)
    w_end = min(w_start + length, h_end)
    previous = to_local(max(w_start - length, h_start)).date() if w_start > h_start else None
    following = to_local(w_end).date() if w_end < h_end else None
    return w_start, w_end, previous, following


def _problem_parts(session: Session, plan: Plan) -> tuple[dict[str, Any], dict[str, Any]]:
    """The horizon and the units (by code) of the plan's problem.

    Read from the database as two parts of the JSON document when the document itself
    is not loaded: a one-year problem weighs megabytes.
    """
    if "problem_json" in inspect(plan).unloaded:
        horizon, units = session.execute(
            select(Plan.problem_json["horizon"], Plan.problem_json["units"]).where(
                Plan.id == plan.id
            )
        ).one()
    else:
        horizon, units = plan.problem_json["horizon"], plan.problem_json.get("units")
    return horizon, {u["id"]: u for u in units or []}


# A bar with the moments it spans, for ``_place``: (start, end, bar).
_Placed = tuple[datetime, datetime, Bar]


def _timelines(
    session: Session,
    plan: Plan,
    problem_units: dict[str, Any],
    w_start: datetime,
    w_end: datetime,
) -> tuple[list[Row], list[Row]]:
    """One row per unit of the problem and per pool drawn from, over the window.

    The loans are read as plain rows: a month of a department's plan has thousands.
    """
    span = max((w_end - w_start).total_seconds(), 60.0)
    shown = (
        Assignment.plan_id == plan.id,
        Assignment.is_served.is_(True),
        Assignment.start_dt < w_end,
        Assignment.end_dt > w_start,
    )
    units = _shown_units(session, shown)
    draws = _shown_draws(session, shown)
    unit_bars, pool_bars = _loan_bars(session, shown, units, draws, w_start, span)
    unit_rows = _unit_rows(session, problem_units, unit_bars, w_start, w_end, span)
    return unit_rows, _pool_rows(session, pool_bars)


def _shown_units(session: Session, shown: tuple[ColumnElement[bool], ...]) -> dict[int, list[int]]:
    """The unit ids of each shown assignment, by assignment id."""
    units: dict[int, list[int]] = defaultdict(list)
    for assignment_id, unit_id in session.execute(
        select(AssignmentUnit.assignment_id, AssignmentUnit.unit_id)
        .join(Assignment, AssignmentUnit.assignment_id == Assignment.id)
        .where(*shown)
        .order_by(AssignmentUnit.id)
    ):
        units[assignment_id].append(unit_id)
    return units


def _shown_draws(
    session: Session, shown: tuple[ColumnElement[bool], ...]
) -> dict[int, list[tuple[int, int]]]:
    """The (pool id, quantity) draws of each shown assignment, by assignment id."""
    draws: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for assignment_id, pool_id, quantity in session.execute(
        select(AssignmentDraw.assignment_id, AssignmentDraw.pool_id, AssignmentDraw.quantity)
        .join(Assignment, AssignmentDraw.assignment_id == Assignment.id)
        .where(*shown)
        .order_by(AssignmentDraw.id)
    ):
        draws[assignment_id].append((pool_id, quantity))
    return draws


def _loan_bars(
    session: Session,
    shown: tuple[ColumnElement[bool], ...],
    units: dict[int, list[int]],
    draws: dict[int, list[tuple[int, int]]],
    w_start: datetime,
    span: float,
) -> tuple[dict[int, list[_Placed]], dict[int, list[_Placed]]]:
    """The bars of the shown loans, by unit id and by pool id, in order of start."""
    unit_bars: dict[int, list[_Placed]] = {}
    pool_bars: dict[int, list[_Placed]] = {}
    for row in session.execute(
        select(
            Assignment.id,
            Assignment.start_dt,
            Assignment.end_dt,
            Assignment.is_pinned,
            LoanRequest.id.label("request_id"),
            LoanRequest.title,
            LoanRequest.status,
            Commune.name.label("commune"),
        )
        .join(LoanRequest, Assignment.request_id == LoanRequest.id)
        .join(Commune, LoanRequest.commune_id == Commune.id)
        .where(*shown)
        .order_by(Assignment.start_dt, Assignment.id)
    ):
        kind = "pinned" if row.is_pinned else "loan"
        if row.status not in OPEN_STATUSES:
            kind = "locked"
        left = _percent(row.start_dt, w_start, span)
        width = max(_percent(row.end_dt, w_start, span) - left, 0.4)
        title = f"n° {row.request_id} {row.title} · {row.commune}"
        for unit_id in units.get(row.id, []):
            bar = Bar(left, width, f"n° {row.request_id}", title, kind)
            unit_bars.setdefault(unit_id, []).append((row.start_dt, row.end_dt, bar))
        for pool_id, quantity in draws.get(row.id, []):
            bar = Bar(left, width, f"{quantity} · n° {row.request_id}", title, kind)
            pool_bars.setdefault(pool_id, []).append((row.start_dt, row.end_dt, bar))
    return unit_bars, pool_bars


def _unit_rows(
    session: Session,
    problem_units: dict[str, Any],
    unit_bars: dict[int, list[_Placed]],
    w_start: datetime,
    w_end: datetime,
    span: float,
) -> list[Row]:
    """One row per unit of the problem, by code: its loans and its unavailability windows."""
    unit_rows: list[Row] = []
    for unit in session.scalars(
        select(Unit).where(Unit.code.in_(list(problem_units))).order_by(Unit.code)
    ):
        bars = unit_bars.get(unit.id, [])
        for blocked in problem_units[unit.code]["unavailable"]:
            s = datetime.fromisoformat(blocked["start"]).astimezone(UTC)
            e = datetime.fromisoformat(blocked["end"]).astimezone(UTC)
            if s >= w_end or e <= w_start:
                continue
            left = _percent(s, w_start, span)
            bars.append((s, e, Bar(left, _percent(e, w_start, span) - left, "", "", "blocked")))
        row = Row(f"{unit.code} · {unit.name}", [b for _s, _e, b in bars])
        row.lanes = _place(bars)
        unit_rows.append(row)
    return unit_rows


def _pool_rows(session: Session, pool_bars: dict[int, list[_Placed]]) -> list[Row]:
    """One row per pool drawn from in the window, by pool id."""
    pool_rows: list[Row] = []
    for pool in session.scalars(
        select(Pool)
        .where(Pool.id.in_(list(pool_bars)))
        .order_by(Pool.id)
        .options(joinedload(Pool.type), joinedload(Pool.depot))
    ):
        bars = pool_bars[pool.id]
        row = Row(f"{pool.type.name} · {pool.depot.name} ({pool.quantity})", [b for *_x, b in bars])
        row.lanes = _place(bars)
        pool_rows.append(row)
    return pool_rows


def _communes(session: Session, plan_id: int) -> list[CommuneLine]:
    """Requests and served requests of the plan per commune, by name."""
    rows = session.execute(
        select(
            Commune.name,
            func.count(Assignment.id),
            func.sum(case((Assignment.is_served.is_(True), 1), else_=0)),
        )
        .join(LoanRequest, Assignment.request_id == LoanRequest.id)
        .join(Commune, LoanRequest.commune_id == Commune.id)
        .where(Assignment.plan_id == plan_id)
        .group_by(Commune.id, Commune.name)
        .order_by(Commune.name, Commune.id)
    ).all()
    return [CommuneLine(name, int(count), int(served or 0)) for name, count, served in rows]


def review_plan(
    session: Session,
    plan_id: int,
    *,
    by: User,
    page: int = 1,
    unserved_page: int = 1,
    all_changes: bool = False,
    window_start: date | None = None,
) -> Review:
    """Everything the review page of a plan shows, in a fixed number of queries.

    Args:
        session: the database session.
        plan_id: the plan.
        by: who asks.
        page: the page of served loans (``LOANS_PER_PAGE`` each).
        unserved_page: the page of unserved requests (``UNSERVED_PER_PAGE`` each).
        all_changes: name every changed request, not only the first ``CHANGES_SHOWN``.
        window_start: first day of the timelines of a long plan (default: its start).

    Raises:
        Forbidden: ``by`` is not staff.
        NotFound: no such plan.
    """
    require_staff(by)
    plan = _plan_without_documents(session, plan_id)
    horizon_json, problem_units = _problem_parts(session, plan)
    h_start, h_end = _horizon(horizon_json)
    totals = _outcome_totals(session, plan.id)
    loans, loans_pager = _served_page(session, plan.id, page, totals)
    unserved, unserved_pager = _unserved_page(session, plan.id, unserved_page, totals)
    diff, diff_counts = _diff(session, plan, all_changes)
    w_start, w_end, w_previous, w_next = _window(h_start, h_end, window_start)
    unit_rows, pool_rows = _timelines(session, plan, problem_units, w_start, w_end)
    stale = stale_message() if _is_stale(session, plan) else None
    return Review(
        plan=plan,
        loans=loans,
        loans_pager=loans_pager,
        unserved=unserved,
        unserved_pager=unserved_pager,
        reasons=_reasons(session, unserved),
        diff=diff,
        diff_counts=diff_counts,
        unit_rows=unit_rows,
        pool_rows=pool_rows,
        communes=_communes(session, plan.id),
        horizon=(h_start, h_end),
        window=(w_start, w_end),
        window_previous=w_previous,
        window_next=w_next,
        days=timeline_marks(w_start, w_end),
        stale_message=stale,
        unit_codes=frozenset(problem_units),
    )


def _plan_without_documents(session: Session, plan_id: int) -> Plan:
    """The plan with its problem and plan documents left unread.

    Raises:
        NotFound: no such plan.
    """
    # A one-year problem weighs megabytes.
    return session.get(
        Plan, plan_id, options=[defer(Plan.problem_json), defer(Plan.plan_json)]
    ) or get_or_404(session, Plan, plan_id)


def _horizon(horizon_json: dict[str, Any]) -> tuple[datetime, datetime]:
    """The (start, end) of the problem's horizon, in UTC."""
    return (
        datetime.fromisoformat(horizon_json["start"]).astimezone(UTC),
        datetime.fromisoformat(horizon_json["end"]).astimezone(UTC),
    )


def _is_stale(session: Session, plan: Plan) -> bool:
    """Whether a proposed plan was computed from data that changed since."""
    return plan.status is PlanStatus.PROPOSED and (
        current_fingerprint(session) != plan.data_fingerprint
    )


def _outcome_totals(session: Session, plan_id: int) -> dict[bool, int]:
    """How many of the plan's assignments are served (True) and unserved (False)."""
    return dict(
        session.execute(
            select(Assignment.is_served, func.count(Assignment.id))
            .where(Assignment.plan_id == plan_id)
            .group_by(Assignment.is_served)
        ).all()
    )


def _served_page(
    session: Session, plan_id: int, page: int, totals: dict[bool, int]
) -> tuple[list[Assignment], Pager]:
    """The ``page`` of served assignments, by start, with all the loans table reads."""
    pager = make_pager(page, LOANS_PER_PAGE, int(totals.get(True, 0)))
    loans = list(
        session.scalars(
            select(Assignment)
            .where(Assignment.plan_id == plan_id, Assignment.is_served.is_(True))
            .order_by(Assignment.start_dt, Assignment.id)
            .offset(pager.offset)
            .limit(LOANS_PER_PAGE)
            .options(*_loan_options())
        )
    )
    return loans, pager


def _unserved_page(
    session: Session, plan_id: int, page: int, totals: dict[bool, int]
) -> tuple[list[Assignment], Pager]:
    """The ``page`` of unserved assignments, by requested start, with their requests."""
    pager = make_pager(page, UNSERVED_PER_PAGE, int(totals.get(False, 0)))
    unserved = list(
        session.scalars(
            select(Assignment)
            .join(LoanRequest, Assignment.request_id == LoanRequest.id)
            .where(Assignment.plan_id == plan_id, Assignment.is_served.is_(False))
            .order_by(LoanRequest.requested_start_dt, Assignment.id)
            .offset(pager.offset)
            .limit(UNSERVED_PER_PAGE)
            .options(selectinload(Assignment.request).joinedload(LoanRequest.commune))
        )
    )
    return unserved, pager


# The axis of a timeline. Its labels are at most ``AXIS_LABEL_REM`` wide ("sept. 2030",
# "14 juil.", "18:00" at the timeline's font size), followed by at least ``AXIS_GAP_REM``;
# the track is at least ``TRACK_MIN_REM`` wide (planning.css: the timeline's min-width
# less its label column). Marks are spaced so that labels never overlap at that width.
AXIS_LABEL_REM = 4.5
AXIS_GAP_REM = 0.7
TRACK_MIN_REM = 37.0
# Smallest distance between two marks, in percent of the track.
AXIS_MIN_GAP = (AXIS_LABEL_REM + AXIS_GAP_REM) / TRACK_MIN_REM * 100
# Mark steps tried from the finest: (unit, count). Weeks start on Mondays; months and
# years on their first day; hours are counted from local midnight.
_AXIS_STEPS: tuple[tuple[str, int], ...] = (
    ("hour", 1),
    ("hour", 2),
    ("hour", 3),
    ("hour", 6),
    ("hour", 12),
    ("day", 1),
    ("day", 2),
    ("week", 1),
    ("week", 2),
    ("month", 1),
    ("month", 2),
    ("month", 3),
    ("month", 6),
    ("year", 1),
)
# The shortest length of one step of each unit, in days, to skip steps too fine at once.
_SHORTEST_DAYS = {"hour": 1 / 24, "day": 1, "week": 7, "month": 28, "year": 365}


@dataclass(frozen=True)
class AxisMark:
    """A label of a timeline's axis at ``left`` percent of the period shown.

    ``unit`` says what the label shows of ``moment``: "hour" (a time of day, or the date
    at midnight), "day" or "week" (a date), "month" or "year" (a month).
    """

    left: float
    moment: datetime
    unit: str

    @property
    def format(self) -> str:
        """The CLDR pattern of the label, for the ``localdt`` filter."""
        if self.unit == "hour":
            return "d MMM" if to_local(self.moment).hour == 0 else "HH:mm"
        return "MMM y" if self.unit in ("month", "year") else "d MMM"


def _local_steps(first: date, unit: str, count: int, end: datetime) -> list[datetime]:
    """Local wall-clock boundaries of ``count`` ``unit``s from the local day ``first``
    (aligned on Mondays, first days of months or years) up to ``end``, in UTC."""
    if unit == "week":
        first -= timedelta(days=first.weekday())
    elif unit == "month":
        first = date(first.year, (first.month - 1) // count * count + 1, 1)
    elif unit == "year":
        first = date(first.year, 1, 1)
    moments: list[datetime] = []
    index = 0
    while True:
        if unit == "hour":
            wall = datetime.combine(first, time()) + timedelta(hours=index * count)
        elif unit in ("day", "week"):
            days = index * count * (7 if unit == "week" else 1)
            wall = datetime.combine(first + timedelta(days=days), time())
        else:
            months = first.month - 1 + index * count * (12 if unit == "year" else 1)
            wall = datetime(first.year + months // 12, months % 12 + 1, 1)
        moment = from_local(wall)
        if moment > end:
            return moments
        moments.append(moment)
        index += 1


def timeline_marks(
    w_start: datetime, w_end: datetime, min_gap: float = AXIS_MIN_GAP
) -> list[AxisMark]:
    """The labelled marks of a timeline's axis over ``[w_start, w_end]``.

    The finest step (hours, days, weeks, months, years) whose marks are all at least
    ``min_gap`` percent of the window apart; a mark whose label would stick out past the
    end of the track is left out. Empty for a window too short for any label.
    """
    span = max((w_end - w_start).total_seconds(), 60.0)
    label = AXIS_LABEL_REM / TRACK_MIN_REM * 100
    first = to_local(w_start).date()
    for unit, count in _AXIS_STEPS:
        if _SHORTEST_DAYS[unit] * count * 86400 / span * 100 < min_gap:
            continue
        lefts = [
            (_percent(m, w_start, span), m)
            for m in _local_steps(first, unit, count, w_end)
            if m >= w_start
        ]
        lefts = [(left, m) for left, m in lefts if left <= 100 - label]
        if all(b[0] - a[0] >= min_gap for a, b in itertools.pairwise(lefts)):
            return [AxisMark(left, m, unit) for left, m in lefts]
    return []


def loan_page(session: Session, plan_id: int, request_id: int, *, by: User) -> int:
    """The page of the review's loans table that shows ``request_id`` (1 if not served).

    Raises:
        Forbidden: ``by`` is not staff.
    """
    require_staff(by)
    own = session.execute(
        select(Assignment.start_dt, Assignment.id).where(
            Assignment.plan_id == plan_id,
            Assignment.request_id == request_id,
            Assignment.is_served.is_(True),
        )
    ).first()
    if own is None or own.start_dt is None:
        return 1
    before = session.scalar(
        select(func.count(Assignment.id)).where(
            Assignment.plan_id == plan_id,
            Assignment.is_served.is_(True),
            or_(
                Assignment.start_dt < own.start_dt,
                and_(Assignment.start_dt == own.start_dt, Assignment.id < own.id),
            ),
        )
    )
    return int(before or 0) // LOANS_PER_PAGE + 1


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


def unit_choices(
    session: Session,
    plan: Plan,
    assignments: list[Assignment] | None = None,
    codes: frozenset[str] | None = None,
) -> dict[int, list[Unit]]:
    """For each unit-tracked line id of the served ``assignments`` (default: all of the
    plan's), the units it may get: the plan's units (``codes``, default: read from its
    problem) of the line's type or of its substitutes."""
    if codes is None:
        codes = frozenset(_problem_parts(session, plan)[1])
    units = [u for u in session.scalars(select(Unit).order_by(Unit.code)) if u.code in codes]
    choices: dict[int, list[Unit]] = {}
    for a in plan.assignments if assignments is None else assignments:
        if not a.is_served:
            continue
        for line in a.request.lines:
            eligible = {line.type_id, *(s.id for s in line.type.substitutes)}
            if any(au.line_id == line.id for au in a.units):
                choices[line.id] = [u for u in units if u.type_id in eligible]
    return choices
