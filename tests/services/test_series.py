"""Recurring requests: the rule, one request per occurrence, changes by scope, the horizon."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from booking.errors import Conflict, NotFound, ValidationError
from booking.models import (
    AuditEvent,
    Commune,
    EquipmentType,
    LoanRequest,
    Notification,
    RequestSeries,
    RequestStatus,
    Role,
    Site,
    Unit,
    User,
)
from booking.services import series as service
from booking.services.series import Frequency, Recurrence, Scope
from booking.timeutil import to_local
from tests.conftest import DEFAULT_START

NOW = datetime(2030, 5, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def town_hall(make_site: Callable[..., Site], commune: Commune) -> Site:
    return make_site(commune=commune, name="Melun - Hôtel de ville")


@pytest.fixture
def podium(make_type: Callable[..., EquipmentType], make_unit: Callable[..., Unit]) -> Any:
    t = make_type(code="podium", name="Podium", min_notice_hours=48, max_loan_days=5)
    make_unit(type=t)
    return t


def _submit(
    session: Session, by: User, site: Site, equipment: EquipmentType, **overrides: Any
) -> RequestSeries:
    params: dict[str, Any] = {
        "by": by,
        "commune_id": site.commune_id,
        "site_id": site.id,
        "start_dt": DEFAULT_START,  # Monday 3 June 2030, 08:00 in Paris
        "end_dt": DEFAULT_START + timedelta(hours=10),
        "recurrence": Recurrence(Frequency.WEEKLY, until=date(2030, 7, 1)),
        "lines": [(equipment.id, 1)],
        "title": "Marché du lundi",
        "now": NOW,
    }
    params.update(overrides)
    return service.submit_series(session, **params)


def _local_days(series: RequestSeries) -> list[date]:
    return [to_local(r.requested_start_dt).date() for r in series.requests]


def test_the_rule_text_has_dtstart_rrule_and_exdate():
    rule = service.recurrence_rule(
        Recurrence(Frequency.WEEKLY, until=date(2030, 6, 17), exceptions=(date(2030, 6, 10),)),
        datetime(2030, 6, 3, 8, 0),
    )
    assert rule.splitlines() == [
        "DTSTART:20300603T080000",
        "RRULE:FREQ=WEEKLY;UNTIL=20300617T235959",
        "EXDATE:20300610T080000",
    ]
    assert service.occurrence_starts(rule) == [datetime(2030, 6, 3, 8), datetime(2030, 6, 17, 8)]


def test_a_weekly_series_makes_one_request_per_week(
    db_session: Session, technician: User, town_hall: Site, podium: EquipmentType
):
    series = _submit(db_session, technician, town_hall, podium)

    assert _local_days(series) == [date(2030, 6, d) for d in (3, 10, 17, 24)] + [date(2030, 7, 1)]
    for loan in series.requests:
        assert loan.status is RequestStatus.SUBMITTED
        assert loan.title == "Marché du lundi"
        assert to_local(loan.requested_start_dt).hour == 8
        assert loan.requested_end_dt - loan.requested_start_dt == timedelta(hours=10)
        assert [(line.type_id, line.quantity) for line in loan.lines] == [(podium.id, 1)]
    actions = db_session.scalars(
        select(AuditEvent.action).where(AuditEvent.action.in_(["series.submit", "request.submit"]))
    ).all()
    assert sorted(actions) == ["request.submit"] * 5 + ["series.submit"]


def test_local_time_is_kept_across_the_change_of_summer_time(
    db_session: Session, technician: User, town_hall: Site, podium: EquipmentType
):
    start = datetime(2030, 10, 14, 6, 0, tzinfo=UTC)  # 08:00 in Paris, summer time
    series = _submit(
        db_session,
        technician,
        town_hall,
        podium,
        start_dt=start,
        end_dt=start + timedelta(hours=2),
        recurrence=Recurrence(Frequency.WEEKLY, until=date(2030, 11, 4)),
    )
    assert [to_local(r.requested_start_dt).hour for r in series.requests] == [8, 8, 8, 8]
    assert series.requests[-1].requested_start_dt.astimezone(UTC).hour == 7


def test_monthly_and_listed_series_with_exceptions(
    db_session: Session, technician: User, town_hall: Site, podium: EquipmentType
):
    monthly = _submit(
        db_session,
        technician,
        town_hall,
        podium,
        recurrence=Recurrence(
            Frequency.MONTHLY, until=date(2030, 10, 31), exceptions=(date(2030, 8, 3),)
        ),
    )
    assert _local_days(monthly) == [date(2030, m, 3) for m in (6, 7, 9, 10)]
    listed = _submit(
        db_session,
        technician,
        town_hall,
        podium,
        recurrence=Recurrence(Frequency.DATES, dates=(date(2030, 9, 21), date(2030, 6, 15))),
    )
    assert _local_days(listed) == [date(2030, 6, 3), date(2030, 6, 15), date(2030, 9, 21)]
    assert listed.frequency == "dates"


def test_a_series_beyond_the_horizon_names_the_limit(
    db_session: Session, technician: User, town_hall: Site, podium: EquipmentType
):
    with pytest.raises(ValidationError) as caught:
        _submit(
            db_session,
            technician,
            town_hall,
            podium,
            recurrence=Recurrence(Frequency.WEEKLY, until=date(2031, 6, 1)),
            horizon_days=365,
        )
    assert caught.value.errors == [
        ("repeat_until", "A series may run at most 365 days ahead, until 01/05/2031.")
    ]
    assert db_session.scalar(select(RequestSeries.id)) is None


def test_a_series_with_no_occurrence_is_refused(
    db_session: Session, technician: User, town_hall: Site, podium: EquipmentType
):
    with pytest.raises(ValidationError) as caught:
        _submit(
            db_session,
            technician,
            town_hall,
            podium,
            recurrence=Recurrence(
                Frequency.WEEKLY, until=date(2030, 6, 9), exceptions=(date(2030, 6, 3),)
            ),
        )
    assert caught.value.errors == [
        (
            "repeat_except",
            "These repeat settings give no date: check the end date and the exceptions.",
        )
    ]


@pytest.mark.parametrize(
    ("recurrence", "field", "message"),
    [
        (Recurrence(Frequency.WEEKLY), "repeat_until", "Say until when the loan repeats."),
        (
            Recurrence(Frequency.WEEKLY, until=date(2030, 5, 20)),
            "repeat_until",
            "The series must end after its first loan.",
        ),
        (Recurrence(Frequency.DATES), "repeat_dates", "List the dates the loan repeats on."),
    ],
)
def test_an_incomplete_series_is_refused(
    db_session: Session,
    technician: User,
    town_hall: Site,
    podium: EquipmentType,
    recurrence: Recurrence,
    field: str,
    message: str,
):
    with pytest.raises(ValidationError) as caught:
        _submit(db_session, technician, town_hall, podium, recurrence=recurrence)
    assert caught.value.errors == [(field, message)]


def test_rules_some_occurrences_break_name_their_days(
    db_session: Session, technician: User, town_hall: Site, podium: EquipmentType
):
    # Only the first occurrence is within the podium's 48 hours of notice.
    with pytest.raises(ValidationError) as caught:
        _submit(db_session, technician, town_hall, podium, now=DEFAULT_START - timedelta(hours=2))
    assert caught.value.errors == [
        (
            "start_dt",
            "Podium must be asked for at least 48 hours in advance. (on 03/06/2030)",
        )
    ]


def test_a_technician_cannot_make_a_series_for_another_commune(
    db_session: Session,
    other_technician: User,
    town_hall: Site,
    podium: EquipmentType,
):
    with pytest.raises(ValidationError) as caught:
        _submit(db_session, other_technician, town_hall, podium)
    assert ("commune_id", "You may only ask for equipment for your own commune.") in (
        caught.value.errors
    )


def test_cancel_one_following_or_all(
    db_session: Session,
    technician: User,
    manager: User,
    town_hall: Site,
    podium: EquipmentType,
):
    series = _submit(db_session, technician, town_hall, podium)
    first, second, third, fourth, fifth = series.requests

    one = service.cancel_occurrences(db_session, second.id, by=technician, scope=Scope.ONE)
    assert one.changed == [second]
    assert [r.status for r in series.requests] == [
        RequestStatus.SUBMITTED,
        RequestStatus.CANCELLED,
        RequestStatus.SUBMITTED,
        RequestStatus.SUBMITTED,
        RequestStatus.SUBMITTED,
    ]
    fourth.status = RequestStatus.HANDED_OVER  # as if it had left the depot
    db_session.commit()

    following = service.cancel_occurrences(
        db_session, third.id, by=technician, scope=Scope.FOLLOWING, reason="Marché annulé"
    )
    assert following.changed == [third, fifth]
    assert following.skipped == [fourth]
    assert first.status is RequestStatus.SUBMITTED
    notes = db_session.scalars(select(Notification).where(Notification.user_id == manager.id))
    texts = [n.text for n in notes]
    assert (
        "Tech Melun cancelled 2 requests of Melun (17/06/2030, 01/07/2030). "
        "Reason: Marché annulé" in texts
    )

    rest = service.cancel_occurrences(db_session, fifth.id, by=technician, scope=Scope.ALL)
    assert rest.changed == [first]
    with pytest.raises(Conflict):
        service.cancel_occurrences(db_session, first.id, by=technician, scope=Scope.ALL)


def test_another_commune_cannot_cancel_or_see_a_series(
    db_session: Session,
    technician: User,
    other_technician: User,
    town_hall: Site,
    podium: EquipmentType,
):
    series = _submit(db_session, technician, town_hall, podium)
    with pytest.raises(NotFound):
        service.cancel_occurrences(
            db_session, series.requests[0].id, by=other_technician, scope=Scope.ALL
        )
    with pytest.raises(NotFound):
        service.get_series(db_session, series.id, by=other_technician)
    assert service.get_series(db_session, series.id, by=technician) is series


def test_edit_following_moves_them_by_the_same_shift(
    db_session: Session, technician: User, town_hall: Site, podium: EquipmentType
):
    series = _submit(db_session, technician, town_hall, podium)
    first, second, third, _fourth, _fifth = series.requests
    third.status = RequestStatus.APPROVED
    db_session.commit()
    # The second occurrence moves from 08:00 to 09:30 and gets 20 chairs' worth of notes.
    new_start = second.requested_start_dt + timedelta(minutes=90)
    change = service.update_occurrences(
        db_session,
        second.id,
        by=technician,
        scope=Scope.FOLLOWING,
        site_id=town_hall.id,
        start_dt=new_start,
        end_dt=new_start + timedelta(hours=4),
        lines=[(podium.id, 1)],
        notes="Côté église",
        now=NOW,
    )
    assert change.skipped == [third]
    assert [to_local(r.requested_start_dt).strftime("%d %H:%M") for r in change.changed] == [
        "10 09:30",
        "24 09:30",
        "01 09:30",
    ]
    assert all(r.notes == "Côté église" for r in change.changed)
    assert all(
        r.requested_end_dt - r.requested_start_dt == timedelta(hours=4) for r in change.changed
    )
    assert to_local(first.requested_start_dt).hour == 8
    assert to_local(third.requested_start_dt).hour == 8
    assert all(r.sequence == 1 for r in change.changed)


def test_edit_all_is_validated_for_every_occurrence(
    db_session: Session, technician: User, town_hall: Site, podium: EquipmentType
):
    series = _submit(db_session, technician, town_hall, podium)
    first = series.requests[0]
    with pytest.raises(ValidationError) as caught:
        service.update_occurrences(
            db_session,
            first.id,
            by=technician,
            scope=Scope.ALL,
            site_id=town_hall.id,
            start_dt=first.requested_start_dt,
            end_dt=first.requested_start_dt + timedelta(days=6),
            lines=[(podium.id, 1)],
            now=NOW,
        )
    assert caught.value.errors == [("end_dt", "Podium may be lent for at most 5 days.")]
    assert all(
        r.requested_end_dt - r.requested_start_dt == timedelta(hours=10) for r in series.requests
    )


def test_edit_one_changes_only_that_occurrence(
    db_session: Session, technician: User, town_hall: Site, podium: EquipmentType
):
    series = _submit(db_session, technician, town_hall, podium)
    second = series.requests[1]
    service.update_occurrences(
        db_session,
        second.id,
        by=technician,
        scope=Scope.ONE,
        site_id=town_hall.id,
        start_dt=second.requested_start_dt + timedelta(days=1),
        end_dt=second.requested_end_dt + timedelta(days=1),
        lines=[(podium.id, 1)],
        now=NOW,
    )
    assert _local_days(series) == [date(2030, 6, d) for d in (3, 11, 17, 24)] + [date(2030, 7, 1)]


def test_a_manager_may_make_a_series_for_a_commune(
    db_session: Session,
    make_user: Callable[..., User],
    town_hall: Site,
    podium: EquipmentType,
):
    manager = make_user(role=Role.MANAGER)
    series = _submit(db_session, manager, town_hall, podium)
    assert len(series.requests) == 5
    assert (
        db_session.scalar(
            select(LoanRequest.series_id).where(LoanRequest.id == series.requests[0].id)
        )
        == series.id
    )


def test_parse_dates_reads_french_and_iso_dates():
    assert service.parse_dates("14/07/2030, 2030-08-15\n01.11.2030 demain") == (
        [date(2030, 7, 14), date(2030, 8, 15), date(2030, 11, 1)],
        ["demain"],
    )


def test_occurrences_are_separate_events_in_the_feeds(
    db_session: Session,
    technician: User,
    manager: User,
    town_hall: Site,
    podium: EquipmentType,
    make_unit: Callable[..., Unit],
):
    from booking.models import Assignment, AssignmentUnit, FeedKind, Plan, PlanStatus
    from booking.services.feeds_cache import BODY_CACHE, EVENT_CACHE
    from tests.services.test_feeds import DOMAIN, events, feed_for, fetch

    EVENT_CACHE.clear()
    BODY_CACHE.clear()
    other_unit = make_unit(type=podium, code="POD-B")
    series = _submit(
        db_session,
        technician,
        town_hall,
        podium,
        recurrence=Recurrence(Frequency.WEEKLY, until=date(2030, 6, 10)),
    )
    plan = Plan(status=PlanStatus.APPROVED, strategy="cpsat", problem_json={}, problem_sha="c" * 64)
    first_unit = db_session.scalars(select(Unit).where(Unit.id != other_unit.id)).first()
    assert first_unit is not None
    for loan, unit in zip(series.requests, (first_unit, other_unit), strict=True):
        loan.status = RequestStatus.APPROVED
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

    found = events(
        fetch(db_session, feed_for(db_session, technician, FeedKind.COMMUNE, technician.commune_id))
    )
    first, second = series.requests
    one = found[f"pret-commun-loan-{first.id}@{DOMAIN}"]
    two = found[f"pret-commun-loan-{second.id}@{DOMAIN}"]
    assert one["DTSTART"].dt == first.requested_start_dt
    assert two["DTSTART"].dt == second.requested_start_dt
    assert first_unit.code in str(one["DESCRIPTION"])
    assert "POD-B" in str(two["DESCRIPTION"])
    EVENT_CACHE.clear()
    BODY_CACHE.clear()
