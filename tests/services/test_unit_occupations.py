"""The approved loans' unit occupations, and PostgreSQL's guarantee against double lending.

On PostgreSQL an exclusion constraint (btree_gist) refuses two occupations of one unit
whose times overlap, turnaround included; SQLite keeps the application's own checks.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from booking.errors import Conflict
from booking.models import (
    Assignment,
    LoanRequest,
    Plan,
    PlanStatus,
    RequestStatus,
    UnitOccupation,
    User,
)
from booking.models.plans import OCCUPATION_EXCLUSION
from booking.services.requests import cancel_request
from tests.services.test_planning_concurrency import _add_request, _approve, _propose


def _occupations(world) -> list[UnitOccupation]:
    with world.database.session() as session:
        return list(session.scalars(select(UnitOccupation).order_by(UnitOccupation.id)))


def _is_postgresql(world) -> bool:
    return world.database.engine.dialect.name == "postgresql"


def test_approval_records_each_unit_until_the_end_plus_turnaround(world):
    first = _add_request(world, "Fête")
    second = _add_request(world, "Marché", day=5)
    assert _approve(world, _propose(world))() == "approved"

    found = _occupations(world)
    with world.database.session() as session:
        served = {
            a.request_id: a
            for a in session.scalars(
                select(Assignment)
                .join(Plan)
                .where(Plan.status == PlanStatus.APPROVED, Assignment.is_served)
            )
        }
    assert sorted(o.request_id for o in found) == sorted([first, second])
    for occupation in found:
        loan = served[occupation.request_id]
        assert occupation.start_dt == loan.start_dt
        # Minibuses need an hour between two loans.
        assert occupation.end_dt == loan.end_dt + timedelta(minutes=60)

    # A new approval replaces them: the locked loans again, under the new plan.
    third = _add_request(world, "Brocante", day=10)
    assert _approve(world, _propose(world))() == "approved"
    assert sorted(o.request_id for o in _occupations(world)) == sorted([first, second, third])


def test_a_cancelled_loan_frees_its_units(world):
    loan_id = _add_request(world, "Fête")
    assert _approve(world, _propose(world))() == "approved"
    with world.app.app_context(), world.database.session() as session:
        technician = session.get(User, world.ids.tech)
        cancel_request(session, loan_id, by=technician)
    assert _occupations(world) == []


def test_postgresql_refuses_a_unit_lent_twice(world):
    if not _is_postgresql(world):
        pytest.skip("the exclusion constraint exists on PostgreSQL only")
    loan_id = _add_request(world, "Fête")
    assert _approve(world, _propose(world))() == "approved"
    (held,) = _occupations(world)

    with world.database.session() as session:
        # Right after the turnaround: allowed ([start, end) ranges meet, not overlap).
        session.add(
            UnitOccupation(
                unit_id=held.unit_id,
                assignment_id=held.assignment_id,
                request_id=loan_id,
                start_dt=held.end_dt,
                end_dt=held.end_dt + timedelta(hours=3),
            )
        )
        session.commit()
        # Within the turnaround of the first loan: refused by the database itself.
        session.add(
            UnitOccupation(
                unit_id=held.unit_id,
                assignment_id=held.assignment_id,
                request_id=loan_id,
                start_dt=held.end_dt - timedelta(minutes=30),
                end_dt=held.end_dt + timedelta(hours=1),
            )
        )
        with pytest.raises(IntegrityError, match=OCCUPATION_EXCLUSION):
            session.commit()


def test_an_approval_that_would_lend_a_unit_twice_is_a_conflict(world):
    """A path that wrote occupations without the approval lock cannot be overridden."""
    if not _is_postgresql(world):
        pytest.skip("the exclusion constraint exists on PostgreSQL only")
    loan_id = _add_request(world, "Fête")
    plan_id = _propose(world)
    with world.database.session() as session:
        assignment = session.scalars(
            select(Assignment).where(Assignment.plan_id == plan_id, Assignment.is_served)
        ).one()
        # Both minibuses taken over the loan's dates by rows another path wrote.
        for unit_id in (u.id for u in _units(session)):
            session.add(
                UnitOccupation(
                    unit_id=unit_id,
                    assignment_id=assignment.id,
                    request_id=loan_id,
                    start_dt=assignment.start_dt - timedelta(days=1),
                    end_dt=assignment.end_dt + timedelta(days=1),
                )
            )
        session.commit()

    result = _approve(world, plan_id)
    with pytest.raises(Conflict, match="Someone changed the data at the same moment"):
        result()

    with world.database.session() as session:
        plan = session.get(Plan, plan_id)
        loan = session.get(LoanRequest, loan_id)
        assert plan is not None and plan.status is PlanStatus.PROPOSED
        assert loan is not None and loan.status is RequestStatus.PLANNED


def _units(session):
    from booking.models import Unit

    return session.scalars(select(Unit)).all()
