"""Inventory pages through the Flask test client: access, forms, CSRF, CSV upload."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from booking.models import (
    AuditEvent,
    Commune,
    EquipmentType,
    Pool,
    Site,
    SiteKind,
    Unavailability,
    Unit,
    User,
)
from tests.conftest import AuthActions


@pytest.fixture
def stock(
    make_unit: Callable[..., Unit], make_pool: Callable[..., Pool], make_site: Callable[..., Site]
) -> dict[str, int]:
    """One unit, one pool and one delivery site; ids for building paths."""
    unit = make_unit(code="MB9-1")
    pool = make_pool(depot=unit.home_depot)
    site = make_site()
    return {"unit": unit.id, "type": unit.type_id, "pool_type": pool.type_id, "site": site.id}


PAGES = (
    "/inventory/",
    "/inventory/types",
    "/inventory/types/new",
    "/inventory/types/{type}",
    "/inventory/units",
    "/inventory/units/new",
    "/inventory/units/{unit}",
    "/inventory/pools",
    "/inventory/sites",
    "/inventory/sites/new",
    "/inventory/sites/{site}",
    "/inventory/import",
    "/inventory/export/types.csv",
    "/inventory/export/units.csv",
    "/inventory/export/pools.csv",
    "/inventory/export/sites.csv",
)


def _count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


@pytest.mark.parametrize("path", PAGES)
@pytest.mark.parametrize(
    ("role", "status"), [("technician", 403), ("manager", 200), ("admin", 200)]
)
def test_pages_by_role(
    request: pytest.FixtureRequest,
    client: FlaskClient,
    auth: AuthActions,
    stock: dict[str, int],
    path: str,
    role: str,
    status: int,
) -> None:
    user: User = request.getfixturevalue(role)
    auth.login(user)
    response = client.get(path.format(**stock))
    assert response.status_code == status
    if status == 200 and "export" not in path:
        assert b"<h1>" in response.data


def test_anonymous_is_sent_to_sign_in(client: FlaskClient) -> None:
    response = client.get("/inventory/types")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_technician_cannot_post(
    client: FlaskClient, auth: AuthActions, technician: User, db_session: Session
) -> None:
    auth.login(technician)
    response = client.post(
        "/inventory/types/new",
        data={
            "code": "x",
            "name": "X",
            "is_pooled": "unit",
            "is_delivered": "collected",
            "turnaround_minutes": "0",
            "min_notice_hours": "0",
        },
    )
    assert response.status_code == 403
    assert _count(db_session, EquipmentType) == 0


def _type_form(**changes: str) -> dict[str, str]:
    data = {
        "code": "minibus-9",
        "name": "Minibus 9 places",
        "is_pooled": "unit",
        "is_delivered": "collected",
        "turnaround_minutes": "60",
        "min_notice_hours": "48",
        "max_loan_days": "5",
    }
    data.update(changes)
    return data


def test_manager_creates_and_edits_a_type(
    client: FlaskClient, auth: AuthActions, manager: User, db_session: Session
) -> None:
    auth.login(manager)
    response = client.post("/inventory/types/new", data=_type_form())
    assert response.status_code == 302
    t = db_session.scalars(select(EquipmentType)).one()
    assert (t.code, t.turnaround_minutes, t.max_loan_days) == ("minibus-9", 60, 5)

    response = client.post(f"/inventory/types/{t.id}", data=_type_form(max_loan_days=""))
    assert response.status_code == 302
    db_session.refresh(t)
    assert t.max_loan_days is None
    assert [e.action for e in db_session.scalars(select(AuditEvent))] == [
        "type.create",
        "type.update",
    ]


@pytest.mark.parametrize(
    "changes",
    [
        {"turnaround_minutes": "-5"},
        {"turnaround_minutes": "beaucoup"},
        {"code": ""},
        {"code": "avec espace"},
        {"max_loan_days": "0"},
        {"is_pooled": "maybe"},
    ],
)
def test_bad_type_input_is_shown_again(
    client: FlaskClient,
    auth: AuthActions,
    manager: User,
    db_session: Session,
    changes: dict[str, str],
) -> None:
    auth.login(manager)
    response = client.post("/inventory/types/new", data=_type_form(**changes))
    assert response.status_code == 400
    assert b"field-error" in response.data
    assert _count(db_session, EquipmentType) == 0


def test_type_with_units_cannot_become_pooled(
    client: FlaskClient, auth: AuthActions, manager: User, make_unit: Callable[..., Unit]
) -> None:
    unit = make_unit()
    auth.login(manager)
    response = client.post(
        f"/inventory/types/{unit.type_id}",
        data=_type_form(code=unit.type.code, is_pooled="pool"),
    )
    assert response.status_code == 400
    assert b"field-error" in response.data
    assert unit.type.is_pooled is False


def test_duplicate_type_code_is_flashed(
    client: FlaskClient,
    auth: AuthActions,
    manager: User,
    make_type: Callable[..., EquipmentType],
) -> None:
    make_type(code="minibus-9")
    auth.login(manager)
    response = client.post("/inventory/types/new", data=_type_form())
    assert response.status_code == 400
    assert b"flash-error" in response.data and b"minibus-9" in response.data


def test_unit_windows_are_added_and_removed(
    client: FlaskClient,
    auth: AuthActions,
    manager: User,
    db_session: Session,
    stock: dict[str, int],
) -> None:
    auth.login(manager)
    path = f"/inventory/units/{stock['unit']}/windows"
    bad = client.post(
        path, data={"start_dt": "2030-03-10T08:00", "end_dt": "2030-03-09T08:00", "reason": "x"}
    )
    assert bad.status_code == 400
    assert b"field-error" in bad.data
    assert _count(db_session, Unavailability) == 0

    garbled = client.post(path, data={"start_dt": "demain", "end_dt": ""})
    assert garbled.status_code == 400

    ok = client.post(
        path,
        data={"start_dt": "2030-03-10T08:00", "end_dt": "2030-03-12T18:00", "reason": "Révision"},
    )
    assert ok.status_code == 302
    window = db_session.scalars(select(Unavailability)).one()
    # 08:00 in Paris in March (UTC+1) is 07:00 UTC.
    assert (window.start_dt.hour, window.reason) == (7, "Révision")

    page = client.get(f"/inventory/units/{stock['unit']}")
    assert "Révision".encode() in page.data
    removed = client.post(f"/inventory/windows/{window.id}/delete")
    assert removed.status_code == 302
    assert _count(db_session, Unavailability) == 0


def test_pool_quantity_form(
    client: FlaskClient,
    auth: AuthActions,
    manager: User,
    db_session: Session,
    stock: dict[str, int],
) -> None:
    pool = db_session.scalars(select(Pool)).one()
    auth.login(manager)
    data = {"type_id": str(pool.type_id), "depot_id": str(pool.depot_id), "quantity": "-1"}
    assert client.post("/inventory/pools", data=data).status_code == 400
    data["quantity"] = "250"
    assert client.post("/inventory/pools", data=data).status_code == 302
    db_session.refresh(pool)
    assert pool.quantity == 250


@pytest.mark.parametrize(
    "changes",
    [{"lat": "95"}, {"lon": "-190"}, {"lat": "abc"}, {"commune_id": "0"}, {"name": ""}],
)
def test_bad_site_input_is_shown_again(
    client: FlaskClient,
    auth: AuthActions,
    manager: User,
    commune: Commune,
    db_session: Session,
    changes: dict[str, str],
) -> None:
    auth.login(manager)
    data = {
        "name": "Melun - Hôtel de ville",
        "kind": "delivery",
        "commune_id": str(commune.id),
        "lat": "48.5397",
        "lon": "2.6603",
        "is_active": "y",
    }
    assert client.post("/inventory/sites/new", data=data).status_code == 302
    site = db_session.scalars(select(Site)).one()
    data.update(changes)
    response = client.post(f"/inventory/sites/{site.id}", data=data)
    assert response.status_code == 400
    assert b"field-error" in response.data
    db_session.refresh(site)
    assert (site.name, site.lat, site.lon) == ("Melun - Hôtel de ville", 48.5397, 2.6603)


def test_csrf_is_enforced(
    client: FlaskClient, auth: AuthActions, manager: User, db_session: Session, csrf_enabled: None
) -> None:
    # Signing in needs a token too when CSRF is on: take it from the login page.
    page = client.get("/login").get_data(as_text=True)
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    client.post(
        "/login",
        data={"email": manager.email, "password": "correct horse battery", "csrf_token": token},
    )
    assert client.get("/inventory/types").status_code == 200
    response = client.post("/inventory/types/new", data=_type_form())
    assert response.status_code == 400
    assert _count(db_session, EquipmentType) == 0
    response = client.post(
        "/inventory/import",
        data={"kind": "types", "file": (io.BytesIO(b"code,name,tracking\n"), "types.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400


def test_csv_upload_reports_lines_and_imports_nothing(
    client: FlaskClient, auth: AuthActions, manager: User, db_session: Session
) -> None:
    auth.login(manager)
    lines = ["code,name,tracking"] + [f"t-{n},Type {n},unit" for n in range(2, 11)]
    lines[6] = "t-7,Type 7,sometimes"
    response = client.post(
        "/inventory/import",
        data={"kind": "types", "file": (io.BytesIO("\n".join(lines).encode()), "types.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert 'id="import-problems"' in html
    assert "<td>7</td><td>tracking</td>" in html
    assert _count(db_session, EquipmentType) == 0


def test_csv_upload_and_download(
    client: FlaskClient, auth: AuthActions, manager: User, db_session: Session
) -> None:
    auth.login(manager)
    data = "code;name;tracking\nchair;Chaise pliante;pool\n".encode("utf-8-sig")
    response = client.post(
        "/inventory/import",
        data={"kind": "types", "file": (io.BytesIO(data), "types.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    assert db_session.scalars(select(EquipmentType.code)).all() == ["chair"]

    download = client.get("/inventory/export/types.csv")
    assert download.mimetype == "text/csv"
    assert "attachment" in download.headers["Content-Disposition"]
    text = download.data.decode("utf-8-sig")
    assert text.splitlines()[1].startswith("chair;Chaise pliante;pool;")


def test_unknown_export_kind_is_404(client: FlaskClient, auth: AuthActions, manager: User) -> None:
    auth.login(manager)
    assert client.get("/inventory/export/users.csv").status_code == 404


def test_site_kind_choice(
    client: FlaskClient, auth: AuthActions, admin: User, db_session: Session
) -> None:
    auth.login(admin)
    data = {"name": "Dépôt nord", "kind": "depot", "commune_id": "0", "lat": "48.6", "lon": "2.7"}
    assert client.post("/inventory/sites/new", data=data).status_code == 302
    site = db_session.scalars(select(Site)).one()
    assert site.kind is SiteKind.DEPOT and site.commune is None


def test_pages_are_translated(client: FlaskClient, auth: AuthActions, manager: User) -> None:
    # The test app runs in English (see conftest); the catalogues are compiled by make.
    auth.login(manager)
    client.post("/language", data={"locale": "fr"})
    page = client.get("/inventory/").get_data(as_text=True)
    assert "Vue d'ensemble" in page and "Importer un fichier CSV" in page
    assert "nombre d'articles, 0 ou plus" in page  # the CSV columns' help
    client.post("/language", data={"locale": "en"})
    assert "Overview" in client.get("/inventory/").get_data(as_text=True)


def test_coordinates_accept_a_decimal_comma(
    client: FlaskClient, auth: AuthActions, manager: User, commune: Commune, db_session: Session
) -> None:
    auth.login(manager)
    data = {
        "name": "Melun - Hôtel de ville",
        "kind": "delivery",
        "commune_id": str(commune.id),
        "lat": "48,5397",
        "lon": "2,6603",
    }
    assert client.post("/inventory/sites/new", data=data).status_code == 302
    site = db_session.scalars(select(Site)).one()
    assert (site.lat, site.lon) == (48.5397, 2.6603)
