"""A technician asks for a weekly series in Chromium, then cancels one of its dates."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from booking.db import get_db
from booking.models import Commune, EquipmentType, Role, Site, SiteKind, Unit
from booking.services.users import create_user
from tests.browser.conftest import ARTIFACTS, PASSWORD, migrated_app, serving, sign_in

pytestmark = pytest.mark.browser

EMAIL = "tech@melun.example"


@pytest.fixture(scope="module")
def series_server(
    tmp_path_factory: pytest.TempPathFactory, compiled_translations: Path
) -> Iterator[str]:
    """Melun's technician, its town hall and two podiums; series may run ten years ahead."""
    app = migrated_app(
        tmp_path_factory, compiled_translations, "live-series", PLANNING_HORIZON_DAYS=3650
    )
    with get_db(app).session() as session:
        melun = Commune(slug="melun", name="Melun", lat=48.5394, lon=2.6603)
        depot = Site(name="Dépôt de Vaux", kind=SiteKind.DEPOT, lat=48.55, lon=2.66)
        hall = Site(
            name="Melun - Hôtel de ville",
            kind=SiteKind.DELIVERY,
            commune=melun,
            lat=48.54,
            lon=2.66,
        )
        podium = EquipmentType(code="podium", name="Podium", min_notice_hours=48)
        session.add_all([melun, depot, hall, podium])
        session.add_all(
            [
                Unit(code=f"POD-{i}", name=f"Podium {i}", type=podium, home_depot=depot)
                for i in (1, 2)
            ]
        )
        session.commit()
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


def test_technician_asks_for_a_weekly_series_and_cancels_one_date(
    series_server: str, page: Page
) -> None:
    base = series_server
    sign_in(page, base, EMAIL)
    page.goto(f"{base}/requests/new")
    page.get_by_label("Occasion").fill("Marché du lundi")
    page.get_by_label("Du", exact=True).fill("2030-06-03T07:00")
    page.get_by_label("Au", exact=True).fill("2030-06-03T14:00")
    page.select_option("#lines-0-type_id", label="Podium")
    page.fill("#lines-0-quantity", "1")
    page.get_by_label("Répéter", exact=True).select_option(label="Chaque semaine")
    page.get_by_label("Répéter jusqu'au (inclus)").fill("2030-06-24")
    page.get_by_label("Sauf le (jj/mm/aaaa, une par ligne)").fill("17/06/2030")
    page.get_by_role("button", name="Envoyer la demande").click()

    expect(page.get_by_role("status")).to_contain_text("Série de 3 demandes envoyée")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Marché du lundi")
    rows = page.locator("#occurrences tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.nth(0)).to_contain_text("03/06/2030")
    expect(rows.nth(1)).to_contain_text("10/06/2030")
    expect(rows.nth(2)).to_contain_text("24/06/2030")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "series.png"), full_page=True)

    # Cancel the second date only.
    rows.nth(1).get_by_role("link", name=re.compile("Annuler")).click()
    expect(page.get_by_label("Celle-ci seulement")).to_be_checked()
    page.get_by_label("Pourquoi (facultatif)").fill("Pas de marché ce jour-là")
    page.get_by_role("button", name="Annuler la demande").click()
    expect(page.get_by_role("status")).to_contain_text(re.compile(r"Demande \d+ annulée"))
    page.get_by_role("link", name="Voir la série").click()
    expect(rows.nth(0)).to_contain_text("Déposée")
    expect(rows.nth(1)).to_contain_text("Annulée")
    expect(rows.nth(2)).to_contain_text("Déposée")

    # The list shows each date, marked as part of the series.
    page.goto(f"{base}/requests/")
    listed = page.locator("#requests tbody tr", has_text="Marché du lundi")
    expect(listed).to_have_count(3)
    expect(listed.first.get_by_role("link", name=re.compile("série"))).to_be_visible()
