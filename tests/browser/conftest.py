"""What every browser test shares: Debian's Chromium, a phone-sized page, a live server.

Chromium is Debian's (``/usr/bin/chromium``, or ``$CHROMIUM``) driven by Playwright; each
test module serves the application in a thread on a free local port with its own SQLite
file, built by the migrations. Screenshots are kept in ``test-artifacts/browser/``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect, sync_playwright
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
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    # A phone-sized window: the layout must work there.
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="fr-FR")
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        yield page
    finally:
        context.close()
