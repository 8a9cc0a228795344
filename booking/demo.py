"""Demo data: the communes of Melun Val de Seine, two depots, an inventory, a season.

``flask seed-demo`` fills an empty database. The inventory comes from the CSV
files in ``booking/data/demo/`` through the same import as the inventory page, so
they are also examples of the format, and is added in one transaction. Requests
are dated from today: a year of history, then the season that leads up to the
next 14 July, played through the services by ``booking.demo_story``.
"""

from __future__ import annotations

import csv
import random
import sys
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import click
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from booking.db import get_session
from booking.demo_story import (
    ROUNDS,
    Cast,
    DemoRequest,
    StoryOutcome,
    at_local,
    play_season,
    replay_history,
    round_window,
)
from booking.errors import BookingError
from booking.models import (
    Commune,
    EquipmentType,
    LoanRequest,
    Role,
    Site,
    SiteKind,
    Unit,
    User,
)
from booking.services import csv_inventory
from booking.services import inventory as inventory_service
from booking.timeutil import LOCAL_TZ

__all__ = ["DemoRequest", "DemoSummary", "demo_season", "history_rounds", "seed_demo"]

DATA = Path(__file__).resolve().parent / "data"
EMAIL_DOMAIN = "pret-commun.example"

# (e-mail local part, name, role, commune slug, password): demo only, printed by the command.
ACCOUNTS = (
    ("admin", "Administratrice démo", Role.ADMIN, None, "admin-demo"),
    ("gestionnaire", "Gestionnaire du parc", Role.MANAGER, None, "gestion-demo"),
    ("technicien.melun", "Technicien de Melun", Role.TECHNICIAN, "melun", "technicien-demo"),
    (
        "technicien.dammarie",
        "Technicienne de Dammarie-lès-Lys",
        Role.TECHNICIAN,
        "dammarie-les-lys",
        "technicien-demo",
    ),
    (
        "technicien.le-mee",
        "Technicien du Mée-sur-Seine",
        Role.TECHNICIAN,
        "le-mee-sur-seine",
        "technicien-demo",
    ),
)
# (name, commune slug, lat, lon, address)
DEPOTS = (
    ("Centre technique communautaire", "vaux-le-penil", 48.5286, 2.6831, "Vaux-le-Pénil"),
    ("Dépôt de Dammarie-lès-Lys", "dammarie-les-lys", 48.5120, 2.6350, "Dammarie-lès-Lys"),
)


@dataclass(frozen=True)
class DemoSummary:
    """What ``seed_demo`` created."""

    communes: int
    sites: int
    types: int
    units: int
    pools: int
    windows: int
    requests: int
    accounts: tuple[tuple[str, str, str], ...]  # (e-mail, role, password)
    story: StoryOutcome | None = None


class DemoDataExists(BookingError):
    """The database already holds communes or accounts."""


def _at(day: date, hour: int) -> datetime:
    return at_local(day, hour)


def _next_weekday(day: date, weekday: int) -> date:
    return day + timedelta(days=(weekday - day.weekday()) % 7)


def season_year(today: date) -> int:
    """The year of the first 14 July at least 60 days after ``today``."""
    year = today.year
    while date(year, 7, 14) < today + timedelta(days=60):
        year += 1
    return year


# Communes large enough for the big podium on 14 July.
BIG_COMMUNES = ("melun", "dammarie-les-lys", "le-mee-sur-seine", "vaux-le-penil")
# Communes holding a 14 July ball, in drawing order: the first six also get the sound stage.
NATIONAL_DAY_COMMUNES = (
    *BIG_COMMUNES,
    "saint-fargeau-ponthierry",
    "la-rochette",
    "rubelles",
    "boissise-le-roi",
    "pringy",
    "livry-sur-seine",
    "seine-port",
    "maincy",
)
# (title, lines as (type code, quantity), priority) of a weekend fête.
WEEKEND_KINDS = (
    ("Brocante", (("crowd-barrier", 20), ("table", 20), ("tent-3x3", 2)), 1),
    (
        "Fête de village",
        (("tent-3x3", 4), ("table", 15), ("chair", 80), ("fridge-trailer", 1)),
        2,
    ),
    ("Forum des associations", (("exhibition-grid", 30), ("table", 25), ("chair", 50)), 2),
    ("Exposition", (("exhibition-grid", 40),), 1),
    ("Kermesse", (("tent-3x3", 3), ("table", 10), ("chair", 60), ("sound-portable", 1)), 2),
)
# (title, lines) replacing any weekend fête drawn on a Saturday of December.
CHRISTMAS_MARKET = ("Marché de Noël", (("tent-3x3", 6), ("table", 12), ("generator-20", 1)))
# (title, type code, days, priority, reason) of a weekday use of a vehicle or machine.
WEEKDAY_KINDS = (
    ("Sortie scolaire", "minibus-9", 1, 2, "Transport d'élèves"),
    ("Sortie des aînés", "minibus-12", 1, 2, "Sortie du CCAS"),
    ("Évacuation de déchets verts", "tipper-35", 2, 2, "Entretien des espaces verts"),
    ("Élagage", "aerial-lift", 2, 3, "Sécurité des arbres d'alignement"),
    ("Nettoyage de voirie", "sweeper", 1, 2, "Propreté après le marché"),
    ("Broyage de branches", "chipper", 1, 1, "Entretien des espaces verts"),
    ("Désherbage du cimetière", "weeder", 3, 1, "Gestion sans pesticides"),
)


def demo_season(today: date, communes: list[str], seed: int = 14) -> list[DemoRequest]:
    """About 150 requests from three weeks after ``today`` to the end of next September.

    Events (14 July, Fête de la musique, two election Sundays in April, weekend
    fêtes) and weekday use of vehicles and machines; deterministic for given
    arguments. Quantities never exceed the demo stock of one type, but peaks
    such as 14 July ask for more than there is, as real seasons do.
    """
    rng = random.Random(seed)
    year = season_year(today)
    first, last = today + timedelta(days=22), date(year, 9, 30)
    # Every generator draws from ``rng``: their order fixes the season for a given seed.
    candidates = [
        *_national_day_requests(rng, year),
        *_music_day_requests(rng, year, communes),
        *_election_requests(rng, year, communes),
        *_weekend_requests(rng, communes, first, last),
        *_weekday_requests(rng, communes, first, last),
    ]
    season = [r for r in candidates if first <= r.start_dt.date() and r.end_dt.date() <= last]
    season.sort(key=lambda r: (r.start_dt, r.commune, r.title))
    return season


def _national_day_requests(rng: random.Random, year: int) -> list[DemoRequest]:
    """A ball and fireworks on 14 July in twelve communes, from the 13th to the 15th."""
    national = date(year, 7, 14)
    requests = []
    for i, commune in enumerate(NATIONAL_DAY_COMMUNES):
        lines = [
            ("podium-8x6" if commune in BIG_COMMUNES else "podium-4x3", 1),
            ("crowd-barrier", rng.choice((30, 50, 80))),
            ("chair", rng.choice((80, 120, 200))),
            ("table", rng.choice((10, 20, 30))),
            ("generator-20", 1),
        ]
        if i < 6:
            lines.append(("sound-stage", 1))
        requests.append(
            DemoRequest(
                commune,
                "Fête nationale : bal et feu d'artifice",
                _at(national - timedelta(days=1), 8),
                _at(national + timedelta(days=1), 12),
                tuple(lines),
                3,
                "Fête nationale, manifestation communale majeure",
            )
        )
    return requests


def _music_day_requests(rng: random.Random, year: int, communes: list[str]) -> list[DemoRequest]:
    """Open-air concerts on 21 June in ten communes drawn at random."""
    music = date(year, 6, 21)
    return [
        DemoRequest(
            commune,
            "Fête de la musique",
            _at(music - timedelta(days=1), 14),
            _at(music + timedelta(days=1), 12),
            (("podium-4x3", 1), ("sound-portable", 1), ("crowd-barrier", 20), ("chair", 60)),
            2,
            "Concerts en plein air",
        )
        for commune in rng.sample(communes, 10)
    ]


def _election_requests(rng: random.Random, year: int, communes: list[str]) -> list[DemoRequest]:
    """Polling stations in the first 14 communes for two April Sundays, two weeks apart."""
    round_one = _next_weekday(date(year, 4, 8), 6)
    requests = []
    for polling_day in (round_one, round_one + timedelta(days=14)):
        for commune in communes[:14]:
            stations = rng.randint(1, 4)
            requests.append(
                DemoRequest(
                    commune,
                    "Élections : bureaux de vote",
                    _at(polling_day - timedelta(days=2), 8),
                    _at(polling_day + timedelta(days=1), 12),
                    (("voting-booth", 3 * stations), ("ballot-box", stations), ("table", 2)),
                    4,
                    "Obligation légale : tenue du scrutin",
                )
            )
    return requests


def _weekend_requests(
    rng: random.Random, communes: list[str], first: date, last: date
) -> list[DemoRequest]:
    """45 local fêtes on Saturdays between ``first`` and ``last``, Friday afternoon to Monday."""
    saturdays = [_next_weekday(first, 5) + timedelta(weeks=w) for w in range(60)]
    saturdays = [d for d in saturdays if d <= last]
    requests = []
    for _ in range(45):
        saturday = rng.choice(saturdays)
        title, lines, priority = rng.choice(WEEKEND_KINDS)
        if saturday.month == 12:
            title, lines = CHRISTMAS_MARKET
        requests.append(
            DemoRequest(
                rng.choice(communes),
                title,
                _at(saturday - timedelta(days=1), 14),
                _at(saturday + timedelta(days=2), 10),
                lines,
                priority,
                "Animation locale",
            )
        )
    return requests


def _weekday_requests(
    rng: random.Random, communes: list[str], first: date, last: date
) -> list[DemoRequest]:
    """55 flexible uses of a vehicle or machine starting on a Tuesday, Wednesday or Thursday."""
    weekdays = [first + timedelta(days=i) for i in range((last - first).days)]
    weekdays = [d for d in weekdays if d.weekday() in (1, 2, 3)]
    requests = []
    for _ in range(55):
        day = rng.choice(weekdays)
        title, code, days, priority, reason = rng.choice(WEEKDAY_KINDS)
        # Short-circuit: only a minibus-9 request draws, so other kinds leave rng untouched.
        quantity = 2 if code == "minibus-9" and rng.random() < 0.3 else 1
        requests.append(
            DemoRequest(
                rng.choice(communes),
                title,
                _at(day, 8),
                _at(day + timedelta(days=days - 1), 18),
                ((code, quantity),),
                priority,
                reason,
                flexible_days=2,
            )
        )
    return requests


def _maintenance(today: date) -> list[tuple[str, datetime, datetime, str]]:
    """(unit code, start, end, reason) windows spread over the season."""
    year = season_year(today)
    return [
        ("BALAY-1", _at(date(year, 3, 1), 7), _at(date(year, 3, 15), 18), "Révision annuelle"),
        ("NACELLE-1", _at(date(year, 5, 3), 7), _at(date(year, 5, 8), 18), "Contrôle VGP"),
        ("MB9-1", _at(date(year, 2, 2), 8), _at(date(year, 2, 4), 12), "Contrôle technique"),
        ("BENNE-2", _at(date(year, 6, 7), 8), _at(date(year, 6, 12), 18), "Embrayage"),
        ("GE60-1", _at(date(year, 4, 20), 8), _at(date(year, 4, 23), 18), "Vidange"),
    ]


def has_data(session: Session) -> bool:
    """Whether the database already holds communes or accounts."""
    communes = session.scalar(select(func.count(Commune.id))) or 0
    users = session.scalar(select(func.count(User.id))) or 0
    return bool(communes or users)


def history_rounds(
    today: date, communes: list[str], seed: int = 21, per_round: int = 14
) -> list[list[DemoRequest]]:
    """The past year's requests, ``per_round`` for each planning round of the history
    (weekend fêtes and weekday uses, as in the season); deterministic."""
    rng = random.Random(seed)
    rounds = []
    for index in range(ROUNDS):
        first, last = round_window(today, index)
        candidates = [
            r
            for r in (
                *_weekend_requests(rng, communes, first, last),
                *_weekday_requests(rng, communes, first, last),
            )
            if first <= r.start_dt.date() and r.end_dt.date() <= last
        ]
        candidates.sort(key=lambda r: (r.start_dt, r.commune, r.title))
        rounds.append(rng.sample(candidates, min(per_round, len(candidates))))
    return rounds


def seed_demo(
    session: Session, today: date | None = None, now: datetime | None = None
) -> DemoSummary:
    """Fills an empty database with the demo data and its story (see ``demo_story``).

    The inventory is added in one transaction; the story goes through the services,
    which commit as they go.

    Args:
        session: the database session.
        today: the local day the story leads up to (default: today).
        now: the moment of the proposed re-plan (default: the clock, or ``today`` at
            09:00 when ``today`` is given, so that a test repeats).

    Raises:
        DemoDataExists: the database already holds communes or accounts.
        CsvImportError: a demo inventory file is broken (a bug in ``booking/data``).
    """
    if has_data(session):
        raise DemoDataExists(
            "The database already holds communes or accounts: seed-demo only fills an empty one."
        )
    if now is None:
        now = at_local(today, 9) if today is not None else datetime.now(UTC)
    today = today or now.astimezone(LOCAL_TZ).date()
    communes = _seed_communes(session)
    users, accounts = _seed_accounts(session, communes)
    manager = users[Role.MANAGER.value]
    _seed_depots(session, communes, manager)
    town_halls = _seed_town_halls(session, communes, manager)
    types = _import_demo_inventory(session, "types", manager)
    units = _import_demo_inventory(session, "units", manager)
    pools = _import_demo_inventory(session, "pools", manager)
    windows = _seed_maintenance(session, today, manager)
    session.commit()
    cast = Cast(
        communes=communes,
        town_halls=town_halls,
        technicians={slug: u for slug, u in users.items() if u.role is Role.TECHNICIAN},
        manager=manager,
        types={t.code: t for t in session.scalars(select(EquipmentType))},
    )
    history = history_rounds(today, list(communes))
    history_plans = replay_history(session, cast, today, history)
    season = demo_season(today, list(communes))
    # One request in five comes in after the season's plan was approved.
    early = [r for i, r in enumerate(season) if i % 5]
    late = season[::5]
    approved_id, proposed_id, roles, series_id = play_season(session, cast, today, now, early, late)
    return DemoSummary(
        communes=len(communes),
        sites=len(DEPOTS) + len(town_halls),
        types=types,
        units=units,
        pools=pools,
        windows=windows,
        requests=session.scalar(select(func.count(LoanRequest.id))) or 0,
        accounts=accounts,
        story=StoryOutcome(history_plans, approved_id, proposed_id, roles, series_id),
    )


def _seed_communes(session: Session) -> dict[str, Commune]:
    """The communes of ``data/communes.csv``, by slug in file order, flushed to get their ids."""
    with (DATA / "communes.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    communes = {
        r["slug"]: Commune(slug=r["slug"], name=r["name"], lat=float(r["lat"]), lon=float(r["lon"]))
        for r in rows
    }
    session.add_all(communes.values())
    session.flush()
    return communes


def _seed_accounts(
    session: Session, communes: dict[str, Commune]
) -> tuple[dict[str, User], tuple[tuple[str, str, str], ...]]:
    """The ``ACCOUNTS``, flushed.

    Returns:
        The users by commune slug (technicians) or role value (others), and the
        (e-mail, role, password) triples to print.
    """
    accounts = []
    users: dict[str, User] = {}
    for local, name, role, slug, password in ACCOUNTS:
        email = f"{local}@{EMAIL_DOMAIN}"
        user = User(email=email, name=name, role=role, commune=communes[slug] if slug else None)
        user.set_password(password)
        session.add(user)
        users[slug or role.value] = user
        accounts.append((email, role.value, password))
    session.flush()
    return users, tuple(accounts)


def _seed_depots(session: Session, communes: dict[str, Commune], manager: User) -> None:
    """The ``DEPOTS``, created by ``manager`` through the inventory service."""
    for name, slug, lat, lon, address in DEPOTS:
        inventory_service.create_site(
            session,
            inventory_service.SiteData(
                name, SiteKind.DEPOT, lat, lon, communes[slug].id, address=address
            ),
            by=manager,
            commit=False,
        )


def _seed_town_halls(
    session: Session, communes: dict[str, Commune], manager: User
) -> dict[str, Site]:
    """One delivery site per commune, at the commune's coordinates, by commune slug."""
    return {
        slug: inventory_service.create_site(
            session,
            inventory_service.SiteData(
                f"{commune.name} - Hôtel de ville",
                SiteKind.DELIVERY,
                commune.lat or 0.0,
                commune.lon or 0.0,
                commune.id,
            ),
            by=manager,
            commit=False,
        )
        for slug, commune in communes.items()
    }


def _import_demo_inventory(session: Session, kind: str, manager: User) -> int:
    """Imports ``data/demo/<kind>.csv`` as the inventory page would; the number created."""
    result = csv_inventory.import_csv(
        session, kind, (DATA / "demo" / f"{kind}.csv").read_bytes(), by=manager, commit=False
    )
    return result.created


def _seed_maintenance(session: Session, today: date, manager: User) -> int:
    """The maintenance windows starting after ``today``; how many were added."""
    units = {u.code: u for u in session.scalars(select(Unit))}
    added = 0
    for code, start, end, reason in _maintenance(today):
        if start.date() > today:
            inventory_service.add_unavailability(
                session, units[code].id, start, end, reason, by=manager, commit=False
            )
            added += 1
    return added


@click.command("seed-demo")
@click.option(
    "--if-empty",
    is_flag=True,
    help="Do nothing (exit 0) when the database already holds data, instead of failing.",
)
def seed_demo_command(if_empty: bool) -> None:
    """Fill an empty database with demo communes, inventory, requests and accounts."""
    session = get_session()
    if has_data(session):
        if if_empty:
            click.echo("The database already holds data: demo data not added.")
            return
        click.echo(
            "Error: the database already holds communes or accounts; seed-demo only fills an "
            "empty database (use --if-empty to skip silently).",
            err=True,
        )
        sys.exit(1)
    summary = seed_demo(session)
    click.echo(
        f"Demo data added: {summary.communes} communes, {summary.sites} sites, "
        f"{summary.types} equipment types, {summary.units} units, {summary.pools} pools, "
        f"{summary.windows} maintenance windows, {summary.requests} requests."
    )
    if summary.story is not None:
        click.echo(
            f"The story: {summary.story.history_plans} plans of the past year, the season's "
            f"plan n° {summary.story.approved_plan_id} (approved), a re-plan "
            f"n° {summary.story.proposed_plan_id} waiting for approval."
        )
    click.echo("Demo accounts (demo passwords, change them on a real server):")
    for email, role, password in summary.accounts:
        click.echo(f"  {role:<10} {email:<40} {password}")


@click.command("demo-accounts")
def demo_accounts_command() -> None:
    """Print the demo accounts present in the database, with their demo passwords."""
    session = get_session()
    shown = 0
    for local, _name, role, _slug, password in ACCOUNTS:
        email = f"{local}@{EMAIL_DOMAIN}"
        user = session.scalar(select(User).where(User.email == email))
        # A password changed since seeding is not printed: only the demo one is known.
        if user is not None and user.check_password(password):
            if not shown:
                click.echo("Demo accounts:")
            click.echo(f"  {role.value:<10} {email:<40} {password}")
            shown += 1
    if not shown:
        click.echo("No demo account with its demo password in this database.")


def register_cli(app: Flask) -> None:
    """Add ``flask seed-demo`` and ``flask demo-accounts`` to the application's commands."""
    app.cli.add_command(seed_demo_command)
    app.cli.add_command(demo_accounts_command)
