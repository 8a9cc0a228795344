"""Activity reports: per commune or for the whole agglomeration, over a year or a period.

What counts (all dates are Paris calendar days, the period's first and last included):

- requests *made* are those whose requested start falls in the period; of them, *served*
  were approved (and perhaps handed over and returned), *refused* were declined, the
  others are cancelled or still pending;
- refusals are grouped by the optimiser's reason of the last approved plan that left
  them unserved, or as the manager's own decision;
- *days of use* count, for each served loan overlapping the period, each calendar day of
  the period it touches, times the items lent (units, or items drawn from a pool);
- *occupancy* is those days over the days the whole fleet of the type could be lent:
  units not retired, less their maintenance days, plus pooled stock, over the period;
- *km* are each loan's share of the itineraries of the plan that serves it
  (``planning.loan_km``);
- the comparison with first come, first served reads the ``metrics`` and
  ``baseline_metrics`` that each plan approved in the period stored: the fleet's totals,
  or for a commune its own served requests and km (``by_commune``; plans stored before
  those figures were kept are left out of a commune's comparison).
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from booking.errors import NotFound, ValidationError
from booking.models import (
    Assignment,
    AssignmentDraw,
    AssignmentUnit,
    Commune,
    EquipmentType,
    LoanRequest,
    Plan,
    PlanStatus,
    Pool,
    RequestStatus,
    Role,
    Unavailability,
    Unit,
    UnitStatus,
    User,
)
from booking.services.access import STAFF_ROLES, require_role
from booking.services.audit import BOM, CSV_DELIMITER, safe_cell
from booking.services.planning import loan_km
from booking.services.request_rules import is_valid_id
from booking.timeutil import from_local, to_local

MIN_YEAR = 2000
MAX_YEAR = 2100
# The longest period a report covers, in days (five years and a leap day).
MAX_PERIOD_DAYS = 5 * 366
SERVED = (RequestStatus.APPROVED, RequestStatus.HANDED_OVER, RequestStatus.RETURNED)
PENDING = (RequestStatus.SUBMITTED, RequestStatus.PLANNED, RequestStatus.WAITING)
MANUAL = "MANUAL"
REPORT_ROLES = (Role.TECHNICIAN, *STAFF_ROLES)


# --- the period --------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """Paris calendar days from ``start`` to ``end``, both included."""

    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def start_dt(self) -> datetime:
        """The period's first instant (midnight in Paris), aware UTC."""
        return from_local(datetime.combine(self.start, time()))

    @property
    def end_dt(self) -> datetime:
        """The instant after the period (midnight after its last day in Paris), aware UTC."""
        return from_local(datetime.combine(self.end + timedelta(days=1), time()))

    @property
    def is_year(self) -> bool:
        return self.start == date(self.start.year, 1, 1) and self.end == date(
            self.start.year, 12, 31
        )


def choose_period(year: int | None, start: date | None, end: date | None, *, today: date) -> Period:
    """The period of a report: from ``start`` to ``end`` when either is given, else ``year``
    (default: the year of ``today``).

    Raises:
        ValidationError: naming the field, for a missing bound, an end before the start, a
            year out of 2000–2100, or a period longer than five years.
    """
    if start is not None or end is not None:
        if start is None or end is None:
            missing = "start" if start is None else "end"
            raise ValidationError(_("Give both the first and the last day."), field=missing)
        for name, day in (("start", start), ("end", end)):
            if not MIN_YEAR <= day.year <= MAX_YEAR:
                raise ValidationError(
                    _("Choose days between %(min)d and %(max)d.", min=MIN_YEAR, max=MAX_YEAR),
                    field=name,
                )
        if end < start:
            raise ValidationError(_("The last day cannot be before the first."), field="end")
        period = Period(start, end)
        if period.days > MAX_PERIOD_DAYS:
            raise ValidationError(_("Choose a period of at most five years."), field="end")
        return period
    year = today.year if year is None else year
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise ValidationError(
            _("Choose a year between %(min)d and %(max)d.", min=MIN_YEAR, max=MAX_YEAR),
            field="year",
        )
    return Period(date(year, 1, 1), date(year, 12, 31))


# --- the report --------------------------------------------------------------------------


@dataclass(frozen=True)
class ReasonCount:
    """Refusals for one reason: ``key`` is the optimiser's reason kind, or ``MANUAL``."""

    key: str
    count: int


@dataclass(frozen=True)
class TypeUse:
    """One equipment type: the scope's days of use and the fleet's days available."""

    type: EquipmentType
    days_used: int
    days_available: int

    @property
    def occupancy(self) -> float | None:
        """Days used over days available (0 to 1 or more), None without capacity."""
        return self.days_used / self.days_available if self.days_available else None


@dataclass(frozen=True)
class PlanComparison:
    """A plan approved in the period against first come, first served on the same data."""

    plan_id: int
    approved_at: datetime
    served: int
    fcfs_served: int
    km: float
    fcfs_km: float


@dataclass(frozen=True)
class Report:
    """The figures of one scope (a commune, or None for the agglomeration) and period."""

    period: Period
    commune: Commune | None
    made: int
    served: int
    refused: int
    cancelled: int
    pending: int
    km: float
    refusals: list[ReasonCount] = field(default_factory=list)
    types: list[TypeUse] = field(default_factory=list)
    plans: list[PlanComparison] = field(default_factory=list)

    @property
    def has_data(self) -> bool:
        """Whether anything happened: a request, a day of use or an approved plan."""
        return bool(self.made or any(t.days_used for t in self.types) or self.plans)

    @property
    def served_gain(self) -> int:
        """Requests served beyond first come, first served, over the plans approved."""
        return sum(p.served - p.fcfs_served for p in self.plans)

    @property
    def km_saved(self) -> float:
        """km first come, first served would have driven beyond the plans approved."""
        return sum(p.fcfs_km - p.km for p in self.plans)


def report_communes(session: Session, *, by: User) -> list[Commune]:
    """The communes whose report ``by`` may read: all for staff, their own otherwise.

    Raises:
        Forbidden: if ``by`` is not signed in or holds no role that reads reports.
    """
    require_role(by, *REPORT_ROLES)
    query = select(Commune).order_by(Commune.name)
    if by.role not in STAFF_ROLES:
        query = query.where(Commune.id == by.commune_id)
    return list(session.scalars(query))


def _scope(session: Session, commune_id: int | None, by: User) -> Commune | None:
    """The commune of the report (None: the agglomeration), if ``by`` may read it."""
    if by.role not in STAFF_ROLES:
        commune_id = commune_id or by.commune_id
        if by.commune_id is None or commune_id != by.commune_id:
            raise NotFound(_("There is no report for this commune."))
    if not commune_id:
        return None
    commune = session.get(Commune, commune_id) if is_valid_id(commune_id) else None
    if commune is None:
        raise NotFound(_("There is no report for this commune."))
    return commune


def _days(start: datetime, end: datetime, period: Period) -> int:
    """Paris calendar days of ``period`` that ``[start, end)`` touches."""
    first = max(to_local(start).date(), period.start)
    last = min(to_local(end - timedelta(microseconds=1)).date(), period.end)
    return max(0, (last - first).days + 1)


def _served_assignments(session: Session, request_ids: list[int]) -> dict[int, Assignment]:
    """For each request, its served assignment in the latest plan that was approved."""
    if not request_ids:
        return {}
    rows = session.scalars(
        select(Assignment)
        .join(Plan, Assignment.plan_id == Plan.id)
        .where(
            Assignment.request_id.in_(request_ids),
            Assignment.is_served.is_(True),
            Plan.approved_at.is_not(None),
            Plan.status.in_((PlanStatus.APPROVED, PlanStatus.SUPERSEDED)),
        )
        .options(
            selectinload(Assignment.plan),
            selectinload(Assignment.units).selectinload(AssignmentUnit.unit),
            selectinload(Assignment.draws).selectinload(AssignmentDraw.pool),
        )
        .order_by(Plan.approved_at, Plan.id)
    )
    return {a.request_id: a for a in rows}


def _refusal_key(session: Session, loan: LoanRequest) -> str:
    """The reason kind of the last approved plan leaving ``loan`` unserved, or MANUAL."""
    reason = session.scalars(
        select(Assignment.reason)
        .join(Plan, Assignment.plan_id == Plan.id)
        .where(
            Assignment.request_id == loan.id,
            Assignment.is_served.is_(False),
            Plan.approved_at.is_not(None),
        )
        .order_by(Plan.approved_at.desc(), Plan.id.desc())
        .limit(1)
    ).first()
    if isinstance(reason, dict) and isinstance(reason.get("kind"), str):
        return str(reason["kind"])
    return MANUAL


def _items(loan: LoanRequest, assignment: Assignment | None) -> list[tuple[int, int]]:
    """(type id, number of items) lent to ``loan``: the plan's units and draws if any."""
    if assignment is not None and (assignment.units or assignment.draws):
        items = [(u.unit.type_id, 1) for u in assignment.units]
        return items + [(d.pool.type_id, d.quantity) for d in assignment.draws]
    return [(line.type_id, line.quantity) for line in loan.lines]


def _capacity(session: Session, period: Period) -> Counter[int]:
    """Days each type could be lent over ``period``, across the whole fleet."""
    capacity: Counter[int] = Counter()
    units = list(session.scalars(select(Unit).where(Unit.status != UnitStatus.RETIRED)))
    down: Counter[int] = Counter()
    for window in session.scalars(
        select(Unavailability).where(
            Unavailability.start_dt < period.end_dt, Unavailability.end_dt > period.start_dt
        )
    ):
        down[window.unit_id] += _days(window.start_dt, window.end_dt, period)
    for unit in units:
        capacity[unit.type_id] += max(0, period.days - down[unit.id])
    for pool in session.scalars(select(Pool)):
        capacity[pool.type_id] += pool.quantity * period.days
    return capacity


def _figures(metrics: dict[str, Any], commune: Commune | None) -> dict[str, Any] | None:
    """The served count and km of ``metrics``: the fleet's, or the commune's (None when
    the plan stored no figures per commune)."""
    if commune is None:
        return metrics
    by_commune = metrics.get("by_commune")
    if not isinstance(by_commune, dict):
        return None
    return by_commune.get(commune.slug) or {"served": 0, "km": 0.0}


def _plans(session: Session, period: Period, commune: Commune | None) -> list[PlanComparison]:
    found = []
    for plan in session.scalars(
        select(Plan)
        .where(Plan.approved_at >= period.start_dt, Plan.approved_at < period.end_dt)
        .order_by(Plan.approved_at, Plan.id)
    ):
        if plan.approved_at is None or not plan.metrics or not plan.baseline_metrics:
            continue
        ours = _figures(plan.metrics, commune)
        fcfs = _figures(plan.baseline_metrics, commune)
        if ours is None or fcfs is None:
            continue
        found.append(
            PlanComparison(
                plan.id,
                plan.approved_at,
                int(ours.get("served") or 0),
                int(fcfs.get("served") or 0),
                float(ours.get("km") or 0.0),
                float(fcfs.get("km") or 0.0),
            )
        )
    return found


def build_report(
    session: Session, period: Period, commune_id: int | None = None, *, by: User
) -> Report:
    """The figures of commune ``commune_id`` (None or 0: the agglomeration) over ``period``.

    Raises:
        Forbidden: if ``by`` is not signed in or holds no role that reads reports.
        NotFound: if there is no such commune, or ``by`` is a technician and it is not
            theirs (a technician's report is always their commune's).
    """
    require_role(by, *REPORT_ROLES)
    commune = _scope(session, commune_id, by)
    in_scope: Any = True if commune is None else LoanRequest.commune_id == commune.id
    made = list(
        session.scalars(
            select(LoanRequest).where(
                in_scope,
                LoanRequest.requested_start_dt >= period.start_dt,
                LoanRequest.requested_start_dt < period.end_dt,
            )
        )
    )
    statuses = Counter(loan.status for loan in made)
    refusals = Counter(
        _refusal_key(session, loan) for loan in made if loan.status is RequestStatus.DECLINED
    )
    # Served loans overlapping the period, by their requested window first (an assignment
    # may shift it by a little; its own window decides the days below).
    margin = timedelta(days=31)
    lent = list(
        session.scalars(
            select(LoanRequest)
            .where(
                in_scope,
                LoanRequest.status.in_(SERVED),
                LoanRequest.requested_start_dt < period.end_dt + margin,
                or_(
                    LoanRequest.requested_end_dt > period.start_dt - margin,
                    LoanRequest.latest_end_dt > period.start_dt - margin,
                ),
            )
            .options(selectinload(LoanRequest.lines))
        )
    )
    assignments = _served_assignments(session, [loan.id for loan in lent])
    used: Counter[int] = Counter()
    by_plan: dict[int, tuple[Plan, list[int]]] = {}
    for loan in lent:
        assignment = assignments.get(loan.id)
        start, end = loan.requested_start_dt, loan.requested_end_dt
        if assignment is not None and assignment.start_dt and assignment.end_dt:
            start, end = assignment.start_dt, assignment.end_dt
        days = _days(start, end, period)
        for type_id, count in _items(loan, assignment):
            used[type_id] += days * count
        if assignment is not None and period.start_dt <= start < period.end_dt:
            by_plan.setdefault(assignment.plan_id, (assignment.plan, []))[1].append(loan.id)
    capacity = _capacity(session, period)
    types = [
        TypeUse(t, used[t.id], capacity[t.id])
        for t in session.scalars(select(EquipmentType).order_by(EquipmentType.name))
        if used[t.id] or capacity[t.id]
    ]
    km = sum(loan_km(by_plan.values()).values())
    return Report(
        period=period,
        commune=commune,
        made=len(made),
        served=sum(statuses[s] for s in SERVED),
        refused=statuses[RequestStatus.DECLINED],
        cancelled=statuses[RequestStatus.CANCELLED],
        pending=sum(statuses[s] for s in PENDING),
        km=round(km, 1),
        refusals=[ReasonCount(key, n) for key, n in sorted(refusals.items(), key=_by_count)],
        types=types,
        plans=_plans(session, period, commune),
    )


def _by_count(item: tuple[str, int]) -> tuple[int, str]:
    return (-item[1], item[0])


# --- CSV ---------------------------------------------------------------------------------


def report_csv(report: Report, reason_label: dict[str, str]) -> str:
    """The report's figures as CSV: UTF-8 with a BOM, ``;``, one ``section;item;value``
    row per figure (and the days available for occupancy); cells a spreadsheet would run
    as formulas are quoted.

    Args:
        report: the report.
        reason_label: the words of each refusal reason key, in the reader's language.
    """
    buffer = io.StringIO()
    buffer.write(BOM)
    writer = csv.writer(buffer, delimiter=CSV_DELIMITER, lineterminator="\r\n")

    def row(*cells: object) -> None:
        writer.writerow([safe_cell(str(cell)) for cell in cells])

    scope = report.commune.name if report.commune else _("Whole agglomeration")
    row(_("Section"), _("Item"), _("Value"), _("Reference"))
    row(_("Scope"), scope, "", "")
    row(_("Period"), report.period.start.isoformat(), report.period.end.isoformat(), "")
    for label, value in (
        (_("Requests made"), report.made),
        (_("Served"), report.served),
        (_("Refused"), report.refused),
        (_("Cancelled"), report.cancelled),
        (_("Pending"), report.pending),
    ):
        row(_("Requests"), label, value, "")
    for reason in report.refusals:
        row(_("Refusal reasons"), reason_label.get(reason.key, reason.key), reason.count, "")
    for use in report.types:
        row(_("Days of use"), use.type.name, use.days_used, use.days_available)
    row(_("Transport"), _("km driven"), f"{report.km:.1f}", "")
    for plan in report.plans:
        item = _("Plan %(id)d of %(day)s", id=plan.plan_id, day=to_local(plan.approved_at).date())
        row(
            _("Requests served against first come, first served"),
            item,
            plan.served,
            plan.fcfs_served,
        )
        row(_("km against first come, first served"), item, f"{plan.km:.1f}", f"{plan.fcfs_km:.1f}")
    return buffer.getvalue()
