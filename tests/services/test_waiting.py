"""The waiting list: unserved requests wait; freed capacity brings a quick re-plan."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from booking.models import (
    AuditEvent,
    Commune,
    JobStatus,
    LoanRequest,
    Notification,
    Plan,
    PlanStatus,
    RequestStatus,
    SiteKind,
    SolverJob,
    UnitStatus,
    User,
)
from booking.services import inventory, planning, waiting
from booking.services import requests as request_service
from booking.services.inventory import UnitData
from tests.conftest import DEFAULT_START


@pytest.fixture(autouse=True)
def inline_app(app: Flask) -> Iterator[None]:
    """Jobs run inline, in an application context, as the re-plan runs in a request."""
    app.config["JOB_RUNNER"] = "inline"
    app.config["SOLVER_WORKERS"] = 1
    app.config["WAITING_REPLAN_SECONDS"] = 5
    app.extensions.pop("job_runner", None)
    with app.app_context():
        yield
    app.extensions.pop("job_runner", None)


@pytest.fixture
def fleet(
    make_site: Callable[..., Any],
    make_type: Callable[..., Any],
    make_unit: Callable[..., Any],
    commune: Commune,
    other_commune: Commune,
) -> SimpleNamespace:
    """One minibus at a depot; a site in each commune."""
    depot = make_site(kind=SiteKind.DEPOT, name="Centre technique")
    minibus = make_type(code="minibus", name="Minibus", turnaround_minutes=60)
    unit = make_unit(code="MB-1", type=minibus, home_depot=depot)
    return SimpleNamespace(
        depot=depot,
        minibus=minibus,
        unit=unit,
        site=make_site(commune=commune, name="Salle des fêtes"),
        other_site=make_site(commune=other_commune, name="Gymnase"),
    )


def _ask(
    make_request: Callable[..., LoanRequest], fleet: SimpleNamespace, *, other: bool, **params: Any
) -> LoanRequest:
    site = fleet.other_site if other else fleet.site
    return make_request(commune_id=site.commune_id, site=site, lines=[(fleet.minibus, 1)], **params)


def _propose(session: Session, manager: User) -> Plan:
    job = planning.propose_plan(session, by=manager, time_limit_seconds=5)
    assert job.status is JobStatus.SUCCEEDED, job.message
    plan = session.get(Plan, job.plan_id)
    assert plan is not None
    return plan


def _notes(session: Session, user: User) -> list[Notification]:
    return list(
        session.scalars(
            select(Notification).where(Notification.user_id == user.id).order_by(Notification.id)
        )
    )


@pytest.fixture
def season(
    db_session: Session,
    fleet: SimpleNamespace,
    make_request: Callable[..., LoanRequest],
    manager: User,
    technician: User,
    other_technician: User,
) -> SimpleNamespace:
    """An approved plan: Melun's two loans served, Dammarie's request on the waiting list."""
    melun = _ask(make_request, fleet, other=False, priority=4, title="Élections")
    later = _ask(
        make_request,
        fleet,
        other=False,
        priority=2,
        title="Brocante",
        start=DEFAULT_START + timedelta(days=10),
    )
    dammarie = _ask(make_request, fleet, other=True, priority=1, title="Kermesse")
    plan = _propose(db_session, manager)
    planning.approve_plan(db_session, plan.id, by=manager)
    return SimpleNamespace(melun=melun, later=later, dammarie=dammarie, plan=plan)


def test_an_unserved_request_waits_and_its_commune_is_told(
    db_session: Session, season: SimpleNamespace, other_technician: User
):
    db_session.refresh(season.dammarie)
    assert season.dammarie.status is RequestStatus.WAITING
    assert season.dammarie.decline_reason
    assert [n.kind for n in _notes(db_session, other_technician)] == ["request.waiting"]


def test_cancel_proposal_approval_and_the_waiting_commune_is_told(
    db_session: Session,
    season: SimpleNamespace,
    manager: User,
    technician: User,
    other_technician: User,
):
    approved_before = {
        a.request_id: (a.start_dt, a.end_dt, sorted(u.unit_id for u in a.units))
        for a in season.plan.assignments
        if a.is_served
    }

    request_service.cancel_request(db_session, season.melun.id, by=technician)

    job = db_session.scalars(select(SolverJob).order_by(SolverJob.id.desc())).first()
    assert job is not None and job.status is JobStatus.SUCCEEDED, job and job.message
    assert job.time_limit_seconds == 5
    proposal = db_session.get(Plan, job.plan_id)
    assert proposal is not None and proposal.status is PlanStatus.PROPOSED
    assert [r.id for r in waiting.waiting_served(db_session, proposal)] == [season.dammarie.id]
    told = [n for n in _notes(db_session, manager) if n.kind == "plan.waiting_list"]
    assert len(told) == 1
    assert told[0].text.startswith(f"Approved request {season.melun.id} was cancelled. ")
    assert "1 requests on the waiting list" in told[0].text
    event = db_session.scalars(
        select(AuditEvent).where(AuditEvent.action == "plan.propose_for_waiting_list")
    ).one()
    assert event.actor_id == technician.id and event.after["waiting"] == [season.dammarie.id]

    planning.approve_plan(db_session, proposal.id, by=manager)

    db_session.refresh(season.dammarie)
    assert season.dammarie.status is RequestStatus.APPROVED
    # The other approved loan is kept exactly as it was.
    db_session.refresh(proposal)
    later = next(a for a in proposal.assignments if a.request_id == season.later.id)
    assert (later.start_dt, later.end_dt, sorted(u.unit_id for u in later.units)) == (
        approved_before[season.later.id]
    )
    kinds = [n.kind for n in _notes(db_session, other_technician)]
    assert kinds == ["request.waiting", "request.approved"]
    assert _notes(db_session, other_technician)[-1].text.startswith("Approved: Kermesse from ")


def test_no_waiting_request_means_no_replan(
    db_session: Session,
    fleet: SimpleNamespace,
    make_request: Callable[..., LoanRequest],
    manager: User,
    technician: User,
):
    loan = _ask(make_request, fleet, other=False, title="Seule")
    planning.approve_plan(db_session, _propose(db_session, manager).id, by=manager)
    jobs_before = db_session.scalars(select(SolverJob.id)).all()
    request_service.cancel_request(db_session, loan.id, by=technician)
    assert db_session.scalars(select(SolverJob.id)).all() == jobs_before


def test_a_waiting_request_whose_dates_passed_offers_nothing(
    db_session: Session, season: SimpleNamespace
):
    assert waiting.waiting_ids(db_session, now=DEFAULT_START) == [season.dammarie.id]
    assert waiting.waiting_ids(db_session, now=DEFAULT_START + timedelta(days=30)) == []


def test_a_unit_back_from_maintenance_offers_it_to_the_waiting_list(
    db_session: Session,
    fleet: SimpleNamespace,
    season: SimpleNamespace,
    manager: User,
    make_unit: Callable[..., Any],
):
    spare = make_unit(
        code="MB-2", type=fleet.minibus, home_depot=fleet.depot, status=UnitStatus.MAINTENANCE
    )
    data = UnitData(
        code="MB-2",
        name="Minibus 2",
        type_id=fleet.minibus.id,
        home_depot_id=fleet.depot.id,
        status=UnitStatus.AVAILABLE,
    )
    inventory.update_unit(db_session, spare.id, data, by=manager)
    job = db_session.scalars(select(SolverJob).order_by(SolverJob.id.desc())).first()
    assert job is not None and job.plan_id is not None
    proposal = db_session.get(Plan, job.plan_id)
    assert proposal is not None
    assert [r.id for r in waiting.waiting_served(db_session, proposal)] == [season.dammarie.id]


def test_a_waiting_request_can_be_withdrawn(
    db_session: Session, season: SimpleNamespace, other_technician: User
):
    request_service.cancel_request(db_session, season.dammarie.id, by=other_technician)
    db_session.refresh(season.dammarie)
    assert season.dammarie.status is RequestStatus.CANCELLED
