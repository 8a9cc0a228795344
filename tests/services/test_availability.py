"""Availability over a period on a hand-built inventory."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event
from sqlalchemy.orm import Session

from booking.db import get_db
from booking.errors import Forbidden, ValidationError
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
    Site,
    SiteKind,
    Unavailability,
    Unit,
    UnitStatus,
    User,
)
from booking.services.availability import TypeAvailability, availability
from tests.conftest import DEFAULT_START

START = DEFAULT_START
END = DEFAULT_START + timedelta(days=2)


class Fleet:
    """Named objects of the hand-built inventory."""

    def __init__(self, **items: Any) -> None:
        self.__dict__.update(items)


@pytest.fixture
def fleet(
    db_session: Session,
    make_type: Callable[..., EquipmentType],
    make_unit: Callable[..., Unit],
    make_site: Callable[..., Site],
    make_request: Callable[..., LoanRequest],
    commune: Commune,
    other_commune: Commune,
) -> Fleet:
    """Podiums (4 h turnaround) and chairs, with an approved plan around ``[START, END)``.

    Podiums: P1, P2, P3 available, P4 retired, P5 in maintenance; P3 has a window in the
    period. The approved plan holds P1 until 2 h before START (still turning around), P2
    until 5 h before (free again), P3 inside the period (but P3 is down anyway), and P2
    again for a request since cancelled. Chairs: 100 + 50 in two depots; approved draws
    of 60 and 30 overlap each other, 50 more come later in the period.
    """
    depot = make_site(kind=SiteKind.DEPOT)
    other_depot = make_site(kind=SiteKind.DEPOT)
    podium = make_type(code="podium", name="Podium", turnaround_minutes=240)
    chair = make_type(code="chair", name="Chair", is_pooled=True, turnaround_minutes=0)
    tent = make_type(code="tent", name="Tent")
    p1, p2, p3 = (make_unit(type=podium, home_depot=depot) for _ in range(3))
    make_unit(type=podium, home_depot=depot, status=UnitStatus.RETIRED)
    make_unit(type=podium, home_depot=depot, status=UnitStatus.MAINTENANCE)
    db_session.add(Unavailability(unit=p3, start_dt=END - timedelta(hours=3), end_dt=END))
    pool = Pool(type=chair, depot=depot, quantity=100)
    other_pool = Pool(type=chair, depot=other_depot, quantity=50)
    db_session.add_all([pool, other_pool])
    db_session.commit()

    plan = Plan(strategy="cpsat", problem_json={}, problem_sha="x", status=PlanStatus.APPROVED)
    db_session.add(plan)

    def approved(
        start: datetime,
        end: datetime,
        *,
        unit: Unit | None = None,
        draws: tuple[tuple[Pool, int], ...] = (),
        status: RequestStatus = RequestStatus.APPROVED,
        plan: Plan = plan,
    ) -> LoanRequest:
        line_type = podium if unit is not None else chair
        quantity = 1 if unit is not None else sum(q for _p, q in draws)
        loan = make_request(
            commune=other_commune, start=start, lines=[(line_type, quantity)], status=status
        )
        assignment = Assignment(request=loan, is_served=True, start_dt=start, end_dt=end)
        if unit is not None:
            assignment.units.append(AssignmentUnit(line=loan.lines[0], unit=unit))
        for drawn_pool, drawn in draws:
            assignment.draws.append(
                AssignmentDraw(line=loan.lines[0], pool=drawn_pool, quantity=drawn)
            )
        plan.assignments.append(assignment)
        db_session.commit()
        return loan

    approved(START - timedelta(days=1), START - timedelta(hours=2), unit=p1)
    approved(START - timedelta(days=1), START - timedelta(hours=5), unit=p2)
    approved(START + timedelta(hours=1), START + timedelta(hours=5), unit=p3)
    approved(START, END, unit=p2, status=RequestStatus.CANCELLED)
    approved(START, START + timedelta(hours=10), draws=((pool, 40), (other_pool, 20)))
    approved(START + timedelta(hours=5), START + timedelta(hours=20), draws=((pool, 30),))
    approved(START + timedelta(days=1), END, draws=((other_pool, 25), (pool, 25)))
    # A proposed plan is not the schedule yet.
    proposed = Plan(strategy="cpsat", problem_json={}, problem_sha="y", status=PlanStatus.PROPOSED)
    db_session.add(proposed)
    approved(START, END, unit=p2, plan=proposed)

    # Pending requests overlapping the period: two of the other commune, one of ours.
    make_request(commune=other_commune, lines=[(chair, 20)], start=START)
    make_request(
        commune=other_commune,
        lines=[(chair, 5), (podium, 1)],
        status=RequestStatus.PLANNED,
        start=END - timedelta(hours=1),
    )
    own = make_request(commune=commune, lines=[(chair, 10)], start=START - timedelta(days=1))
    # Not counted: declined, or outside the period.
    make_request(commune=other_commune, lines=[(chair, 99)], status=RequestStatus.DECLINED)
    make_request(commune=other_commune, lines=[(chair, 99)], start=END)
    return Fleet(podium=podium, chair=chair, tent=tent, own=own, p2=p2)


def _by_code(rows: list[TypeAvailability]) -> dict[str, TypeAvailability]:
    return {row.code: row for row in rows}


def test_numbers_on_a_hand_built_inventory(
    db_session: Session, technician: User, fleet: Fleet
) -> None:
    rows = _by_code(availability(db_session, by=technician, start_dt=START, end_dt=END))
    assert list(rows) == ["chair", "podium", "tent"]  # by name
    podium, chair, tent = rows["podium"], rows["chair"], rows["tent"]
    # 4 not retired, of which P3 (window) and P5 (maintenance) are down; P1 is still
    # turning around.
    assert (podium.stock, podium.out_of_service, podium.planned, podium.free) == (2, 2, 1, 1)
    assert (podium.requested_by_others, podium.requests_by_others) == (1, 1)
    assert podium.requested_by_commune == 0
    # 150 chairs; 60 and 30 overlap (peak 90), the later 50 does not add to it.
    assert (chair.stock, chair.out_of_service, chair.planned, chair.free) == (150, 0, 90, 60)
    assert (chair.requested_by_others, chair.requests_by_others) == (25, 2)
    assert chair.requested_by_commune == 10
    assert (tent.stock, tent.planned, tent.free, tent.requested_by_others) == (0, 0, 0, 0)


def test_a_period_after_the_turnaround_frees_the_unit(
    db_session: Session, technician: User, fleet: Fleet
) -> None:
    later = START + timedelta(hours=3)
    (podium,) = availability(
        db_session,
        by=technician,
        start_dt=later,
        end_dt=later + timedelta(hours=1),
        type_ids=[fleet.podium.id],
    )
    # P1 is back (ended START - 2 h, 4 h turnaround); P3's loan holds it but P3 is only
    # down from END - 3 h, so here it counts as planned.
    assert (podium.stock, podium.out_of_service, podium.planned, podium.free) == (3, 1, 1, 2)


def test_the_edited_request_is_left_out(
    db_session: Session, technician: User, fleet: Fleet
) -> None:
    (chair,) = availability(
        db_session,
        by=technician,
        start_dt=START,
        end_dt=END,
        type_ids=[fleet.chair.id],
        exclude_request_id=fleet.own.id,
    )
    assert chair.requested_by_commune == 0 and chair.requested_by_others == 25


def test_another_communes_request_cannot_be_left_out(
    db_session: Session, other_technician: User, fleet: Fleet
) -> None:
    """Otherwise the difference would tell its dates and quantities."""
    window = {"start_dt": START, "end_dt": END, "type_ids": [fleet.chair.id]}
    (plain,) = availability(db_session, by=other_technician, **window)
    (excluded,) = availability(
        db_session, by=other_technician, exclude_request_id=fleet.own.id, **window
    )
    assert excluded == plain
    assert plain.requested_by_others == 10


def test_staff_see_every_pending_request_as_others(
    db_session: Session, manager: User, fleet: Fleet, commune: Commune
) -> None:
    (chair,) = availability(
        db_session, by=manager, start_dt=START, end_dt=END, type_ids=[fleet.chair.id]
    )
    assert (chair.requested_by_others, chair.requests_by_others, chair.requested_by_commune) == (
        35,
        3,
        0,
    )
    (chair,) = availability(
        db_session,
        by=manager,
        start_dt=START,
        end_dt=END,
        type_ids=[fleet.chair.id],
        commune_id=commune.id,
    )
    assert (chair.requested_by_others, chair.requested_by_commune) == (25, 10)


def test_the_answer_carries_counts_only(
    db_session: Session, technician: User, fleet: Fleet
) -> None:
    row = availability(db_session, by=technician, start_dt=START, end_dt=END)[0].as_dict()
    assert set(row) == {
        "type_id",
        "code",
        "name",
        "is_pooled",
        "stock",
        "out_of_service",
        "planned",
        "free",
        "requested_by_others",
        "requests_by_others",
        "requested_by_commune",
    }
    assert all(isinstance(value, (int, str, bool)) for value in row.values())


def test_period_must_not_be_empty(db_session: Session, technician: User) -> None:
    with pytest.raises(ValidationError):
        availability(db_session, by=technician, start_dt=END, end_dt=START)


def test_disabled_accounts_are_refused(db_session: Session, technician: User) -> None:
    technician.is_active_account = False
    with pytest.raises(Forbidden):
        availability(db_session, by=technician, start_dt=START, end_dt=END)


def _count_queries(app: Flask, run: Callable[[], object]) -> int:
    engine = get_db(app).engine
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    event.listen(engine, "before_cursor_execute", count)
    try:
        run()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return len(statements)


def test_query_count_does_not_grow_with_the_number_of_requests(
    app: Flask,
    db_session: Session,
    technician: User,
    other_commune: Commune,
    make_type: Callable[..., EquipmentType],
    make_unit: Callable[..., Unit],
    make_request: Callable[..., LoanRequest],
) -> None:
    types = [make_type(turnaround_minutes=30) for _ in range(3)]
    units = [make_unit(type=t) for t in types for _ in range(2)]
    plan = Plan(strategy="cpsat", problem_json={}, problem_sha="z", status=PlanStatus.APPROVED)
    db_session.add(plan)

    def add_requests(n: int) -> None:
        for i in range(n):
            loan = make_request(
                commune=other_commune,
                lines=[(types[i % 3], 1)],
                status=RequestStatus.APPROVED if i % 2 else RequestStatus.SUBMITTED,
                start=START + timedelta(hours=i),
            )
            if loan.status is RequestStatus.APPROVED:
                assignment = Assignment(
                    request=loan,
                    is_served=True,
                    start_dt=loan.requested_start_dt,
                    end_dt=loan.requested_end_dt,
                )
                assignment.units.append(
                    AssignmentUnit(line=loan.lines[0], unit=units[(i // 2) % 6])
                )
                plan.assignments.append(assignment)
        db_session.commit()

    def run() -> list[TypeAvailability]:
        db_session.expire_all()
        return availability(db_session, by=technician, start_dt=START, end_dt=END)

    add_requests(2)
    few = _count_queries(app, run)
    add_requests(30)
    many = _count_queries(app, run)
    assert few == many
    assert few <= 10
    assert sum(row.planned for row in run()) == 6
