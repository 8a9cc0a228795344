"""The label sheet and the unit and pool pages its QR codes open (Flask test client)."""

from __future__ import annotations

import re
from collections.abc import Callable
from types import SimpleNamespace
from urllib.parse import quote

import pytest
import segno
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from booking.errors import Forbidden, NotFound
from booking.models import (
    Commune,
    EquipmentType,
    LoanRequest,
    Pool,
    RequestStatus,
    Site,
    SiteKind,
    Unit,
    UnitStatus,
    User,
)
from booking.services import equipment_pages, labels
from tests.conftest import AuthActions
from tests.services.test_handovers import approve


@pytest.fixture
def fleet(
    db_session: Session,
    commune: Commune,
    other_commune: Commune,
    make_site: Callable[..., Site],
    make_type: Callable[..., EquipmentType],
    make_unit: Callable[..., Unit],
    make_pool: Callable[..., Pool],
    make_request: Callable[..., LoanRequest],
) -> SimpleNamespace:
    """Two depots; podiums and a minibus; chairs; a Melun loan of POD-1 and 20 chairs."""
    vaux = make_site(kind=SiteKind.DEPOT, name="Dépôt de Vaux")
    nord = make_site(kind=SiteKind.DEPOT, name="Dépôt Nord")
    hall = make_site(commune=commune, name="Melun - Hôtel de ville")
    podium = make_type(code="podium", name="Podium")
    minibus = make_type(code="minibus", name="Minibus")
    chair = make_type(code="chair", name="Chaise", is_pooled=True)
    pod1 = make_unit(type=podium, home_depot=vaux, code="POD-1", name="Podium 1")
    pod2 = make_unit(type=podium, home_depot=nord, code="POD-2", name="Podium 2")
    bus = make_unit(type=minibus, home_depot=vaux, code="MB-1", name="Minibus 1")
    old = make_unit(
        type=minibus, home_depot=vaux, code="MB-OLD", name="Old", status=UnitStatus.RETIRED
    )
    chairs = make_pool(type=chair, depot=vaux, quantity=50)
    loan = make_request(commune=commune, site=hall, lines=[(podium, 1), (chair, 20)])
    approve(db_session, loan, units=[pod1], draws=[(chairs, 20)])
    return SimpleNamespace(
        vaux=vaux,
        nord=nord,
        podium=podium,
        chair=chair,
        pod1=pod1,
        pod2=pod2,
        bus=bus,
        old=old,
        chairs=chairs,
        loan=loan,
    )


# --- the sheet ---------------------------------------------------------------------------


def codes(html: str) -> list[str]:
    return re.findall(r'<figure class="label" data-code="([^"]+)"', html)


def test_manager_sees_a_label_per_unit_and_pool(
    client: FlaskClient, auth: AuthActions, manager: User, fleet: SimpleNamespace
) -> None:
    auth.login(manager)
    response = client.get("/labels/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    # Retired units get no label; pools are named by type and depot.
    assert codes(html) == ["MB-1", "POD-1", "POD-2", "chair · Dépôt de Vaux"]
    assert html.count('<svg viewBox="0 0') == 4
    assert "<script" not in html
    assert 'data-url="http://localhost/units/POD-1"' in html
    assert f'data-url="http://localhost/pools/{fleet.chairs.id}"' in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("kind=units", ["MB-1", "POD-1", "POD-2"]),
        ("kind=pools", ["chair · Dépôt de Vaux"]),
        ("kind=all&type_id={podium}", ["POD-1", "POD-2"]),
        ("kind=all&depot_id={nord}", ["POD-2"]),
        ("kind=units&type_id={podium}&depot_id={vaux}", ["POD-1"]),
        ("kind=pools&type_id={podium}", []),
    ],
)
def test_the_manager_chooses_the_labels(
    client: FlaskClient,
    auth: AuthActions,
    manager: User,
    fleet: SimpleNamespace,
    query: str,
    expected: list[str],
) -> None:
    auth.login(manager)
    ids = {"podium": fleet.podium.id, "nord": fleet.nord.id, "vaux": fleet.vaux.id}
    response = client.get("/labels/?" + query.format(**ids))
    assert response.status_code == 200
    assert codes(response.get_data(as_text=True)) == expected


@pytest.mark.parametrize(
    "query", ["kind=everything", "type_id=abc", "type_id=999999", "depot_id=-1", "kind="]
)
def test_a_bad_choice_is_refused_with_a_message(
    client: FlaskClient, auth: AuthActions, manager: User, fleet: SimpleNamespace, query: str
) -> None:
    auth.login(manager)
    response = client.get("/labels/?" + query)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "Choose the labels again." in html
    assert codes(html) == []


def test_technicians_print_no_labels(
    client: FlaskClient, auth: AuthActions, technician: User, fleet: SimpleNamespace
) -> None:
    auth.login(technician)
    assert client.get("/labels/").status_code == 403


def test_the_qr_code_reads_back_the_address(app: Flask) -> None:
    svg = labels.qr_svg("http://localhost/units/POD-1")
    assert svg.startswith('<svg viewBox="0 0 ') and 'class="qr"' in svg
    assert "style=" not in svg and "<script" not in svg and "width=" not in svg
    # segno encodes the same text the same way: the label's code is that of the address.
    expected = segno.make("http://localhost/units/POD-1", error="m", micro=False)
    assert (
        expected.svg_inline(scale=1, border=2, omitsize=True, svgclass="qr", lineclass=None) == svg
    )
    assert expected.error in ("M", "Q", "H")


# --- the unit and pool pages ---------------------------------------------------------------


def test_a_technician_opens_the_unit_of_their_loan(
    client: FlaskClient, auth: AuthActions, technician: User, fleet: SimpleNamespace
) -> None:
    auth.login(technician)
    response = client.get("/units/POD-1")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Podium 1" in html
    assert f'href="/handovers/{fleet.loan.id}/check-out"' in html
    assert "/check-in" not in html


def test_the_page_offers_the_check_in_once_the_unit_is_out(
    client: FlaskClient,
    auth: AuthActions,
    technician: User,
    fleet: SimpleNamespace,
    db_session: Session,
) -> None:
    fleet.loan.status = RequestStatus.HANDED_OVER
    db_session.commit()
    auth.login(technician)
    html = client.get("/units/POD-1").get_data(as_text=True)
    assert f'href="/handovers/{fleet.loan.id}/check-in"' in html
    assert "/check-out" not in html


def test_the_pool_page_lists_the_loans_drawing_from_it(
    client: FlaskClient, auth: AuthActions, technician: User, fleet: SimpleNamespace
) -> None:
    auth.login(technician)
    response = client.get(f"/pools/{fleet.chairs.id}")
    assert response.status_code == 200
    assert f'href="/handovers/{fleet.loan.id}/check-out"' in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "path",
    ["/units/POD-1", "/units/POD-2", "/units/NOPE", "/pools/{chairs}", "/pools/999999"],
)
def test_another_communes_technician_gets_404(
    client: FlaskClient,
    auth: AuthActions,
    other_technician: User,
    fleet: SimpleNamespace,
    path: str,
) -> None:
    auth.login(other_technician)
    response = client.get(path.format(chairs=fleet.chairs.id))
    assert response.status_code == 404
    html = response.get_data(as_text=True)
    assert "Podium" not in html and "Melun" not in html


@pytest.mark.parametrize("path", ["/units/POD-2", "/units/MB-1", "/pools/{chairs}"])
def test_the_manager_opens_any_unit_even_without_loans(
    client: FlaskClient, auth: AuthActions, manager: User, fleet: SimpleNamespace, path: str
) -> None:
    auth.login(manager)
    response = client.get(path.format(chairs=fleet.chairs.id))
    assert response.status_code == 200
    assert "inventory" in response.get_data(as_text=True)


def test_an_odd_code_is_a_404_not_an_error(
    client: FlaskClient, auth: AuthActions, manager: User, fleet: SimpleNamespace
) -> None:
    auth.login(manager)
    for code in ["x" * 500, "é'\"<>", quote("POD-1 ")]:
        assert client.get(f"/units/{code}").status_code == 404
    # A NUL is refused before any query sees it (PostgreSQL would refuse it).
    assert client.get("/units/%00").status_code == 400


def test_signing_in_leads_back_to_the_scanned_unit(
    client: FlaskClient, technician: User, fleet: SimpleNamespace
) -> None:
    response = client.get("/units/POD-1")
    assert response.status_code == 302
    login = response.headers["Location"]
    assert "/login" in login and "next=%2Funits%2FPOD-1" in login
    signed_in = client.post(
        login, data={"email": technician.email, "password": "correct horse battery"}
    )
    assert signed_in.status_code == 302
    assert signed_in.headers["Location"] == "/units/POD-1"


def test_the_service_checks_roles_and_communes(
    app: Flask,
    db_session: Session,
    technician: User,
    other_technician: User,
    manager: User,
    fleet: SimpleNamespace,
) -> None:
    with app.test_request_context():
        page = equipment_pages.unit_page(db_session, "POD-1", by=technician)
        assert page.next_loan is not None and page.next_loan.request.id == fleet.loan.id
        assert page.next_loan.way == "out"
        with pytest.raises(NotFound):
            equipment_pages.unit_page(db_session, "POD-1", by=other_technician)
        assert equipment_pages.unit_page(db_session, "POD-2", by=manager).next_loan is None
        with pytest.raises(Forbidden):
            labels.list_labels(db_session, labels.LabelFilter(), by=technician)
