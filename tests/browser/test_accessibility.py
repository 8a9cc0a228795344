"""Every page of the menu, for each role, on the demo data: no serious or critical
WCAG 2.1 A/AA violation that axe-core finds, on a phone and on a desktop screen."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, expect

from booking.db import get_db
from booking.demo import ACCOUNTS, EMAIL_DOMAIN, seed_demo
from booking.models import Role
from tests.browser.conftest import (
    assert_accessible,
    audited_context,
    axe_violations,
    migrated_app,
    serving,
    sign_in,
)

pytestmark = pytest.mark.browser

# (e-mail, demo password) of one account per role.
DEMO_ACCOUNTS = {
    role: next((f"{local}@{EMAIL_DOMAIN}", pw) for local, _n, r, _s, pw in ACCOUNTS if r is role)
    for role in (Role.MANAGER, Role.TECHNICIAN, Role.ADMIN)
}
VIEWPORTS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 900}}


@pytest.fixture(scope="module")
def demo_server(
    tmp_path_factory: pytest.TempPathFactory, compiled_translations: Path
) -> Iterator[str]:
    """The application with the demo data, as ``make run`` serves it."""
    app = migrated_app(tmp_path_factory, compiled_translations, "live-demo", JOB_RUNNER="inline")
    with app.app_context(), get_db(app).session() as session:
        seed_demo(session)
    with serving(app) as base:
        yield base


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
@pytest.mark.parametrize("role", list(DEMO_ACCOUNTS), ids=lambda r: r.value)
def test_every_page_of_the_menu_is_accessible(
    demo_server: str, browser: Browser, role: Role, viewport: str
) -> None:
    email, password = DEMO_ACCOUNTS[role]
    with audited_context(browser, viewport=VIEWPORTS[viewport], locale="fr-FR") as context:
        page = context.new_page()
        page.set_default_timeout(15_000)
        sign_in(page, demo_server, email, password)
        links = page.locator("nav.nav a").evaluate_all("(links) => links.map((a) => a.href)")
        paths = list(dict.fromkeys(urlsplit(href).path for href in links))
        assert "/" in paths and "/notifications/" in paths and len(paths) >= 3
        for path in paths:
            response = page.goto(f"{demo_server}{path}")
            assert response is not None and response.status == 200, path
            expect(page.get_by_role("heading", level=1)).to_be_visible()
            assert_accessible(page)


def test_the_check_finds_a_serious_violation(browser: Browser) -> None:
    """The helper is not a rubber stamp: a field without a label fails it."""
    with audited_context(browser, locale="fr-FR") as context:
        page = context.new_page()
        page.set_content('<html lang="fr"><title>t</title><main><input id="q"></main></html>')
        violations = axe_violations(page)
        assert violations is not None and [v["id"] for v in violations] == ["label"]
        with pytest.raises(AssertionError, match="label"):
            assert_accessible(page)
        page.set_content(
            '<html lang="fr"><title>t</title><main><label for="q">Nom</label>'
            '<input id="q"></main></html>'
        )
        assert_accessible(page)


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_the_plan_review_opens_on_its_summary(
    demo_server: str, browser: Browser, viewport: str
) -> None:
    """The demo's re-plan: the summary and the approval first, the long lists folded."""
    email, password = DEMO_ACCOUNTS[Role.MANAGER]
    with audited_context(browser, viewport=VIEWPORTS[viewport], locale="fr-FR") as context:
        page = context.new_page()
        page.set_default_timeout(15_000)
        sign_in(page, demo_server, email, password)
        page.goto(f"{demo_server}/planning/")
        page.get_by_role("link", name=re.compile(r"Planning n° \d+")).first.click()
        expect(page.get_by_role("button", name="Approuver ce planning")).to_be_visible()
        folded = page.evaluate("document.documentElement.scrollHeight")
        for section in ("loans", "timelines"):
            assert page.locator(f"details#{section}").get_attribute("open") is None
        # Keyboard users open a folded list from its summary.
        summary = page.locator("details#loans > summary")
        summary.focus()
        page.keyboard.press("Enter")
        expect(page.locator("details#loans")).to_have_attribute("open", "")
        assert_accessible(page)
        page.evaluate("document.querySelectorAll('details.fold').forEach((d) => d.open = true)")
        unfolded = page.evaluate("document.documentElement.scrollHeight")
        assert_accessible(page)
        print(f"plan review height ({viewport}): {folded} px folded, {unfolded} px unfolded")
        assert folded < 4000 < unfolded
