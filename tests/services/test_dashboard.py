"""What the home pages count."""

from __future__ import annotations

from datetime import timedelta

import pytest

from booking.errors import Forbidden
from booking.models import Plan, PlanStatus, RequestStatus, Unavailability, UnitStatus
from booking.services import dashboard, planning
from tests.conftest import DEFAULT_START
from tests.services.test_handovers import approve


def test_commune_summary_counts_only_the_commune(
    make_request, make_site, technician, commune, other_commune, db_session
):
    make_request(commune=commune)
    make_request(commune=commune, status=RequestStatus.APPROVED)
    make_request(commune=other_commune)
    summary = dashboard.commune_summary(db_session, by=technician)
    assert summary.commune is commune
    assert summary.requests_by_status[RequestStatus.SUBMITTED] == 1
    assert summary.requests_by_status[RequestStatus.APPROVED] == 1
    assert sum(summary.requests_by_status.values()) == 2
    assert all(site.commune_id == commune.id for site in summary.sites)
    assert len(summary.sites) == 2


def test_commune_summary_names_the_requests_awaiting_an_answer_first_to_come(
    make_request, technician, commune, other_commune, db_session, monkeypatch
):
    monkeypatch.setattr(dashboard, "AWAITING_SHOWN", 2)
    later = make_request(commune=commune, start=DEFAULT_START + timedelta(days=9))
    sooner = make_request(commune=commune, start=DEFAULT_START + timedelta(days=2))
    waiting = make_request(commune=commune, status=RequestStatus.WAITING, start=DEFAULT_START)
    make_request(commune=commune, status=RequestStatus.APPROVED, start=DEFAULT_START)
    make_request(commune=other_commune, start=DEFAULT_START)
    summary = dashboard.commune_summary(db_session, by=technician)
    assert summary.awaiting == [waiting, sooner]
    assert summary.awaiting_total == 3
    assert later not in summary.awaiting


def test_commune_summary_is_for_technicians(db_session, manager):
    with pytest.raises(Forbidden):
        dashboard.commune_summary(db_session, by=manager)


def test_fleet_counts(db_session, make_unit, make_pool, make_request, manager, admin):
    make_unit()
    make_unit()
    make_pool()
    make_request(status=RequestStatus.DECLINED)
    db_session.add(
        Plan(status=PlanStatus.PROPOSED, strategy="cpsat", problem_json={}, problem_sha="0" * 64)
    )
    db_session.commit()
    counts = dashboard.fleet_counts(db_session, by=manager)
    assert counts.units == 2
    assert counts.pools == 1
    assert counts.requests_by_status[RequestStatus.DECLINED] == 1
    assert counts.proposed_plans == 1
    assert counts.approved_plan_id is None
    assert dashboard.fleet_counts(db_session, by=admin).units == 2


def test_fleet_counts_are_for_staff(db_session, technician):
    with pytest.raises(Forbidden):
        dashboard.fleet_counts(db_session, by=technician)


# --- hand-overs on the home pages ----------------------------------------------------------


@pytest.fixture
def loans(db_session, make_request, make_unit, commune, other_commune):
    """Melun: one loan going out soon and one late; Dammarie: one late; a podium repaired."""
    soon = make_request(commune=commune, title="Soon")
    approve(db_session, soon, start=DEFAULT_START, end=DEFAULT_START + timedelta(days=1))
    late = make_request(commune=commune, title="Late")
    approve(
        db_session,
        late,
        start=DEFAULT_START - timedelta(days=5),
        end=DEFAULT_START - timedelta(days=2),
    )
    late.status = RequestStatus.HANDED_OVER
    other = make_request(commune=other_commune, title="Other late")
    approve(
        db_session,
        other,
        start=DEFAULT_START - timedelta(days=5),
        end=DEFAULT_START - timedelta(days=1),
    )
    other.status = RequestStatus.HANDED_OVER
    broken = make_unit(code="POD-9", status=UnitStatus.MAINTENANCE)
    window_unit = make_unit(code="POD-8")
    db_session.add(
        Unavailability(
            unit=window_unit,
            start_dt=DEFAULT_START - timedelta(days=1),
            end_dt=DEFAULT_START + timedelta(days=1),
            reason="Révision",
        )
    )
    make_unit(code="POD-7")
    db_session.commit()
    return {"soon": soon, "late": late, "other": other, "broken": broken, "window": window_unit}


def test_manager_sees_handovers_overdue_and_maintenance(db_session, loans, manager):

    counts = dashboard.fleet_counts(db_session, by=manager, now=DEFAULT_START - timedelta(hours=1))
    board = counts.handovers
    assert [(h.way, h.request) for h in board.upcoming] == [
        ("out", loans["soon"]),
        ("back", loans["soon"]),
    ]
    assert [h.request for h in board.overdue] == [loans["late"], loans["other"]]
    assert [(e.unit.code, e.window.reason if e.window else None) for e in board.maintenance] == [
        ("POD-8", "Révision"),
        ("POD-9", None),
    ]
    assert counts.waiting_requests == 0
    assert counts.proposed_plan_ids == []


def test_technician_sees_only_their_communes_handovers(db_session, loans, technician):

    summary = dashboard.commune_summary(
        db_session, by=technician, now=DEFAULT_START - timedelta(hours=1)
    )
    assert [h.request for h in summary.handovers.overdue] == [loans["late"]]
    assert {h.request for h in summary.handovers.upcoming} == {loans["soon"]}
    assert summary.handovers.maintenance == []


def test_waiting_requests_and_proposed_plans(db_session, make_request, manager):
    make_request()
    make_request(status=RequestStatus.PLANNED)
    make_request(status=RequestStatus.APPROVED)
    plans = [
        Plan(status=PlanStatus.PROPOSED, strategy="cpsat", problem_json={}, problem_sha="0" * 64)
        for _ in range(2)
    ]
    db_session.add_all(plans)
    db_session.commit()
    counts = dashboard.fleet_counts(db_session, by=manager)
    assert counts.waiting_requests == 2
    assert counts.proposed_plan_ids == [plans[1].id, plans[0].id]


def test_planning_dashboard_shows_the_same_handovers_at_the_served_dates(
    db_session, loans, manager
):
    now = DEFAULT_START - timedelta(hours=1)
    board = planning.dashboard(db_session, by=manager, now=now).handovers
    # "Late" was asked until after now but served until two days ago: it is overdue.
    assert loans["late"].requested_end_dt > now
    assert board == dashboard.fleet_counts(db_session, by=manager, now=now).handovers
    assert [h.request for h in board.overdue] == [loans["late"], loans["other"]]
    assert board.shows_maintenance
