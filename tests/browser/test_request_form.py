"""A technician asks for equipment in Chromium: rows, live availability, the list.

Chromium, the phone-sized page and the live server come from ``conftest``; the server
here has its own migrated SQLite file with a small inventory, an approved loan and
another commune's pending request.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from booking.db import get_db
from booking.models import (
    Assignment,
    AssignmentDraw,
    Commune,
    EquipmentType,
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

PARIS = ZoneInfo("Europe/Paris")
EMAIL = "tech@melun.example"
MANAGER_EMAIL = "manager@agglo.example"
# The other commune's pending request and the approved loan sit on these days.
BUSY_START = datetime(2030, 6, 3, 8, 0, tzinfo=PARIS)
BUSY_END = datetime(2030, 6, 5, 18, 0, tzinfo=PARIS)


@pytest.fixture(scope="module")
def request_server(
    tmp_path_factory: pytest.TempPathFactory, compiled_translations: Path
) -> Iterator[str]:
    """The application with Melun's technician, podiums, chairs and a busy week."""
    app = migrated_app(tmp_path_factory, compiled_translations, "live-requests")
    with get_db(app).session() as session:
        melun = Commune(slug="melun", name="Melun", lat=48.5394, lon=2.6603)
        dammarie = Commune(slug="dammarie-les-lys", name="Dammarie-lès-Lys", lat=48.51, lon=2.64)
        depot = Site(name="Dépôt de Vaux", kind=SiteKind.DEPOT, lat=48.55, lon=2.66)
        hall = Site(
            name="Melun - Hôtel de ville",
            kind=SiteKind.DELIVERY,
            commune=melun,
            lat=48.5397,
            lon=2.6603,
        )
        other_hall = Site(
            name="Dammarie - Mairie", kind=SiteKind.DELIVERY, commune=dammarie, lat=48.51, lon=2.64
        )
        podium = EquipmentType(code="podium", name="Podium", min_notice_hours=48)
        chair = EquipmentType(code="chair", name="Chaise pliante", is_pooled=True)
        session.add_all([melun, dammarie, depot, hall, other_hall, podium, chair])
        session.add_all(
            [
                Unit(code=f"POD-{i}", name=f"Podium {i}", type=podium, home_depot=depot)
                for i in (1, 2)
            ]
        )
        pool = Pool(type=chair, depot=depot, quantity=100)
        session.add(pool)
        pending = LoanRequest(
            commune=dammarie,
            site=other_hall,
            requested_start_dt=BUSY_START,
            requested_end_dt=BUSY_END,
            status=RequestStatus.SUBMITTED,
        )
        pending.lines.append(RequestLine(type=chair, quantity=30))
        approved = LoanRequest(
            commune=dammarie,
            site=other_hall,
            requested_start_dt=BUSY_START,
            requested_end_dt=BUSY_END,
            status=RequestStatus.APPROVED,
        )
        approved.lines.append(RequestLine(type=chair, quantity=20))
        session.add_all([pending, approved])
        session.flush()
        plan = Plan(strategy="cpsat", problem_json={}, problem_sha="b", status=PlanStatus.APPROVED)
        assignment = Assignment(
            request=approved, is_served=True, start_dt=BUSY_START, end_dt=BUSY_END
        )
        assignment.draws.append(AssignmentDraw(line=approved.lines[0], pool=pool, quantity=20))
        plan.assignments.append(assignment)
        session.add(plan)
        session.commit()
        create_user(
            session,
            email=MANAGER_EMAIL,
            name="Fleet Manager",
            password=PASSWORD,
            role=Role.MANAGER,
        )
        create_user(
            session,
            email=EMAIL,
            name="Tech Melun",
            password=PASSWORD,
            role=Role.TECHNICIAN,
            commune_id=melun.id,
        )
    with serving(app) as base:
        yield base


def _local(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M")


def test_technician_fills_the_form_and_finds_the_request_in_the_list(
    request_server: str,
    page: Page,
) -> None:
    base = request_server
    sign_in(page, base, EMAIL)
    expect(page.get_by_role("heading", level=1)).to_have_text("Melun")

    page.goto(f"{base}/requests/new")
    expect(page.get_by_role("heading", level=1)).to_have_text("Nouvelle demande")
    # The town hall is offered first.
    expect(page.get_by_label("Lieu de livraison")).to_have_value(re.compile(r"\d+"))
    assert "Hôtel de ville" in page.locator("#site_id option:checked").inner_text()
    page.get_by_label("Occasion").fill("Fête de la musique")

    # Dates on the busy week: availability shows the approved draw and the other request.
    page.get_by_label("Du", exact=True).fill(_local(BUSY_START))
    page.get_by_label("Au", exact=True).fill(_local(BUSY_END))
    page.get_by_label("Au", exact=True).dispatch_event("change")
    chairs = page.locator("#availability tbody tr", has_text="Chaise pliante")
    expect(chairs).to_contain_text("80 / 100")
    expect(chairs.locator("td").nth(3)).to_have_text("30")
    # A week later nobody else asks for chairs.
    later = BUSY_START + timedelta(days=7)
    page.get_by_label("Du", exact=True).fill(_local(later))
    page.get_by_label("Au", exact=True).fill(_local(later + timedelta(days=2)))
    page.get_by_label("Au", exact=True).dispatch_event("change")
    expect(chairs).to_contain_text("100 / 100")
    expect(chairs.locator("td").nth(3)).to_have_text("0")

    rows = page.locator("#lines .line-row")
    expect(rows).to_have_count(3)
    page.select_option("#lines-0-type_id", label="Podium")
    page.fill("#lines-0-quantity", "1")
    url_before = page.url
    page.get_by_role("button", name="Ajouter une ligne").click()
    expect(rows).to_have_count(4)
    assert page.url == url_before
    expect(page.get_by_label("Occasion")).to_have_value("Fête de la musique")
    page.select_option("#lines-3-type_id", label="Chaise pliante")
    page.fill("#lines-3-quantity", "50")
    expect(chairs).to_have_class(re.compile("wanted"))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "request-form.png"), full_page=True)

    page.get_by_role("button", name="Envoyer la demande").click()
    expect(page.get_by_role("status")).to_contain_text(re.compile(r"Demande \d+ envoyée"))
    expect(page.locator("#lines")).to_contain_text("50 × Chaise pliante")
    expect(page.locator("#lines")).to_contain_text("1 × Podium")

    page.get_by_role("link", name="Retour à la liste").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Les demandes de ma commune")
    row = page.locator("#requests tbody tr", has_text="Fête de la musique")
    expect(row).to_contain_text("Podium")
    expect(row).to_contain_text("Déposée")


def test_manager_chooses_a_commune_and_its_sites_follow(request_server: str, page: Page) -> None:
    base = request_server
    sign_in(page, base, MANAGER_EMAIL)
    page.goto(f"{base}/requests/new")
    commune = page.get_by_label("Commune", exact=True)
    site = page.get_by_label("Lieu de livraison")
    commune.select_option(label="Dammarie-lès-Lys")
    assert "Mairie" in page.locator("#site_id option:checked").inner_text()
    expect(page.locator("#site_id option", has_text="Hôtel de ville")).to_be_hidden()
    commune.select_option(label="Melun")
    assert "Hôtel de ville" in page.locator("#site_id option:checked").inner_text()
    page.get_by_label("Du", exact=True).fill(_local(BUSY_START + timedelta(days=14)))
    page.get_by_label("Au", exact=True).fill(_local(BUSY_START + timedelta(days=15)))
    page.select_option("#lines-0-type_id", label="Chaise pliante")
    page.fill("#lines-0-quantity", "10")
    expect(site).to_be_enabled()
    # Enter in a field sends the form (rather than adding a row).
    page.get_by_label("Occasion").fill("Brocante")
    page.get_by_label("Occasion").press("Enter")
    expect(page.get_by_role("status")).to_contain_text(re.compile(r"Demande \d+ envoyée"))
    page.goto(f"{base}/requests/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Toutes les demandes")
    expect(page.locator("#requests tbody tr", has_text="Brocante")).to_contain_text("Melun")


def _tab_to(page: Page, element_id: str, limit: int = 80) -> None:
    """Presses Tab until the element ``element_id`` has the focus."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement && document.activeElement.id") == element_id:
            return
    raise AssertionError(f"#{element_id} is not reached with the Tab key")


def _type_datetime(page: Page, value: datetime) -> None:
    """Types ``value`` into the focused date-and-time input, from its first part, as
    Chromium lays it out under the C locale (see ``conftest.browser``): month, day, year,
    then hours, minutes and AM/PM."""
    page.keyboard.type(value.strftime("%m%d%Y"))
    page.keyboard.press("ArrowRight")
    page.keyboard.type(value.strftime("%I%M"))
    page.keyboard.type(value.strftime("%p")[0])


def test_the_request_form_is_filled_and_sent_with_the_keyboard_alone(
    request_server: str, page: Page
) -> None:
    base = request_server
    sign_in(page, base, EMAIL)
    page.goto(f"{base}/requests/new")
    expect(page.get_by_role("heading", level=1)).to_have_text("Nouvelle demande")
    # The first stop is the link that skips the menu.
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Aller au contenu")).to_be_focused()

    _tab_to(page, "title")
    page.keyboard.type("Concert au clavier")
    start = BUSY_START + timedelta(days=14)
    _tab_to(page, "start_dt")
    _type_datetime(page, start)
    _tab_to(page, "end_dt")
    end = start + timedelta(days=1)
    _type_datetime(page, end)
    expect(page.locator("#start_dt")).to_have_value(_local(start))
    expect(page.locator("#end_dt")).to_have_value(_local(end))

    _tab_to(page, "lines-0-type_id")
    page.keyboard.type("Podium")
    expect(page.locator("#lines-0-type_id option:checked")).to_have_text("Podium")
    _tab_to(page, "lines-0-quantity")
    page.keyboard.type("1")
    # "Add a row" works from the keyboard too.
    _tab_to(page, "add-row")
    page.keyboard.press("Enter")
    expect(page.locator("#lines .line-row")).to_have_count(4)
    expect(page.locator("#title")).to_have_value("Concert au clavier")

    _tab_to(page, "submit")
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_contain_text(re.compile(r"Demande \d+ envoyée"))
    expect(page.locator("#lines")).to_contain_text("1 × Podium")
