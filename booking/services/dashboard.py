"""What each role's home page shows."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from booking.models import (
    OPEN_STATUSES,
    Commune,
    EquipmentType,
    LoanRequest,
    Plan,
    PlanStatus,
    Pool,
    RequestStatus,
    Role,
    Site,
    Unit,
    User,
)
from booking.services.access import (
    STAFF_ROLES,
    require_commune_access,
    require_role,
    require_staff,
)
from booking.services.handover_lists import (
    UPCOMING_DAYS,
    ScheduledHandover,
    UnitOutOfService,
    list_overdue,
    units_in_maintenance,
    upcoming_handovers,
)


@dataclass(frozen=True)
class HandoverBoard:
    """Hand-overs of the next ``days`` days, late returns and (staff only) units out of
    service."""

    upcoming: list[ScheduledHandover] = field(default_factory=list)
    overdue: list[ScheduledHandover] = field(default_factory=list)
    maintenance: list[UnitOutOfService] = field(default_factory=list)
    days: int = UPCOMING_DAYS
    shows_maintenance: bool = False


def handover_board(session: Session, *, by: User, now: datetime | None = None) -> HandoverBoard:
    """``by``'s hand-overs to come and late returns (their commune's, for a
    technician), at the approved plan's dates; units out of service for staff.

    Raises:
        Forbidden: if ``by`` may not hand equipment over.
    """
    staff = by.role in STAFF_ROLES
    return HandoverBoard(
        upcoming=upcoming_handovers(session, by=by, now=now),
        overdue=list_overdue(session, by=by, now=now),
        maintenance=units_in_maintenance(session, by=by, now=now) if staff else [],
        shows_maintenance=staff,
    )


# Requests awaiting an answer named on a technician's home page; the rest are counted.
AWAITING_SHOWN = 5


@dataclass(frozen=True)
class CommuneSummary:
    """A technician's commune: its sites, its requests counted by status and the next
    ones still awaiting an answer (``awaiting_total`` in all)."""

    commune: Commune
    sites: list[Site]
    requests_by_status: dict[RequestStatus, int] = field(default_factory=dict)
    handovers: HandoverBoard = field(default_factory=HandoverBoard)
    awaiting: list[LoanRequest] = field(default_factory=list)
    awaiting_total: int = 0


@dataclass(frozen=True)
class FleetCounts:
    """Headline numbers for the fleet manager."""

    communes: int
    sites: int
    types: int
    units: int
    pools: int
    requests_by_status: dict[RequestStatus, int]
    proposed_plans: int
    approved_plan_id: int | None
    # Requests the optimiser has still to place (submitted, or in a proposed plan).
    waiting_requests: int = 0
    proposed_plan_ids: list[int] = field(default_factory=list)
    handovers: HandoverBoard = field(default_factory=HandoverBoard)


def _requests_by_status(session: Session, commune_id: int | None) -> dict[RequestStatus, int]:
    query = select(LoanRequest.status, func.count(LoanRequest.id)).group_by(LoanRequest.status)
    if commune_id is not None:
        query = query.where(LoanRequest.commune_id == commune_id)
    counts = dict.fromkeys(RequestStatus, 0)
    for status, count in session.execute(query):
        counts[status] = count
    return counts


def commune_summary(session: Session, *, by: User, now: datetime | None = None) -> CommuneSummary:
    """The home page of a technician: also the commune's hand-overs to come and late.

    Raises:
        Forbidden: unless ``by`` is a technician bound to a commune.
    """
    require_role(by, Role.TECHNICIAN)
    require_commune_access(by, by.commune_id)
    assert by.commune is not None
    sites = list(
        session.scalars(select(Site).where(Site.commune_id == by.commune_id).order_by(Site.name))
    )
    by_status = _requests_by_status(session, by.commune_id)
    return CommuneSummary(
        commune=by.commune,
        sites=sites,
        requests_by_status=by_status,
        handovers=handover_board(session, by=by, now=now),
        awaiting=list(
            session.scalars(
                select(LoanRequest)
                .where(
                    LoanRequest.commune_id == by.commune_id,
                    LoanRequest.status.in_(OPEN_STATUSES),
                )
                .order_by(LoanRequest.requested_start_dt, LoanRequest.id)
                .limit(AWAITING_SHOWN)
            )
        ),
        awaiting_total=sum(by_status[s] for s in OPEN_STATUSES),
    )


def fleet_counts(session: Session, *, by: User, now: datetime | None = None) -> FleetCounts:
    """The manager's dashboard: the fleet, what waits to be planned or approved, the
    hand-overs of the next days, late returns and units in maintenance.

    Raises:
        Forbidden: unless ``by`` is a manager or an admin.
    """
    require_staff(by)

    def count(model: type) -> int:
        return session.scalar(select(func.count()).select_from(model)) or 0

    approved = session.scalar(
        select(Plan.id).where(Plan.status == PlanStatus.APPROVED).order_by(Plan.id.desc())
    )
    proposed = list(
        session.scalars(
            select(Plan.id).where(Plan.status == PlanStatus.PROPOSED).order_by(Plan.id.desc())
        )
    )
    by_status = _requests_by_status(session, None)
    return FleetCounts(
        communes=count(Commune),
        sites=count(Site),
        types=count(EquipmentType),
        units=count(Unit),
        pools=count(Pool),
        requests_by_status=by_status,
        proposed_plans=len(proposed),
        approved_plan_id=approved,
        waiting_requests=sum(by_status[s] for s in OPEN_STATUSES),
        proposed_plan_ids=proposed,
        handovers=handover_board(session, by=by, now=now),
    )
