"""The rounds pages and the trucks' forms, through the Flask test client."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from booking.models import Commune, LoanRequest, RoundDay, Site, Truck, User
from booking.services import rounds
from tests.services.test_rounds import (  # noqa: F401  (fixtures)
    DELIVERY_DAY,
    SECONDS,
    approved,
    barrier,
    depot,
    make_delivered_loan,
    make_truck,
)

DAY = DELIVERY_DAY.isoformat()


def test_the_day_page_shows_each_round_and_the_stops_left_out(
    client: FlaskClient,
    auth: Any,
    db_session: Session,
    manager: User,
    make_commune: Callable[..., Commune],
    make_truck: Callable[..., Truck],  # noqa: F811
    make_delivered_loan: Callable[..., LoanRequest],  # noqa: F811
) -> None:
    make_truck(name="Porteur Vaux", capacity=2)
    served = make_delivered_loan(make_commune(name="Melun"), quantity=10)
    too_big = make_delivered_loan(make_commune(name="Dammarie"), quantity=300)
    rounds.compute_day(db_session, DELIVERY_DAY, seconds=SECONDS)
    auth.login(manager)
    page = client.get(f"/rounds/{DAY}")
    assert page.status_code == 200
    text = page.text
    assert "Porteur Vaux" in text
    assert f"request {served.id}" in text
    assert "Unload: 10 × Barrière" in text
    assert "Load at the depot" in text
    assert 'id="unserved-' in text and f"request {too_big.id}" in text
    assert (
        "Too big for every truck: it takes 30 pallet places and the largest truck takes 2" in text
    )
    # The map: one polyline per truck used, the depot marked, no script.
    assert text.count('class="map-round"') == 1
    assert 'class="map-depot"' in text
    assert "<script" not in text and "style=" not in text
    assert f'href="/rounds/{rounds.working_day(DELIVERY_DAY, -1).isoformat()}"' in text


def test_the_page_says_when_rounds_are_out_of_date_and_recompute_updates_them(
    client: FlaskClient,
    auth: Any,
    db_session: Session,
    manager: User,
    commune: Commune,
    make_truck: Callable[..., Truck],  # noqa: F811
    make_delivered_loan: Callable[..., LoanRequest],  # noqa: F811
) -> None:
    make_truck()
    rounds.compute_day(db_session, DELIVERY_DAY, seconds=SECONDS)  # nothing yet
    make_delivered_loan(commune)
    auth.login(manager)
    assert "compute this day again" in client.get(f"/rounds/{DAY}").text
    response = client.post(f"/rounds/{DAY}/recompute")
    assert response.status_code == 302
    page = client.get(f"/rounds/{DAY}").text
    assert "compute this day again" not in page
    assert "were computed again" in page
    assert db_session.scalar(select(RoundDay).where(RoundDay.day == DELIVERY_DAY)) is not None


def test_recompute_needs_the_csrf_token(
    client: FlaskClient,
    auth: Any,
    csrf_enabled: None,
    db_session: Session,
    manager: User,
    commune: Commune,
    make_truck: Callable[..., Truck],  # noqa: F811
    make_delivered_loan: Callable[..., LoanRequest],  # noqa: F811
) -> None:
    make_truck()
    make_delivered_loan(commune)
    auth.login(manager)
    client.post(f"/rounds/{DAY}/recompute")
    assert db_session.scalar(select(RoundDay).where(RoundDay.day == DELIVERY_DAY)) is None


def test_an_unknown_day_is_not_found(client: FlaskClient, auth: Any, manager: User) -> None:
    auth.login(manager)
    assert client.get("/rounds/not-a-day").status_code == 404


def test_the_sheet_has_one_section_per_truck(
    client: FlaskClient,
    auth: Any,
    db_session: Session,
    manager: User,
    make_commune: Callable[..., Commune],
    make_truck: Callable[..., Truck],  # noqa: F811
    make_delivered_loan: Callable[..., LoanRequest],  # noqa: F811
) -> None:
    make_truck(name="Porteur A", capacity=2)
    make_truck(name="Porteur B", capacity=2)
    make_delivered_loan(make_commune(name="Melun"), quantity=15)
    make_delivered_loan(make_commune(name="Rubelles"), quantity=15, lat=48.553, lon=2.677)
    rounds.compute_day(db_session, DELIVERY_DAY, seconds=SECONDS)
    auth.login(manager)
    sheet = client.get(f"/rounds/{DAY}/sheet").text
    assert sheet.count('class="sheet"') == 2
    assert "Porteur A" in sheet and "Porteur B" in sheet
    assert "/static/js/print.js" in sheet and "<script>" not in sheet


def test_a_manager_adds_a_truck_through_the_form(
    client: FlaskClient,
    auth: Any,
    db_session: Session,
    manager: User,
    depot: Site,  # noqa: F811
) -> None:
    auth.login(manager)
    form = {
        "name": "Porteur 19 t",
        "depot_id": depot.id,
        "capacity": "12",
        "day_start": "07:30",
        "day_end": "16:00",
        "break_start": "12:00",
        "break_minutes": "45",
        "cost_per_km": "1,2",
        "is_active": "y",
    }
    bad = client.post("/inventory/trucks/new", data={**form, "break_start": "15:30"})
    assert bad.status_code == 400
    assert "The break must start and end within the driver" in bad.text
    zero = client.post("/inventory/trucks/new", data={**form, "capacity": "0"})
    assert zero.status_code == 400
    assert client.post("/inventory/trucks/new", data=form).status_code == 302
    truck = db_session.scalars(select(Truck)).one()
    assert (truck.capacity, truck.cost_per_km, truck.break_minutes) == (12, 1.2, 45)
    listing = client.get("/inventory/trucks").text
    assert "Porteur 19 t" in listing and "07:30–16:00" in listing
    edit = client.post(f"/inventory/trucks/{truck.id}", data={**form, "capacity": "16"})
    assert edit.status_code == 302
    db_session.refresh(truck)
    assert truck.capacity == 16


def test_a_type_form_sets_the_load_per_item(
    client: FlaskClient, auth: Any, db_session: Session, manager: User
) -> None:
    auth.login(manager)
    response = client.post(
        "/inventory/types/new",
        data={
            "code": "tente",
            "name": "Tente",
            "is_pooled": "pool",
            "is_delivered": "delivered",
            "turnaround_minutes": "0",
            "min_notice_hours": "0",
            "load_per_item": "2,5",
        },
    )
    assert response.status_code == 302
    assert "2.5" in client.get("/inventory/types").text
