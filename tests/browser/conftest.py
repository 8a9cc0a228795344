"""What every browser test shares: Debian's Chromium, a phone-sized page, a live server,
and an accessibility check of every page visited.

Chromium is Debian's (``/usr/bin/chromium``, or ``$CHROMIUM``) driven by Playwright; each
test module serves the application in a thread on a free local port with its own SQLite
file, built by the migrations. Screenshots are kept in ``test-artifacts/browser/``.

Every page a test opens in an :func:`audited_context` (the ``page`` fixture is one) is
checked with axe-core (``tests/js/node_modules``, installed by ``make js-deps``) against
WCAG 2.1 A and AA once loaded, and the pages still open again when the test ends: a
serious or critical violation fails the test. ``assert_accessible(page)`` checks the
page as it is now (a folded section opened, a form with errors).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright
from werkzeug.serving import make_server

from booking import create_app
from booking.db import get_db
from booking.migrate import upgrade

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "browser"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "browser test password"
AXE = ROOT / "tests" / "js" / "node_modules" / "axe-core" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
FAILING_IMPACTS = ("serious", "critical")
# Runs axe on the document as it is; returns the violations, shortened. Pages that are
# not HTML (a calendar feed, a JSON answer) are not checked.
AXE_OPTIONS = {"runOnly": {"type": "tag", "values": AXE_TAGS}}
# Shortens axe's violations to what a failure message needs.
AXE_SHORTEN = """(violations) => violations.map((v) => ({
  id: v.id, impact: v.impact, help: v.help,
  nodes: v.nodes.slice(0, 5).map((n) => n.target.join(" ")),
}))"""
# Runs axe on the document as it is, once the automatic run (below) is over; None for a
# page that is not HTML (a calendar feed, a JSON answer).
AXE_RUN = f"""async (options) => {{
  if (document.contentType !== "text/html") {{ return null; }}
  if (window.__axeAuto) {{ await window.__axeAuto.catch(() => null); }}
  const result = await axe.run(document, options);
  return ({AXE_SHORTEN})(result.violations);
}}"""
# Injected in every document of an audited context, after axe itself: once the page has
# loaded, axe runs and reports to the test through ``__axeReport(url, violations)``.
AXE_AUTO = f"""(() => {{
  if (window.top !== window) {{ return; }}
  window.addEventListener("load", () => {{
    if (document.contentType !== "text/html" || typeof axe === "undefined") {{ return; }}
    window.__axeAuto = axe.run(document, {json.dumps(AXE_OPTIONS)}).then(
      (result) => window.__axeReport(location.href, ({AXE_SHORTEN})(result.violations)));
  }});
}})();"""


def serious(violations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [v for v in violations if v["impact"] in FAILING_IMPACTS]


def axe_violations(page: Page) -> list[dict[str, Any]] | None:
    """The serious and critical WCAG 2.1 A/AA violations axe-core finds on the page now;
    None for a page that is not HTML."""
    if page.evaluate("typeof axe") == "undefined":
        page.add_script_tag(path=str(AXE))
    found = page.evaluate(AXE_RUN, AXE_OPTIONS)
    return None if found is None else serious(found)


def describe_violations(url: str, violations: list[dict[str, Any]]) -> str:
    return "\n".join(
        f"{url}: {v['impact']} {v['id']} ({v['help']}) at {', '.join(v['nodes'])}"
        for v in violations
    )


def assert_accessible(page: Page) -> None:
    """Fails on any serious or critical WCAG 2.1 A/AA violation of the page as it is."""
    violations = axe_violations(page) or []
    assert not violations, describe_violations(page.url, violations)


class AxeAudit:
    """What axe-core found on the pages of one browser context.

    Each page reports when loaded (``AXE_AUTO``); the pages still open are checked again
    at the end, so the last state of every test is checked even if it changed since.
    ``checked`` lists the addresses checked, ``problems`` the serious violations.
    """

    def __init__(self) -> None:
        self.checked: list[str] = []
        self.problems: list[str] = []

    def report(self, url: str, violations: list[dict[str, Any]]) -> None:
        self.checked.append(url)
        found = serious(violations)
        if found:
            self.problems.append(describe_violations(url, found))

    def finish(self, context: BrowserContext) -> None:
        """Checks the pages still open, then fails on what was found."""
        for page in context.pages:
            if page.url.startswith("http"):
                violations = axe_violations(page)
                if violations is not None:
                    self.report(page.url, violations)
        assert not self.problems, "Accessibility violations:\n" + "\n".join(self.problems)


@contextmanager
def audited_context(browser: Browser, **options: Any) -> Iterator[BrowserContext]:
    """A browser context whose every page is checked with axe-core (see the module)."""
    # A content security policy without inline scripts must not stop the check.
    context = browser.new_context(bypass_csp=True, **options)
    audit = AxeAudit()
    context.expose_function("__axeReport", audit.report)
    context.add_init_script(path=str(AXE))
    context.add_init_script(script=AXE_AUTO)
    try:
        yield context
        audit.finish(context)
    finally:
        context.close()


def migrated_app(
    tmp_path_factory: pytest.TempPathFactory,
    compiled_translations: Path,
    name: str,
    **config: Any,
) -> Flask:
    """An application on a fresh SQLite file that the migrations built."""
    folder = tmp_path_factory.mktemp(name)
    url = f"sqlite:///{folder / 'live.sqlite3'}"
    upgrade(url)
    return create_app(
        {
            "DATABASE_URL": url,
            "SECRET_KEY": "browser-test",
            "BABEL_TRANSLATION_DIRECTORIES": str(compiled_translations),
            # The journeys use dates in 2030, beyond the default three-year horizon.
            "REQUEST_HORIZON_DAYS": 3660,
            **config,
        }
    )


@contextmanager
def serving(app: Flask) -> Iterator[str]:
    """Serves ``app`` on 127.0.0.1 in a thread and yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        get_db(app).engine.dispose()


def sign_in(page: Page, base: str, email: str, password: str = PASSWORD) -> None:
    """Signs in through the French login form and waits until it is gone."""
    page.goto(f"{base}/login")
    page.get_by_label("Adresse e-mail").fill(email)
    page.get_by_label("Mot de passe").fill(password)
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_role("heading", name="Se connecter")).to_have_count(0)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        # The process locale sets the layout of date inputs (month/day/year and AM/PM
        # under C.UTF-8), which keyboard tests type into: the same on every machine.
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=CHROMIUM_ARGS,
            env={**os.environ, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "LANGUAGE": ""},
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    # A phone-sized window: the layout must work there.
    with audited_context(
        browser, viewport={"width": 390, "height": 844}, locale="fr-FR"
    ) as context:
        page = context.new_page()
        page.set_default_timeout(15_000)
        yield page
