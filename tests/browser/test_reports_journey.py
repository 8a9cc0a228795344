"""The fleet manager reads this year's report in Chromium: figures, server-drawn charts,
print layout, and the CSV download."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from flask import Flask
from playwright.sync_api import Browser, expect
from pypdf import PdfReader

from booking.db import get_db, utcnow
from booking.models import (
    Assignment,
    AssignmentUnit,
    Commune,
    EquipmentType,
    LoanRequest,
    Plan,
    PlanStatus,
    RequestLine,
    RequestStatus,
    Role,
    Site,
    SiteKind,
    Unit,
)
from booking.services.users import create_user
from booking.timeutil import to_local
from tests.browser.conftest import ARTIFACTS, PASSWORD, migrated_app, serving, sign_in

pytestmark = pytest.mark.browser

MANAGER = "manager@agglo.example"


@pytest.fixture(scope="module")
def live(
    tmp_path_factory: pytest.TempPathFactory, compiled_translations: Path
) -> Iterator[SimpleNamespace]:
    """Melun this year: a minibus loan served by an approved plan, one request declined."""
    app: Flask = migrated_app(tmp_path_factory, compiled_translations, "live-reports")
    now = utcnow()
    # Early in the year, so that the loan falls in this year whatever today is.
    start = now.replace(month=1, day=10, hour=8, minute=0, second=0, microsecond=0)
    with get_db(app).session() as session:
        melun = Commune(slug="melun", name="Melun", lat=48.5394, lon=2.6603)
        depot = Site(name="Dépôt de Vaux", kind=SiteKind.DEPOT, lat=48.55, lon=2.66)
        hall = Site(
            name="Melun - Hôtel de ville",
            kind=SiteKind.DELIVERY,
            commune=melun,
            lat=48.5397,
            lon=2.6603,
        )
        minibus = EquipmentType(code="minibus-9", name="Minibus 9 places")
        bus = Unit(code="MB9-1", name="Minibus 1", type=minibus, home_depot=depot)
        loans = []
        for title, status in (
            ("Sortie des aînés", RequestStatus.RETURNED),
            ("Voyage scolaire", RequestStatus.DECLINED),
        ):
            loan = LoanRequest(
                commune=melun,
                site=hall,
                title=title,
                requested_start_dt=start,
                requested_end_dt=start + timedelta(days=2),
                status=status,
            )
            loan.lines = [RequestLine(type=minibus, quantity=1)]
            loans.append(loan)
        plan = Plan(
            status=PlanStatus.APPROVED,
            strategy="cpsat",
            problem_json={},
            problem_sha="0" * 64,
            approved_at=start - timedelta(days=5),
            metrics={"served": 1, "km": 12.5},
            baseline_metrics={"served": 1, "km": 20.0},
        )
        served = Assignment(
            request=loans[0], is_served=True, start_dt=start, end_dt=start + timedelta(days=2)
        )
        served.units = [AssignmentUnit(line=loans[0].lines[0], unit=bus)]
        plan.assignments = [served, Assignment(request=loans[1], reason={"kind": "BUSY"})]
        session.add_all([melun, depot, hall, minibus, bus, *loans, plan])
        session.commit()
        create_user(session, email=MANAGER, name="Manager", password=PASSWORD, role=Role.MANAGER)
    with serving(app) as base:
        yield SimpleNamespace(base=base, year=to_local(now).year)


def test_manager_reads_the_yearly_report_and_downloads_its_figures(
    browser: Browser, live: SimpleNamespace
) -> None:
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, locale="fr-FR", accept_downloads=True
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        sign_in(page, live.base, MANAGER)
        page.get_by_role("link", name="Rapports").click()
        expect(page.locator("#report-title")).to_have_text(f"Toute l'agglomération · {live.year}")
        page.get_by_label("Année").fill(str(live.year))
        page.get_by_role("button", name="Afficher le rapport").click()
        charts = page.locator("figure.chart svg[role=img]")
        # Requests, refusals, days of use, occupancy, and the plan against FCFS twice.
        expect(charts).to_have_count(6)
        for index in range(6):
            expect(charts.nth(index)).to_be_visible()
            box = charts.nth(index).bounding_box()
            assert box is not None and box["height"] > 100
        expect(page.get_by_role("img", name="Refus par motif")).to_contain_text(
            "Matériel déjà prêté"
        )
        expect(page.locator("#planning-gain")).to_contain_text("7.5 km")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)

        pdf = PdfReader(io.BytesIO(page.pdf(prefer_css_page_size=True)))
        text = " ".join(" ".join(p.extract_text() for p in pdf.pages).split())
        assert "Jours d'utilisation par type" in text and "Minibus 9 places" in text
        assert "Afficher le rapport" not in text and "Déconnexion" not in text

        with page.expect_download() as info:
            page.get_by_role("link", name="Télécharger les chiffres (CSV)").click()
        download = info.value
        assert download.suggested_filename == (
            f"report-agglomeration-{live.year}0101-{live.year}1231.csv"
        )
        data = Path(download.path()).read_bytes()
        assert data.startswith("\ufeff".encode())
        rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
        assert rows[0] == ["Rubrique", "Élément", "Valeur", "Référence"]
        assert ["Demandes", "Demandes faites", "2", ""] in rows
        assert ["Motifs de refus", "Matériel déjà prêté", "1", ""] in rows
        # 10 January 08:00 to 12 January 08:00 touches three calendar days.
        days_in_year = 366 if live.year % 4 == 0 else 365
        assert ["Jours d'utilisation", "Minibus 9 places", "3", str(days_in_year)] in rows
    finally:
        context.close()


def test_a_year_without_activity_says_so(browser: Browser, live: SimpleNamespace) -> None:
    context = browser.new_context(viewport={"width": 360, "height": 740}, locale="fr-FR")
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        sign_in(page, live.base, MANAGER)
        page.goto(f"{live.base}/reports/?year=2001")
        expect(page.locator("#no-data")).to_contain_text("Rien à signaler pour cette période")
        expect(page.locator("figure.chart")).to_have_count(0)
        page.goto(f"{live.base}/reports/?start=2030-05-02&end=2030-05-01")
        expect(page.locator(".field-error")).to_have_text(
            "Le dernier jour ne peut pas précéder le premier."
        )
    finally:
        context.close()
