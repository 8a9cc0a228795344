"""``flask seed-demo``: an empty database gets the demo data once."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

from flask.testing import FlaskCliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from booking.demo import demo_season, season_year
from booking.models import (
    Commune,
    EquipmentType,
    LoanRequest,
    Pool,
    RequestStatus,
    Role,
    Site,
    SiteKind,
    Unavailability,
    Unit,
    User,
)
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
    assert 120 <= len(requests) <= 180
    assert {r.status for r in requests} == {RequestStatus.SUBMITTED}
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

    counts = {m: _count(db_session, m) for m in (Commune, User, Unit, Pool, LoanRequest)}
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
