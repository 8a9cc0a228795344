"""The fleet manager plans the season in Chromium: run, watch the progress, review, approve.

Chromium, the phone-sized page and the live server come from ``conftest``; the server
has its own migrated SQLite file, two minibuses and three requests for the same days, and
runs the optimiser on its real thread runner.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from booking.db import get_db
from booking.models import (
    Commune,
    EquipmentType,
    LoanRequest,
    RequestLine,
    RequestStatus,
    Role,
    Site,
    SiteKind,
    Unit,
)
from booking.services.users import create_user
from tests.browser.conftest import (
    ARTIFACTS,
    PASSWORD,
    assert_accessible,
    migrated_app,
    serving,
    sign_in,
)

pytestmark = pytest.mark.browser

PARIS = ZoneInfo("Europe/Paris")
MANAGER = "manager@agglo.example"
START = datetime(2030, 7, 13, 8, 0, tzinfo=PARIS)


@pytest.fixture(scope="module")
def planning_server(
    tmp_path_factory: pytest.TempPathFactory, compiled_translations: Path
) -> Iterator[tuple[str, object]]:
    """The application with two minibuses and three requests on the same days."""
    app = migrated_app(
        tmp_path_factory,
        compiled_translations,
        "live-planning",
        JOB_RUNNER="thread",
        SOLVER_WORKERS=1,
    )
    database = get_db(app)
    with database.session() as session:
        melun = Commune(slug="melun", name="Melun", lat=48.5394, lon=2.6603)
        depot = Site(name="Dépôt de Vaux", kind=SiteKind.DEPOT, lat=48.55, lon=2.66)
        hall = Site(
            name="Melun - Hôtel de ville",
            kind=SiteKind.DELIVERY,
            commune=melun,
            lat=48.54,
            lon=2.66,
        )
        minibus = EquipmentType(code="minibus-9", name="Minibus 9 places", turnaround_minutes=60)
        units = [
            Unit(code=f"MB9-{n}", name=f"Minibus {n}", type=minibus, home_depot=depot)
            for n in (1, 2)
        ]
        session.add_all([melun, depot, hall, *units])
        for title, priority in (("Élections", 4), ("Marché", 3), ("Brocante", 1)):
            loan = LoanRequest(
                commune=melun,
                site=hall,
                title=title,
                priority=priority,
                requested_start_dt=START,
                requested_end_dt=START + timedelta(days=2),
            )
            loan.lines.append(RequestLine(type=minibus, quantity=1))
            session.add(loan)
        session.commit()
        create_user(session, email=MANAGER, name="Manager", password=PASSWORD, role=Role.MANAGER)
    with serving(app) as base:
        yield base, database


def test_manager_runs_the_optimiser_reviews_and_approves(
    planning_server: tuple[str, object], page: Page
) -> None:
    base, database = planning_server
    sign_in(page, base, MANAGER)

    page.goto(f"{base}/planning/")
    expect(page.get_by_role("heading", name="Demandes à planifier (3)")).to_be_visible()
    page.get_by_label("Durée maximale (secondes)").fill("5")
    # The run starts in the background: the browser lands on the run's page first.
    with page.expect_response(re.compile(r"/planning/jobs/\d+$")) as first:
        page.get_by_role("button", name="Lancer l'optimiseur").click()
    assert first.value.status in (200, 302)

    page.wait_for_url(re.compile(r"/planning/plans/\d+$"), timeout=60_000)
    expect(page.get_by_role("heading", level=1)).to_contain_text("Planning n°")
    expect(
        page.get_by_role("heading", name="Comparaison avec « premier arrivé, premier servi »")
    ).to_be_visible()
    unserved = page.locator("li", has_text="Brocante").first
    expect(unserved).to_contain_text("Minibus 9 places")
    expect(unserved).to_contain_text("Élections")
    expect(page.locator(".tl-bar.loan")).to_have_count(2)
    # The axis labels, as laid out by the browser, never overlap.
    labels = page.locator("#timelines .tl-scale").first.locator("span")
    boxes = [labels.nth(i).bounding_box() for i in range(labels.count())]
    assert len(boxes) >= 2
    for left, right in itertools.pairwise(boxes):
        assert left is not None and right is not None
        assert left["x"] + left["width"] <= right["x"]
    # The timeline scrolls sideways on a phone: the keyboard reaches it.
    region = page.get_by_role("region", name="Chronologie par unité")
    region.focus()
    expect(region).to_be_focused()
    assert_accessible(page)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "planning-review.png"), full_page=True)

    page.get_by_role("button", name="Approuver ce planning").click()
    expect(page.get_by_role("status")).to_contain_text("Le planning est approuvé")
    with database.session() as session:  # type: ignore[attr-defined]
        statuses = {loan.title: loan.status for loan in session.scalars(select(LoanRequest))}
    assert statuses == {
        "Élections": RequestStatus.APPROVED,
        "Marché": RequestStatus.APPROVED,
        "Brocante": RequestStatus.WAITING,
    }
