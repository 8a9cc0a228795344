"""The drivers' sheets of a day, printed by Chromium: one A4 page per truck used."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page
from pypdf import PdfReader

from booking.db import get_db
from booking.models import (
    Assignment,
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
    Truck,
)
from booking.services import rounds
from booking.services.users import create_user
from booking.timeutil import LOCAL_TZ
from tests.browser.conftest import ARTIFACTS, PASSWORD, migrated_app, serving, sign_in

pytestmark = pytest.mark.browser

MANAGER = "manager@agglo.example"
DAY = date(2030, 6, 4)  # a Tuesday: deliveries for loans starting on Wednesday
TOWNS = (("Melun", 48.5394, 2.6608), ("Rubelles", 48.553, 2.677), ("Pringy", 48.5186, 2.5636))


@pytest.fixture(scope="module")
def rounds_server(
    tmp_path_factory: pytest.TempPathFactory, compiled_translations: Path
) -> Iterator[str]:
    """Two trucks of 3 pallet places, three deliveries of 1.2: no truck carries all three."""
    app = migrated_app(tmp_path_factory, compiled_translations, "live-rounds", JOB_RUNNER="inline")
    database = get_db(app)
    with app.app_context(), database.session() as session:
        depot = Site(name="Centre technique", kind=SiteKind.DEPOT, lat=48.5286, lon=2.6831)
        barrier = EquipmentType(
            code="barriere", name="Barrière", is_pooled=True, is_delivered=True, load_per_item=0.1
        )
        plan = Plan(status=PlanStatus.APPROVED, strategy="cpsat", problem_json={}, problem_sha="p")
        session.add_all([depot, barrier, plan])
        for name in ("Porteur A", "Porteur B"):
            session.add(
                Truck(
                    name=name,
                    depot=depot,
                    capacity=3,
                    day_start=time(7, 30),
                    day_end=time(16, 30),
                    break_start=time(12, 0),
                    break_minutes=45,
                )
            )
        start = datetime.combine(DAY + timedelta(days=1), time(9), tzinfo=LOCAL_TZ)
        for n, (town, lat, lon) in enumerate(TOWNS):
            commune = Commune(slug=town.lower(), name=town, lat=lat, lon=lon)
            site = Site(
                name=f"Mairie de {town}",
                kind=SiteKind.DELIVERY,
                commune=commune,
                address=f"{n + 1} place de la Mairie, {town}",
                lat=lat,
                lon=lon,
            )
            loan = LoanRequest(
                commune=commune,
                site=site,
                title=f"Fête de {town}",
                requested_start_dt=start,
                requested_end_dt=start + timedelta(days=2),
                status=RequestStatus.APPROVED,
                lines=[RequestLine(type=barrier, quantity=12)],
            )
            session.add(
                Assignment(
                    plan=plan,
                    request=loan,
                    is_served=True,
                    start_dt=loan.requested_start_dt,
                    end_dt=loan.requested_end_dt,
                )
            )
        session.commit()
        create_user(
            session, email=MANAGER, name="Fleet Manager", role=Role.MANAGER, password=PASSWORD
        )
        rounds.compute_day(session, DAY, seconds=1.0)
    with serving(app) as base:
        yield base


def test_the_day_sheet_prints_one_page_per_truck_with_its_stops(
    rounds_server: str, page: Page
) -> None:
    sign_in(page, rounds_server, MANAGER)
    page.goto(f"{rounds_server}/rounds/{DAY.isoformat()}")
    assert page.locator("polyline.map-round").count() == 2
    page.goto(f"{rounds_server}/rounds/{DAY.isoformat()}/sheet")
    trucks = page.locator("section.sheet").count()
    assert trucks == 2
    page.emulate_media(media="print")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pdf = page.pdf(prefer_css_page_size=True)
    (ARTIFACTS / "rounds-sheet.pdf").write_bytes(pdf)
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == trucks
    texts = [p.extract_text() for p in reader.pages]
    assert {t.split("·")[0].strip() for t in texts} == {"Porteur A", "Porteur B"}
    # Table cells wrap lines: compare with single spaces.
    everything = " ".join(" ".join(texts).split())
    for n, (town, _lat, _lon) in enumerate(TOWNS):
        assert f"Mairie de {town}" in everything
        assert f"{n + 1} place de la Mairie" in everything
    # A4 portrait, in points.
    box = reader.pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (595, 842)
