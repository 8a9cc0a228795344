"""Delivery rounds: approved loans become stops, the trucks' rounds are solved and stored."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from booking.errors import Forbidden
from booking.models import (
    Assignment,
    AuditEvent,
    Commune,
    EquipmentType,
    LoanRequest,
    Plan,
    PlanStatus,
    RequestStatus,
    RoundDay,
    RoundDayStatus,
    RoundStop,
    Site,
    SiteKind,
    Truck,
    User,
)
from booking.services import requests, rounds
from booking.timeutil import LOCAL_TZ
from solver.rounds.model import StopKind

# Wednesday 5 June 2030: delivered on Tuesday 4, collected on Monday 10 after a Friday end.
LOAN_START = datetime(2030, 6, 5, 9, 0, tzinfo=LOCAL_TZ)
DELIVERY_DAY = date(2030, 6, 4)
COLLECTION_DAY = date(2030, 6, 10)
SECONDS = 1.0
VAUX = (48.5286, 2.6831)


@pytest.fixture
def depot(make_site: Callable[..., Site]) -> Site:
    return make_site(kind=SiteKind.DEPOT, name="Centre technique", lat=VAUX[0], lon=VAUX[1])


@pytest.fixture
def barrier(make_type: Callable[..., EquipmentType]) -> EquipmentType:
    return make_type(
        code="barriere", name="Barrière", is_pooled=True, is_delivered=True, load_per_item=0.1
    )


@pytest.fixture
def make_truck(db_session: Session, depot: Site) -> Callable[..., Truck]:
    def make(**params: Any) -> Truck:
        params.setdefault(
            "name", f"Porteur {db_session.scalar(select(Truck.id).order_by(Truck.id.desc())) or 0}"
        )
        params.setdefault("depot", depot)
        params.setdefault("capacity", 12)
        params.setdefault("day_start", time(7, 30))
        params.setdefault("day_end", time(16, 30))
        params.setdefault("break_start", time(12, 0))
        params.setdefault("break_minutes", 45)
        truck = Truck(**params)
        db_session.add(truck)
        db_session.commit()
        return truck

    return make


@pytest.fixture
def approved(db_session: Session) -> Plan:
    plan = Plan(status=PlanStatus.APPROVED, strategy="cpsat", problem_json={}, problem_sha="r" * 64)
    db_session.add(plan)
    db_session.commit()
    return plan


@pytest.fixture
def make_delivered_loan(
    db_session: Session,
    make_request: Callable[..., LoanRequest],
    make_site: Callable[..., Site],
    approved: Plan,
    barrier: EquipmentType,
) -> Callable[..., LoanRequest]:
    """``make_delivered_loan(commune, quantity=20, start=..., days=2, lat=..., lon=...)``."""

    def make(commune: Commune, **params: Any) -> LoanRequest:
        quantity = params.pop("quantity", 20)
        start = params.pop("start", LOAN_START)
        days = params.pop("days", 2)
        lat = params.pop("lat", 48.5394)
        lon = params.pop("lon", 2.6608)
        equipment = params.pop("equipment", barrier)
        site = make_site(
            commune=commune,
            name=params.pop("site_name", f"Mairie de {commune.name}"),
            address=f"1 place de la Mairie, {commune.name}",
            lat=lat,
            lon=lon,
        )
        params.setdefault("status", RequestStatus.APPROVED)
        loan = make_request(
            commune=commune, site=site, start=start, days=days, lines=[(equipment, quantity)]
        )
        loan.status = params["status"]
        db_session.add(
            Assignment(
                plan=approved,
                request=loan,
                is_served=True,
                start_dt=loan.requested_start_dt,
                end_dt=loan.requested_end_dt,
            )
        )
        db_session.commit()
        return loan

    return make


def test_working_days_skip_the_weekend() -> None:
    assert rounds.working_day(date(2030, 6, 3), -1) == date(2030, 5, 31)  # Monday -> Friday
    assert rounds.working_day(date(2030, 6, 7), 1) == date(2030, 6, 10)  # Friday -> Monday
    assert rounds.working_day(date(2030, 6, 4), 1) == date(2030, 6, 5)


def test_a_loan_gives_a_delivery_the_day_before_and_a_collection_the_working_day_after(
    db_session: Session, commune: Commune, make_delivered_loan: Callable[..., LoanRequest]
) -> None:
    loan = make_delivered_loan(commune, quantity=25)  # Wednesday to Friday
    by_day = rounds.read_stops(db_session, DELIVERY_DAY, COLLECTION_DAY)
    assert set(by_day) == {DELIVERY_DAY, COLLECTION_DAY}
    (delivery,) = by_day[DELIVERY_DAY]
    (collection,) = by_day[COLLECTION_DAY]
    assert (delivery.kind, delivery.loan_id) == ("delivery", loan.id)
    assert collection.kind == "collection"
    # 25 barriers of 0.1 pallet place: 2.5 pallet places, 25 tenths.
    assert delivery.load == collection.load == 25


def test_handed_over_loans_are_only_collected_and_undelivered_types_ignored(
    db_session: Session,
    commune: Commune,
    make_type: Callable[..., EquipmentType],
    make_delivered_loan: Callable[..., LoanRequest],
) -> None:
    make_delivered_loan(commune, status=RequestStatus.HANDED_OVER)
    minibus = make_type(code="minibus", is_delivered=False)
    make_delivered_loan(commune, equipment=minibus)
    by_day = rounds.read_stops(db_session, DELIVERY_DAY, COLLECTION_DAY)
    assert DELIVERY_DAY not in by_day
    assert [s.kind for s in by_day[COLLECTION_DAY]] == ["collection"]


def test_a_day_is_solved_checked_and_stored_in_stop_order(
    db_session: Session,
    make_commune: Callable[..., Commune],
    make_truck: Callable[..., Truck],
    make_delivered_loan: Callable[..., LoanRequest],
) -> None:
    truck = make_truck(name="Porteur 19 t")
    melun = make_delivered_loan(make_commune(name="Melun"), lat=48.5394, lon=2.6608)
    rubelles = make_delivered_loan(make_commune(name="Rubelles"), lat=48.553, lon=2.677)
    day = rounds.compute_day(db_session, DELIVERY_DAY, seconds=SECONDS)

    assert day is not None and day.status is RoundDayStatus.DONE
    (only,) = day.rounds
    assert only.truck_id == truck.id
    assert only.load_at_depot == 40  # two times 20 barriers of 0.1 pallet place
    assert [s.position for s in only.stops] == [1, 2]
    assert {s.loan_id for s in only.stops} == {melun.id, rubelles.id}
    arrivals = [s.arrival_dt for s in only.stops]
    assert arrivals == sorted(arrivals)
    opening = datetime.combine(DELIVERY_DAY, time(8, 0), tzinfo=LOCAL_TZ)
    closing = datetime.combine(DELIVERY_DAY, time(17, 0), tzinfo=LOCAL_TZ)
    assert all(opening <= a <= closing for a in arrivals)
    assert only.depart_dt < arrivals[0] and only.return_dt > only.stops[-1].departure_dt
    assert only.km > 0 and day.km == pytest.approx(only.km, abs=0.01)
    assert [(x.quantity, x.load) for x in only.stops[0].lines] == [(20, 20)]


def test_stops_that_cannot_be_served_get_a_reason_and_the_rest_is_planned(
    db_session: Session,
    make_commune: Callable[..., Commune],
    make_truck: Callable[..., Truck],
    make_delivered_loan: Callable[..., LoanRequest],
) -> None:
    make_truck(capacity=2)  # 20 tenths
    fits = make_delivered_loan(make_commune(name="Melun"), quantity=10)
    too_big = make_delivered_loan(make_commune(name="Dammarie"), quantity=300)
    # Marseille: 600 km away, unreachable within opening hours at 40 km/h.
    far = make_delivered_loan(make_commune(name="Marseille"), lat=43.2965, lon=5.3698)
    day = rounds.compute_day(db_session, DELIVERY_DAY, seconds=SECONDS)

    assert day is not None and day.status is RoundDayStatus.DONE
    stops = {s.loan_id: s for s in day.stops}
    assert stops[fits.id].round_id is not None and stops[fits.id].reason is None
    assert stops[too_big.id].round_id is None
    assert stops[too_big.id].reason == "too_big"
    assert stops[far.id].reason == "window_unreachable"
    assert "capacity" in (stops[too_big.id].detail or "")


def test_without_any_truck_every_stop_says_so(
    db_session: Session, commune: Commune, make_delivered_loan: Callable[..., LoanRequest]
) -> None:
    make_delivered_loan(commune)
    day = rounds.compute_day(db_session, DELIVERY_DAY, seconds=SECONDS)
    assert day is not None and not day.rounds
    assert [s.reason for s in day.stops] == [rounds.NO_TRUCK]


def test_an_unchanged_day_is_not_solved_again_and_a_changed_one_is(
    db_session: Session,
    commune: Commune,
    make_truck: Callable[..., Truck],
    make_delivered_loan: Callable[..., LoanRequest],
) -> None:
    make_truck()
    loan = make_delivered_loan(commune)
    other = make_delivered_loan(commune, site_name="Stade")
    first = rounds.compute_day(db_session, DELIVERY_DAY, seconds=SECONDS)
    assert first is not None
    first_id, first_fingerprint = first.id, first.fingerprint
    again = rounds.compute_day(db_session, DELIVERY_DAY, seconds=SECONDS)
    assert again is not None and again.id == first_id
    assert rounds.is_current(db_session, DELIVERY_DAY)

    other.status = RequestStatus.CANCELLED
    db_session.commit()
    assert not rounds.is_current(db_session, DELIVERY_DAY)
    changed = rounds.compute_day(db_session, DELIVERY_DAY, seconds=SECONDS)
    assert changed is not None and changed.fingerprint != first_fingerprint
    assert [s.loan_id for s in changed.stops] == [loan.id]

    loan.status = RequestStatus.CANCELLED
    db_session.commit()
    assert rounds.compute_day(db_session, DELIVERY_DAY, seconds=SECONDS) is None
    assert db_session.scalar(select(RoundDay).where(RoundDay.day == DELIVERY_DAY)) is None


def test_cancelling_an_approved_loan_updates_the_coming_rounds(
    monkeypatch: pytest.MonkeyPatch,
    app: Any,
    db_session: Session,
    commune: Commune,
    manager: User,
    make_truck: Callable[..., Truck],
    make_delivered_loan: Callable[..., LoanRequest],
) -> None:
    app.config["ROUNDS_SECONDS"] = SECONDS
    make_truck()
    kept = make_delivered_loan(commune)
    cancelled = make_delivered_loan(commune, site_name="Stade")
    # The clock says it is the day before the delivery day.
    now = datetime.combine(DELIVERY_DAY - timedelta(days=1), time(9), tzinfo=LOCAL_TZ)
    monkeypatch.setattr(rounds, "utcnow", lambda: now)
    with app.app_context():
        rounds.refresh_after_change(db_session)
        before = {s.loan_id for s in db_session.scalars(select(RoundStop))}
        assert before == {kept.id, cancelled.id}
        requests.cancel_request(db_session, cancelled.id, by=manager, reason="Annulé")
    after = {
        s.loan_id
        for s in db_session.scalars(
            select(RoundStop).join(RoundDay).where(RoundDay.day == DELIVERY_DAY)
        )
    }
    assert after == {kept.id}


def test_recomputing_a_day_is_for_staff_and_audited(
    db_session: Session,
    commune: Commune,
    manager: User,
    technician: User,
    make_truck: Callable[..., Truck],
    make_delivered_loan: Callable[..., LoanRequest],
) -> None:
    make_truck()
    make_delivered_loan(commune)
    with pytest.raises(Forbidden):
        rounds.recompute_day(db_session, DELIVERY_DAY, by=technician, seconds=SECONDS)
    day = rounds.recompute_day(db_session, DELIVERY_DAY, by=manager, seconds=SECONDS)
    assert day is not None and len(day.rounds) == 1
    event = db_session.scalars(
        select(AuditEvent).where(AuditEvent.action == "rounds.recompute")
    ).one()
    assert event.object_id == day.id


def test_the_problem_follows_the_rounds_format(
    db_session: Session,
    commune: Commune,
    make_truck: Callable[..., Truck],
    make_delivered_loan: Callable[..., LoanRequest],
) -> None:
    from solver.rounds import problem_from_json
    from solver.rounds.io import problem_to_json

    truck = make_truck(capacity=16, break_start=time(15, 30))
    make_delivered_loan(commune)
    stops = rounds.read_stops(db_session, DELIVERY_DAY, DELIVERY_DAY)[DELIVERY_DAY]
    problem = rounds.build_problem(db_session, DELIVERY_DAY, stops, [truck])
    again = problem_from_json(problem_to_json(problem))  # validates the document
    (entry,) = again.trucks
    assert entry.capacity == 160
    assert entry.driver_break is not None
    # The break may slide by an hour, but never past the end of the driver's day.
    assert entry.driver_break.latest.time() == time(15, 45)
    (stop,) = again.stops
    assert stop.kind is StopKind.DELIVERY and stop.window.start.time() == time(8, 0)
