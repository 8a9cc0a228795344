"""CSV import and export of the inventory: broken files, all-or-nothing, round trips."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from booking.errors import Forbidden, ValidationError
from booking.models import (
    AuditEvent,
    Commune,
    EquipmentType,
    Pool,
    Site,
    SiteKind,
    Unit,
    UnitStatus,
    User,
)
from booking.services.csv_inventory import CsvImportError, CsvProblem, export_csv, import_csv

TYPES_HEADER = "code,name,tracking,delivered,turnaround_minutes,min_notice_hours,max_loan_days\n"


def _count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def _problems(session: Session, by: User, kind: str, data: bytes) -> list[CsvProblem]:
    with pytest.raises(CsvImportError) as caught:
        import_csv(session, kind, data, by=by)
    return caught.value.problems


@pytest.fixture
def depot(make_site: Callable[..., Site]) -> Site:
    return make_site(kind=SiteKind.DEPOT, name="Centre technique communautaire")


def test_types_are_created_with_substitutes_defined_further_down(
    db_session: Session, manager: User
) -> None:
    data = (
        TYPES_HEADER.replace("\n", ",substitutes\n")
        + "minibus-9,Minibus 9 places,unit,no,60,48,5,minibus-12\n"
        + "minibus-12,Minibus 12 places,unit,no,60,48,5,\n"
        + "chair,Chaise pliante,pool,oui,60,72,,\n"
    ).encode()
    result = import_csv(db_session, "types", data, by=manager)
    assert (result.created, result.updated, result.unchanged) == (3, 0, 0)
    nine = db_session.scalar(select(EquipmentType).where(EquipmentType.code == "minibus-9"))
    assert nine is not None and [s.code for s in nine.substitutes] == ["minibus-12"]
    chair = db_session.scalar(select(EquipmentType).where(EquipmentType.code == "chair"))
    assert chair is not None and chair.is_pooled and chair.is_delivered
    assert chair.max_loan_days is None
    assert _count(db_session, AuditEvent) >= 3


def test_error_on_line_7_of_10_imports_nothing(db_session: Session, manager: User) -> None:
    lines = [TYPES_HEADER.strip()]
    for n in range(2, 11):  # file lines 2..10
        turnaround = "deux heures" if n == 7 else "60"
        lines.append(f"type-{n},Type {n},unit,no,{turnaround},24,3")
    data = ("\n".join(lines) + "\n").encode()

    problems = _problems(db_session, manager, "types", data)

    assert [(p.line, p.column) for p in problems] == [(7, "turnaround_minutes")]
    assert "deux heures" in problems[0].message
    assert _count(db_session, EquipmentType) == 0
    assert _count(db_session, AuditEvent) == 0


def test_a_rule_broken_late_rolls_back_the_lines_already_written(
    db_session: Session, manager: User, make_unit: Callable[..., Unit]
) -> None:
    # Line 3 passes the cell checks but the service refuses it (a type with units cannot
    # become pooled), after line 2 was already written: line 2 must be undone.
    unit = make_unit()
    data = (
        TYPES_HEADER
        + "new-type,Nouveau,unit,no,10,0,\n"
        + f"{unit.type.code},{unit.type.name},pool,no,10,0,\n"
    ).encode()
    problems = _problems(db_session, manager, "types", data)
    assert [(p.line, p.column) for p in problems] == [(3, "tracking")]
    assert db_session.scalar(select(EquipmentType).where(EquipmentType.code == "new-type")) is None
    db_session.refresh(unit.type)
    assert unit.type.is_pooled is False


def test_file_that_is_not_utf8_is_refused(db_session: Session, manager: User) -> None:
    data = "name,kind,commune,lat,lon\nDépôt,depot,,48.5,2.6\n".encode("cp1252")
    problems = _problems(db_session, manager, "sites", data)
    assert len(problems) == 1 and problems[0].line == 2
    assert "UTF-8" in problems[0].message
    assert _count(db_session, Site) == 0


def test_spreadsheet_file_is_refused(db_session: Session, manager: User) -> None:
    problems = _problems(db_session, manager, "pools", b"PK\x03\x04\x14\x00\x06\x00binary")
    assert problems[0].line is None
    assert "CSV" in problems[0].message


def test_missing_and_unknown_columns_are_named(db_session: Session, manager: User) -> None:
    data = b"name;kind;commune;latitude;lon\nD\xc3\xa9p\xc3\xb4t;depot;;48.5;2.6\n"
    problems = _problems(db_session, manager, "sites", data)
    assert {(p.line, p.column) for p in problems} == {(1, "lat"), (1, "latitude")}


def test_bad_numbers_and_coordinates_are_reported_per_cell(
    db_session: Session, manager: User, commune: Commune
) -> None:
    data = (
        b"name,kind,commune,lat,lon\n"
        b"Mairie,delivery,melun,quarante-huit,2.66\n"
        b"Stade,delivery,melun,48.54,200\n"
        b"Salle,delivery,nowhere,48.54,2.66\n"
    )
    problems = _problems(db_session, manager, "sites", data)
    assert [(p.line, p.column) for p in problems] == [(2, "lat"), (3, "lon"), (4, "commune")]
    assert _count(db_session, Site) == 0


def test_unknown_depot_and_type_for_units(
    db_session: Session, manager: User, make_type: Callable[..., EquipmentType], depot: Site
) -> None:
    make_type(code="minibus-9")
    make_type(code="chair", is_pooled=True)
    data = (
        "code,type,home_depot\n"
        "MB9-1,minibus-9,Centre technique communautaire\n"
        "MB9-2,minibus-9,Dépôt inconnu\n"
        "MB9-3,camion,Centre technique communautaire\n"
        "CH-1,chair,Centre technique communautaire\n"
    ).encode()
    problems = _problems(db_session, manager, "units", data)
    assert [(p.line, p.column) for p in problems] == [(3, "home_depot"), (4, "type"), (5, "type")]
    assert _count(db_session, Unit) == 0


def test_duplicate_codes_are_reported_on_the_second_line(
    db_session: Session, manager: User, make_type: Callable[..., EquipmentType], depot: Site
) -> None:
    make_type(code="minibus-9")
    data = (
        b"code,type,home_depot\n"
        b"MB9-1,minibus-9,Centre technique communautaire\n"
        b"\n"
        b"MB9-1,minibus-9,Centre technique communautaire\n"
    )
    problems = _problems(db_session, manager, "units", data)
    assert [(p.line, p.column) for p in problems] == [(4, "code")]
    assert "2" in problems[0].message
    assert _count(db_session, Unit) == 0


def test_duplicate_pool_and_negative_quantity(
    db_session: Session, manager: User, make_type: Callable[..., EquipmentType], depot: Site
) -> None:
    make_type(code="chair", is_pooled=True)
    make_type(code="table", is_pooled=True)
    data = (
        b"type,depot,quantity\n"
        b"chair,Centre technique communautaire,300\n"
        b"table,Centre technique communautaire,-4\n"
        b"chair,centre technique communautaire,200\n"
    )
    problems = _problems(db_session, manager, "pools", data)
    assert [(p.line, p.column) for p in problems] == [(3, "quantity"), (4, "depot")]
    assert _count(db_session, Pool) == 0


def test_french_excel_file_is_accepted(
    db_session: Session, manager: User, commune: Commune
) -> None:
    data = (
        "\ufeffname;kind;commune;address;lat;lon;active\r\n"
        "Melun - Hôtel de ville;delivery;melun;16 rue Paul Doumer;48,5397;2,6603;oui\r\n"
        "Centre technique;depot;;Vaux-le-Pénil;48,5286;2,6831;oui\r\n"
    ).encode("utf-8")
    result = import_csv(db_session, "sites", data, by=manager)
    assert result.created == 2
    town_hall = db_session.scalar(select(Site).where(Site.name == "Melun - Hôtel de ville"))
    assert town_hall is not None
    assert town_hall.lat == pytest.approx(48.5397) and town_hall.commune is commune
    assert town_hall.address == "16 rue Paul Doumer"


def test_existing_records_are_updated_by_code(
    db_session: Session, manager: User, make_unit: Callable[..., Unit], depot: Site
) -> None:
    unit = make_unit(code="MB9-1", name="Minibus", notes="Attelage")
    data = f"code,type,home_depot,status\nMB9-1,{unit.type.code},{depot.name},maintenance\n"
    result = import_csv(db_session, "units", data.encode(), by=manager)
    assert (result.created, result.updated) == (0, 1)
    assert unit.status is UnitStatus.MAINTENANCE
    assert unit.home_depot is depot
    # Columns absent from the file keep their values.
    assert (unit.name, unit.notes) == ("Minibus", "Attelage")


def test_round_trip_export_import_changes_nothing(
    db_session: Session,
    manager: User,
    commune: Commune,
    make_type: Callable[..., EquipmentType],
    make_unit: Callable[..., Unit],
    make_pool: Callable[..., Pool],
    make_site: Callable[..., Site],
    depot: Site,
) -> None:
    twelve = make_type(code="minibus-12", name="Minibus 12 places")
    nine = make_type(code="minibus-9", name="Minibus 9 places", substitutes=[twelve])
    make_unit(code="MB9-1", type=nine, home_depot=depot, notes="Boîte auto; 9 places")
    make_unit(code="MB12-1", type=twelve, home_depot=depot, status=UnitStatus.RETIRED)
    make_pool(type=make_type(code="chair", name="Chaise, pliante", is_pooled=True), depot=depot)
    make_site(name="Melun - Hôtel de ville", commune=commune, lat=48.53971234, lon=2.6603)

    exported = {kind: export_csv(db_session, kind, by=manager) for kind in ("sites", "types")}
    exported |= {kind: export_csv(db_session, kind, by=manager) for kind in ("units", "pools")}
    assert exported["types"].startswith("\ufeff".encode())
    events_before = _count(db_session, AuditEvent)

    for kind in ("sites", "types", "units", "pools"):
        result = import_csv(db_session, kind, exported[kind], by=manager)
        assert (result.created, result.updated) == (0, 0), kind
        assert result.unchanged > 0
        assert export_csv(db_session, kind, by=manager) == exported[kind]
    assert _count(db_session, AuditEvent) == events_before

    changed = exported["pools"].decode("utf-8-sig").replace(";10", ";12").encode()
    assert import_csv(db_session, "pools", changed, by=manager).updated == 1
    assert db_session.scalars(select(Pool.quantity)).one() == 12


def test_technician_can_neither_import_nor_export(db_session: Session, technician: User) -> None:
    with pytest.raises(Forbidden):
        import_csv(db_session, "types", TYPES_HEADER.encode(), by=technician)
    with pytest.raises(Forbidden):
        export_csv(db_session, "types", by=technician)


def test_too_large_file_is_refused(db_session: Session, manager: User) -> None:
    data = TYPES_HEADER.encode() + b"x" * 5_000_001
    problems = _problems(db_session, manager, "types", data)
    assert problems[0].line is None and "5" in problems[0].message


def test_unknown_kind_is_refused(db_session: Session, manager: User) -> None:
    with pytest.raises(ValidationError):
        import_csv(db_session, "users", b"email\n", by=manager)


def test_the_load_per_item_is_read_with_a_decimal_comma_and_kept_when_left_out(
    db_session: Session, manager: User
) -> None:
    data = TYPES_HEADER.replace("\n", ",load_per_item\n") + 'chair,Chaise,pool,oui,0,0,,"0,2"\n'
    import_csv(db_session, "types", data.encode(), by=manager)
    chair = db_session.scalars(select(EquipmentType).where(EquipmentType.code == "chair")).one()
    assert chair.load_per_item == 0.2
    # A file without the column keeps the stored size.
    import_csv(
        db_session, "types", (TYPES_HEADER + "chair,Chaise,pool,oui,0,0,\n").encode(), by=manager
    )
    assert chair.load_per_item == 0.2
    assert b";0.2\r\n" in export_csv(db_session, "types", by=manager)
    bad = TYPES_HEADER.replace("\n", ",load_per_item\n") + "chair,Chaise,pool,oui,0,0,,-1\n"
    (problem,) = _problems(db_session, manager, "types", bad.encode())
    assert problem.column == "load_per_item"
