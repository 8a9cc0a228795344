"""The demo's story, played through the services as it would have happened.

A year of history (requests planned, approved, handed over and returned a quarter at a
time), then the current season: a plan approved ten days ago, loans out and back (one
late, one damaged), a waiting request that a cancellation would serve, a recurring
series, and a re-plan proposed today that moves a few flexible requests.

Every step goes through the services with an explicit ``now``, so the rows are those the
application would have written; plans use the greedy strategy, which repeats exactly.
``booking.demo`` builds the requests and calls :func:`play_story`.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from booking.models import (
    Commune,
    Condition,
    EquipmentType,
    LoanRequest,
    Plan,
    RequestStatus,
    Site,
    User,
)
from booking.services import handovers, planning
from booking.services.handovers import ItemReport
from booking.services.requests import submit_request
from booking.services.series import Frequency, Recurrence, submit_series
from booking.timeutil import LOCAL_TZ

# Seconds the greedy strategy and the explanation of unserved requests may take per plan.
PLAN_SECONDS = 5.0
EXPLAIN_SECONDS = 0.5
# Days between the history's planning rounds, and how many rounds make the year.
ROUND_DAYS = 91
ROUNDS = 4
# The current season's plan was approved this many days before today.
APPROVED_DAYS_AGO = 10


def at_local(day: date, hour: int, minute: int = 0) -> datetime:
    """``day`` at ``hour`` (local time, Europe/Paris), aware."""
    return datetime.combine(day, time(hour, minute), tzinfo=LOCAL_TZ)


@dataclass(frozen=True)
class DemoRequest:
    """One request of the demo, delivered to the commune's town hall."""

    commune: str  # slug
    title: str
    start_dt: datetime
    end_dt: datetime
    lines: tuple[tuple[str, int], ...]  # (type code, quantity)
    priority: int  # 1 lowest .. 4 highest, as LoanRequest.priority and the solver spec
    reason: str
    flexible_days: int = 0  # the loan may move this many days either way
    role: str = ""  # what the story does with it: see ``STORY_ROLES``


@dataclass
class Cast:
    """The rows the story acts with: communes and town halls by slug, users, types."""

    communes: dict[str, Commune]
    town_halls: dict[str, Site]
    technicians: dict[str, User]  # by commune slug
    manager: User
    types: dict[str, EquipmentType] = field(default_factory=dict)


@dataclass(frozen=True)
class StoryOutcome:
    """What the story left: the plans and the requests each part of it is about."""

    history_plans: int
    approved_plan_id: int
    proposed_plan_id: int
    roles: dict[str, int]  # story role -> request id
    series_id: int


def story_requests(today: date) -> list[DemoRequest]:
    """The current season's requests around today that the story acts on, by role.

    - ``returned``: handed over and returned in good condition;
    - ``damaged``: returned with a damaged tipper truck, sent to maintenance;
    - ``late``: handed over, due back two days ago, not returned;
    - ``out``: handed over, due back in two days;
    - ``soon``: approved, handed over in two days;
    - ``blocking``: approved, holds the only aerial lift;
    - ``waiting``: the same lift on the same days, lower priority: on the waiting list,
      served if ``blocking`` is cancelled;
    - ``sweeper``: approved, holds the only sweeper on a day the re-plan's ``shifted``
      request (submitted since, flexible) asked for.
    """

    def day(offset: int) -> date:
        return today + timedelta(days=offset)

    lift = (("aerial-lift", 1),)
    return [
        DemoRequest(
            "le-mee-sur-seine", "Concert du conservatoire", at_local(day(-9), 9),
            at_local(day(-8), 18), (("sound-portable", 1), ("chair", 80)), 2,
            "Animation culturelle", role="returned",
        ),
        DemoRequest(
            "dammarie-les-lys", "Évacuation de gravats", at_local(day(-8), 8),
            at_local(day(-7), 18), (("tipper-35", 1),), 2, "Travaux de voirie",
            role="damaged",
        ),
        DemoRequest(
            "melun", "Sortie des aînés à Fontainebleau", at_local(day(-5), 8),
            at_local(day(-2), 18),
            (("minibus-9", 1),), 2, "Sortie du CCAS", role="late",
        ),
        DemoRequest(
            "melun", "Repas des associations", at_local(day(-1), 14), at_local(day(2), 10),
            (("table", 10), ("chair", 60)), 2, "Animation locale", role="out",
        ),
        DemoRequest(
            "dammarie-les-lys", "Sortie scolaire au musée", at_local(day(2), 8),
            at_local(day(2), 18),
            (("minibus-12", 1),), 2, "Transport d'élèves", role="soon",
        ),
        DemoRequest(
            "vaux-le-penil", "Élagage des platanes", at_local(day(15), 8),
            at_local(day(16), 18), lift, 3, "Sécurité des arbres d'alignement",
            role="blocking",
        ),
        DemoRequest(
            "melun", "Taille des tilleuls", at_local(day(15), 8), at_local(day(16), 18), lift,
            1, "Entretien des espaces verts", role="waiting",
        ),
        DemoRequest(
            "dammarie-les-lys", "Nettoyage après la foire", at_local(day(12), 8),
            at_local(day(12), 18), (("sweeper", 1),), 2, "Propreté après le marché",
            role="sweeper",
        ),
    ]  # fmt: skip


def shifted_requests(today: date) -> list[DemoRequest]:
    """Submitted after the approval, flexible, on days the approved loans of the only
    sweeper (``sweeper``) and the only aerial lift (``blocking``) hold: the re-plan
    moves them (roles ``shifted`` and ``shifted-lift``)."""
    sweeping, pruning = today + timedelta(days=12), today + timedelta(days=15)
    return [
        DemoRequest(
            "le-mee-sur-seine", "Nettoyage de la place du marché", at_local(sweeping, 8),
            at_local(sweeping, 18), (("sweeper", 1),), 2, "Propreté après le marché",
            flexible_days=2, role="shifted",
        ),
        DemoRequest(
            "le-mee-sur-seine", "Élagage du mail", at_local(pruning, 8),
            at_local(pruning + timedelta(days=1), 18), (("aerial-lift", 1),), 2,
            "Sécurité des arbres d'alignement", flexible_days=3, role="shifted-lift",
        ),
    ]  # fmt: skip


def submit(session: Session, cast: Cast, item: DemoRequest, now: datetime) -> LoanRequest:
    """``item`` as submitted at ``now`` by the commune's technician, or by the manager
    for a commune without one."""
    commune = cast.communes[item.commune]
    return submit_request(
        session,
        by=cast.technicians.get(item.commune, cast.manager),
        commune_id=commune.id,
        site_id=cast.town_halls[item.commune].id,
        start_dt=item.start_dt,
        end_dt=item.end_dt,
        flex_days_before=item.flexible_days,
        flex_days_after=item.flexible_days,
        lines=[(cast.types[code].id, quantity) for code, quantity in item.lines],
        priority=item.priority,
        priority_reason=item.reason,
        title=item.title,
        now=now,
    )


def _submit_before(
    session: Session,
    cast: Cast,
    items: Sequence[DemoRequest],
    moment: datetime,
    seed: int,
    days: int = 20,
) -> list[LoanRequest]:
    """``items`` submitted at random hours in the ``days`` days before ``moment`` (earlier
    when their notice asks for it), in order of submission."""
    rng = random.Random(seed)
    dated = []
    for item in items:
        notice = max(cast.types[code].min_notice_hours for code, _q in item.lines)
        submitted = min(
            moment - timedelta(hours=rng.randint(1, days * 24)),
            item.start_dt - timedelta(hours=notice + 1),
        )
        dated.append((submitted, item))
    dated.sort(key=lambda pair: (pair[0], pair[1].start_dt, pair[1].commune, pair[1].title))
    return [submit(session, cast, item, when) for when, item in dated]


def _plan_and_approve(session: Session, cast: Cast, moment: datetime) -> Plan:
    plan = planning.plan_now(
        session,
        by=cast.manager,
        now=moment,
        time_limit_seconds=PLAN_SECONDS,
        explain_seconds=EXPLAIN_SECONDS,
    )
    return planning.approve_plan(session, plan.id, by=cast.manager, now=moment)


def _hand_over(
    session: Session,
    cast: Cast,
    loan: LoanRequest,
    *,
    back: bool = True,
    damage: str | None = None,
    repaired_on: date | None = None,
) -> None:
    """Checks ``loan`` out at its approved start and, with ``back``, in at its end (never
    before the requested end: an early return would offer the freed capacity at once)."""
    served = handovers.loan_items(session, loan)
    technician = cast.technicians.get(loan.commune.slug)
    taken_by = technician.name if technician else f"Services techniques, {loan.commune.name}"
    handovers.check_out(
        session, loan.id, by=cast.manager, taken_by=taken_by, at=served.start_dt,
        now=served.start_dt,
    )  # fmt: skip
    if not back:
        return
    returned = max(served.end_dt, loan.requested_end_dt)
    reports: dict[str, ItemReport] = {}
    to_repair: list[int] = []
    if damage is not None:
        unit_item = next(i for i in served.items if i.unit is not None)
        assert unit_item.unit is not None
        reports[unit_item.key] = ItemReport(condition=Condition.DAMAGED, damage=damage)
        to_repair.append(unit_item.unit.id)
    handovers.check_in(
        session,
        loan.id,
        by=cast.manager,
        at=returned,
        reports=reports,
        send_to_maintenance=to_repair,
        maintenance_until=at_local(repaired_on, 18) if repaired_on else None,
        now=returned,
    )


def replay_history(
    session: Session, cast: Cast, today: date, rounds: Sequence[Sequence[DemoRequest]]
) -> int:
    """Each round's requests submitted, planned and approved ``ROUND_DAYS`` apart from a
    year before ``today``, and every loan handed over and returned; the plans approved."""
    approved = 0
    for index, items in enumerate(rounds):
        moment = at_local(round_start(today, index), 9)
        _submit_before(session, cast, items, moment, seed=100 + index)
        _plan_and_approve(session, cast, moment)
        approved += 1
        for loan in _approved_loans(session):
            _hand_over(session, cast, loan)
    return approved


def round_start(today: date, index: int) -> date:
    """The day the history's round ``index`` (0 is a year ago) was planned."""
    return today - timedelta(days=365 - ROUND_DAYS * index)


def round_window(today: date, index: int) -> tuple[date, date]:
    """The first and last days of the loans of round ``index``: two weeks after it was
    planned, until the next round (the last ends two weeks before the current season's
    plan)."""
    first = round_start(today, index) + timedelta(days=14)
    last = min(
        round_start(today, index + 1) + timedelta(days=7),
        today - timedelta(days=APPROVED_DAYS_AGO + 14),
    )
    return first, last


def _approved_loans(session: Session) -> list[LoanRequest]:
    return list(
        session.scalars(
            select(LoanRequest)
            .where(LoanRequest.status == RequestStatus.APPROVED)
            .order_by(LoanRequest.requested_start_dt, LoanRequest.id)
        )
    )


def play_season(
    session: Session,
    cast: Cast,
    today: date,
    now: datetime,
    early: Sequence[DemoRequest],
    late: Sequence[DemoRequest],
) -> tuple[int, int, dict[str, int], int]:
    """The current season, up to ``now``.

    The story's requests and ``early`` ones are approved ``APPROVED_DAYS_AGO`` days ago;
    the story's loans go out and come back; ``late`` ones, the ``shifted_requests`` and a
    weekly market series come in since; a re-plan is proposed at ``now``.

    Returns:
        The approved plan's id, the proposed plan's id, the request id of each story
        role and the series id.
    """
    moment = at_local(today - timedelta(days=APPROVED_DAYS_AGO), 9)
    story = story_requests(today)
    submitted = _submit_before(session, cast, [*story, *early], moment, seed=200)
    roles = {}
    for loan in submitted:
        for item in story:
            if (item.title, item.commune, item.start_dt) == (
                loan.title,
                loan.commune.slug,
                loan.requested_start_dt,
            ):
                roles[item.role] = loan.id
    approved = _plan_and_approve(session, cast, moment)

    loans = {role: session.get(LoanRequest, request_id) for role, request_id in roles.items()}
    _hand_over(session, cast, _present(loans["returned"]))
    _hand_over(
        session,
        cast,
        _present(loans["damaged"]),
        damage="Ridelle arrière tordue au déchargement",
        repaired_on=today + timedelta(days=6),
    )
    _hand_over(session, cast, _present(loans["late"]), back=False)
    _hand_over(session, cast, _present(loans["out"]), back=False)

    since = now - timedelta(days=APPROVED_DAYS_AGO - 1)
    _submit_before(session, cast, late, now, seed=300, days=APPROVED_DAYS_AGO - 1)
    for item in shifted_requests(today):
        roles[item.role] = submit(session, cast, item, since).id
    series_id = _market_series(session, cast, today, since)
    proposed = planning.plan_now(
        session,
        by=cast.manager,
        now=now,
        time_limit_seconds=PLAN_SECONDS,
        explain_seconds=EXPLAIN_SECONDS,
    )
    return approved.id, proposed.id, roles, series_id


def _present(loan: LoanRequest | None) -> LoanRequest:
    assert loan is not None, "a story request was not submitted"
    return loan


def _market_series(session: Session, cast: Cast, today: date, now: datetime) -> int:
    """Melun's Saturday market: tables and tents every week for two months."""
    first = today + timedelta(days=(5 - today.weekday()) % 7 + 7)
    series = submit_series(
        session,
        by=cast.technicians["melun"],
        commune_id=cast.communes["melun"].id,
        site_id=cast.town_halls["melun"].id,
        start_dt=at_local(first, 6),
        end_dt=at_local(first, 14),
        recurrence=Recurrence(Frequency.WEEKLY, until=first + timedelta(weeks=8)),
        lines=[(cast.types["table"].id, 12), (cast.types["tent-3x3"].id, 4)],
        priority=2,
        priority_reason="Marché hebdomadaire",
        title="Marché du samedi",
        now=now,
    )
    return series.id
