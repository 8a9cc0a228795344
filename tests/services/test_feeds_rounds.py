"""The round feed and a truck's feed show the planned stops, in the order of the round."""

from __future__ import annotations

from collections.abc import Callable
from datetime import time
from typing import Any

import pytest
from sqlalchemy.orm import Session

from booking.errors import Forbidden
from booking.models import Commune, FeedKind, LoanRequest, RoundStop, Truck, User
from booking.services import feeds, rounds
from tests.services.test_feeds import (
    DOMAIN,
    _empty_caches,  # noqa: F401  (autouse fixture)
    events,
    feed_for,
    fetch,
)
from tests.services.test_feeds_icaljs import ical_js, utc
from tests.services.test_rounds import (  # noqa: F401  (fixtures)
    DELIVERY_DAY,
    SECONDS,
    approved,
    barrier,
    depot,
    make_delivered_loan,
    make_truck,
)


def _two_stops(
    db_session: Session,
    make_commune: Callable[..., Commune],
    make_delivered_loan: Callable[..., LoanRequest],  # noqa: F811
) -> tuple[LoanRequest, LoanRequest]:
    melun = make_delivered_loan(make_commune(name="Melun"), quantity=15)
    rubelles = make_delivered_loan(make_commune(name="Rubelles"), quantity=5, lat=48.553, lon=2.677)
    rounds.compute_day(db_session, DELIVERY_DAY, seconds=SECONDS)
    return melun, rubelles


def _order(db_session: Session) -> list[RoundStop]:
    stops = db_session.query(RoundStop).filter(RoundStop.round_id.is_not(None)).all()
    return sorted(stops, key=lambda s: s.position or 0)


def test_a_driver_sees_the_truck_stops_in_order_in_ical_js(
    db_session: Session,
    manager: User,
    make_commune: Callable[..., Commune],
    make_truck: Callable[..., Truck],  # noqa: F811
    make_delivered_loan: Callable[..., LoanRequest],  # noqa: F811
) -> None:
    truck = make_truck(name="Porteur Vaux")
    make_truck(name="Porteur inutile", is_active=False)
    _two_stops(db_session, make_commune, make_delivered_loan)
    order = _order(db_session)
    read = ical_js(fetch(db_session, feed_for(db_session, manager, FeedKind.TRUCK, truck.id)))
    seen = read["events"]
    assert [e["uid"] for e in seen] == [f"pret-commun-delivery-{s.loan_id}@{DOMAIN}" for s in order]
    for n, (event, stop) in enumerate(zip(seen, order, strict=True), start=1):
        assert event["start"] == utc(stop.arrival_dt)
        assert event["end"] == utc(stop.departure_dt)
        assert event["summary"].startswith(f"{n}. Delivery · ")
        assert "Truck: Porteur Vaux" in event["description"]
        assert f"Stop {n}" in event["description"]
        assert "1 place de la Mairie" in event["description"]
        assert "1 place de la Mairie" in event["location"]
    loads = {s.loan_id: s.load for s in order}
    by_uid = {e["uid"]: e for e in seen}
    for loan_id, load in loads.items():
        text = by_uid[f"pret-commun-delivery-{loan_id}@{DOMAIN}"]["description"]
        assert f"Load: {load / 10:g} pallet places" in text


def test_the_round_feed_uses_the_planned_times_and_raises_the_sequence_when_a_round_changes(
    db_session: Session,
    manager: User,
    make_commune: Callable[..., Commune],
    make_truck: Callable[..., Truck],  # noqa: F811
    make_delivered_loan: Callable[..., LoanRequest],  # noqa: F811
) -> None:
    truck = make_truck(name="Porteur Vaux")
    melun, _rubelles = _two_stops(db_session, make_commune, make_delivered_loan)
    token = feed_for(db_session, manager, FeedKind.ROUND, None)
    uid = f"pret-commun-delivery-{melun.id}@{DOMAIN}"
    first = events(fetch(db_session, token))[uid]
    stop = next(s for s in _order(db_session) if s.loan_id == melun.id)
    assert first.decoded("DTSTART") == stop.arrival_dt
    assert "Truck: Porteur Vaux" in str(first["DESCRIPTION"])

    # The driver now starts at 10:00: the round moves, and calendars must take it.
    truck.day_start = time(10, 0)
    db_session.commit()
    rounds.compute_day(db_session, DELIVERY_DAY, seconds=SECONDS)
    moved = events(fetch(db_session, token))[uid]
    assert moved.decoded("DTSTART") != first.decoded("DTSTART")
    assert int(moved["SEQUENCE"]) > int(first["SEQUENCE"])


def test_a_truck_feed_is_for_staff_only(
    db_session: Session,
    technician: User,
    make_truck: Callable[..., Truck],  # noqa: F811
) -> None:
    truck = make_truck()
    with pytest.raises(Forbidden):
        feeds.create_feed(
            db_session, by=technician, kind=FeedKind.TRUCK, target_id=truck.id, name="x"
        )
    assert not any(
        c.value.startswith("truck:") for c in feeds.feed_choices(db_session, by=technician)
    )


def test_unplanned_stops_keep_their_slot_in_the_round_feed(
    db_session: Session,
    manager: User,
    commune: Commune,
    make_delivered_loan: Callable[..., LoanRequest],  # noqa: F811
) -> None:
    loan = make_delivered_loan(commune)
    body = fetch(db_session, feed_for(db_session, manager, FeedKind.ROUND, None))
    event: Any = events(body)[f"pret-commun-delivery-{loan.id}@{DOMAIN}"]
    assert event.decoded("DTEND") == loan.requested_start_dt
    assert "Truck" not in str(event["DESCRIPTION"])
