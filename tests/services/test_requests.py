"""Submitting, editing, cancelling and reading loan requests through the service."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from booking.errors import Conflict, Forbidden, NotFound, ValidationError
from booking.models import (
    Assignment,
    AssignmentUnit,
    AuditEvent,
    Commune,
    EquipmentType,
    LoanRequest,
    Notification,
    Plan,
    PlanStatus,
    Pool,
    RequestStatus,
    Role,
    Site,
    SiteKind,
    Unit,
    UnitStatus,
    User,
)
from booking.services import request_lists as lists
from booking.services import request_rules as rules
from booking.services import requests as service
from tests.conftest import DEFAULT_START

NOW = datetime(2030, 5, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def town_hall(make_site: Callable[..., Site], commune: Commune) -> Site:
    return make_site(commune=commune, name="Melun - Hôtel de ville")


@pytest.fixture
def podium(make_type: Callable[..., EquipmentType], make_unit: Callable[..., Unit]) -> Any:
    """A unit-tracked type with two units, 48 h notice, at most 5 days per loan."""
    t = make_type(code="podium", name="Podium", min_notice_hours=48, max_loan_days=5)
    depot = make_unit(type=t).home_depot
    make_unit(type=t, home_depot=depot)
    return t


@pytest.fixture
def chairs(make_pool: Callable[..., Pool], make_type: Callable[..., EquipmentType]) -> Any:
    """A pooled type with 100 chairs."""
    return make_pool(type=make_type(code="chair", name="Chair", is_pooled=True), quantity=100).type


def _params(site: Site, **overrides: Any) -> dict[str, Any]:
    params: dict[str, Any] = {
        "commune_id": site.commune_id,
        "site_id": site.id,
        "start_dt": DEFAULT_START,
        "end_dt": DEFAULT_START + timedelta(days=2),
        "flex_days_before": 1,
        "flex_days_after": 2,
        "lines": [],
        "priority": 2,
        "priority_reason": None,
        "notes": "Fête de la musique",
        "now": NOW,
    }
    params.update(overrides)
    return params


def _fields(error: ValidationError) -> list[str | None]:
    return [field for field, _message in error.errors]


def test_submit_stores_a_submitted_request_with_flexibility_and_audit(
    db_session: Session, technician: User, town_hall: Site, podium: EquipmentType, chairs: Any
) -> None:
    loan = service.submit_request(
        db_session, by=technician, **_params(town_hall, lines=[(podium.id, 1), (chairs.id, 80)])
    )
    db_session.expire_all()
    loan = db_session.get(LoanRequest, loan.id)
    assert loan is not None
    assert loan.status is RequestStatus.SUBMITTED
    assert loan.commune_id == town_hall.commune_id
    assert loan.submitted_by_id == technician.id
    assert loan.earliest_start_dt == DEFAULT_START - timedelta(days=1)
    assert loan.latest_end_dt == DEFAULT_START + timedelta(days=4)
    assert sorted((line.type_id, line.quantity) for line in loan.lines) == sorted(
        [(podium.id, 1), (chairs.id, 80)]
    )
    assert service.flex_days(loan) == (1, 2)
    event = db_session.scalars(
        select(AuditEvent).where(
            AuditEvent.object_id == loan.id, AuditEvent.action == "request.submit"
        )
    ).one()
    assert event.actor_id == technician.id
    assert event.before is None
    assert event.after is not None and event.after["status"] == "submitted"
    assert event.after["lines"] == [[podium.id, 1], [chairs.id, 80]]


def test_duplicate_type_lines_are_merged(
    db_session: Session, technician: User, town_hall: Site, chairs: Any
) -> None:
    loan = service.submit_request(
        db_session, by=technician, **_params(town_hall, lines=[(chairs.id, 30), (chairs.id, 50)])
    )
    assert [(line.type_id, line.quantity) for line in loan.lines] == [(chairs.id, 80)]


def test_merged_duplicates_are_checked_against_the_stock(
    db_session: Session, technician: User, town_hall: Site, chairs: Any
) -> None:
    with pytest.raises(ValidationError) as caught:
        service.submit_request(
            db_session,
            by=technician,
            **_params(town_hall, lines=[(chairs.id, 60), (chairs.id, 60)]),
        )
    assert "120" in caught.value.messages[0] and "100" in caught.value.messages[0]


@pytest.mark.parametrize(
    ("overrides", "field", "fragment"),
    [
        ({"end_dt": DEFAULT_START - timedelta(hours=1)}, "end_dt", "end after it starts"),
        ({"end_dt": DEFAULT_START}, "end_dt", "end after it starts"),
        (
            {"start_dt": NOW - timedelta(days=1), "end_dt": NOW + timedelta(days=1)},
            "start_dt",
            "past",
        ),
        (
            {"start_dt": NOW + timedelta(hours=24), "end_dt": NOW + timedelta(hours=30)},
            "start_dt",
            "48 hours in advance",
        ),
        ({"end_dt": DEFAULT_START + timedelta(days=6)}, "end_dt", "at most 5 days"),
        ({"lines": "too_many"}, "lines", "whole fleet has 2"),
        ({"lines": "unknown"}, "lines", "does not exist"),
        ({"lines": []}, "lines", "at least one piece"),
        ({"lines": "zero"}, "lines", "at least 1"),
        ({"site_id": "other"}, "site_id", "not an active site of this commune"),
        ({"site_id": "depot"}, "site_id", "not an active site of this commune"),
        ({"site_id": None}, "site_id", "Choose the place"),
        ({"priority": 3, "priority_reason": "  "}, "priority_reason", "Say why"),
        ({"priority": 4, "priority_reason": None}, "priority_reason", "Say why"),
        ({"priority": 5}, "priority", "from 1 (low) to 4"),
        ({"priority": 0}, "priority", "from 1 (low) to 4"),
        ({"flex_days_before": -1}, "flex_days_before", "from 0 to 30"),
        ({"flex_days_after": 31}, "flex_days_after", "from 0 to 30"),
        (
            {
                "start_dt": NOW + timedelta(days=3),
                "end_dt": NOW + timedelta(days=4),
                "flex_days_before": 5,
            },
            "flex_days_before",
            "in the past",
        ),
    ],
)
def test_each_rule_is_enforced(
    db_session: Session,
    technician: User,
    town_hall: Site,
    podium: EquipmentType,
    make_site: Callable[..., Site],
    other_commune: Commune,
    overrides: dict[str, Any],
    field: str,
    fragment: str,
) -> None:
    lines = {
        "too_many": [(podium.id, 3)],
        "unknown": [(podium.id + 10_000, 1)],
        "zero": [(podium.id, 0)],
    }
    if isinstance(overrides.get("lines"), str):
        overrides["lines"] = lines[overrides["lines"]]
    if overrides.get("site_id") == "other":
        overrides["site_id"] = make_site(commune=other_commune).id
    elif overrides.get("site_id") == "depot":
        overrides["site_id"] = make_site(kind=SiteKind.DEPOT, commune=town_hall.commune).id
    params = _params(town_hall, lines=[(podium.id, 1)])
    params.update(overrides)
    before = db_session.scalars(select(LoanRequest)).all()
    with pytest.raises(ValidationError) as caught:
        service.submit_request(db_session, by=technician, **params)
    messages = caught.value.for_field(field)
    assert any(fragment in message for message in messages), caught.value.errors
    assert db_session.scalars(select(LoanRequest)).all() == before


def test_the_same_values_pass_when_no_rule_is_broken(
    db_session: Session, technician: User, town_hall: Site, podium: EquipmentType
) -> None:
    """The counterpart of the rule table: the base parameters are accepted."""
    loan = service.submit_request(
        db_session,
        by=technician,
        **_params(
            town_hall, lines=[(podium.id, 2)], priority=4, priority_reason="Élections municipales"
        ),
    )
    assert loan.priority == 4 and loan.priority_reason == "Élections municipales"


def test_every_problem_is_named_at_once(
    db_session: Session,
    technician: User,
    town_hall: Site,
    podium: EquipmentType,
    make_site: Callable[..., Site],
    other_commune: Commune,
) -> None:
    params = _params(
        town_hall,
        site_id=make_site(commune=other_commune).id,
        start_dt=NOW + timedelta(hours=1),
        end_dt=NOW + timedelta(days=9),
        lines=[(podium.id, 5), (podium.id + 10_000, 1)],
        priority=3,
        flex_days_after=99,
    )
    with pytest.raises(ValidationError) as caught:
        service.submit_request(db_session, by=technician, **params)
    fields = _fields(caught.value)
    for expected in (
        "site_id",
        "start_dt",
        "end_dt",
        "lines",
        "priority_reason",
        "flex_days_after",
    ):
        assert expected in fields
    assert len(caught.value.for_field("lines")) == 2


def test_substitutes_count_in_the_whole_stock(
    db_session: Session,
    technician: User,
    town_hall: Site,
    make_type: Callable[..., EquipmentType],
    make_unit: Callable[..., Unit],
) -> None:
    big = make_type(name="Minibus 12")
    make_unit(type=big)
    make_unit(type=big, status=UnitStatus.RETIRED)
    small = make_type(name="Minibus 9", substitutes=[big])
    make_unit(type=small)
    assert rules.whole_stock(db_session, [small.id, big.id]) == {small.id: 2, big.id: 1}
    loan = service.submit_request(
        db_session, by=technician, **_params(town_hall, lines=[(small.id, 2)])
    )
    assert loan.lines[0].quantity == 2
    with pytest.raises(ValidationError):
        service.submit_request(
            db_session, by=technician, **_params(town_hall, lines=[(small.id, 3)])
        )


def test_technician_cannot_submit_for_another_commune(
    db_session: Session,
    technician: User,
    podium: EquipmentType,
    make_site: Callable[..., Site],
    other_commune: Commune,
) -> None:
    site = make_site(commune=other_commune)
    with pytest.raises(ValidationError) as caught:
        service.submit_request(db_session, by=technician, **_params(site, lines=[(podium.id, 1)]))
    assert caught.value.for_field("commune_id")


def test_manager_submits_for_any_commune(
    db_session: Session, manager: User, town_hall: Site, podium: EquipmentType
) -> None:
    loan = service.submit_request(
        db_session, by=manager, **_params(town_hall, lines=[(podium.id, 1)])
    )
    assert loan.commune_id == town_hall.commune_id
    assert loan.submitted_by_id == manager.id


def test_naive_datetimes_are_a_programming_error(
    db_session: Session, technician: User, town_hall: Site, podium: EquipmentType
) -> None:
    with pytest.raises(ValueError, match="naive"):
        service.submit_request(
            db_session,
            by=technician,
            **_params(town_hall, lines=[(podium.id, 1)], start_dt=datetime(2030, 6, 3, 8)),
        )


# --- other communes -----------------------------------------------------------------------


@pytest.fixture
def foreign_request(
    make_request: Callable[..., LoanRequest], other_commune: Commune, podium: EquipmentType
) -> LoanRequest:
    return make_request(commune=other_commune, lines=[(podium, 1)])


def test_technician_gets_not_found_on_another_communes_request(
    db_session: Session,
    technician: User,
    town_hall: Site,
    podium: EquipmentType,
    foreign_request: LoanRequest,
) -> None:
    version = foreign_request.version
    with pytest.raises(NotFound):
        service.get_request(db_session, foreign_request.id, by=technician)
    with pytest.raises(NotFound):
        service.update_request(
            db_session,
            foreign_request.id,
            by=technician,
            **{
                k: v
                for k, v in _params(town_hall, lines=[(podium.id, 1)]).items()
                if k != "commune_id"
            },
        )
    with pytest.raises(NotFound):
        service.cancel_request(db_session, foreign_request.id, by=technician, reason="mine now")
    db_session.expire_all()
    assert foreign_request.status is RequestStatus.SUBMITTED
    assert foreign_request.version == version
    # The message is the same as for an id that does not exist at all.
    with pytest.raises(NotFound) as missing:
        service.get_request(db_session, 999_999, by=technician)
    with pytest.raises(NotFound) as hidden:
        service.get_request(db_session, foreign_request.id, by=technician)
    assert str(missing.value).replace("999999", "X").replace("999,999", "X") == str(
        hidden.value
    ).replace(str(foreign_request.id), "X")


def test_list_shows_only_the_technicians_commune(
    db_session: Session,
    technician: User,
    manager: User,
    commune: Commune,
    make_request: Callable[..., LoanRequest],
    foreign_request: LoanRequest,
) -> None:
    own = make_request(commune=commune)
    assert [r.id for r in lists.list_requests(db_session, by=technician)] == [own.id]
    assert (
        lists.list_requests(db_session, by=technician, commune_id=foreign_request.commune_id) == []
    )
    assert {r.id for r in lists.list_requests(db_session, by=manager)} == {
        own.id,
        foreign_request.id,
    }
    assert [r.id for r in lists.list_requests(db_session, by=manager, commune_id=commune.id)] == [
        own.id
    ]


def test_list_filters_by_status_and_dates(
    db_session: Session,
    technician: User,
    commune: Commune,
    make_request: Callable[..., LoanRequest],
) -> None:
    june = make_request(commune=commune, start=DEFAULT_START, days=2)
    july = make_request(commune=commune, start=DEFAULT_START + timedelta(days=30), days=2)
    cancelled = make_request(
        commune=commune, start=DEFAULT_START + timedelta(days=60), status=RequestStatus.CANCELLED
    )

    def ids(**filters: Any) -> list[int]:
        return [r.id for r in lists.list_requests(db_session, by=technician, **filters)]

    assert ids() == [june.id, july.id, cancelled.id]
    assert ids(status=RequestStatus.CANCELLED) == [cancelled.id]
    assert ids(status=[RequestStatus.SUBMITTED]) == [june.id, july.id]
    assert ids(date_from=DEFAULT_START + timedelta(days=10)) == [july.id, cancelled.id]
    assert ids(date_to=DEFAULT_START + timedelta(days=10)) == [june.id]
    # A loan still running at date_from is listed.
    assert ids(
        date_from=DEFAULT_START + timedelta(days=1), date_to=DEFAULT_START + timedelta(days=2)
    ) == [june.id]


# --- editing ---------------------------------------------------------------------------


def test_update_changes_values_raises_sequence_and_version_and_audits(
    db_session: Session,
    technician: User,
    town_hall: Site,
    podium: EquipmentType,
    chairs: Any,
) -> None:
    loan = service.submit_request(
        db_session, by=technician, **_params(town_hall, lines=[(podium.id, 1), (chairs.id, 10)])
    )
    line_id = next(line.id for line in loan.lines if line.type_id == chairs.id)
    version, sequence = loan.version, loan.sequence
    loan.status = RequestStatus.PLANNED
    db_session.commit()
    params = _params(town_hall, lines=[(chairs.id, 40)], priority=3, priority_reason="Sécurité")
    del params["commune_id"]
    updated = service.update_request(
        db_session, loan.id, by=technician, expected_version=loan.version, **params
    )
    assert updated.status is RequestStatus.SUBMITTED
    assert updated.sequence == sequence + 1
    assert updated.version > version
    assert [(line.id, line.type_id, line.quantity) for line in updated.lines] == [
        (line_id, chairs.id, 40)
    ]
    event = db_session.scalars(
        select(AuditEvent).where(
            AuditEvent.object_id == loan.id, AuditEvent.action == "request.update"
        )
    ).one()
    assert event.before is not None and event.after is not None
    assert event.before["status"] == "planned" and event.after["status"] == "submitted"
    assert event.before["priority"] == 2 and event.after["priority"] == 3
    assert len(event.before["lines"]) == 2 and event.after["lines"] == [[chairs.id, 40]]


def test_update_refuses_a_stale_version(
    db_session: Session, technician: User, town_hall: Site, podium: EquipmentType
) -> None:
    loan = service.submit_request(
        db_session, by=technician, **_params(town_hall, lines=[(podium.id, 1)])
    )
    params = _params(town_hall, lines=[(podium.id, 2)])
    del params["commune_id"]
    with pytest.raises(Conflict):
        service.update_request(
            db_session, loan.id, by=technician, expected_version=loan.version - 1, **params
        )


@pytest.mark.parametrize(
    "status",
    [
        RequestStatus.APPROVED,
        RequestStatus.DECLINED,
        RequestStatus.CANCELLED,
        RequestStatus.HANDED_OVER,
    ],
)
def test_update_refuses_requests_past_planning(
    db_session: Session,
    technician: User,
    town_hall: Site,
    podium: EquipmentType,
    make_request: Callable[..., LoanRequest],
    status: RequestStatus,
) -> None:
    loan = make_request(
        commune=town_hall.commune, site=town_hall, lines=[(podium, 1)], status=status
    )
    params = _params(town_hall, lines=[(podium.id, 2)])
    del params["commune_id"]
    with pytest.raises(Conflict):
        service.update_request(db_session, loan.id, by=technician, **params)


def test_update_validates_like_submit(
    db_session: Session, technician: User, town_hall: Site, podium: EquipmentType
) -> None:
    loan = service.submit_request(
        db_session, by=technician, **_params(town_hall, lines=[(podium.id, 1)])
    )
    params = _params(town_hall, lines=[(podium.id, 9)], end_dt=DEFAULT_START - timedelta(days=1))
    del params["commune_id"]
    with pytest.raises(ValidationError) as caught:
        service.update_request(db_session, loan.id, by=technician, **params)
    assert set(_fields(caught.value)) >= {"end_dt", "lines"}
    db_session.expire_all()
    assert loan.lines[0].quantity == 1


# --- cancelling ------------------------------------------------------------------------


def test_cancel_notifies_active_managers_and_audits(
    db_session: Session,
    technician: User,
    manager: User,
    make_user: Callable[..., User],
    town_hall: Site,
    podium: EquipmentType,
) -> None:
    retired = make_user(role=Role.MANAGER, is_active_account=False)
    loan = service.submit_request(
        db_session, by=technician, **_params(town_hall, lines=[(podium.id, 1)])
    )
    sequence = loan.sequence
    service.cancel_request(db_session, loan.id, by=technician, reason="Fête annulée")
    assert loan.status is RequestStatus.CANCELLED
    assert loan.sequence == sequence + 1
    notes = db_session.scalars(select(Notification)).all()
    assert [n.user_id for n in notes] == [manager.id]
    assert notes[0].kind == "request.cancelled"
    assert notes[0].payload == {
        "request_id": loan.id,
        "was_approved": False,
        "reason": "Fête annulée",
    }
    assert "Fête annulée" in notes[0].text and retired.id not in [n.user_id for n in notes]
    # Paris time: DEFAULT_START is 08:00 there.
    assert "03/06/2030 08:00" in notes[0].text
    event = db_session.scalars(
        select(AuditEvent).where(
            AuditEvent.object_id == loan.id, AuditEvent.action == "request.cancel"
        )
    ).one()
    assert event.actor_id == technician.id
    assert event.before is not None and event.before["status"] == "submitted"
    assert event.after is not None and event.after["status"] == "cancelled"
    assert event.after["cancel_reason"] == "Fête annulée"


def test_cancelling_an_approved_loan_frees_it(
    db_session: Session,
    technician: User,
    manager: User,
    town_hall: Site,
    podium: EquipmentType,
    make_request: Callable[..., LoanRequest],
) -> None:
    from booking.services.availability import availability

    loan = make_request(
        commune=town_hall.commune,
        site=town_hall,
        lines=[(podium, 1)],
        status=RequestStatus.APPROVED,
    )
    plan = Plan(strategy="cpsat", problem_json={}, problem_sha="x", status=PlanStatus.APPROVED)
    assignment = Assignment(
        request=loan, is_served=True, start_dt=loan.requested_start_dt, end_dt=loan.requested_end_dt
    )
    unit = podium.units[0]
    assignment.units.append(AssignmentUnit(line=loan.lines[0], unit=unit))
    plan.assignments.append(assignment)
    db_session.add(plan)
    db_session.commit()
    window = {"start_dt": loan.requested_start_dt, "end_dt": loan.requested_end_dt}
    (before,) = availability(db_session, by=technician, type_ids=[podium.id], **window)
    assert before.planned == 1

    service.cancel_request(db_session, loan.id, by=technician, reason=None)

    (after,) = availability(db_session, by=technician, type_ids=[podium.id], **window)
    assert after.planned == 0 and after.free == before.free + 1
    note = db_session.scalars(select(Notification).where(Notification.user_id == manager.id)).one()
    assert note.payload is not None and note.payload["was_approved"] is True


@pytest.mark.parametrize(
    "status",
    [
        RequestStatus.HANDED_OVER,
        RequestStatus.RETURNED,
        RequestStatus.CANCELLED,
        RequestStatus.DECLINED,
    ],
)
def test_cancel_refused_once_handed_over_or_closed(
    db_session: Session,
    technician: User,
    commune: Commune,
    make_request: Callable[..., LoanRequest],
    status: RequestStatus,
) -> None:
    loan = make_request(commune=commune, status=status)
    with pytest.raises(Conflict):
        service.cancel_request(db_session, loan.id, by=technician, reason="late")
    assert db_session.scalars(select(Notification)).all() == []


def test_disabled_account_is_refused(
    db_session: Session,
    technician: User,
    commune: Commune,
    make_request: Callable[..., LoanRequest],
) -> None:
    loan = make_request(commune=commune)
    technician.is_active_account = False
    with pytest.raises(Forbidden):
        service.cancel_request(db_session, loan.id, by=technician)


# --- what the plans say ------------------------------------------------------------------


def test_outcome_reads_the_approved_plan_and_proposed_only_for_staff(
    db_session: Session,
    technician: User,
    manager: User,
    commune: Commune,
    podium: EquipmentType,
    make_request: Callable[..., LoanRequest],
) -> None:
    loan = make_request(commune=commune, lines=[(podium, 1)], status=RequestStatus.PLANNED)
    assert lists.request_outcome(db_session, loan, by=technician) is None
    proposed = Plan(strategy="cpsat", problem_json={}, problem_sha="p", status=PlanStatus.PROPOSED)
    proposed.assignments.append(
        Assignment(request=loan, is_served=False, reason="podium: both units busy")
    )
    db_session.add(proposed)
    db_session.commit()
    assert lists.request_outcome(db_session, loan, by=technician) is None
    staff_view = lists.request_outcome(db_session, loan, by=manager)
    assert staff_view is not None and staff_view.is_proposed
    assert staff_view.reason_text == "podium: both units busy"

    approved = Plan(strategy="cpsat", problem_json={}, problem_sha="a", status=PlanStatus.APPROVED)
    served = Assignment(
        request=loan, is_served=True, start_dt=loan.requested_start_dt, end_dt=loan.requested_end_dt
    )
    served.units.append(AssignmentUnit(line=loan.lines[0], unit=podium.units[1]))
    approved.assignments.append(served)
    db_session.add(approved)
    db_session.commit()
    for user in (technician, manager):
        outcome = lists.request_outcome(db_session, loan, by=user)
        assert outcome is not None and not outcome.is_proposed
        assert [u.unit_id for u in outcome.units] == [podium.units[1].id]
        assert outcome.reason_text is None


def test_requester_sites_put_the_town_hall_first(
    db_session: Session,
    technician: User,
    commune: Commune,
    other_commune: Commune,
    make_site: Callable[..., Site],
) -> None:
    stadium = make_site(commune=commune, name="A stadium")
    hall = make_site(commune=commune, name="Melun - Hôtel de ville")
    make_site(commune=commune, name="Closed", is_active=False)
    make_site(commune=commune, name="Depot", kind=SiteKind.DEPOT)
    assert lists.requester_sites(db_session, by=technician, commune_id=commune.id) == [
        hall,
        stadium,
    ]
    with pytest.raises(NotFound):
        lists.requester_sites(db_session, by=technician, commune_id=other_commune.id)
