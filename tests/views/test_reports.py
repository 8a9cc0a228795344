"""The report page and its CSV through the Flask test client: scopes, bad input, charts."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from types import SimpleNamespace

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from booking.models import Commune, EquipmentType, LoanRequest, Pool, Site, Unit, User
from tests.conftest import AuthActions
from tests.services.test_reports import build_activity


@pytest.fixture
def activity(
    db_session: Session,
    commune: Commune,
    other_commune: Commune,
    make_site: Callable[..., Site],
    make_type: Callable[..., EquipmentType],
    make_unit: Callable[..., Unit],
    make_pool: Callable[..., Pool],
    make_request: Callable[..., LoanRequest],
) -> SimpleNamespace:
    """The activity of the service tests: Melun and Dammarie in 2030."""
    return build_activity(
        db_session, commune, other_commune, make_site, make_type, make_unit, make_pool, make_request
    )


def svgs(html: str) -> list[str]:
    return re.findall(r"<svg .*?</svg>", html, flags=re.S)


def test_the_manager_sees_the_agglomerations_year_with_charts(
    client: FlaskClient, auth: AuthActions, manager: User, activity: SimpleNamespace
) -> None:
    auth.login(manager)
    response = client.get("/reports/?year=2030")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Whole agglomeration · 2030" in html
    charts = svgs(html)
    # Requests, refusals, days of use, occupancy, and the two comparisons with FCFS.
    assert len(charts) == 6
    for svg in charts:
        assert 'role="img"' in svg and "<title>" in svg
        assert "<script" not in svg and "style=" not in svg and "<style" not in svg
    assert "<script" not in html
    assert 'id="planning-gain"' in html and "+1 requests served and 15.5 km saved" in html
    assert "/reports/export.csv?year=2030" in html


def test_a_technician_sees_their_communes_report_by_default(
    client: FlaskClient, auth: AuthActions, technician: User, activity: SimpleNamespace
) -> None:
    auth.login(technician)
    response = client.get("/reports/?year=2030")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Melun · 2030" in html and "Whole agglomeration" not in html
    assert "Dammarie" not in html
    # With the commune's own comparison with first come, first served (two charts).
    assert len(svgs(html)) == 6
    assert "+1 requests served and -22.5 km saved" in html


@pytest.mark.parametrize("path", ["/reports/", "/reports/export.csv"])
def test_a_technician_never_sees_another_communes_report(
    client: FlaskClient,
    auth: AuthActions,
    technician: User,
    other_commune: Commune,
    activity: SimpleNamespace,
    path: str,
) -> None:
    auth.login(technician)
    for commune in (other_commune.id, 999_999, -1):
        response = client.get(f"{path}?year=2030&commune={commune}")
        assert response.status_code == 404
        assert "Dammarie" not in response.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/reports/", "/reports/export.csv"])
def test_signed_out_visitors_are_sent_to_sign_in(client: FlaskClient, path: str) -> None:
    response = client.get(path + "?year=2030")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("year=abc", "Give a whole number"),
        ("year=1800", "Choose a year between 2000 and 2100."),
        ("year=99999999999999999999", "Choose a year between 2000 and 2100."),
        ("start=2030-05-02&end=2030-05-01", "The last day cannot be before the first."),
        ("start=2030-05-02", "Give both the first and the last day."),
        ("start=2030-02-30&end=2030-03-01", "Give the date as YYYY-MM-DD"),
        ("start=0001-01-01&end=9999-12-31", "Choose days between 2000 and 2100."),
        ("commune=abc", "could not coerce"),
    ],
)
@pytest.mark.parametrize("path", ["/reports/", "/reports/export.csv"])
def test_bad_input_gets_a_message_not_an_error(
    client: FlaskClient,
    auth: AuthActions,
    manager: User,
    activity: SimpleNamespace,
    path: str,
    query: str,
    message: str,
) -> None:
    auth.login(manager)
    response = client.get(f"{path}?{query}")
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert message in html
    assert svgs(html) == []


def test_a_period_without_data_says_so(
    client: FlaskClient, auth: AuthActions, manager: User, activity: SimpleNamespace
) -> None:
    auth.login(manager)
    html = client.get("/reports/?start=2001-03-01&end=2001-03-31").get_data(as_text=True)
    assert 'id="no-data"' in html and "Nothing to report for this period" in html
    assert svgs(html) == [] and "export.csv" not in html


def test_the_csv_download(
    client: FlaskClient, auth: AuthActions, manager: User, activity: SimpleNamespace
) -> None:
    auth.login(manager)
    response = client.get("/reports/export.csv?year=2030")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert (
        'filename="report-agglomeration-20300101-20301231.csv"'
        in response.headers["Content-Disposition"]
    )
    data = response.get_data()
    assert data.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == ["Section", "Item", "Value", "Reference"]
    assert ["Requests", "Served", "2", ""] in rows
    assert ["Refusal reasons", "Equipment already lent", "1", ""] in rows
    assert ["Refusal reasons", "Declined by the fleet manager", "1", ""] in rows
    assert ["Transport", "km driven", "0.0", ""] in rows


def test_the_technicians_csv_is_their_communes(
    client: FlaskClient, auth: AuthActions, technician: User, activity: SimpleNamespace
) -> None:
    auth.login(technician)
    response = client.get("/reports/export.csv?year=2030")
    assert response.status_code == 200
    assert "report-melun-2030" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig")), delimiter=";"))
    assert ["Scope", "Melun", "", ""] in rows and ["Requests", "Requests made", "5", ""] in rows
