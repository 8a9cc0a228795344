"""The waiting list in Chromium: a cancellation frees a minibus, the manager approves the
quick re-plan that serves the waiting request, and its commune is told."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from booking.db import get_db
from booking.models import (
    Commune,
    EquipmentType,
    JobStatus,
    LoanRequest,
    Notification,
    RequestLine,
    RequestStatus,
    Role,
    Site,
    SiteKind,
    Unit,
    User,
)
from booking.services import planning
from booking.services.users import create_user
from tests.browser.conftest import (
    ARTIFACTS,
    PASSWORD,
    audited_context,
    migrated_app,
    serving,
    sign_in,
)

pytestmark = pytest.mark.browser

PARIS = ZoneInfo("Europe/Paris")
MANAGER = "manager@agglo.example"
MELUN = "tech@melun.example"
DAMMARIE = "tech@dammarie.example"
START = datetime(2030, 7, 13, 8, 0, tzinfo=PARIS)


def _season(app: Flask) -> None:
    """One minibus; Melun's approved loan, Dammarie's request on the waiting list."""
    with app.app_context(), get_db(app).session() as session:
        melun = Commune(slug="melun", name="Melun", lat=48.5394, lon=2.6603)
        dammarie = Commune(slug="dammarie-les-lys", name="Dammarie-lès-Lys", lat=48.51, lon=2.64)
        depot = Site(name="Dépôt de Vaux", kind=SiteKind.DEPOT, lat=48.55, lon=2.66)
        halls = {
            c.slug: Site(
                name=f"{c.name} - Mairie", kind=SiteKind.DELIVERY, commune=c, lat=48.54, lon=2.66
            )
            for c in (melun, dammarie)
        }
        minibus = EquipmentType(code="minibus-9", name="Minibus 9 places", turnaround_minutes=60)
        unit = Unit(code="MB9-1", name="Minibus 1", type=minibus, home_depot=depot)
        session.add_all([melun, dammarie, depot, *halls.values(), unit])
        for commune, title, priority in ((melun, "Élections", 4), (dammarie, "Kermesse", 1)):
            loan = LoanRequest(
                commune=commune,
                site=halls[commune.slug],
                title=title,
                priority=priority,
                requested_start_dt=START,
                requested_end_dt=START + timedelta(days=2),
            )
            loan.lines.append(RequestLine(type=minibus, quantity=1))
            session.add(loan)
        session.commit()
        manager = create_user(
            session, email=MANAGER, name="Manager", password=PASSWORD, role=Role.MANAGER
        )
        for email, commune in ((MELUN, melun), (DAMMARIE, dammarie)):
            create_user(
                session,
                email=email,
                name=f"Tech {commune.name}",
                password=PASSWORD,
                role=Role.TECHNICIAN,
                commune_id=commune.id,
            )
        job = planning.propose_plan(session, by=manager, time_limit_seconds=5)
        assert job.status is JobStatus.SUCCEEDED, job.message
        assert job.plan_id is not None
        planning.approve_plan(session, job.plan_id, by=manager)


@pytest.fixture(scope="module")
def waiting_server(
    tmp_path_factory: pytest.TempPathFactory, compiled_translations: Path
) -> Iterator[tuple[str, Flask]]:
    app = migrated_app(
        tmp_path_factory,
        compiled_translations,
        "live-waiting",
        JOB_RUNNER="inline",
        SOLVER_WORKERS=1,
        WAITING_REPLAN_SECONDS=3,
    )
    _season(app)
    # From here on, runs go to the real background thread, as in production.
    app.config["JOB_RUNNER"] = "thread"
    app.extensions.pop("job_runner", None)
    with serving(app) as base:
        yield base, app


def test_a_cancellation_serves_the_waiting_list_once_the_manager_approves(
    waiting_server: tuple[str, Flask], page: Page, browser: Browser
) -> None:
    base, app = waiting_server
    # Melun's technician withdraws the approved loan.
    sign_in(page, base, MELUN)
    page.goto(f"{base}/requests/")
    page.get_by_role("link", name=re.compile("Élections")).click()
    page.get_by_role("link", name="Annuler…").click()
    page.get_by_role("button", name="Annuler la demande").click()
    expect(page.get_by_role("status")).to_contain_text(re.compile(r"Demande \d+ annulée"))

    # The manager is told and opens the quick re-plan.
    with audited_context(
        browser, viewport={"width": 1280, "height": 900}, locale="fr-FR"
    ) as context:
        manager = context.new_page()
        manager.set_default_timeout(15_000)
        sign_in(manager, base, MANAGER)
        manager.goto(f"{base}/notifications/")
        note = manager.locator("li", has_text="liste d'attente").first
        expect(note).to_contain_text("a été annulée")
        note.get_by_role("link", name="Voir la replanification").click()
        # The run page follows the run and opens the plan when it is ready (or links to it
        # when the run ended before the page was shown).
        ready = manager.locator("#waiting-list").or_(
            manager.get_by_role("link", name="Examiner le planning")
        )
        expect(ready.first).to_be_visible(timeout=60_000)
        if "/planning/jobs/" in manager.url:
            manager.get_by_role("link", name="Examiner le planning").click()
        section = manager.locator("#waiting-list")
        expect(section.get_by_role("heading")).to_have_text("Depuis la liste d'attente")
        expect(section).to_contain_text("Kermesse")
        expect(section).to_contain_text("Dammarie-lès-Lys")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        manager.screenshot(path=str(ARTIFACTS / "waiting-list-proposal.png"), full_page=True)
        manager.get_by_role("button", name="Approuver ce planning").click()
        expect(manager.get_by_role("status")).to_contain_text("Le planning est approuvé")

    with get_db(app).session() as session:
        kermesse = session.scalars(select(LoanRequest).where(LoanRequest.title == "Kermesse")).one()
        assert kermesse.status is RequestStatus.APPROVED
        tech = session.scalars(select(User).where(User.email == DAMMARIE)).one()
        kinds = session.scalars(
            select(Notification.kind)
            .where(Notification.user_id == tech.id)
            .order_by(Notification.id)
        ).all()
    assert kinds == ["request.waiting", "request.approved"]

    # Dammarie's technician reads it.
    page.context.clear_cookies()
    sign_in(page, base, DAMMARIE)
    page.goto(f"{base}/notifications/")
    expect(page.locator("li", has_text="Kermesse").first).to_contain_text("Approuvée")
