"""Each role signs in through Chromium and lands on its home page.

Chromium is Debian's (``/usr/bin/chromium``, or ``$CHROMIUM``) driven by Playwright; the
application runs in a thread on a free local port with its own SQLite file, built by the
migrations. Screenshots are kept in ``test-artifacts/browser/``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from booking.db import get_db
from booking.models import Commune, Role
from booking.services.users import create_user
from tests.browser.conftest import ARTIFACTS, PASSWORD, migrated_app, serving

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
        session.add(melun)
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
