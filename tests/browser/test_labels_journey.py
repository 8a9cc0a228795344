"""QR labels in Chromium: the manager prints the sheet to PDF; on a phone, a label's
address opens the unit's page, which leads to the check-out and check-in forms.

The phone is 360 × 740 CSS pixels, the narrowest common Android screen: the forms must
not scroll sideways and every control must be at least 44 pixels tall.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect
from pypdf import PdfReader
from sqlalchemy import select

from booking.db import get_db, utcnow
from booking.models import (
    Assignment,
    AssignmentDraw,
    AssignmentUnit,
    Commune,
    EquipmentType,
    Handover,
    HandoverKind,
    LoanRequest,
    Plan,
    PlanStatus,
    Pool,
    RequestLine,
    RequestStatus,
    Role,
    Site,
    SiteKind,
    Unit,
)
from booking.services.users import create_user
from tests.browser.conftest import ARTIFACTS, PASSWORD, migrated_app, serving, sign_in

pytestmark = pytest.mark.browser

TECHNICIAN = "tech@melun.example"
MANAGER = "manager@agglo.example"
PHONE = {"width": 360, "height": 740}
A4_POINTS = (595, 842)  # 210 × 297 mm at 72 points per inch, rounded
MIN_TAP = 44


@pytest.fixture(scope="module")
def live(
    tmp_path_factory: pytest.TempPathFactory, compiled_translations: Path
) -> Iterator[SimpleNamespace]:
    """Melun, a depot with two minibuses and chairs, a loan of MB9-1 and chairs approved."""
    app: Flask = migrated_app(tmp_path_factory, compiled_translations, "live-labels")
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
        chair = EquipmentType(code="chair", name="Chaise pliante", is_pooled=True)
        units = [
            Unit(code=f"MB9-{n}", name=f"Minibus {n}", type=minibus, home_depot=depot)
            for n in (1, 2)
        ]
        chairs = Pool(type=chair, depot=depot, quantity=100)
        start = utcnow() + timedelta(hours=2)
        loan = LoanRequest(
            commune=melun,
            site=hall,
            title="Sortie du club des aînés",
            requested_start_dt=start,
            requested_end_dt=start + timedelta(days=1),
            status=RequestStatus.APPROVED,
        )
        bus_line = RequestLine(type=minibus, quantity=1)
        chair_line = RequestLine(type=chair, quantity=30)
        loan.lines = [bus_line, chair_line]
        plan = Plan(
            status=PlanStatus.APPROVED, strategy="cpsat", problem_json={}, problem_sha="0" * 64
        )
        assignment = Assignment(
            request=loan, is_served=True, start_dt=start, end_dt=start + timedelta(days=1)
        )
        assignment.units = [AssignmentUnit(line=bus_line, unit=units[0])]
        assignment.draws = [AssignmentDraw(line=chair_line, pool=chairs, quantity=30)]
        plan.assignments.append(assignment)
        # Chairs lent since yesterday, already out.
        since = utcnow() - timedelta(days=1)
        out = LoanRequest(
            commune=melun,
            site=hall,
            title="Vide-grenier",
            requested_start_dt=since,
            requested_end_dt=since + timedelta(days=2),
            status=RequestStatus.HANDED_OVER,
        )
        out_line = RequestLine(type=chair, quantity=40)
        out.lines = [out_line]
        out.handovers = [
            Handover(kind=HandoverKind.CHECK_OUT, line=out_line, taken_by="Paul", at=since)
        ]
        out_assignment = Assignment(
            request=out, is_served=True, start_dt=since, end_dt=since + timedelta(days=2)
        )
        out_assignment.draws = [AssignmentDraw(line=out_line, pool=chairs, quantity=40)]
        plan.assignments.append(out_assignment)
        session.add_all([melun, depot, hall, minibus, chair, *units, chairs, loan, out, plan])
        session.commit()
        create_user(session, email=MANAGER, name="Manager", password=PASSWORD, role=Role.MANAGER)
        create_user(
            session,
            email=TECHNICIAN,
            name="Tech Melun",
            password=PASSWORD,
            role=Role.TECHNICIAN,
            commune_id=melun.id,
        )
        ids = SimpleNamespace(loan=loan.id, out=out.id, pool=chairs.id)
    with serving(app) as base:
        yield SimpleNamespace(base=base, app=app, ids=ids)


def _shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"labels-{name}.png"), full_page=True)


def test_manager_prints_the_label_sheet(browser: Browser, live: SimpleNamespace) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        sign_in(page, live.base, MANAGER)
        page.goto(f"{live.base}/inventory/")
        page.get_by_role("link", name="Étiquettes").click()
        page.get_by_label("Étiquettes").select_option("units")
        page.get_by_role("button", name="Afficher les étiquettes").click()
        expect(page.locator("figure.label")).to_have_count(2)
        page.get_by_label("Étiquettes").select_option("all")
        page.get_by_role("button", name="Afficher les étiquettes").click()
        labels = page.locator("figure.label")
        expect(labels).to_have_count(3)
        expect(labels.nth(0).locator("svg.qr")).to_be_visible()
        assert labels.nth(0).get_attribute("data-url") == f"{live.base}/units/MB9-1"
        assert labels.nth(2).get_attribute("data-url") == f"{live.base}/pools/{live.ids.pool}"
        _shot(page, "sheet")

        pdf = page.pdf(prefer_css_page_size=True, print_background=True)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / "labels-sheet.pdf").write_bytes(pdf)
        reader = PdfReader(io.BytesIO(pdf))
        assert len(reader.pages) == 1
        box = reader.pages[0].mediabox
        assert (round(float(box.width)), round(float(box.height))) == A4_POINTS
        text = " ".join(reader.pages[0].extract_text().split())
        for code in ("MB9-1", "MB9-2", "chair · Dépôt de Vaux", "Minibus 9 places"):
            assert code in text
        # The menu, the choice form and the footer are not printed.
        assert "Déconnexion" not in text and "Afficher les étiquettes" not in text
        # Each label's QR code is drawn: three vector paths of the same modules.
        page.emulate_media(media="print")
        sizes = page.locator("figure.label svg.qr").evaluate_all(
            "els => els.map(e => e.getBoundingClientRect().width)"
        )
        assert len(sizes) == 3 and all(size > 100 for size in sizes)  # 30 mm ≈ 113 px
    finally:
        context.close()


def _phone(browser: Browser) -> Page:
    context = browser.new_context(viewport=PHONE, locale="fr-FR", has_touch=True, is_mobile=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    return page


def _fits_a_phone(page: Page) -> None:
    """No sideways scrolling; every control of the hand-over form is big enough to tap."""
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page is {width} px wide"
    small = page.locator(
        "form.handover-form :is(input:not([type=hidden]):not([type=checkbox]), select, "
        "textarea, button, .button), form.handover-form .field.check label"
    ).evaluate_all(
        f"""els => els.filter(e => e.offsetParent !== null)
            .map(e => [e.name || e.textContent.trim(), e.getBoundingClientRect()])
            .filter(([, r]) => r.height < {MIN_TAP} || r.width < {MIN_TAP})
            .map(([name, r]) => `${{name}}: ${{Math.round(r.width)}}x${{Math.round(r.height)}}`)"""
    )
    assert small == []


def test_technician_scans_a_label_and_checks_the_unit_out(
    browser: Browser, live: SimpleNamespace
) -> None:
    page = _phone(browser)
    try:
        # Not signed in: the label's address leads to the sign-in form, then back.
        page.goto(f"{live.base}/units/MB9-1")
        page.wait_for_url(re.compile(r"/login\?next="))
        page.get_by_label("Adresse e-mail").fill(TECHNICIAN)
        page.get_by_label("Mot de passe").fill(PASSWORD)
        page.get_by_role("button", name="Se connecter").click()
        page.wait_for_url(f"{live.base}/units/MB9-1")
        expect(page.get_by_role("heading", level=1)).to_contain_text("Minibus 1")
        expect(page.locator("#upcoming")).to_contain_text("Sortie du club des aînés")
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        _shot(page, "unit-phone")

        page.get_by_role("link", name="Remettre").click()
        page.wait_for_url(re.compile(rf"/handovers/{live.ids.loan}/check-out$"))
        expect(page.locator("fieldset.handover-item")).to_have_count(2)
        _fits_a_phone(page)
        _shot(page, "check-out-phone")
        page.locator('input[name="taken_by"]').fill("Jean Dupont")
        page.get_by_role("button", name="Enregistrer la remise").click()
        page.wait_for_url(re.compile(rf"/requests/{live.ids.loan}$"))
        expect(page.locator("#handovers")).to_contain_text("Jean Dupont")

        # Scanned again, the label offers the return.
        page.goto(f"{live.base}/units/MB9-1")
        expect(page.locator("#out")).to_contain_text("Sortie du club des aînés")
        expect(page.get_by_role("link", name="Reprendre")).to_be_visible()
    finally:
        page.context.close()
    with get_db(live.app).session() as session:
        loan = session.get(LoanRequest, live.ids.loan)
        assert loan is not None and loan.status is RequestStatus.HANDED_OVER
        rows = session.scalars(select(Handover).where(Handover.request_id == loan.id)).all()
        assert {(row.kind, row.taken_by) for row in rows} == {
            (HandoverKind.CHECK_OUT, "Jean Dupont")
        }


def test_manager_scans_the_pool_label_and_checks_the_loan_in(
    browser: Browser, live: SimpleNamespace
) -> None:
    page = _phone(browser)
    try:
        sign_in(page, live.base, MANAGER)
        page.goto(f"{live.base}/pools/{live.ids.pool}")
        expect(page.get_by_role("heading", level=1)).to_contain_text("Chaise pliante")
        card = page.locator(f'#out article[data-request="{live.ids.out}"]')
        expect(card).to_contain_text("Vide-grenier")
        card.get_by_role("link", name="Reprendre").click()
        page.wait_for_url(re.compile(rf"/handovers/{live.ids.out}/check-in$"))
        _fits_a_phone(page)
        _shot(page, "check-in-phone")
        page.get_by_role("button", name="Enregistrer la reprise").click()
        page.wait_for_url(re.compile(rf"/requests/{live.ids.out}$"))
    finally:
        page.context.close()
    with get_db(live.app).session() as session:
        loan = session.get(LoanRequest, live.ids.out)
        assert loan is not None and loan.status is RequestStatus.RETURNED
