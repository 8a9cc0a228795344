"""``flask seed-demo``: an empty database gets the demo data once."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from booking.db import utcnow
from booking.demo import demo_season, history_rounds, season_year
from booking.models import (
    Assignment,
    Commune,
    Condition,
    EquipmentType,
    Handover,
    HandoverKind,
    LoanRequest,
    Plan,
    PlanStatus,
    Pool,
    RequestSeries,
    RequestStatus,
    Role,
    Site,
    SiteKind,
    Unavailability,
    Unit,
    User,
)
from booking.services import planning
from booking.services.handover_lists import list_overdue, units_in_maintenance
from booking.services.requests import cancel_request
from booking.services.waiting import waiting_served
from booking.timeutil import to_local
from tests.conftest import AuthActions


def _count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def test_seed_demo_fills_an_empty_database_once(
    runner: FlaskCliRunner, db_session: Session
) -> None:
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output

    assert _count(db_session, Commune) == 20
    melun = db_session.scalars(select(Commune).where(Commune.slug == "melun")).one()
    assert (melun.name, melun.lat, melun.lon) == ("Melun", 48.5397, 2.6603)
    depots = db_session.scalars(select(Site.name).where(Site.kind == SiteKind.DEPOT)).all()
    assert "Centre technique communautaire" in depots and len(depots) == 2
    deliveries = db_session.scalars(select(Site).where(Site.kind == SiteKind.DELIVERY)).all()
    assert {s.commune_id for s in deliveries} == set(db_session.scalars(select(Commune.id)))

    roles = Counter(db_session.scalars(select(User.role)))
    assert roles[Role.ADMIN] == 1 and roles[Role.MANAGER] == 1 and roles[Role.TECHNICIAN] >= 1
    tech = db_session.scalars(select(User).where(User.email.startswith("technicien.melun@"))).one()
    assert tech.commune is melun
    assert tech.email in result.output and "technicien-demo" in result.output

    types = {t.code: t for t in db_session.scalars(select(EquipmentType))}
    tracked = [t for t in types.values() if not t.is_pooled]
    assert len(tracked) >= 15
    assert [s.code for s in types["minibus-9"].substitutes] == ["minibus-12"]
    assert _count(db_session, Unit) >= 30
    assert all(t.units for t in tracked)
    pools = db_session.scalars(select(Pool)).all()
    assert {p.type.code for p in pools} >= {"crowd-barrier", "chair", "voting-booth", "ballot-box"}
    assert all(p.quantity > 0 and p.depot.kind is SiteKind.DEPOT for p in pools)
    # Maintenance windows are only added when still ahead, so at least one always is.
    assert _count(db_session, Unavailability) >= 1

    requests = db_session.scalars(select(LoanRequest)).all()
    # The season (about 150), a year of history (4 rounds of 14), the story and a series.
    assert 200 <= len(requests) <= 260
    for r in requests:
        assert r.site.commune_id == r.commune_id
        for line in r.lines:
            stock = len(line.type.units) or sum(p.quantity for p in line.type.pools)
            assert 1 <= line.quantity <= stock, (r.title, line.type.code)
            assert r.requested_start_dt - r.submitted_at >= timedelta(
                hours=line.type.min_notice_hours
            )
            if line.type.max_loan_days:
                span = r.requested_end_dt - r.requested_start_dt
                assert span <= timedelta(days=line.type.max_loan_days)

    listed = runner.invoke(args=["demo-accounts"])
    assert "gestionnaire@pret-commun.example" in listed.output and "gestion-demo" in listed.output

    counts = {m: _count(db_session, m) for m in (Commune, User, Unit, Pool, LoanRequest, Plan)}
    again = runner.invoke(args=["seed-demo"])
    assert again.exit_code == 1
    assert "already" in again.output
    quiet = runner.invoke(args=["seed-demo", "--if-empty"])
    assert quiet.exit_code == 0
    assert {m: _count(db_session, m) for m in counts} == counts


def test_demo_accounts_can_sign_in(
    runner: FlaskCliRunner, client: object, auth: AuthActions
) -> None:
    runner.invoke(args=["seed-demo"])
    response = auth.login("gestionnaire@pret-commun.example", "gestion-demo")
    assert response.status_code == 302
    assert client.get("/inventory/units").status_code == 200  # type: ignore[attr-defined]


def test_seed_demo_refuses_a_database_with_accounts(
    runner: FlaskCliRunner, db_session: Session, admin: User
) -> None:
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 1
    assert _count(db_session, Commune) == 0


def test_season_has_the_expected_events_and_is_deterministic() -> None:
    communes = [f"c{i}" for i in range(20)]
    today = date(2026, 11, 28)
    season = demo_season(today, communes)
    assert season == demo_season(today, communes)
    assert season_year(today) == 2027
    titles = Counter(r.title for r in season)
    assert titles["Élections : bureaux de vote"] == 28
    assert titles["Fête de la musique"] == 10
    assert all(r.start_dt.date() >= today + timedelta(days=21) for r in season)
    assert all(r.end_dt > r.start_dt for r in season)
    bastille = [r for r in season if r.title.startswith("Fête nationale")]
    assert len(bastille) == 12
    assert {r.start_dt.date() for r in bastille} == {date(2027, 7, 13)}
    # Late in the season, the next summer is the following year's.
    assert season_year(date(2027, 6, 1)) == 2028


def test_season_priorities_follow_the_solver_scale() -> None:
    """Priority 4 is the highest, as in loan-problem/1: elections outrank a flea market."""
    season = demo_season(date(2026, 11, 28), [f"c{i}" for i in range(20)])
    priority_of = {r.title: r.priority for r in season}
    assert priority_of["Élections : bureaux de vote"] == 4
    assert priority_of["Brocante"] == 1
    assert all(r.reason for r in season if r.priority >= 3)


def test_seed_demo_if_empty_seeds_once_then_keeps_the_data(
    runner: FlaskCliRunner, db_session: Session
) -> None:
    """``make run``'s path: ``flask seed-demo --if-empty`` on every start."""
    first = runner.invoke(args=["seed-demo", "--if-empty"])
    assert first.exit_code == 0, first.output
    assert "Demo data added" in first.output
    counts = {m: _count(db_session, m) for m in (LoanRequest, Plan, Handover, RequestSeries)}
    assert all(counts.values())
    second = runner.invoke(args=["seed-demo", "--if-empty"])
    assert second.exit_code == 0
    assert "already holds data" in second.output
    assert {m: _count(db_session, m) for m in counts} == counts


def _by_title(db_session: Session, title: str) -> LoanRequest:
    return db_session.scalars(select(LoanRequest).where(LoanRequest.title == title)).one()


def test_the_demo_tells_the_story(app: Flask, runner: FlaskCliRunner, db_session: Session) -> None:
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    manager = db_session.scalars(select(User).where(User.role == Role.MANAGER)).one()
    now = utcnow()
    today = to_local(now).date()

    # A year of history: plans approved one after the other, loans out and back.
    plans = db_session.scalars(select(Plan).order_by(Plan.id)).all()
    statuses = [p.status for p in plans]
    assert statuses.count(PlanStatus.SUPERSEDED) >= 4
    assert statuses.count(PlanStatus.APPROVED) == 1
    assert statuses[-1] is PlanStatus.PROPOSED
    returned = db_session.scalars(
        select(LoanRequest).where(LoanRequest.status == RequestStatus.RETURNED)
    ).all()
    oldest = min(r.requested_start_dt for r in returned)
    assert to_local(oldest).date() <= today - timedelta(days=330)
    assert len(returned) >= 50
    for loan in returned:
        kinds = {h.kind for h in loan.handovers}
        assert kinds == {HandoverKind.CHECK_OUT, HandoverKind.CHECK_IN}, loan.id

    # The season's approved plan serves most requests; the rest wait.
    approved = next(p for p in plans if p.status is PlanStatus.APPROVED)
    assert approved.metrics is not None and approved.metrics["served"] >= 100

    # Returned damaged: the tipper truck is in maintenance for a few days.
    damaged = _by_title(db_session, "Évacuation de gravats")
    assert damaged.status is RequestStatus.RETURNED
    back = [h for h in damaged.handovers if h.kind is HandoverKind.CHECK_IN]
    assert [h.condition for h in back] == [Condition.DAMAGED]
    unit = back[0].unit
    assert unit is not None
    in_maintenance = units_in_maintenance(db_session, by=manager, now=now)
    assert unit in [entry.unit for entry in in_maintenance]

    # Late: handed over, due back two days ago; another loan is out and due back soon.
    late = _by_title(db_session, "Sortie des aînés à Fontainebleau")
    out = _by_title(db_session, "Repas des associations")
    assert late.status is RequestStatus.HANDED_OVER and out.status is RequestStatus.HANDED_OVER
    overdue = [h.request for h in list_overdue(db_session, by=manager, now=now)]
    assert late in overdue and out not in overdue

    # The re-plan waits for approval, is not stale and moves a few flexible requests.
    proposed = plans[-1]
    with app.app_context():
        review = planning.review_plan(db_session, proposed.id, by=manager)
    assert not review.is_stale
    assert proposed.metrics is not None and proposed.metrics["shifted"] >= 2
    for title in ("Nettoyage de la place du marché", "Élagage du mail"):
        loan = _by_title(db_session, title)
        moved = db_session.scalars(
            select(Assignment).where(
                Assignment.plan_id == proposed.id, Assignment.request_id == loan.id
            )
        ).one()
        assert moved.is_served and moved.start_dt != loan.requested_start_dt
    # It keeps every approved loan where it is.
    assert not (proposed.diff or {}).get("dropped")

    # A weekly series, each date its own request, planned by the re-plan.
    series = db_session.scalars(select(RequestSeries)).one()
    dates = db_session.scalars(select(LoanRequest).where(LoanRequest.series_id == series.id)).all()
    assert len(dates) >= 8 and {d.title for d in dates} == {"Marché du samedi"}
    assert {d.status for d in dates} == {RequestStatus.PLANNED}

    # A waiting request that a cancellation would serve: cancel what blocks it.
    waiting = _by_title(db_session, "Taille des tilleuls")
    blocking = _by_title(db_session, "Élagage des platanes")
    assert waiting.status is RequestStatus.WAITING and blocking.status is RequestStatus.APPROVED
    reason = db_session.scalars(
        select(Assignment.reason).where(
            Assignment.plan_id == approved.id, Assignment.request_id == waiting.id
        )
    ).one()
    assert reason is not None and f"R-{blocking.id}" in reason["blocking_ids"]
    app.config["WAITING_REPLAN_SECONDS"] = 3
    with app.app_context():
        cancel_request(db_session, blocking.id, by=manager, reason="Arbres déjà taillés")
    quick = db_session.scalars(select(Plan).order_by(Plan.id.desc())).first()
    assert quick is not None and quick.id > proposed.id
    assert waiting in waiting_served(db_session, quick)


def test_history_is_deterministic() -> None:
    communes = [f"c{i}" for i in range(20)]
    today = date(2026, 11, 28)
    rounds = history_rounds(today, communes)
    assert rounds == history_rounds(today, communes)
    assert len(rounds) == 4 and all(len(r) == 14 for r in rounds)
    # Every loan of the history ends before the season's plan.
    assert max(r.end_dt.date() for rnd in rounds for r in rnd) < today - timedelta(days=10)
