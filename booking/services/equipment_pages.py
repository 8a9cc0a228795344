"""The page a label's QR code opens: a unit or a pool, with its hand-overs in progress.

A unit's (or a pool's) loans are the served assignments of the approved plan that name
it, whose request is APPROVED (to check out) or HANDED_OVER (to check in). Staff see
every commune's; a technician sees only their commune's, and a unit with none of them is
reported as missing, as another commune's request is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session, selectinload

from booking.errors import NotFound
from booking.models import (
    Assignment,
    AssignmentDraw,
    AssignmentUnit,
    LoanRequest,
    Plan,
    PlanStatus,
    Pool,
    RequestStatus,
    Unit,
    User,
)
from booking.services.access import STAFF_ROLES, commune_filter, require_role
from booking.services.handovers import HANDOVER_ROLES
from booking.services.request_rules import is_valid_id

# Approved loans listed after the one in progress.
MAX_UPCOMING = 5
MAX_CODE = 60


@dataclass(frozen=True)
class EquipmentLoan:
    """A loan of the equipment: ``way`` is "out" (to check out) or "back" (to check in)."""

    request: LoanRequest
    start_dt: datetime
    end_dt: datetime

    @property
    def way(self) -> str:
        return "back" if self.request.status is RequestStatus.HANDED_OVER else "out"


@dataclass(frozen=True)
class EquipmentPage:
    """What the page shows: the unit or the pool, the loans out now, the next ones."""

    unit: Unit | None
    pool: Pool | None
    out: list[EquipmentLoan]
    upcoming: list[EquipmentLoan]

    @property
    def next_loan(self) -> EquipmentLoan | None:
        """The hand-over to do first: a return if something is out, else the next loan."""
        if self.out:
            return self.out[0]
        return self.upcoming[0] if self.upcoming else None


def _loans(session: Session, by: User, names_it: ColumnElement[bool]) -> list[EquipmentLoan]:
    """Approved and handed-over loans of the approved plan matching ``names_it``."""
    rows = session.execute(
        select(LoanRequest, Assignment.start_dt, Assignment.end_dt)
        .join(Assignment, Assignment.request_id == LoanRequest.id)
        .join(Plan, Assignment.plan_id == Plan.id)
        .where(
            Plan.status == PlanStatus.APPROVED,
            Assignment.is_served.is_(True),
            LoanRequest.status.in_((RequestStatus.APPROVED, RequestStatus.HANDED_OVER)),
            commune_filter(by, LoanRequest.commune_id),
            names_it,
        )
        .options(selectinload(LoanRequest.commune), selectinload(LoanRequest.site))
        .order_by(Assignment.start_dt, LoanRequest.id)
        .distinct()
    ).all()
    return [
        EquipmentLoan(loan, start or loan.requested_start_dt, end or loan.requested_end_dt)
        for loan, start, end in rows
    ]


def _page(
    by: User, unit: Unit | None, pool: Pool | None, loans: list[EquipmentLoan]
) -> EquipmentPage:
    out = [loan for loan in loans if loan.request.status is RequestStatus.HANDED_OVER]
    upcoming = [loan for loan in loans if loan.request.status is RequestStatus.APPROVED]
    if by.role not in STAFF_ROLES and not loans:
        raise NotFound(_("There is nothing of your commune to hand over with this equipment."))
    return EquipmentPage(unit, pool, out, upcoming[:MAX_UPCOMING])


def unit_page(session: Session, code: str, *, by: User) -> EquipmentPage:
    """The unit whose code is ``code`` and its loans that ``by`` may hand over.

    Raises:
        Forbidden: if ``by`` is not signed in or may not hand equipment over.
        NotFound: if there is no such unit, or ``by`` is a technician and none of its
            commune's loans uses it.
    """
    require_role(by, *HANDOVER_ROLES)
    unit = None
    if 0 < len(code) <= MAX_CODE:
        unit = session.scalars(
            select(Unit)
            .where(Unit.code == code)
            .options(selectinload(Unit.type), selectinload(Unit.home_depot))
        ).one_or_none()
    if unit is None:
        raise NotFound(_("There is no unit %(code)s.", code=code[:MAX_CODE]))
    uses = Assignment.units.any(AssignmentUnit.unit_id == unit.id)
    return _page(by, unit, None, _loans(session, by, uses))


def pool_page(session: Session, pool_id: int, *, by: User) -> EquipmentPage:
    """The pool ``pool_id`` and the loans drawing from it that ``by`` may hand over.

    Raises:
        Forbidden: if ``by`` is not signed in or may not hand equipment over.
        NotFound: if there is no such pool, or ``by`` is a technician and none of its
            commune's loans draws from it.
    """
    require_role(by, *HANDOVER_ROLES)
    pool = None
    if is_valid_id(pool_id):
        pool = session.scalars(
            select(Pool)
            .where(Pool.id == pool_id)
            .options(selectinload(Pool.type), selectinload(Pool.depot))
        ).one_or_none()
    if pool is None:
        raise NotFound(_("There is no such stock."))
    draws = Assignment.draws.any(AssignmentDraw.pool_id == pool.id)
    return _page(by, None, pool, _loans(session, by, draws))
