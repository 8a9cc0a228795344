"""Checking approved equipment out and back in through the service."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from booking.errors import Conflict, Forbidden, NotFound, ValidationError
from booking.models import (
    Assignment,
    AssignmentDraw,
    AssignmentUnit,
    AuditEvent,
    Commune,
    Condition,
    EquipmentType,
    Handover,
    HandoverKind,
    LoanRequest,
    Notification,
    Plan,
    PlanStatus,
    Pool,
    RequestStatus,
    Role,
    Site,
    SiteKind,
    Unavailability,
    Unit,
    UnitStatus,
    User,
)
from booking.services import handover_lists as lists
from booking.services import handovers as service
from booking.services.availability import availability
from booking.services.handovers import ItemReport
from tests.conftest import DEFAULT_START

# The plan serves the loan an hour later than asked, and returns it a day later.
SERVED_START = DEFAULT_START + timedelta(hours=1)
SERVED_END = DEFAULT_START + timedelta(days=3)
DURING = SERVED_START + timedelta(hours=2)


@pytest.fixture(autouse=True)
def app_context(app: Flask) -> Iterator[None]:
    """Notifications and dates are written in the application's languages."""
    with app.app_context():
        yield


def approve(
    session: Session,
    loan: LoanRequest,
    *,
    units: list[Unit] = (),  # type: ignore[assignment]
    draws: list[tuple[Pool, int]] = (),  # type: ignore[assignment]
    start: Any = SERVED_START,
    end: Any = SERVED_END,
) -> Assignment:
    """Put ``loan`` in the approved plan (created once) with these units and draws."""
    plan = session.scalars(select(Plan).where(Plan.status == PlanStatus.APPROVED)).first()
    if plan is None:
        plan = Plan(
            status=PlanStatus.APPROVED, strategy="cpsat", problem_json={}, problem_sha="0" * 64
        )
        session.add(plan)
    by_type = {line.type_id: line for line in loan.lines}
    assignment = Assignment(request=loan, is_served=True, start_dt=start, end_dt=end)
    assignment.units = [AssignmentUnit(line=by_type[u.type_id], unit=u) for u in units]
    assignment.draws = [
        AssignmentDraw(line=by_type[pool.type_id], pool=pool, quantity=quantity)
        for pool, quantity in draws
    ]
    plan.assignments.append(assignment)
    loan.status = RequestStatus.APPROVED
    session.commit()
    return assignment


@pytest.fixture
def world(
    db_session: Session,
    commune: Commune,
    other_commune: Commune,
    technician: User,
    other_technician: User,
    manager: User,
    make_site: Callable[..., Site],
    make_type: Callable[..., EquipmentType],
    make_unit: Callable[..., Unit],
    make_pool: Callable[..., Pool],
    make_request: Callable[..., LoanRequest],
) -> SimpleNamespace:
    """A Melun loan of a podium and 20 chairs, approved; two podiums, 50 chairs."""
    depot = make_site(kind=SiteKind.DEPOT, name="Dépôt")
    hall = make_site(commune=commune, name="Melun - Hôtel de ville")
    podium = make_type(code="podium", name="Podium")
    chair = make_type(code="chair", name="Chaise", is_pooled=True)
    units = [
        make_unit(type=podium, home_depot=depot, code=f"POD-{n}", name=f"Podium {n}")
        for n in (1, 2)
    ]
    pool = make_pool(type=chair, depot=depot, quantity=50)
    loan = make_request(commune=commune, site=hall, lines=[(podium, 1), (chair, 20)])
    approve(db_session, loan, units=[units[0]], draws=[(pool, 20)])
    return SimpleNamespace(
        loan=loan, units=units, pool=pool, podium=podium, chair=chair, hall=hall, depot=depot
    )


def keys(world: SimpleNamespace) -> tuple[str, str]:
    chairs = next(line for line in world.loan.lines if line.type_id == world.chair.id)
    return f"unit-{world.units[0].id}", f"line-{chairs.id}"


def check_out(world: SimpleNamespace, by: User, **kwargs: Any) -> list[Handover]:
    kwargs.setdefault("taken_by", "Jean Dupont")
    kwargs.setdefault("now", DURING)
    return service.check_out(kwargs.pop("session"), world.loan.id, by=by, **kwargs)


# --- what a loan hands over ----------------------------------------------------------------


def test_items_come_from_the_approved_plan(db_session, world):
    served = service.loan_items(db_session, world.loan)
    unit_key, line_key = keys(world)
    assert [item.key for item in served.items] == [unit_key, line_key]
    assert [item.quantity for item in served.items] == [1, 20]
    assert (served.start_dt, served.end_dt) == (SERVED_START, SERVED_END)


def test_without_a_plan_each_line_is_one_item(db_session, make_request, commune):
    loan = make_request(commune=commune, status=RequestStatus.APPROVED)
    served = service.loan_items(db_session, loan)
    assert [(item.unit, item.quantity) for item in served.items] == [(None, 1)]
    assert served.end_dt == loan.requested_end_dt


# --- check-out ------------------------------------------------------------------------------


def test_technician_checks_out_their_communes_loan(db_session, world, technician, manager):
    version, sequence = world.loan.version, world.loan.sequence
    unit_key, _line = keys(world)
    rows = check_out(
        world,
        technician,
        session=db_session,
        reports={unit_key: ItemReport(Condition.WORN)},
        notes="Bâche à part",
    )
    db_session.refresh(world.loan)
    assert world.loan.status is RequestStatus.HANDED_OVER
    assert world.loan.sequence == sequence + 1
    assert world.loan.version > version
    assert [(r.kind, r.unit_id, r.condition) for r in rows] == [
        (HandoverKind.CHECK_OUT, world.units[0].id, Condition.WORN),
        (HandoverKind.CHECK_OUT, None, Condition.GOOD),
    ]
    assert all(r.at == DURING and r.by_id == technician.id for r in rows)
    assert all(r.taken_by == "Jean Dupont" and r.notes == "Bâche à part" for r in rows)
    lines = {line.type_id: line.id for line in world.loan.lines}
    assert [r.line_id for r in rows] == [lines[world.units[0].type_id], lines[world.chair.id]]
    event = db_session.scalars(
        select(AuditEvent).where(AuditEvent.action == "request.check_out")
    ).one()
    assert event.object_id == world.loan.id
    assert event.before["status"] == "approved"
    assert event.after["status"] == "handed_over"
    assert event.after["taken_by"] == "Jean Dupont"
    notes = db_session.scalars(select(Notification)).all()
    # The manager is told; the technician who did it is not.
    assert [n.user_id for n in notes] == [manager.id]
    assert notes[0].kind == "request.handed_over"
    assert "Jean Dupont" in notes[0].text


def test_manager_checks_out_any_commune(db_session, world, manager, technician):
    check_out(world, manager, session=db_session)
    assert world.loan.status is RequestStatus.HANDED_OVER
    assert [n.user_id for n in db_session.scalars(select(Notification))] == [technician.id]


def test_other_communes_loan_is_missing(db_session, world, other_technician):
    with pytest.raises(NotFound):
        check_out(world, other_technician, session=db_session)
    with pytest.raises(NotFound):
        service.check_in(db_session, world.loan.id, by=other_technician, now=DURING)
    with pytest.raises(NotFound):
        service.get_loan(db_session, world.loan.id, by=other_technician)
    assert world.loan.status is RequestStatus.APPROVED


def test_admin_and_disabled_accounts(db_session, world, admin, make_user, commune):
    check_out(world, admin, session=db_session)
    assert world.loan.status is RequestStatus.HANDED_OVER
    disabled = make_user(role=Role.TECHNICIAN, commune=commune, is_active_account=False)
    with pytest.raises(Forbidden):
        service.check_in(db_session, world.loan.id, by=disabled, now=DURING)


@pytest.mark.parametrize(
    "status",
    [RequestStatus.SUBMITTED, RequestStatus.HANDED_OVER, RequestStatus.CANCELLED],
)
def test_only_approved_requests_go_out(db_session, world, technician, status):
    world.loan.status = status
    db_session.commit()
    with pytest.raises(Conflict):
        check_out(world, technician, session=db_session)
    assert db_session.scalars(select(Handover)).all() == []


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"taken_by": "  "}, "taken_by"),
        ({"taken_by": "x" * 201}, "taken_by"),
        ({"at": DURING + timedelta(hours=1)}, "at"),
        ({"at": DURING - timedelta(days=91)}, "at"),
        ({"notes": "x" * 2001}, "notes"),
    ],
)
def test_check_out_input_is_validated(db_session, world, technician, kwargs, field):
    with pytest.raises(ValidationError) as caught:
        check_out(world, technician, session=db_session, **kwargs)
    assert caught.value.for_field(field)
    db_session.rollback()
    assert world.loan.status is RequestStatus.APPROVED
    assert db_session.scalars(select(Handover)).all() == []


def test_a_few_minutes_ahead_of_the_clock_is_accepted(db_session, world, technician):
    check_out(world, technician, session=db_session, at=DURING + timedelta(minutes=10))
    assert world.loan.status is RequestStatus.HANDED_OVER


def test_damage_needs_a_description(db_session, world, technician):
    unit_key, line_key = keys(world)
    with pytest.raises(ValidationError) as caught:
        check_out(
            world,
            technician,
            session=db_session,
            reports={unit_key: ItemReport(Condition.DAMAGED, damage="  ")},
        )
    assert caught.value.for_field(f"{unit_key}:damage")
    with pytest.raises(ValidationError) as caught:
        check_out(
            world,
            technician,
            session=db_session,
            reports={line_key: ItemReport(missing_quantity=1), "unit-999999": ItemReport()},
        )
    assert caught.value.for_field(f"{line_key}:missing_quantity")
    assert "unit-999999 is not part of this loan." in caught.value.messages


# --- check-in -------------------------------------------------------------------------------


@pytest.fixture
def handed_over(db_session, world, technician) -> SimpleNamespace:
    check_out(world, technician, session=db_session)
    db_session.execute(Notification.__table__.delete())
    return world


def test_check_in_records_damage_and_missing_items(db_session, handed_over, technician, manager):
    world = handed_over
    unit_key, line_key = keys(world)
    sequence = world.loan.sequence
    result = service.check_in(
        db_session,
        world.loan.id,
        by=technician,
        at=SERVED_END - timedelta(hours=1),
        reports={
            unit_key: ItemReport(Condition.DAMAGED, damage="Plancher fendu"),
            line_key: ItemReport(missing_quantity=3),
        },
        notes="Rendu en retard",
        now=SERVED_END,
    )
    assert world.loan.status is RequestStatus.RETURNED
    assert world.loan.sequence == sequence + 1
    assert [(r.kind, r.condition, r.damage, r.missing_quantity) for r in result.handovers] == [
        (HandoverKind.CHECK_IN, Condition.DAMAGED, "Plancher fendu", 0),
        (HandoverKind.CHECK_IN, Condition.GOOD, None, 3),
    ]
    assert result.maintenance == []
    assert world.units[0].status is UnitStatus.AVAILABLE
    event = db_session.scalars(
        select(AuditEvent).where(AuditEvent.action == "request.check_in")
    ).one()
    assert event.before["status"] == "handed_over"
    assert event.after["status"] == "returned"
    assert event.after["items"][1]["missing_quantity"] == 3
    note = db_session.scalars(select(Notification)).one()
    assert note.user_id == manager.id
    assert note.kind == "request.returned"
    assert "2 item(s) damaged or missing" in note.text


@pytest.mark.parametrize("missing", [-1, 21])
def test_missing_quantity_is_within_the_line(db_session, handed_over, technician, missing):
    _unit, line_key = keys(handed_over)
    with pytest.raises(ValidationError) as caught:
        service.check_in(
            db_session,
            handed_over.loan.id,
            by=technician,
            reports={line_key: ItemReport(missing_quantity=missing)},
            now=SERVED_END,
        )
    assert caught.value.for_field(f"{line_key}:missing_quantity") == [
        "The missing quantity of 20 × Chaise is between 0 and 20."
    ]
    db_session.rollback()
    assert handed_over.loan.status is RequestStatus.HANDED_OVER


def test_a_unit_is_missing_at_most_once(db_session, handed_over, technician):
    unit_key, _line = keys(handed_over)
    with pytest.raises(ValidationError):
        service.check_in(
            db_session,
            handed_over.loan.id,
            by=technician,
            reports={unit_key: ItemReport(missing_quantity=2)},
            now=SERVED_END,
        )


def test_check_in_cannot_precede_check_out(db_session, handed_over, technician):
    with pytest.raises(ValidationError) as caught:
        service.check_in(
            db_session,
            handed_over.loan.id,
            by=technician,
            at=DURING - timedelta(minutes=1),
            now=SERVED_END,
        )
    assert caught.value.for_field("at") == ["The equipment cannot come back before it left."]


def test_only_handed_over_requests_come_back(db_session, world, technician):
    with pytest.raises(Conflict):
        service.check_in(db_session, world.loan.id, by=technician, now=SERVED_END)
    check_out(world, technician, session=db_session)
    service.check_in(db_session, world.loan.id, by=technician, now=SERVED_END)
    with pytest.raises(Conflict):
        service.check_in(db_session, world.loan.id, by=technician, now=SERVED_END)


def test_damaged_unit_goes_to_maintenance_in_one_step(
    db_session, handed_over, technician, manager, make_request, commune
):
    world = handed_over
    unit = world.units[0]
    unit_key, _line = keys(world)
    # Another approved loan uses the same podium a week later.
    later = make_request(
        commune=commune, site=world.hall, lines=[(world.podium, 1)], start=SERVED_END
    )
    approve(
        db_session,
        later,
        units=[unit],
        start=SERVED_END + timedelta(days=7),
        end=SERVED_END + timedelta(days=8),
    )
    until = SERVED_END + timedelta(days=10)
    result = service.check_in(
        db_session,
        world.loan.id,
        by=technician,
        reports={unit_key: ItemReport(Condition.DAMAGED, damage="Pied tordu")},
        send_to_maintenance=[unit.id],
        maintenance_until=until,
        now=SERVED_END,
    )
    window = db_session.scalars(select(Unavailability)).one()
    assert (window.unit_id, window.start_dt, window.end_dt) == (unit.id, SERVED_END, until)
    assert window.reason == f"Damaged on return of request {world.loan.id}: Pied tordu"
    assert result.maintenance == [window]
    assert result.clashes == [later]
    event = db_session.scalars(
        select(AuditEvent).where(AuditEvent.action == "unit.maintenance")
    ).one()
    assert (event.object_id, event.before, event.after["until"]) == (
        unit.id,
        None,
        until.isoformat(),
    )
    board = lists.units_in_maintenance(db_session, by=manager, now=SERVED_END)
    assert [(entry.unit, entry.window) for entry in board] == [(unit, window)]
    # The window alone keeps the unit out: once it ends, the unit is lent again.
    assert unit.status is UnitStatus.AVAILABLE
    assert lists.units_in_maintenance(db_session, by=manager, now=until) == []
    during, after = (
        availability(
            db_session,
            by=manager,
            start_dt=at,
            end_dt=at + timedelta(days=1),
            type_ids=[world.podium.id],
        )[0]
        for at in (until - timedelta(days=1), until)
    )
    assert during.out_of_service == after.out_of_service + 1


@pytest.mark.parametrize(
    ("units", "until", "field"),
    [
        ("own", None, "maintenance_until"),
        ("own", SERVED_END - timedelta(hours=1), "maintenance_until"),
        ("own", SERVED_END + timedelta(days=400), "maintenance_until"),
        ("other", SERVED_END + timedelta(days=1), "send_to_maintenance"),
    ],
)
def test_maintenance_input_is_validated(db_session, handed_over, technician, units, until, field):
    unit = handed_over.units[0] if units == "own" else handed_over.units[1]
    with pytest.raises(ValidationError) as caught:
        service.check_in(
            db_session,
            handed_over.loan.id,
            by=technician,
            send_to_maintenance=[unit.id],
            maintenance_until=until,
            now=SERVED_END,
        )
    assert caught.value.for_field(field)
    db_session.rollback()
    assert db_session.scalars(select(Unavailability)).all() == []
    assert unit.status is UnitStatus.AVAILABLE


# --- lists ----------------------------------------------------------------------------------


def test_overdue_uses_the_served_end(
    db_session, handed_over, technician, other_technician, manager
):
    loan = handed_over.loan
    # Asked back two days after the start, served until day 3: not overdue on day 2.
    assert loan.requested_end_dt < SERVED_END
    assert lists.list_overdue(db_session, by=manager, now=SERVED_END - timedelta(hours=1)) == []
    late = SERVED_END + timedelta(hours=1)
    overdue = lists.list_overdue(db_session, by=technician, now=late)
    assert [(h.request, h.when, h.way) for h in overdue] == [(loan, SERVED_END, "back")]
    assert [h.request for h in lists.list_overdue(db_session, by=manager, now=late)] == [loan]
    assert lists.list_overdue(db_session, by=other_technician, now=late) == []
    service.check_in(db_session, loan.id, by=technician, now=late)
    assert lists.list_overdue(db_session, by=manager, now=late) == []


def test_upcoming_handovers_of_the_next_days(
    db_session, world, technician, other_technician, manager
):
    before = SERVED_START - timedelta(days=2)
    upcoming = lists.upcoming_handovers(db_session, by=technician, now=before)
    assert [(h.when, h.way, h.request) for h in upcoming] == [
        (SERVED_START, "out", world.loan),
        (SERVED_END, "back", world.loan),
    ]
    assert lists.upcoming_handovers(db_session, by=other_technician, now=before) == []
    far = SERVED_START - timedelta(days=30)
    assert lists.upcoming_handovers(db_session, by=manager, now=far) == []
    check_out(world, technician, session=db_session)
    upcoming = lists.upcoming_handovers(db_session, by=manager, now=DURING)
    assert [(h.way, h.request) for h in upcoming] == [("back", world.loan)]


def test_units_in_maintenance_is_for_staff(db_session, technician):
    with pytest.raises(Forbidden):
        lists.units_in_maintenance(db_session, by=technician)


def test_history_groups_rows_by_hand_over(db_session, handed_over, technician):
    world = handed_over
    _unit, line_key = keys(world)
    service.check_in(
        db_session,
        world.loan.id,
        by=technician,
        reports={line_key: ItemReport(missing_quantity=2)},
        now=SERVED_END,
    )
    entries = lists.history(db_session, world.loan)
    assert [e.kind for e in entries] == [HandoverKind.CHECK_OUT, HandoverKind.CHECK_IN]
    assert [label for label, _row in entries[1].rows] == ["Podium 1 (POD-1)", "20 × Chaise"]
    assert entries[1].rows[1][1].missing_quantity == 2
    assert entries[0].by == technician


def test_a_concurrent_change_makes_the_hand_over_fail(db_session, world, technician):
    # Another session raised the row version after this one read the request.
    db_session.execute(
        update(LoanRequest)
        .where(LoanRequest.id == world.loan.id)
        .values(version=LoanRequest.version + 1)
        .execution_options(synchronize_session=False)
    )
    with pytest.raises(Conflict, match="Someone changed this request meanwhile"):
        check_out(world, technician, session=db_session)
    assert db_session.scalars(select(Handover)).all() == []
