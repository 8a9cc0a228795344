"""Each role signs in through Chromium and lands on its home page.

Chromium is Debian's (``/usr/bin/chromium``, or ``$CHROMIUM``) driven by Playwright; the
application runs in a thread on a free local port with its own SQLite file, built by the
migrations. Screenshots are kept in ``test-artifacts/browser/``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from booking.db import get_db, utcnow
from booking.models import Commune, EquipmentType, LoanRequest, RequestLine, Role, Site, SiteKind
from booking.services.users import create_user
from tests.browser.conftest import ARTIFACTS, PASSWORD, audited_context, migrated_app, serving

pytestmark = pytest.mark.browser

ACCOUNTS = {
    "technician": ("tech@melun.example", Role.TECHNICIAN),
    "manager": ("manager@agglo.example", Role.MANAGER),
    "admin": ("admin@agglo.example", Role.ADMIN),
}


@pytest.fixture(scope="module")
def live_server(
    tmp_path_factory: pytest.TempPathFactory, compiled_translations: Path
) -> Iterator[str]:
    """The application served on 127.0.0.1 with a migrated SQLite database and three accounts."""
    app = migrated_app(tmp_path_factory, compiled_translations, "live")
    with get_db(app).session() as session:
        melun = Commune(slug="melun", name="Melun", lat=48.5394, lon=2.6603)
        hall = Site(
            name="Melun - Hôtel de ville",
            kind=SiteKind.DELIVERY,
            commune=melun,
            lat=48.54,
            lon=2.66,
        )
        tables = EquipmentType(code="table", name="Table", is_pooled=True)
        loan = LoanRequest(
            commune=melun,
            site=hall,
            title="Vide-grenier du quartier",
            requested_start_dt=utcnow() + timedelta(days=30),
            requested_end_dt=utcnow() + timedelta(days=31),
        )
        loan.lines.append(RequestLine(type=tables, quantity=10))
        session.add_all([melun, hall, loan])
        session.commit()
        for role_name, (email, role) in ACCOUNTS.items():
            create_user(
                session,
                email=email,
                name=role_name.title(),
                password=PASSWORD,
                role=role,
                commune_id=melun.id if role is Role.TECHNICIAN else None,
            )
    with serving(app) as base:
        yield base


def _sign_in(page: Page, base: str, email: str) -> None:
    page.goto(f"{base}/login")
    expect(page.get_by_role("heading", name="Se connecter")).to_be_visible()
    page.get_by_label("Adresse e-mail").fill(email)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()


@pytest.mark.parametrize(
    ("role", "heading", "path"),
    [
        ("technician", "Melun", "/"),
        ("manager", "Tableau de bord", "/"),
        ("admin", "Comptes", "/admin/users"),
    ],
)
def test_each_role_reaches_its_home_page(
    live_server: str, page: Page, role: str, heading: str, path: str
) -> None:
    email, _role = ACCOUNTS[role]
    _sign_in(page, live_server, email)
    expect(page.get_by_role("heading", level=1)).to_have_text(heading)
    assert page.url == f"{live_server}{path}"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"home-{role}.png"), full_page=True)
    # The menu folds away on a phone; opening it shows the way out.
    page.get_by_text("Menu", exact=True).click()
    page.get_by_role("button", name="Se déconnecter").click()
    expect(page.get_by_role("heading", name="Se connecter")).to_be_visible()


def test_wrong_password_shows_a_message(live_server: str, page: Page) -> None:
    page.goto(f"{live_server}/login")
    page.get_by_label("Adresse e-mail").fill("manager@agglo.example")
    page.get_by_label("Mot de passe").fill("not the password")
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_role("alert")).to_contain_text("Adresse e-mail ou mot de passe incorrect")


def test_switching_to_english(live_server: str, page: Page) -> None:
    page.goto(f"{live_server}/login")
    page.get_by_role("button", name="EN").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_role("button", name="FR").click()
    expect(page.get_by_role("heading", name="Se connecter")).to_be_visible()


def test_the_technicians_phone_home_shows_what_comes_next_before_the_counters(
    live_server: str, browser: Browser
) -> None:
    with audited_context(browser, viewport={"width": 360, "height": 640}, locale="fr-FR") as ctx:
        page = ctx.new_page()
        _sign_in(page, live_server, ACCOUNTS["technician"][0])
        expect(page.get_by_role("heading", level=1)).to_have_text("Melun")
        awaiting = page.locator("#awaiting")
        expect(awaiting).to_contain_text("Vide-grenier du quartier")
        expect(awaiting.get_by_role("heading")).to_have_text("En attente d'une réponse (1)")

        def top(selector: str) -> float:
            box = page.locator(selector).bounding_box()
            assert box is not None, selector
            return box["y"]

        # Hand-overs, late returns and the answers still awaited come first, then counters.
        order = ["#upcoming-handovers", "#overdue-returns", "#awaiting", "#request-counts"]
        tops = [top(selector) for selector in order]
        assert tops == sorted(tops), dict(zip(order, tops, strict=True))
        # What comes next starts on the first screen of a phone.
        assert top("#upcoming-handovers") < 640
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "home-technician-phone.png"), full_page=True)
