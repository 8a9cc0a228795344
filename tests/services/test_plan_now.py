"""``planning.plan_now``: a plan built and stored in the caller's thread, as of a moment."""

# The shared fixtures imported below are parameters of the tests.
# ruff: noqa: F811

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from booking.errors import Forbidden
from booking.models import PlanStatus, RequestStatus, SolverJob
from booking.services import planning
from tests.conftest import DEFAULT_START
from tests.services.test_planning import ask, fleet  # noqa: F401


def test_plan_now_stores_a_proposal_as_of_the_moment_given(app, db_session, manager, ask):
    early = ask(title="Brocante")
    later = ask(day=10, title="Forum")
    with app.app_context():
        # Between the two requests: the first has started, only the second is placed.
        plan = planning.plan_now(db_session, by=manager, now=DEFAULT_START + timedelta(days=1))
    assert plan.status is PlanStatus.PROPOSED
    outcome = {a.request_id: a.is_served for a in plan.assignments}
    assert outcome == {early.id: False, later.id: True}
    db_session.refresh(later)
    assert later.status is RequestStatus.PLANNED
    # No background job is involved.
    assert db_session.scalars(select(SolverJob)).all() == []
    with app.app_context():
        approved = planning.approve_plan(
            db_session, plan.id, by=manager, now=DEFAULT_START + timedelta(days=1)
        )
    assert approved.status is PlanStatus.APPROVED and later.status is RequestStatus.APPROVED


def test_plan_now_is_for_staff(app, db_session, technician, ask):
    ask()
    with app.app_context(), pytest.raises(Forbidden):
        planning.plan_now(db_session, by=technician)
