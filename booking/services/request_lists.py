"""Reading loan requests: lists with filters and paging, a request's outcome in the
approved plan, and the sites and communes a requester may choose."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, selectinload

from booking.errors import NotFound
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
    RequestLine,
    RequestStatus,
    Site,
    SiteKind,
    Unit,
    User,
)
from booking.services.access import STAFF_ROLES, can_access_commune, commune_filter, require_role
from booking.services.paging import Pager, make_pager
from booking.services.request_rules import REQUESTER_ROLES

REQUESTS_PER_PAGE = 100


@dataclass(frozen=True)
class RequestFilters:
    """What a list of requests is narrowed to (None: no filter)."""

    commune_id: int | None = None
    status: RequestStatus | Iterable[RequestStatus] | None = None
    date_from: datetime | None = None  # loans still running at or after this time
    date_to: datetime | None = None  # loans starting before this time


def _requests_query(by: User, filters: RequestFilters) -> Select[LoanRequest]:
    """The requests ``by`` may see that match ``filters``, unordered."""
    query = select(LoanRequest).where(commune_filter(by, LoanRequest.commune_id))
    if filters.commune_id is not None:
        query = query.where(LoanRequest.commune_id == filters.commune_id)
    if isinstance(filters.status, RequestStatus):
        query = query.where(LoanRequest.status == filters.status)
    elif filters.status is not None:
        query = query.where(LoanRequest.status.in_(list(filters.status)))
    if filters.date_from is not None:
        query = query.where(LoanRequest.requested_end_dt > filters.date_from)
    if filters.date_to is not None:
        query = query.where(LoanRequest.requested_start_dt < filters.date_to)
    return query


def _listed(query: Select[LoanRequest]) -> Select[LoanRequest]:
    """``query`` soonest first, with what a list shows loaded alongside."""
    return query.options(
        selectinload(LoanRequest.lines).selectinload(RequestLine.type),
        selectinload(LoanRequest.site),
        selectinload(LoanRequest.commune),
    ).order_by(LoanRequest.requested_start_dt, LoanRequest.id)


def list_requests(
    session: Session,
    *,
    by: User,
    commune_id: int | None = None,
    status: RequestStatus | Iterable[RequestStatus] | None = None,
    date_from: datetime | None = None,
    date_to: datetime | None = None,
) -> list[LoanRequest]:
    """The requests ``by`` may see, soonest first.

    Args:
        session: the database session.
        by: who asks; a technician sees only their commune's requests.
        commune_id: only this commune's (staff); ignored beyond what ``by`` may see.
        status: one state or several.
        date_from: only loans still running at or after this time.
        date_to: only loans starting before this time.

    Raises:
        Forbidden: if ``by`` is not signed in or disabled.
    """
    require_role(by)
    filters = RequestFilters(commune_id, status, date_from, date_to)
    return list(session.scalars(_listed(_requests_query(by, filters))))


def page_of_requests(
    session: Session,
    *,
    by: User,
    filters: RequestFilters,
    page: int | None = None,
    per_page: int | None = None,
) -> tuple[list[LoanRequest], Pager]:
    """One page of the requests ``by`` may see, soonest first, and where it stands.

    A page number beyond the last gives the last page; ``per_page`` defaults to
    ``REQUESTS_PER_PAGE``.

    Raises:
        Forbidden: if ``by`` is not signed in or disabled.
    """
    require_role(by)
    query = _requests_query(by, filters)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    pager = make_pager(page, per_page or REQUESTS_PER_PAGE, total)
    loans = session.scalars(_listed(query).offset(pager.offset).limit(pager.per_page))
    return list(loans), pager


# --- what the plans say ------------------------------------------------------------------


@dataclass(frozen=True)
class RequestOutcome:
    """What a plan decided for a request.

    ``is_proposed`` is True when the plan is only proposed (shown to staff only).
    """

    plan: Plan
    assignment: Assignment
    is_proposed: bool

    @property
    def units(self) -> list[AssignmentUnit]:
        return list(self.assignment.units)

    @property
    def draws(self) -> list[AssignmentDraw]:
        return list(self.assignment.draws)

    @property
    def reason_text(self) -> str | None:
        """The solver's reason as a sentence (reasons are strings or ``{"text": ...}``)."""
        reason = self.assignment.reason
        if reason is None or reason == "":
            return None
        if isinstance(reason, dict):
            return str(reason.get("text") or reason.get("message") or reason)
        return str(reason)


def request_outcome(session: Session, loan: LoanRequest, *, by: User) -> RequestOutcome | None:
    """The assignment of ``loan`` in the latest approved plan, else (staff only) proposed.

    Args:
        session: the database session.
        loan: a request ``by`` may see (from :func:`get_request`).
        by: who asks.

    Returns:
        The outcome, or ``None`` when no plan mentions the request yet.
    """
    statuses = [PlanStatus.APPROVED]
    if by.role in STAFF_ROLES:
        statuses.append(PlanStatus.PROPOSED)
    for plan_status in statuses:
        row = session.execute(
            select(Assignment, Plan)
            .join(Plan, Assignment.plan_id == Plan.id)
            .where(Assignment.request_id == loan.id, Plan.status == plan_status)
            .options(
                selectinload(Assignment.units).selectinload(AssignmentUnit.unit),
                selectinload(Assignment.units)
                .selectinload(AssignmentUnit.unit)
                .selectinload(Unit.home_depot),
                selectinload(Assignment.draws)
                .selectinload(AssignmentDraw.pool)
                .selectinload(Pool.depot),
            )
            .order_by(Plan.id.desc())
            .limit(1)
        ).first()
        if row is not None:
            assignment, plan = row
            return RequestOutcome(
                plan=plan, assignment=assignment, is_proposed=plan_status is PlanStatus.PROPOSED
            )
    return None


def requester_sites(session: Session, *, by: User, commune_id: int) -> list[Site]:
    """The active sites of ``commune_id`` a request can name, the town hall first.

    Raises:
        NotFound: if ``by`` may not act for the commune.
    """
    require_role(by)
    if not can_access_commune(by, commune_id):
        raise NotFound(_("Commune %(id)s does not exist.", id=commune_id))
    sites = list(
        session.scalars(
            select(Site)
            .where(
                Site.commune_id == commune_id,
                Site.is_active.is_(True),
                Site.kind == SiteKind.DELIVERY,
            )
            .order_by(Site.id)
        )
    )
    # The demo and the import name the town hall "Hôtel de ville" (or "Mairie").
    sites.sort(key=lambda s: (not _is_town_hall(s), s.name))
    return sites


def _is_town_hall(site: Site) -> bool:
    name = site.name.casefold()
    return "hôtel de ville" in name or "hotel de ville" in name or "mairie" in name


@dataclass(frozen=True)
class RequesterChoices:
    """What the request form offers ``by``: communes, their sites (town hall first), types."""

    communes: list[Commune]
    sites: list[Site]
    types: list[EquipmentType]


def requester_choices(session: Session, *, by: User) -> RequesterChoices:
    """The communes ``by`` may ask for, their active delivery sites, and every type.

    Raises:
        Forbidden: if ``by`` may not submit requests.
    """
    require_role(by, *REQUESTER_ROLES)
    communes = list(
        session.scalars(
            select(Commune).where(commune_filter(by, Commune.id)).order_by(Commune.name)
        )
    )
    order = {c.id: i for i, c in enumerate(communes)}
    sites = list(
        session.scalars(
            select(Site).where(
                Site.commune_id.in_(list(order)),
                Site.is_active.is_(True),
                Site.kind == SiteKind.DELIVERY,
            )
        )
    )
    sites.sort(key=lambda s: (order[s.commune_id or 0], not _is_town_hall(s), s.name, s.id))
    types = list(session.scalars(select(EquipmentType).order_by(EquipmentType.name)))
    return RequesterChoices(communes=communes, sites=sites, types=types)
