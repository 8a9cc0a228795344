"""Inventory services: rules, access and audit."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from booking.errors import Conflict, Forbidden, NotFound, ValidationError
from booking.models import AuditEvent, EquipmentType, Pool, Site, SiteKind, Unit, UnitStatus, User
from booking.services import inventory
from booking.services.inventory import SiteData, TypeData, UnitData
from tests.conftest import DEFAULT_START


def _events(session: Session, action: str) -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


@pytest.fixture
def depot(make_site: Callable[..., Site]) -> Site:
    return make_site(kind=SiteKind.DEPOT, name="Centre technique")


def test_technician_may_not_change_or_list_anything(
    db_session: Session, technician: User, depot: Site
) -> None:
    with pytest.raises(Forbidden):
        inventory.create_type(db_session, TypeData(code="x", name="X"), by=technician)
    with pytest.raises(Forbidden):
        inventory.list_units(db_session, by=technician)
    with pytest.raises(Forbidden):
        inventory.set_pool_quantity(db_session, 1, depot.id, 3, by=technician)
    assert db_session.scalar(select(EquipmentType).where(EquipmentType.code == "x")) is None


def test_create_type_with_substitute_is_audited(
    db_session: Session, manager: User, make_type: Callable[..., EquipmentType]
) -> None:
    twelve = make_type(code="minibus-12", name="Minibus 12")
    data = TypeData(
        code="minibus-9",
        name="Minibus 9 places",
        turnaround_minutes=60,
        min_notice_hours=48,
        max_loan_days=5,
        substitute_codes=("minibus-12",),
    )
    created = inventory.create_type(db_session, data, by=manager)

    assert [s.code for s in created.substitutes] == ["minibus-12"]
    assert twelve.substitutes == []
    (event,) = _events(db_session, "type.create")
    assert event.actor_id == manager.id
    assert event.object_id == created.id
    assert event.after is not None and event.after["substitutes"] == ["minibus-12"]


def test_type_errors_are_listed_by_field(db_session: Session, admin: User) -> None:
    data = TypeData(
        code="bad code",
        name="",
        turnaround_minutes=-1,
        max_loan_days=0,
        substitute_codes=("nope",),
    )
    with pytest.raises(ValidationError) as caught:
        inventory.create_type(db_session, data, by=admin)
    fields = {field for field, _message in caught.value.errors}
    assert fields == {"code", "name", "turnaround_minutes", "max_loan_days", "substitutes"}


def test_duplicate_type_code_is_a_conflict(
    db_session: Session, manager: User, make_type: Callable[..., EquipmentType]
) -> None:
    make_type(code="chair")
    with pytest.raises(Conflict, match="chair"):
        inventory.create_type(db_session, TypeData(code="chair", name="Chaise"), by=manager)


def test_type_with_units_cannot_become_pooled(
    db_session: Session, manager: User, make_unit: Callable[..., Unit]
) -> None:
    unit = make_unit()
    t = unit.type
    with pytest.raises(ValidationError) as caught:
        inventory.update_type(
            db_session, t.id, TypeData(code=t.code, name=t.name, is_pooled=True), by=manager
        )
    assert caught.value.errors[0][0] == "is_pooled"
    db_session.refresh(t)
    assert t.is_pooled is False


def test_pooled_type_cannot_substitute(
    db_session: Session, manager: User, make_type: Callable[..., EquipmentType]
) -> None:
    make_type(code="chair", is_pooled=True)
    with pytest.raises(ValidationError, match="chair"):
        inventory.create_type(
            db_session,
            TypeData(code="bench", name="Bench", substitute_codes=("chair",)),
            by=manager,
        )


def test_update_without_change_leaves_no_event(
    db_session: Session, manager: User, make_type: Callable[..., EquipmentType]
) -> None:
    t = make_type(code="sweeper", name="Balayeuse", turnaround_minutes=120, min_notice_hours=72)
    same = TypeData(code="sweeper", name="Balayeuse", turnaround_minutes=120, min_notice_hours=72)
    inventory.update_type(db_session, t.id, same, by=manager)
    assert _events(db_session, "type.update") == []
    inventory.update_type(
        db_session,
        t.id,
        TypeData(code="sweeper", name="Balayeuse", turnaround_minutes=90, min_notice_hours=72),
        by=manager,
    )
    (event,) = _events(db_session, "type.update")
    assert (event.before or {})["turnaround_minutes"] == 120
    assert (event.after or {})["turnaround_minutes"] == 90


def test_unit_must_be_of_a_tracked_type_at_a_depot(
    db_session: Session,
    manager: User,
    make_type: Callable[..., EquipmentType],
    make_site: Callable[..., Site],
    depot: Site,
) -> None:
    pooled = make_type(is_pooled=True)
    delivery = make_site()
    with pytest.raises(ValidationError) as caught:
        inventory.create_unit(
            db_session,
            UnitData(code="U-1", name="U 1", type_id=pooled.id, home_depot_id=delivery.id),
            by=manager,
        )
    assert {f for f, _m in caught.value.errors} == {"type_id", "home_depot_id"}

    tracked = make_type()
    unit = inventory.create_unit(
        db_session,
        UnitData(code="U-1", name="U 1", type_id=tracked.id, home_depot_id=depot.id),
        by=manager,
    )
    assert unit.home_depot is depot
    assert len(_events(db_session, "unit.create")) == 1
    with pytest.raises(Conflict):
        inventory.create_unit(
            db_session,
            UnitData(code="U-1", name="Other", type_id=tracked.id, home_depot_id=depot.id),
            by=manager,
        )


def test_update_unit_status(
    db_session: Session, manager: User, make_unit: Callable[..., Unit]
) -> None:
    unit = make_unit()
    data = UnitData(
        code=unit.code,
        name=unit.name,
        type_id=unit.type_id,
        home_depot_id=unit.home_depot_id,
        status=UnitStatus.MAINTENANCE,
        notes="Pneu crevé",
    )
    inventory.update_unit(db_session, unit.id, data, by=manager)
    assert unit.status is UnitStatus.MAINTENANCE
    (event,) = _events(db_session, "unit.update")
    assert (event.after or {})["status"] == "maintenance"


def test_windows_are_added_checked_and_removed(
    db_session: Session, manager: User, make_unit: Callable[..., Unit]
) -> None:
    unit = make_unit()
    start = DEFAULT_START
    window = inventory.add_unavailability(
        db_session, unit.id, start, start + timedelta(days=2), "Révision", by=manager
    )
    assert unit.unavailabilities == [window]

    with pytest.raises(ValidationError) as caught:
        inventory.add_unavailability(db_session, unit.id, start, start, by=manager)
    assert caught.value.errors[0][0] == "end_dt"
    with pytest.raises(ValidationError):
        inventory.add_unavailability(
            db_session, unit.id, datetime(2030, 1, 1), datetime(2030, 1, 2), by=manager
        )
    with pytest.raises(Conflict):
        inventory.add_unavailability(
            db_session, unit.id, start + timedelta(days=1), start + timedelta(days=3), by=manager
        )
    # Touching windows do not overlap: windows are half-open.
    inventory.add_unavailability(
        db_session, unit.id, start + timedelta(days=2), start + timedelta(days=3), by=manager
    )

    inventory.remove_unavailability(db_session, window.id, by=manager)
    assert len(unit.unavailabilities) == 1
    assert len(_events(db_session, "unavailability.delete")) == 1
    with pytest.raises(NotFound):
        inventory.remove_unavailability(db_session, window.id, by=manager)


def test_pool_quantity_is_created_then_updated(
    db_session: Session,
    manager: User,
    make_type: Callable[..., EquipmentType],
    make_site: Callable[..., Site],
    depot: Site,
) -> None:
    chairs = make_type(code="chair", is_pooled=True)
    pool = inventory.set_pool_quantity(db_session, chairs.id, depot.id, 300, by=manager)
    again = inventory.set_pool_quantity(db_session, chairs.id, depot.id, 250, by=manager)
    assert again.id == pool.id and again.quantity == 250
    assert len(list(db_session.scalars(select(Pool)))) == 1
    assert [e.action for e in db_session.scalars(select(AuditEvent).order_by(AuditEvent.id))] == [
        "pool.create",
        "pool.update",
    ]

    with pytest.raises(ValidationError) as caught:
        inventory.set_pool_quantity(db_session, make_type().id, make_site().id, -1, by=manager)
    assert {f for f, _m in caught.value.errors} == {"quantity", "type_id", "depot_id"}


def test_sites_validate_coordinates_and_commune(
    db_session: Session, manager: User, commune: object
) -> None:
    with pytest.raises(ValidationError) as caught:
        inventory.create_site(
            db_session,
            SiteData(name="Ailleurs", kind=SiteKind.DELIVERY, lat=91, lon=-181),
            by=manager,
        )
    assert {f for f, _m in caught.value.errors} == {"lat", "lon", "commune_id"}

    site = inventory.create_site(
        db_session,
        SiteData(
            name="Melun - Hôtel de ville",
            kind=SiteKind.DELIVERY,
            lat=48.5397,
            lon=2.6603,
            commune_id=commune.id,  # type: ignore[attr-defined]
        ),
        by=manager,
    )
    assert site.commune is commune
    with pytest.raises(Conflict):
        inventory.create_site(
            db_session,
            SiteData(name="melun - hôtel de ville", kind=SiteKind.DEPOT, lat=48.5, lon=2.6),
            by=manager,
        )


def test_depot_holding_stock_stays_a_depot(
    db_session: Session, manager: User, make_pool: Callable[..., Pool], commune: object
) -> None:
    pool = make_pool()
    depot = pool.depot
    data = SiteData(
        name=depot.name,
        kind=SiteKind.DELIVERY,
        lat=depot.lat,
        lon=depot.lon,
        commune_id=commune.id,  # type: ignore[attr-defined]
    )
    with pytest.raises(ValidationError) as caught:
        inventory.update_site(db_session, depot.id, data, by=manager)
    assert caught.value.errors[0][0] == "kind"
