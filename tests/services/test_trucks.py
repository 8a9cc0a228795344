"""Trucks in the inventory: validation of the driver's day, access, audit."""

from __future__ import annotations

from collections.abc import Callable
from datetime import time

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from booking.errors import Conflict, Forbidden, ValidationError
from booking.models import AuditEvent, EquipmentType, Site, SiteKind, User
from booking.services import inventory, trucks
from booking.services.inventory import TypeData
from booking.services.trucks import TruckData


@pytest.fixture
def depot(make_site: Callable[..., Site]) -> Site:
    return make_site(kind=SiteKind.DEPOT, name="Centre technique")


def data(depot: Site, **changes: object) -> TruckData:
    values: dict[str, object] = {
        "name": "Porteur 19 t",
        "depot_id": depot.id,
        "capacity": 12,
        "day_start": time(7, 30),
        "day_end": time(16, 0),
        "break_start": time(12, 0),
        "break_minutes": 45,
        "cost_per_km": 1.2,
    }
    values.update(changes)
    return TruckData(**values)  # type: ignore[arg-type]


def test_a_manager_adds_and_edits_a_truck(db_session: Session, manager: User, depot: Site) -> None:
    truck = trucks.create_truck(db_session, data(depot), by=manager)
    assert (truck.capacity, truck.break_minutes, truck.depot_id) == (12, 45, depot.id)
    trucks.update_truck(db_session, truck.id, data(depot, capacity=16), by=manager)
    assert trucks.get_truck(db_session, truck.id, by=manager).capacity == 16
    actions = db_session.scalars(
        select(AuditEvent.action).where(AuditEvent.object_type == "truck")
    ).all()
    assert actions == ["truck.create", "truck.update"]
    assert [t.name for t in trucks.list_trucks(db_session, by=manager)] == ["Porteur 19 t"]


def test_technicians_may_not_manage_trucks(
    db_session: Session, technician: User, depot: Site
) -> None:
    with pytest.raises(Forbidden):
        trucks.create_truck(db_session, data(depot), by=technician)
    with pytest.raises(Forbidden):
        trucks.list_trucks(db_session, by=technician)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"capacity": 0}, "capacity"),
        ({"day_start": time(16, 0), "day_end": time(7, 30)}, "day_end"),
        ({"break_start": time(15, 45)}, "break_start"),  # ends at 16:30, after the day
        ({"break_start": time(6, 0)}, "break_start"),
        ({"break_start": None}, "break_start"),
        ({"cost_per_km": -1.0}, "cost_per_km"),
        ({"name": "  "}, "name"),
    ],
)
def test_a_truck_is_validated(
    db_session: Session, manager: User, depot: Site, changes: dict[str, object], field: str
) -> None:
    with pytest.raises(ValidationError) as raised:
        trucks.create_truck(db_session, data(depot, **changes), by=manager)
    assert raised.value.for_field(field)


def test_the_depot_must_be_a_depot_and_names_unique(
    db_session: Session, manager: User, depot: Site, make_site: Callable[..., Site]
) -> None:
    town_hall = make_site(kind=SiteKind.DELIVERY)
    with pytest.raises(ValidationError) as raised:
        trucks.create_truck(db_session, data(depot, depot_id=town_hall.id), by=manager)
    assert raised.value.for_field("depot_id")
    trucks.create_truck(db_session, data(depot), by=manager)
    with pytest.raises(Conflict):
        trucks.create_truck(db_session, data(depot, name="porteur 19 T"), by=manager)


def test_no_break_is_allowed(db_session: Session, manager: User, depot: Site) -> None:
    truck = trucks.create_truck(
        db_session, data(depot, break_start=None, break_minutes=0), by=manager
    )
    assert truck.break_start is None


def test_a_delivered_type_gets_a_load_per_item(
    db_session: Session, manager: User, make_type: Callable[..., EquipmentType]
) -> None:
    t = inventory.create_type(
        db_session,
        TypeData(code="tente", name="Tente 3 × 3", is_delivered=True, load_per_item=2.5),
        by=manager,
    )
    assert t.load_per_item == 2.5
    with pytest.raises(ValidationError) as raised:
        inventory.update_type(
            db_session, t.id, TypeData(code="tente", name="Tente", load_per_item=0), by=manager
        )
    assert raised.value.for_field("load_per_item")
