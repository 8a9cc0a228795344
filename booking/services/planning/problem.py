"""Database rows -> ``solver.Problem``: the problem a plan is built from.

``build_problem`` maps the open requests, the approved loans, the pins and the inventory
to a ``loan-problem/1`` problem (see ``docs/file-formats.md``) and keeps the id maps that
lead the plan's ids back to rows.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

import solver
from booking import limits
from booking.models import (
    Assignment,
    EquipmentType,
    LoanRequest,
    Plan,
    PlanStatus,
    Site,
    UnitStatus,
)
from booking.services.planning.data import (
    FingerprintData,
    Rows,
    Window,
    beyond_horizon_reason,
    fingerprint,
    plannable_window,
    read_rows,
    rejected_reason,
)
from booking.services.planning.ids import TIMEZONE, ZONE, pool_key, request_key, site_key
from booking.services.request_rules import latest_end
from solver.check import check_assignments, compute_metrics
from solver.io import problem_from_json, problem_to_json, sha256_hex
from solver.plan import Draw, LineAssignment, RequestAssignment, SolverInfo, Status
from solver.problem import EquipmentType as SolverType
from solver.problem import Interval, Line, Request
from solver.problem import Pool as SolverPool
from solver.problem import Site as SolverSite
from solver.problem import Unit as SolverUnit

_MINUTE = timedelta(minutes=1)


@dataclass
class IdMaps:
    """How the problem's string ids map back to rows.

    Attributes:
        sites, types, units, pools, requests: problem id -> primary key.
        lines: problem request id -> its RequestLine ids, in the problem's line order.
        locked: problem request ids locked as approved loans.
        pinned: problem request ids locked because the manager pinned them.
        expired: open requests left out because even their latest placement would start
            in the past (request id -> that latest start, aware UTC).
        rejected: open requests the optimiser cannot take (dates beyond the planning
            horizon, values the problem format refuses), left out so that they do not
            fail the whole run (request id -> the stored reason, ``Assignment.reason``).
        horizon: the problem's horizon, aware UTC datetimes.
        fingerprint: see ``data_fingerprint``.
        approved_plan_id: the plan given as ``previous``, if any.
        watermark: the latest ``updated_at`` of the requests read.
    """

    sites: dict[str, int] = field(default_factory=dict)
    types: dict[str, int] = field(default_factory=dict)
    units: dict[str, int] = field(default_factory=dict)
    pools: dict[str, int] = field(default_factory=dict)
    requests: dict[str, int] = field(default_factory=dict)
    lines: dict[str, list[int]] = field(default_factory=dict)
    locked: set[str] = field(default_factory=set)
    pinned: set[str] = field(default_factory=set)
    expired: dict[int, datetime] = field(default_factory=dict)
    rejected: dict[int, dict[str, Any]] = field(default_factory=dict)
    horizon: tuple[datetime, datetime] | None = None
    fingerprint: str = ""
    approved_plan_id: int | None = None
    watermark: datetime | None = None


# --- times ------------------------------------------------------------------------------


def _local(moment: datetime) -> datetime:
    """An aware time in Paris, floored to the minute (the file's time unit)."""
    return moment.astimezone(ZONE).replace(second=0, microsecond=0)


def _local_ceil(moment: datetime) -> datetime:
    floored = _local(moment)
    return floored if floored == moment.astimezone(ZONE) else floored + _MINUTE


def _midnight_before(moment: datetime) -> datetime:
    local = moment.astimezone(ZONE)
    return datetime(local.year, local.month, local.day, tzinfo=ZONE)


def _midnight_after(moment: datetime) -> datetime:
    start = _midnight_before(moment)
    if start == moment.astimezone(ZONE):
        return start
    nxt = (start + timedelta(days=1, hours=2)).date()
    return datetime(nxt.year, nxt.month, nxt.day, tzinfo=ZONE)


def _subtract(
    intervals: Iterable[tuple[datetime, datetime]], holes: Iterable[tuple[datetime, datetime]]
) -> list[tuple[datetime, datetime]]:
    """The union of ``intervals`` minus every hole, merged and sorted."""
    merged: list[tuple[datetime, datetime]] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    for hole_start, hole_end in sorted(holes):
        kept: list[tuple[datetime, datetime]] = []
        for start, end in merged:
            if hole_end <= start or end <= hole_start:
                kept.append((start, end))
                continue
            if start < hole_start:
                kept.append((start, hole_start))
            if hole_end < end:
                kept.append((hole_end, end))
        merged = kept
    return [(s, e) for s, e in merged if s < e]


# --- building the problem -----------------------------------------------------------------


def _locked_assignment(
    loan: LoanRequest, assignment: Assignment, types: dict[int, EquipmentType], units: set[int]
) -> RequestAssignment | None:
    """The request's assignment in the file's form, or None when it cannot be expressed."""
    if not assignment.is_served or assignment.start_dt is None or assignment.end_dt is None:
        return None
    unit_codes: dict[int, list[str]] = {}
    for au in assignment.units:
        unit_codes.setdefault(au.line_id, []).append(au.unit.code)
        units.add(au.unit_id)
    draws: dict[int, list[Draw]] = {}
    for ad in assignment.draws:
        draws.setdefault(ad.line_id, []).append(Draw(pool_key(ad.pool), ad.quantity))
    lines = []
    for line in loan.lines:
        lines.append(
            LineAssignment(
                type=types[line.type_id].code,
                units=tuple(unit_codes.get(line.id, ())),
                pools=tuple(draws.get(line.id, ())),
            )
        )
    return RequestAssignment(
        id=request_key(loan.id),
        served=True,
        start=_local(assignment.start_dt),
        end=_local(assignment.end_dt),
        lines=tuple(lines),
    )


def _pinned_assignments(session: Session, request_ids: set[int]) -> dict[int, Assignment]:
    """Served pinned assignments of the latest proposed plan, by request id."""
    latest = session.scalars(
        select(Plan).where(Plan.status == PlanStatus.PROPOSED).order_by(Plan.id.desc())
    ).first()
    if latest is None:
        return {}
    return {
        a.request_id: a
        for a in latest.assignments
        if a.is_pinned and a.is_served and a.request_id in request_ids
    }


@dataclass(frozen=True)
class _Scope:
    """What the problem's requests and inventory are built from, once the horizon is set.

    Attributes:
        rows: the rows read.
        types: equipment types by id.
        plannable: open requests that still fit -> where they may be placed.
        start, end: the horizon, local midnights, widened to hold the locked loans.
        locked: approved loans overlapping the horizon -> their assignment, by request id.
        pinned: pins that become locked -> their assignment, by request id.
        used_units: ids of the units the locked assignments and the pins read hold.
        planned: the requests of the problem (open ones in the horizon and locked ones),
            by id.
    """

    rows: Rows
    types: dict[int, EquipmentType]
    plannable: dict[int, Window]
    start: datetime
    end: datetime
    locked: dict[int, RequestAssignment]
    pinned: dict[int, RequestAssignment]
    used_units: frozenset[int]
    planned: list[LoanRequest]


def _plannable_windows(
    open_requests: Iterable[LoanRequest],
    types: dict[int, EquipmentType],
    now: datetime,
    rejected: dict[int, dict[str, Any]],
) -> tuple[dict[int, Window], dict[int, datetime]]:
    """The windows of the open requests that still fit, and the latest starts of the others.

    Requests already in ``rejected``, or whose window reaches past the planning horizon
    (``planning_limit``), are added to ``rejected`` and left out.

    Returns:
        (request id -> plannable window, request id -> latest start of an expired request).
    """
    plannable: dict[int, Window] = {}
    expired: dict[int, datetime] = {}
    limit = planning_limit(now)
    for loan in open_requests:
        if loan.id in rejected:
            continue
        try:
            window = plannable_window(loan, types, now)
        except (OverflowError, ValueError) as error:
            rejected[loan.id] = rejected_reason(str(error))
            continue
        if window.latest > limit or window.earliest < limits.EARLIEST:
            rejected[loan.id] = beyond_horizon_reason(limit)
        elif window.is_plannable:
            plannable[loan.id] = window
        else:
            expired[loan.id] = window.latest_start
    return plannable, expired


def planning_limit(now: datetime) -> datetime:
    """No open request is planned past this: the request horizon, with a year to spare
    for requests accepted under a longer horizon or moved by their flexibility."""
    return min(latest_end(now) + timedelta(days=366), limits.LATEST - timedelta(days=1))


def _open_requests_and_horizon(
    open_requests: Iterable[LoanRequest],
    plannable: dict[int, Window],
    horizon: tuple[datetime, datetime] | None,
    now: datetime,
) -> tuple[list[LoanRequest], datetime, datetime]:
    """The plannable open requests to plan and the horizon, before the locked loans widen it.

    Returns:
        (the requests, in the given order; the horizon's start and end, local midnights).
    """
    # The open requests to plan decide the horizon, unless it is given.
    chosen = [r for r in open_requests if r.id in plannable]
    if horizon is not None:
        h_start, h_end = horizon
        chosen = [
            r
            for r in chosen
            if h_start <= plannable[r.id].earliest and plannable[r.id].latest <= h_end
        ]
    elif chosen:
        h_start = min(plannable[r.id].earliest for r in chosen)
        h_end = max(plannable[r.id].latest for r in chosen)
    else:
        h_start, h_end = now, now + timedelta(days=1)
    return chosen, _midnight_before(h_start), _midnight_after(h_end)


def _approved_loans(
    rows: Rows,
    types: dict[int, EquipmentType],
    h_start: datetime,
    h_end: datetime,
    used_units: set[int],
) -> dict[int, RequestAssignment]:
    """The approved loans whose occupation (with turnaround) overlaps the horizon.

    Adds the units they hold to ``used_units``.

    Returns:
        Request id -> the loan's assignment in the approved plan, in the file's form.
    """
    approved_by_request = (
        {a.request_id: a for a in rows.approved.assignments} if rows.approved else {}
    )
    locked: dict[int, RequestAssignment] = {}
    for loan in rows.locked_requests:
        assignment = approved_by_request.get(loan.id)
        if assignment is None or assignment.start_dt is None or assignment.end_dt is None:
            continue
        pad = max(
            (
                limits.turnaround_minutes(types[line.type_id].turnaround_minutes)
                for line in loan.lines
            ),
            default=0,
        )
        if assignment.end_dt + timedelta(minutes=pad) <= h_start or assignment.start_dt >= h_end:
            continue
        candidate = _locked_assignment(loan, assignment, types, used_units)
        if candidate is not None:
            locked[loan.id] = candidate
    return locked


def _widened_horizon(
    h_start: datetime, h_end: datetime, locked: Iterable[RequestAssignment]
) -> tuple[datetime, datetime]:
    """The horizon widened to the local midnights around every locked assignment."""
    for assignment in locked:
        assert assignment.start is not None and assignment.end is not None
        h_start = min(h_start, _midnight_before(assignment.start))
        h_end = max(h_end, _midnight_after(assignment.end))
    return h_start, h_end


def _pins(
    session: Session,
    open_requests: Iterable[LoanRequest],
    plannable: dict[int, Window],
    types: dict[int, EquipmentType],
    used_units: set[int],
) -> dict[int, RequestAssignment]:
    """The pins of the latest proposal on ``open_requests``, to lock like approved loans.

    Adds the units of every pin read to ``used_units``, kept or not.

    Returns:
        Request id -> the pinned assignment, in the file's form.
    """
    pinned: dict[int, RequestAssignment] = {}
    open_ids = {r.id for r in open_requests}
    for request_id, assignment in _pinned_assignments(session, open_ids).items():
        loan = session.get(LoanRequest, request_id)
        assert loan is not None
        candidate = _locked_assignment(loan, assignment, types, used_units)
        # A pin that now starts too early (in the past) leaves the request free.
        if (
            candidate is not None
            and candidate.start is not None
            and candidate.start >= plannable[request_id].earliest
        ):
            pinned[request_id] = candidate
    return pinned


def _occupations(session: Session, scope: _Scope) -> dict[str, list[tuple[datetime, datetime]]]:
    """Unit code -> the (start, end + turnaround) of the locked and pinned loans holding it."""
    occupations: dict[str, list[tuple[datetime, datetime]]] = {}
    for request_id, assignment in {**scope.locked, **scope.pinned}.items():
        loan = session.get(LoanRequest, request_id)
        assert loan is not None and assignment.start is not None and assignment.end is not None
        for line, la in zip(loan.lines, assignment.lines, strict=True):
            pad = timedelta(
                minutes=limits.turnaround_minutes(scope.types[line.type_id].turnaround_minutes)
            )
            for code in la.units:
                occupations.setdefault(code, []).append((assignment.start, assignment.end + pad))
    return occupations


def _units(
    scope: _Scope,
    occupations: dict[str, list[tuple[datetime, datetime]]],
    maps: IdMaps,
    site_ids: set[int],
) -> list[SolverUnit]:
    """The units of the non-pooled types, with their unavailability in the horizon.

    Records each unit in ``maps.units`` and its home depot in ``site_ids``.
    """
    pooled_types = {et.id for et in scope.rows.types if et.is_pooled}
    units: list[SolverUnit] = []
    for unit in scope.rows.units:
        if unit.type_id in pooled_types:
            continue
        if unit.status is UnitStatus.RETIRED and unit.id not in scope.used_units:
            continue
        blocked: list[tuple[datetime, datetime]] = [
            (_local(w.start_dt), _local_ceil(w.end_dt))
            for w in unit.unavailabilities
            if w.end_dt > scope.start and w.start_dt < scope.end
        ]
        if unit.status is not UnitStatus.AVAILABLE:
            blocked.append((scope.start, scope.end))
        # An approved loan keeps its unit even if a window was added over it since.
        windows = _subtract(blocked, occupations.get(unit.code, []))
        units.append(
            SolverUnit(
                id=unit.code,
                type=scope.types[unit.type_id].code,
                home=site_key(unit.home_depot_id),
                unavailable=tuple(Interval(s, e) for s, e in windows),
            )
        )
        maps.units[unit.code] = unit.id
        site_ids.add(unit.home_depot_id)
    return units


def _pools(rows: Rows, maps: IdMaps, site_ids: set[int]) -> list[SolverPool]:
    """The non-empty pools of the pooled types.

    Records each pool in ``maps.pools`` and its depot in ``site_ids``.
    """
    pooled_types = {et.id for et in rows.types if et.is_pooled}
    pools: list[SolverPool] = []
    for pool in rows.pools:
        if pool.type_id not in pooled_types or pool.quantity < 1:
            continue
        pools.append(
            SolverPool(
                id=pool_key(pool),
                type=pool.type.code,
                site=site_key(pool.depot_id),
                quantity=pool.quantity,
            )
        )
        maps.pools[pool_key(pool)] = pool.id
        site_ids.add(pool.depot_id)
    return pools


def _types(rows: Rows, maps: IdMaps) -> list[SolverType]:
    """Every equipment type, recorded in ``maps.types``; only unit types have substitutes."""
    types = []
    for et in rows.types:
        substitutes: tuple[str, ...] = ()
        if not et.is_pooled:
            substitutes = tuple(s.code for s in et.substitutes if not s.is_pooled and s is not et)
        hours = et.max_direct_transfer_hours
        types.append(
            SolverType(
                id=et.code,
                name=et.name,
                turnaround_minutes=limits.turnaround_minutes(et.turnaround_minutes),
                max_direct_transfer_hours=(
                    hours if hours is not None else solver.problem.DEFAULT_MAX_DIRECT_TRANSFER_HOURS
                ),
                substitutes=substitutes,
            )
        )
        maps.types[et.code] = et.id
    return types


def _request(loan: LoanRequest, fixed: RequestAssignment | None, scope: _Scope) -> Request:
    """The problem request of ``loan``, locked to ``fixed`` if given, else free in its window."""
    if fixed is not None:
        assert fixed.start is not None and fixed.end is not None
        start, end, earliest, latest = fixed.start, fixed.end, fixed.start, fixed.end
    else:
        # May start after the requested start: when that is past or too soon.
        window = scope.plannable[loan.id]
        start, end = window.start.astimezone(ZONE), window.end.astimezone(ZONE)
        earliest = max(window.earliest.astimezone(ZONE), scope.start)
        latest = min(window.latest.astimezone(ZONE), scope.end)
    return Request(
        id=request_key(loan.id),
        commune=loan.commune.slug,
        site=site_key(loan.site_id),
        priority=loan.priority,
        submitted_at=loan.submitted_at.astimezone(ZONE).replace(microsecond=0),
        start=start,
        end=end,
        earliest_start=earliest,
        latest_end=max(latest, end),
        lines=tuple(
            Line(type=scope.types[line.type_id].code, quantity=line.quantity) for line in loan.lines
        ),
        locked=fixed,
    )


def _requests(scope: _Scope, maps: IdMaps, site_ids: set[int]) -> list[Request]:
    """The problem requests, approved loans and pins locked.

    Records each request, its lines and whether it is locked or pinned in ``maps``, and its
    site in ``site_ids``.
    """
    requests: list[Request] = []
    for loan in scope.planned:
        key = request_key(loan.id)
        requests.append(
            _request(loan, scope.locked.get(loan.id) or scope.pinned.get(loan.id), scope)
        )
        maps.requests[key] = loan.id
        maps.lines[key] = [line.id for line in loan.lines]
        site_ids.add(loan.site_id)
        if loan.id in scope.locked:
            maps.locked.add(key)
        elif loan.id in scope.pinned:
            maps.pinned.add(key)
    return requests


def _sites(session: Session, site_ids: set[int], maps: IdMaps) -> list[SolverSite]:
    """The sites with the given ids, by id, recorded in ``maps.sites``."""
    sites = []
    for site in session.scalars(select(Site).where(Site.id.in_(site_ids)).order_by(Site.id)):
        sites.append(
            SolverSite(
                id=site_key(site.id),
                name=site.name,
                lat=site.lat,
                lon=site.lon,
                commune=site.commune.slug if site.commune is not None else None,
            )
        )
        maps.sites[site_key(site.id)] = site.id
    return sites


def _without_unfit_pins(problem: solver.Problem, scope: _Scope, maps: IdMaps) -> solver.Problem:
    """The problem with the pins that break a rule beside the other locked requests freed.

    Removes them from ``maps.pinned``.
    """
    # A pin that no longer fits beside the approved loans and other pins is dropped.
    fixed = [r.locked for r in problem.requests if r.locked is not None]
    bad = {v.request for v in check_assignments(problem, fixed) if v.request in maps.pinned}
    if not bad:
        return problem
    maps.pinned -= bad
    loans = {request_key(loan.id): loan for loan in scope.planned}
    reopened = tuple(
        _request(loans[r.id], None, scope) if r.id in bad else r for r in problem.requests
    )
    return replace(problem, requests=reopened)


def build_problem(
    session: Session,
    *,
    horizon: tuple[datetime, datetime] | None = None,
    include_pins: bool = True,
    now: datetime | None = None,
    rejected: dict[int, dict[str, Any]] | None = None,
) -> tuple[solver.Problem, IdMaps]:
    """Map the database to a ``loan-problem/1`` problem.

    Open requests (SUBMITTED, PLANNED) are to be placed within their flexibility window,
    never before ``now`` nor earlier than their minimum notice allows (``plannable_window``);
    those whose latest placement is already past are left out and listed in ``expired``;
    approved loans (APPROVED, HANDED_OVER) are ``locked`` to their assignment in the
    approved plan; assignments the manager pinned in the latest proposed plan are locked
    too (unless they no longer fit, then they are left free). The approved plan's served
    assignments of requests still in the problem are ``previous``. Units in maintenance
    or retired are unavailable (retired ones left out unless an approved loan holds them);
    their unavailability windows are kept, except where an approved loan holds the unit.

    Args:
        session: the database session.
        horizon: (start, end), aware; open requests whose window lies inside are planned.
            Default: from the day of the earliest open window to the day after the latest.
            It is widened to hold the approved loans that overlap it.
        include_pins: whether pinned assignments become locked.
        now: the current time (default: the clock).
        rejected: open requests to leave out, with the reason stored for each (requests
            the problem format refused in an earlier attempt).

    Returns:
        The problem and the id maps (with the data fingerprint).
    """
    now = now or datetime.now(UTC)
    rows = read_rows(session)
    maps = IdMaps(approved_plan_id=rows.approved.id if rows.approved else None)
    types_by_id = {et.id: et for et in rows.types}
    maps.rejected = dict(rejected or {})
    plannable, maps.expired = _plannable_windows(
        rows.open_requests, types_by_id, now, maps.rejected
    )
    open_requests, h_start, h_end = _open_requests_and_horizon(
        rows.open_requests, plannable, horizon, now
    )
    used_units: set[int] = set()
    locked = _approved_loans(rows, types_by_id, h_start, h_end, used_units)
    h_start, h_end = _widened_horizon(h_start, h_end, locked.values())
    maps.horizon = (h_start.astimezone(UTC), h_end.astimezone(UTC))
    maps.fingerprint = fingerprint(FingerprintData.of_rows(rows), horizon)
    maps.watermark = max(
        (r.updated_at for r in rows.open_requests + rows.locked_requests), default=None
    )
    pinned: dict[int, RequestAssignment] = {}
    if include_pins:
        pinned = _pins(session, open_requests, plannable, types_by_id, used_units)
    scope = _Scope(
        rows=rows,
        types=types_by_id,
        plannable=plannable,
        start=h_start,
        end=h_end,
        locked=locked,
        pinned=pinned,
        used_units=frozenset(used_units),
        planned=sorted(
            [*open_requests, *(r for r in rows.locked_requests if r.id in locked)],
            key=lambda r: r.id,
        ),
    )

    site_ids: set[int] = set()
    units = _units(scope, _occupations(session, scope), maps, site_ids)
    pools = _pools(rows, maps, site_ids)
    types = _types(rows, maps)
    requests = _requests(scope, maps, site_ids)
    sites = _sites(session, site_ids, maps)
    problem = solver.Problem(
        timezone=TIMEZONE,
        horizon=Interval(h_start, h_end),
        sites=tuple(sites),
        types=tuple(types),
        units=tuple(units),
        pools=tuple(pools),
        requests=tuple(requests),
    )
    problem = _without_unfit_pins(problem, scope, maps)
    if rows.approved is not None:
        problem = replace(problem, previous=_previous_plan(problem, rows.approved, maps))
    return problem, maps


def _previous_plan(problem: solver.Problem, approved: Plan, maps: IdMaps) -> solver.Plan:
    """The approved plan's served assignments of requests still in the problem."""
    assignments = []
    known = set(maps.requests.values())
    for assignment in approved.assignments:
        if assignment.request_id not in known or not assignment.is_served:
            continue
        loan = assignment.request
        candidate = _locked_assignment(
            loan, assignment, {line.type_id: line.type for line in loan.lines}, set()
        )
        if candidate is None:
            continue
        # Units or pools no longer in the problem cannot be compared: leave the request out.
        if any(code not in maps.units for la in candidate.lines for code in la.units) or any(
            d.pool not in maps.pools for la in candidate.lines for d in la.pools
        ):
            continue
        assignments.append(candidate)
    base = replace(problem, previous=None)
    metrics = compute_metrics(base, assignments)
    status = str((approved.plan_json or {}).get("status", Status.FEASIBLE.value))
    return solver.Plan(
        problem=approved.problem_sha,
        status=Status(status) if status in Status.__members__ else Status.FEASIBLE,
        solver=SolverInfo(strategy=approved.strategy, seconds=0.0),
        requests=tuple(assignments),
        metrics=replace(metrics, requests=len(assignments)),
    )


def problem_document(problem: solver.Problem) -> tuple[str, str]:
    """The problem as the file the command line reads, and that file's SHA-256.

    The text is read back and validated, so a problem the application plans is one the
    command line accepts and plans the same way.

    Raises:
        solver.io.FormatError: the data breaks the problem format (the message names
            every fault).
    """
    text = problem_to_json(problem)
    problem_from_json(text)
    return text, sha256_hex(text.encode("utf-8"))


def stored_problem_text(plan: Plan) -> str:
    """The exact problem file of a stored plan (its SHA-256 is ``plan.problem_sha``)."""
    return problem_to_json(problem_from_json(json.dumps(plan.problem_json)))


def km_per_served(metrics: dict[str, Any] | None) -> float | None:
    """Kilometres per served request, or None when nothing is served."""
    if not metrics or not metrics.get("served"):
        return None
    value = float(metrics["km"]) / int(metrics["served"])
    return round(value, 1) if math.isfinite(value) else None


def served_by_priority(
    problem: solver.Problem, assignments: Sequence[RequestAssignment]
) -> dict[str, int]:
    """How many requests of each priority (as strings "1".."4") are served."""
    counts = {str(p): 0 for p in range(1, 5)}
    for assignment in assignments:
        request = problem.request_by_id.get(assignment.id)
        if assignment.served and request is not None:
            counts[str(request.priority)] += 1
    return counts
