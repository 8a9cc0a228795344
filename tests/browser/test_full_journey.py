"""The whole life of a loan in Chromium, from the request to the return of damaged equipment.

A technician asks for a minibus and chairs through the real form; the fleet manager runs
the optimiser, reviews and approves the plan; the technician sees the approval and the
notification; the technician checks the equipment out; the manager checks it back in
with a damaged minibus and sends it to maintenance in the same form; the manager's home
page lists it.

The server is migrated from scratch on SQLite, and on PostgreSQL as well when
``TEST_DATABASE_URL`` is set (``make test-postgres``), in a schema of its own dropped
afterwards. The hand-over pages are found by their addresses and field names rather
than by their wording, which the French catalogue translates.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import make_url, select, text

from booking import create_app
from booking.db import get_db, make_engine, utcnow
from booking.migrate import upgrade
from booking.models import (
    Commune,
    Condition,
    EquipmentType,
    Handover,
    HandoverKind,
    LoanRequest,
    Notification,
    Pool,
    RequestStatus,
    Role,
    Site,
    SiteKind,
    Unavailability,
    Unit,
    UnitStatus,
    User,
)
from booking.services.users import create_user
from booking.timeutil import to_local
from tests.browser.conftest import (
    ARTIFACTS,
    PASSWORD,
    audited_context,
    migrated_app,
    serving,
    sign_in,
)

pytestmark = pytest.mark.browser

TECHNICIAN = "tech@melun.example"
MANAGER = "manager@agglo.example"
BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("TEST_DATABASE_URL") else [])


@pytest.fixture(scope="module", params=BACKENDS)
def journey_app(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    compiled_translations: Path,
) -> Iterator[Flask]:
    """A migrated, empty application on SQLite or in a fresh PostgreSQL schema."""
    config = {"JOB_RUNNER": "thread", "SOLVER_WORKERS": 1}
    if request.param == "sqlite":
        yield migrated_app(tmp_path_factory, compiled_translations, "live-journey", **config)
        return
    base = os.environ["TEST_DATABASE_URL"]
    schema = f"journey_{secrets.token_hex(6)}"
    admin = make_engine(base)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = (
        make_url(base)
        .update_query_dict({"options": f"-csearch_path={schema}"})
        .render_as_string(hide_password=False)
    )
    try:
        upgrade(url)
        yield create_app(
            {
                "DATABASE_URL": url,
                "SECRET_KEY": "browser-test",
                "BABEL_TRANSLATION_DIRECTORIES": str(compiled_translations),
                **config,
            }
        )
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="module")
def journey(journey_app: Flask) -> Iterator[SimpleNamespace]:
    """Melun with its town hall, one minibus, 100 chairs, a technician and a manager."""
    database = get_db(journey_app)
    with database.session() as session:
        melun = Commune(slug="melun", name="Melun", lat=48.5394, lon=2.6603)
        depot = Site(name="Dépôt de Vaux", kind=SiteKind.DEPOT, lat=48.55, lon=2.66)
        hall = Site(
            name="Melun - Hôtel de ville",
            kind=SiteKind.DELIVERY,
            commune=melun,
            lat=48.5397,
            lon=2.6603,
        )
        minibus = EquipmentType(
            code="minibus-9", name="Minibus 9 places", min_notice_hours=24, turnaround_minutes=60
        )
        chair = EquipmentType(code="chair", name="Chaise pliante", is_pooled=True)
        unit = Unit(code="MB9-1", name="Minibus 1", type=minibus, home_depot=depot)
        session.add_all([melun, depot, hall, minibus, chair, unit])
        session.add(Pool(type=chair, depot=depot, quantity=100))
        session.commit()
        create_user(session, email=MANAGER, name="Manager", password=PASSWORD, role=Role.MANAGER)
        create_user(
            session,
            email=TECHNICIAN,
            name="Tech Melun",
            password=PASSWORD,
            role=Role.TECHNICIAN,
            commune_id=melun.id,
        )
        ids = SimpleNamespace(unit=unit.id)
    with serving(journey_app) as base:
        yield SimpleNamespace(base=base, app=journey_app, database=database, ids=ids)


def _local(value: datetime) -> str:
    return to_local(value).strftime("%Y-%m-%dT%H:%M")


def _shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"journey-{name}.png"), full_page=True)


def test_request_plan_approve_hand_over_and_back(
    journey: SimpleNamespace, page: Page, browser: Browser
) -> None:
    base = journey.base
    # Three days from now, on the hour: beyond the minibus's 24 hours' notice.
    start = (utcnow() + timedelta(days=3)).replace(minute=0, second=0, microsecond=0)

    # 1. The technician asks through the form.
    sign_in(page, base, TECHNICIAN)
    page.goto(f"{base}/requests/new")
    page.get_by_label("Occasion").fill("Fête des associations")
    page.get_by_label("Du", exact=True).fill(_local(start))
    page.get_by_label("Au", exact=True).fill(_local(start + timedelta(days=2)))
    page.select_option("#lines-0-type_id", label="Minibus 9 places")
    page.fill("#lines-0-quantity", "1")
    page.select_option("#lines-1-type_id", label="Chaise pliante")
    page.fill("#lines-1-quantity", "40")
    page.get_by_role("button", name="Envoyer la demande").click()
    expect(page.get_by_role("status")).to_contain_text(re.compile(r"Demande \d+ envoyée"))
    request_url = page.url
    request_id = int(request_url.rstrip("/").rsplit("/", 1)[1])
    expect(page.locator(".status-submitted")).to_be_visible()

    # 2. The manager plans and approves, in a browser of their own.
    with audited_context(
        browser, viewport={"width": 1280, "height": 900}, locale="fr-FR"
    ) as context:
        manager = context.new_page()
        manager.set_default_timeout(15_000)
        sign_in(manager, base, MANAGER)
        manager.goto(f"{base}/planning/")
        expect(manager.get_by_role("heading", name="Demandes à planifier (1)")).to_be_visible()
        manager.get_by_label("Durée maximale (secondes)").fill("5")
        manager.get_by_role("button", name="Lancer l'optimiseur").click()
        manager.wait_for_url(re.compile(r"/planning/plans/\d+$"), timeout=60_000)
        expect(manager.locator("body")).to_contain_text("Fête des associations")
        manager.get_by_role("button", name="Approuver ce planning").click()
        expect(manager.get_by_role("status")).to_contain_text("Le planning est approuvé")

        # 3. The technician sees the approval and the notification.
        page.goto(request_url)
        expect(page.locator(".status-approved")).to_be_visible()
        expect(page.locator("#outcome")).to_contain_text("MB9-1")
        with journey.database.session() as session:
            technician = session.scalars(select(User).where(User.email == TECHNICIAN)).one()
            notes = session.scalars(
                select(Notification).where(Notification.user_id == technician.id)
            ).all()
        assert [n.kind for n in notes] == ["request.approved"]
        assert "Fête des associations" in notes[0].text
        if "notifications.index" in journey.app.view_functions:
            page.goto(f"{base}/notifications/")
            expect(page.locator("body")).to_contain_text("Fête des associations")
            page.goto(request_url)

        # 4. The technician hands the equipment over from the request page.
        page.locator(f'a[href$="/handovers/{request_id}/check-out"]').click()
        page.wait_for_url(re.compile(r"/check-out$"))
        expect(page.locator("fieldset.handover-item")).to_have_count(2)
        page.locator('[name="taken_by"]').fill("Jean Dupont")
        _shot(page, "check-out")
        page.locator('[name="submit"]').click()
        page.wait_for_url(request_url)
        expect(page.locator(".status-handed_over")).to_be_visible()
        expect(page.locator("#handovers")).to_contain_text("Jean Dupont")

        # 5. The manager takes it back: the minibus is damaged and goes to maintenance.
        manager.goto(request_url)
        manager.locator(f'a[href$="/handovers/{request_id}/check-in"]').click()
        manager.wait_for_url(re.compile(r"/check-in$"))
        minibus = manager.locator(f'fieldset[data-key="unit-{journey.ids.unit}"]')
        chairs = manager.locator('fieldset[data-key^="line-"]')
        minibus.locator('select[name$="-condition"]').select_option("damaged")
        minibus.locator('textarea[name$="-damage"]').fill("Rétroviseur cassé")
        minibus.locator('input[name$="-maintenance"]').check()
        chairs.locator('input[name$="-missing_quantity"]').fill("2")
        # A date input takes ISO dates whatever the browser's language.
        until = (to_local(utcnow()) + timedelta(days=10)).date()
        manager.locator('[name="maintenance_until"]').fill(until.isoformat())
        _shot(manager, "check-in")
        manager.locator('[name="submit"]').click()
        manager.wait_for_url(request_url)
        expect(manager.locator(".status-returned")).to_be_visible()
        expect(manager.locator("#handovers")).to_contain_text("Rétroviseur cassé")

        # 6. The minibus shows as in maintenance on the manager's home page.
        manager.goto(f"{base}/")
        expect(manager.locator("#maintenance")).to_contain_text("MB9-1")
        expect(manager.locator("#maintenance")).to_contain_text("Rétroviseur cassé")
        _shot(manager, "dashboard")

    with journey.database.session() as session:
        loan = session.get(LoanRequest, request_id)
        assert loan is not None and loan.status is RequestStatus.RETURNED
        rows = session.scalars(
            select(Handover).where(Handover.request_id == request_id).order_by(Handover.id)
        ).all()
        assert [(r.kind, r.unit_id, r.condition, r.missing_quantity) for r in rows] == [
            (HandoverKind.CHECK_OUT, journey.ids.unit, Condition.GOOD, 0),
            (HandoverKind.CHECK_OUT, None, Condition.GOOD, 0),
            (HandoverKind.CHECK_IN, journey.ids.unit, Condition.DAMAGED, 0),
            (HandoverKind.CHECK_IN, None, Condition.GOOD, 2),
        ]
        unit = session.get(Unit, journey.ids.unit)
        # The dated window takes the unit out; its status stays, so it comes back by itself.
        assert unit is not None and unit.status is UnitStatus.AVAILABLE
        window = session.scalars(select(Unavailability)).one()
        assert window.unit_id == unit.id
        assert (to_local(window.end_dt).date(), to_local(window.end_dt).hour) == (until, 23)
