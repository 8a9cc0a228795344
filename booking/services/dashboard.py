"""What each role's home page shows."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from booking.models import (
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
from booking.services.access import require_commune_access, require_role, require_staff


@dataclass(frozen=True)
class CommuneSummary:
    """A technician's commune: its sites and its requests counted by status."""

    commune: Commune
    sites: list[Site]
    requests_by_status: dict[RequestStatus, int] = field(default_factory=dict)


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


def _requests_by_status(session: Session, commune_id: int | None) -> dict[RequestStatus, int]:
    query = select(LoanRequest.status, func.count(LoanRequest.id)).group_by(LoanRequest.status)
    if commune_id is not None:
        query = query.where(LoanRequest.commune_id == commune_id)
    counts = dict.fromkeys(RequestStatus, 0)
    for status, count in session.execute(query):
        counts[status] = count
    return counts


def commune_summary(session: Session, *, user: User) -> CommuneSummary:
    """The home page of a technician.

    Raises:
        Forbidden: unless ``user`` is a technician bound to a commune.
    """
    require_role(user, Role.TECHNICIAN)
    require_commune_access(user, user.commune_id)
    assert user.commune is not None
    sites = list(
        session.scalars(select(Site).where(Site.commune_id == user.commune_id).order_by(Site.name))
    )
    return CommuneSummary(
        commune=user.commune,
        sites=sites,
        requests_by_status=_requests_by_status(session, user.commune_id),
    )


def fleet_counts(session: Session, *, user: User) -> FleetCounts:
    """The numbers on the manager's dashboard.

    Raises:
        Forbidden: unless ``user`` is a manager or an admin.
    """
    require_staff(user)

    def count(model: type) -> int:
        return session.scalar(select(func.count()).select_from(model)) or 0

    approved = session.scalar(
        select(Plan.id).where(Plan.status == PlanStatus.APPROVED).order_by(Plan.id.desc())
    )
    proposed = session.scalar(select(func.count(Plan.id)).where(Plan.status == PlanStatus.PROPOSED))
    return FleetCounts(
        communes=count(Commune),
        sites=count(Site),
        types=count(EquipmentType),
        units=count(Unit),
        pools=count(Pool),
        requests_by_status=_requests_by_status(session, None),
        proposed_plans=proposed or 0,
        approved_plan_id=approved,
    )
