"""Calendar feeds: what they contain, who may have which, and how they change."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from icalendar import Calendar
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from booking.db import get_db
from booking.errors import Forbidden, NotFound
from booking.models import (
    Assignment,
    AssignmentUnit,
    Commune,
    EquipmentType,
    FeedKind,
    FeedToken,
    LoanRequest,
    Plan,
    PlanStatus,
    RequestStatus,
    Role,
    Site,
    SiteKind,
    Unit,
    User,
)
from booking.services import feeds
from booking.services.feeds_cache import BODY_CACHE, EVENT_CACHE
from tests.conftest import PARIS

DOMAIN = "feeds.test"
REQUEST_URL = "https://pret.example/requests/{id}"
# Loans in 2027 straddle both summer-time changes (28 March and 31 October 2027).
SPRING = datetime(2027, 3, 27, 8, 0, tzinfo=PARIS)
AUTUMN = datetime(2027, 10, 30, 8, 0, tzinfo=PARIS)


@pytest.fixture(autouse=True)
def _empty_caches() -> Iterator[None]:
    EVENT_CACHE.clear()
    BODY_CACHE.clear()
    yield
    EVENT_CACHE.clear()
    BODY_CACHE.clear()


@pytest.fixture
def depot(make_site: Callable[..., Site]) -> Site:
    return make_site(kind=SiteKind.DEPOT, name="Dépôt de Vaux")


@pytest.fixture
def minibus_type(make_type: Callable[..., EquipmentType]) -> EquipmentType:
    return make_type(code="minibus", name="Minibus", is_delivered=False)


@pytest.fixture
def stage_type(make_type: Callable[..., EquipmentType]) -> EquipmentType:
    return make_type(code="stage", name="Scène mobile", is_delivered=True)


@pytest.fixture
def minibus(make_unit: Callable[..., Unit], minibus_type: EquipmentType, depot: Site) -> Unit:
    return make_unit(code="MB-01", name="Minibus 1", type=minibus_type, home_depot=depot)


@pytest.fixture
def stage(make_unit: Callable[..., Unit], stage_type: EquipmentType, depot: Site) -> Unit:
    return make_unit(code="SC-01", name="Scène 1", type=stage_type, home_depot=depot)


@pytest.fixture
def approved_plan(db_session: Session) -> Plan:
    plan = Plan(status=PlanStatus.APPROVED, strategy="cpsat", problem_json={}, problem_sha="a" * 64)
    db_session.add(plan)
    db_session.commit()
    return plan


@pytest.fixture
def proposed_plan(db_session: Session) -> Plan:
    plan = Plan(status=PlanStatus.PROPOSED, strategy="cpsat", problem_json={}, problem_sha="b" * 64)
    db_session.add(plan)
    db_session.commit()
    return plan


@pytest.fixture
def make_loan(
    db_session: Session,
    make_request: Callable[..., LoanRequest],
    make_site: Callable[..., Site],
    approved_plan: Plan,
    technician: User,
) -> Callable[..., LoanRequest]:
    """``make_loan(commune, unit, start=..., days=2, plan=approved_plan)``: a served request."""

    def make(commune: Commune, unit: Unit, **params: Any) -> LoanRequest:
        plan = params.pop("plan", approved_plan)
        start = params.pop("start", SPRING)
        days = params.pop("days", 2)
        site = make_site(
            commune=commune,
            name=f"Salle des fêtes de {commune.name}",
            address=f"1 place de la Mairie, {commune.name}",
            lat=48.5392,
            lon=2.6601,
        )
        params.setdefault("status", RequestStatus.APPROVED)
        params.setdefault("submitted_by", technician)
        loan = make_request(
            commune=commune, site=site, start=start, days=days, lines=[(unit.type, 1)], **params
        )
        assignment = Assignment(
            plan=plan,
            request=loan,
            is_served=True,
            start_dt=loan.requested_start_dt,
            end_dt=loan.requested_end_dt,
        )
        assignment.units.append(AssignmentUnit(line=loan.lines[0], unit=unit))
        db_session.add(assignment)
        db_session.commit()
        return loan

    return make


def feed_for(session: Session, user: User, kind: FeedKind, target: int | None) -> str:
    _feed, token = feeds.create_feed(session, by=user, kind=kind, target_id=target, name="Test")
    return token


def fetch(session: Session, token: str, now: datetime | None = None) -> bytes:
    result = feeds.read_feed(
        session,
        token,
        now=now or datetime.now(UTC),
        domain=DOMAIN,
        request_url=REQUEST_URL,
    )
    assert result.body is not None
    return result.body


def parse(body: bytes) -> Calendar:
    calendar = Calendar.from_ical(body)
    for component in calendar.walk():
        assert component.errors == [], (component.name, component.errors)
    return calendar


def events(body: bytes) -> dict[str, Any]:
    return {str(e["UID"]): e for e in parse(body).walk("VEVENT")}


# --- format -----------------------------------------------------------------------------------


def test_calendar_is_what_calendar_apps_need(
    db_session: Session, manager: User, commune: Commune, minibus: Unit, make_loan: Any
) -> None:
    make_loan(commune, minibus)
    body = fetch(db_session, feed_for(db_session, manager, FeedKind.MANAGER, None))
    calendar = parse(body)
    assert "METHOD" not in calendar
    assert "UID" not in calendar
    assert str(calendar["VERSION"]) == "2.0"
    assert str(calendar["NAME"]) == str(calendar["X-WR-CALNAME"]) == "Prêt Commun · Test"
    assert str(calendar["DESCRIPTION"])
    assert b"\r\nREFRESH-INTERVAL;VALUE=DURATION:PT1H\r\n" in body
    assert b"\r\nX-PUBLISHED-TTL:PT1H\r\n" in body
    # The time zone comes before the first event and is written as yearly rules.
    assert body.index(b"BEGIN:VTIMEZONE") < body.index(b"BEGIN:VEVENT")
    timezone = calendar.walk("VTIMEZONE")[0]
    assert str(timezone["TZID"]) == "Europe/Paris"
    rules = [c["RRULE"] for c in timezone.subcomponents]
    assert [r["FREQ"] for r in rules] == [["YEARLY"], ["YEARLY"]]
    assert b"RDATE" not in body
    declared = {str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")}
    used = set(re.findall(rb";TZID=([^:;]+)", body))
    assert used == {b"Europe/Paris"} and {u.decode() for u in used} <= declared


def test_lines_are_folded_at_75_octets_with_crlf(
    db_session: Session, manager: User, commune: Commune, minibus: Unit, make_loan: Any
) -> None:
    # A long French title forces folding inside multi-byte characters.
    make_loan(commune, minibus, title="Fête de la musique à l'Hôtel de Ville " * 4)
    body = fetch(db_session, feed_for(db_session, manager, FeedKind.MANAGER, None))
    assert body.endswith(b"END:VCALENDAR\r\n")
    assert b"\n" not in body.replace(b"\r\n", b"")
    lines = body.split(b"\r\n")[:-1]
    assert max(len(line) for line in lines) <= 75
    assert any(line.startswith(b" ") for line in lines)
    for line in lines:
        line.decode("utf-8")  # no character cut in half by a fold


def test_event_says_what_where_who_and_when(
    db_session: Session,
    manager: User,
    technician: User,
    commune: Commune,
    minibus: Unit,
    make_loan: Any,
) -> None:
    loan = make_loan(commune, minibus, title="Fête communale")
    body = fetch(db_session, feed_for(db_session, manager, FeedKind.MANAGER, None))
    vevent = events(body)[f"pret-commun-loan-{loan.id}@{DOMAIN}"]
    assert str(vevent["SUMMARY"]) == "Fête communale · Melun (1 × Minibus)"
    description = str(vevent["DESCRIPTION"])
    for expected in ("Minibus 1 (MB-01)", "Dépôt de Vaux", technician.email, "1 × Minibus"):
        assert expected in description
    assert str(vevent["LOCATION"]) == "Salle des fêtes de Melun, 1 place de la Mairie, Melun"
    assert (vevent["GEO"].latitude, vevent["GEO"].longitude) == (48.5392, 2.6601)
    assert str(vevent["URL"]) == f"https://pret.example/requests/{loan.id}"
    assert str(vevent["STATUS"]) == "CONFIRMED"
    assert str(vevent["TRANSP"]) == "OPAQUE"
    changed = loan.updated_at.replace(microsecond=0)
    assert vevent["DTSTAMP"].dt == vevent["LAST-MODIFIED"].dt == changed
    assert vevent["DTSTART"].dt == SPRING
    assert vevent["DTSTART"].params["TZID"] == "Europe/Paris"


def test_unchanged_feed_is_byte_identical(
    db_session: Session, manager: User, commune: Commune, minibus: Unit, make_loan: Any
) -> None:
    make_loan(commune, minibus)
    make_loan(commune, minibus, start=AUTUMN)
    token = feed_for(db_session, manager, FeedKind.MANAGER, None)
    first = fetch(db_session, token)
    BODY_CACHE.clear()
    EVENT_CACHE.clear()
    assert fetch(db_session, token, now=datetime.now(UTC) + timedelta(minutes=5)) == first


# --- states -----------------------------------------------------------------------------------


def test_tentative_loans_only_in_staff_feeds(
    db_session: Session,
    manager: User,
    technician: User,
    commune: Commune,
    minibus: Unit,
    make_loan: Any,
    proposed_plan: Plan,
) -> None:
    confirmed = make_loan(commune, minibus)
    tentative = make_loan(
        commune, minibus, start=AUTUMN, plan=proposed_plan, status=RequestStatus.PLANNED
    )
    staff = events(fetch(db_session, feed_for(db_session, manager, FeedKind.COMMUNE, commune.id)))
    assert str(staff[f"pret-commun-loan-{tentative.id}@{DOMAIN}"]["STATUS"]) == "TENTATIVE"
    assert str(staff[f"pret-commun-loan-{tentative.id}@{DOMAIN}"]["SUMMARY"]).startswith(
        "[Tentative] "
    )
    assert str(staff[f"pret-commun-loan-{confirmed.id}@{DOMAIN}"]["STATUS"]) == "CONFIRMED"
    own = events(fetch(db_session, feed_for(db_session, technician, FeedKind.COMMUNE, commune.id)))
    assert set(own) == {f"pret-commun-loan-{confirmed.id}@{DOMAIN}"}


def test_cancelled_loan_stays_14_days_marked_then_goes(
    db_session: Session, technician: User, commune: Commune, minibus: Unit, make_loan: Any
) -> None:
    loan = make_loan(commune, minibus)
    token = feed_for(db_session, technician, FeedKind.COMMUNE, commune.id)
    uid = f"pret-commun-loan-{loan.id}@{DOMAIN}"
    before = events(fetch(db_session, token))[uid]
    loan.status = RequestStatus.CANCELLED
    loan.sequence += 1
    db_session.commit()
    cancelled_at = loan.updated_at
    after = events(fetch(db_session, token, now=cancelled_at + timedelta(days=13)))[uid]
    assert str(after["STATUS"]) == "CANCELLED"
    assert str(after["TRANSP"]) == "TRANSPARENT"
    assert str(after["SUMMARY"]).startswith("[Cancelled] ")
    assert after["SEQUENCE"] > before["SEQUENCE"]
    assert uid not in events(fetch(db_session, token, now=cancelled_at + timedelta(days=15)))


def test_change_of_plan_keeps_the_uid_and_raises_the_sequence(
    db_session: Session,
    manager: User,
    commune: Commune,
    minibus: Unit,
    make_loan: Any,
    make_unit: Callable[..., Unit],
) -> None:
    loan = make_loan(commune, minibus)
    token = feed_for(db_session, manager, FeedKind.MANAGER, None)
    uid = f"pret-commun-loan-{loan.id}@{DOMAIN}"
    first = events(fetch(db_session, token))[uid]
    # The new plan moves the loan by an hour; the request row itself is untouched.
    assignment = db_session.scalars(
        select(Assignment).where(Assignment.request_id == loan.id)
    ).one()
    assignment.start_dt = assignment.start_dt + timedelta(hours=1)
    db_session.commit()
    second = events(fetch(db_session, token))[uid]
    assert second["SEQUENCE"] == first["SEQUENCE"] + 1
    assert second["DTSTART"].dt == SPRING + timedelta(hours=1)
    assert second["DTSTAMP"].dt >= first["DTSTAMP"].dt
    # Another unit is a change too; a poll with no change keeps the sequence.
    assignment.units[0].unit = make_unit(type=minibus.type, code="MB-02", name="Minibus 2")
    db_session.commit()
    third = events(fetch(db_session, token))[uid]
    assert third["SEQUENCE"] == second["SEQUENCE"] + 1
    assert events(fetch(db_session, token))[uid]["SEQUENCE"] == third["SEQUENCE"]


def test_round_has_a_delivery_and_a_collection_with_address_and_position(
    db_session: Session,
    manager: User,
    commune: Commune,
    stage: Unit,
    minibus: Unit,
    make_loan: Any,
) -> None:
    delivered = make_loan(commune, stage)
    make_loan(commune, minibus, start=AUTUMN)  # collected by the commune: not in the round
    found = events(fetch(db_session, feed_for(db_session, manager, FeedKind.ROUND, None)))
    assert set(found) == {
        f"pret-commun-delivery-{delivered.id}@{DOMAIN}",
        f"pret-commun-collection-{delivered.id}@{DOMAIN}",
    }
    delivery = found[f"pret-commun-delivery-{delivered.id}@{DOMAIN}"]
    collection = found[f"pret-commun-collection-{delivered.id}@{DOMAIN}"]
    assert delivery["DTEND"].dt == delivered.requested_start_dt
    assert collection["DTSTART"].dt == delivered.requested_end_dt
    assert "1 place de la Mairie" in str(delivery["LOCATION"])
    assert delivery["GEO"].latitude == 48.5392


def test_last_modified_never_goes_back_when_a_loan_disappears(
    db_session: Session, manager: User, commune: Commune, minibus: Unit, make_loan: Any
) -> None:
    make_loan(commune, minibus)
    newest = make_loan(commune, minibus, start=AUTUMN)
    token = feed_for(db_session, manager, FeedKind.MANAGER, None)
    now = datetime.now(UTC)
    first = feeds.read_feed(db_session, token, now=now, domain=DOMAIN, request_url=REQUEST_URL)
    for assignment in db_session.scalars(
        select(Assignment).where(Assignment.request_id == newest.id)
    ):
        db_session.delete(assignment)
    db_session.commit()
    second = feeds.read_feed(db_session, token, now=now, domain=DOMAIN, request_url=REQUEST_URL)
    assert second.etag != first.etag
    assert second.last_modified > first.last_modified


def test_a_feed_reads_the_same_number_of_queries_for_3_or_30_loans(
    app: Any, db_session: Session, manager: User, commune: Commune, minibus: Unit, make_loan: Any
) -> None:
    def count(token: str) -> int:
        statements: list[str] = []

        def record(*args: Any) -> None:
            if args[2].lstrip().upper().startswith("SELECT"):
                statements.append(args[2])

        engine = get_db(app).engine
        event.listen(engine, "before_cursor_execute", record)
        try:
            BODY_CACHE.clear()
            fetch(db_session, token)
        finally:
            event.remove(engine, "before_cursor_execute", record)
        return len(statements)

    for day in range(3):
        make_loan(commune, minibus, start=SPRING + timedelta(days=3 * day))
    small = count(feed_for(db_session, manager, FeedKind.MANAGER, None))
    for day in range(3, 30):
        make_loan(commune, minibus, start=SPRING + timedelta(days=3 * day))
    large = count(feed_for(db_session, manager, FeedKind.MANAGER, None))
    assert large == small
    # Token, generation, watermark, plans, loans, units, draws, lines, event states.
    assert small <= 10


# --- tokens and who sees what --------------------------------------------------------------


def test_tokens_are_long_random_and_stored_hashed(
    db_session: Session, technician: User, commune: Commune
) -> None:
    feed, token = feeds.create_feed(
        db_session, by=technician, kind=FeedKind.COMMUNE, target_id=commune.id, name="Melun"
    )
    assert len(token) >= 43
    assert feed.token_hash == feeds.hash_token(token) != token
    assert token not in str(db_session.scalars(select(FeedToken.token_hash)).all())


@pytest.mark.parametrize(
    ("kind", "target"),
    [
        (FeedKind.COMMUNE, "other"),
        (FeedKind.ROUND, None),
        (FeedKind.MANAGER, None),
    ],
)
def test_technician_may_not_subscribe_beyond_their_commune(
    db_session: Session,
    technician: User,
    other_commune: Commune,
    kind: FeedKind,
    target: str | None,
) -> None:
    target_id = other_commune.id if target == "other" else None
    with pytest.raises(Forbidden):
        feeds.create_feed(db_session, by=technician, kind=kind, target_id=target_id, name="Nope")
    assert db_session.scalars(select(FeedToken)).all() == []


def test_technician_unit_feed_shows_only_their_commune(
    db_session: Session,
    technician: User,
    commune: Commune,
    other_commune: Commune,
    minibus: Unit,
    make_loan: Any,
) -> None:
    own = make_loan(commune, minibus)
    make_loan(other_commune, minibus, start=AUTUMN)
    found = events(fetch(db_session, feed_for(db_session, technician, FeedKind.UNIT, minibus.id)))
    assert set(found) == {f"pret-commun-loan-{own.id}@{DOMAIN}"}
    by_type = feed_for(db_session, technician, FeedKind.TYPE, minibus.type_id)
    assert set(events(fetch(db_session, by_type))) == set(found)


def test_revoked_regenerated_and_disabled_tokens_stop_working(
    db_session: Session, technician: User, commune: Commune
) -> None:
    feed, token = feeds.create_feed(
        db_session, by=technician, kind=FeedKind.COMMUNE, target_id=commune.id, name="A"
    )
    fetch(db_session, token)
    _feed, new = feeds.regenerate_feed(db_session, feed.id, by=technician)
    with pytest.raises(NotFound):
        fetch(db_session, token)
    fetch(db_session, new)
    feeds.rename_feed(db_session, feed.id, by=technician, name="  Melun   mairie ")
    assert feed.name == "Melun mairie"
    technician.is_active_account = False
    db_session.commit()
    with pytest.raises(NotFound):
        fetch(db_session, new)
    technician.is_active_account = True
    db_session.commit()
    fetch(db_session, new)
    feeds.revoke_feed(db_session, feed.id, by=technician)
    with pytest.raises(NotFound):
        fetch(db_session, new)
    assert feeds.list_feeds(db_session, by=technician) == []
    with pytest.raises(NotFound):
        fetch(db_session, feeds.new_token())


def test_a_feed_stops_when_its_owner_loses_the_right_to_it(
    db_session: Session, manager: User, make_user: Callable[..., User]
) -> None:
    token = feed_for(db_session, manager, FeedKind.MANAGER, None)
    fetch(db_session, token)
    manager.role = Role.TECHNICIAN
    db_session.commit()
    with pytest.raises(NotFound):
        fetch(db_session, token)


def test_someone_elses_feed_cannot_be_managed(
    db_session: Session, technician: User, other_technician: User, commune: Commune
) -> None:
    feed, _token = feeds.create_feed(
        db_session, by=technician, kind=FeedKind.COMMUNE, target_id=commune.id, name="A"
    )
    for action in (feeds.revoke_feed, feeds.regenerate_feed):
        with pytest.raises(NotFound):
            action(db_session, feed.id, by=other_technician)
    with pytest.raises(NotFound):
        feeds.rename_feed(db_session, feed.id, by=other_technician, name="B")


def test_feed_speaks_its_owners_language(
    app: Any,
    compiled_translations: Any,
    db_session: Session,
    technician: User,
    commune: Commune,
    minibus: Unit,
    make_loan: Any,
) -> None:
    app.config["BABEL_DEFAULT_LOCALE"] = "fr"
    app.extensions["babel"].translation_directories = [str(compiled_translations)]
    loan = make_loan(commune, minibus)
    loan.status = RequestStatus.CANCELLED
    db_session.commit()
    token = feed_for(db_session, technician, FeedKind.COMMUNE, commune.id)
    with app.app_context():
        french = events(fetch(db_session, token))[f"pret-commun-loan-{loan.id}@{DOMAIN}"]
        assert str(french["SUMMARY"]).startswith("[Annulé] ")
        assert "Matériel : 1 × Minibus" in str(french["DESCRIPTION"])
        assert "Statut : annulé" in str(french["DESCRIPTION"])
        technician.locale = "en"
        db_session.commit()
        english = events(fetch(db_session, token))[f"pret-commun-loan-{loan.id}@{DOMAIN}"]
        assert str(english["SUMMARY"]).startswith("[Cancelled] ")


def test_a_request_cancelled_through_the_request_service_shows_as_cancelled(
    db_session: Session, technician: User, commune: Commune, minibus: Unit, make_loan: Any
) -> None:
    from booking.services.requests import cancel_request

    loan = make_loan(commune, minibus)
    token = feed_for(db_session, technician, FeedKind.COMMUNE, commune.id)
    uid = f"pret-commun-loan-{loan.id}@{DOMAIN}"
    before = events(fetch(db_session, token))[uid]
    cancel_request(db_session, loan.id, by=technician, reason="Pluie")
    db_session.commit()
    after = events(fetch(db_session, token))[uid]
    assert str(after["STATUS"]) == "CANCELLED"
    assert after["SEQUENCE"] > before["SEQUENCE"]
    assert after["DTSTART"].dt == before["DTSTART"].dt


def test_an_approved_loan_declined_afterwards_shows_as_cancelled(
    db_session: Session,
    manager: User,
    technician: User,
    commune: Commune,
    minibus: Unit,
    make_loan: Any,
    proposed_plan: Plan,
) -> None:
    from booking.services.planning import decline_request

    loan = make_loan(commune, minibus)
    tentative = make_loan(
        commune, minibus, start=AUTUMN, plan=proposed_plan, status=RequestStatus.PLANNED
    )
    own = feed_for(db_session, technician, FeedKind.COMMUNE, commune.id)
    staff = feed_for(db_session, manager, FeedKind.COMMUNE, commune.id)
    uid = f"pret-commun-loan-{loan.id}@{DOMAIN}"
    before = events(fetch(db_session, own))[uid]
    assert f"pret-commun-loan-{tentative.id}@{DOMAIN}" in events(fetch(db_session, staff))

    decline_request(db_session, loan.id, "Véhicule immobilisé", by=manager)
    decline_request(db_session, tentative.id, "Doublon", by=manager)

    after = events(fetch(db_session, own))[uid]
    assert str(after["STATUS"]) == "CANCELLED"
    assert after["SEQUENCE"] > before["SEQUENCE"]
    assert after["DTSTART"].dt == before["DTSTART"].dt
    # Declined while only proposed: it was tentative, it simply goes.
    assert set(events(fetch(db_session, staff))) == {uid}
