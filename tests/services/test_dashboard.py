"""What the home pages count."""

from __future__ import annotations

import pytest

from booking.errors import Forbidden
from booking.models import Plan, PlanStatus, RequestStatus
from booking.services import dashboard


def test_commune_summary_counts_only_the_commune(
    make_request, make_site, technician, commune, other_commune, db_session
):
    make_request(commune=commune)
    make_request(commune=commune, status=RequestStatus.APPROVED)
    make_request(commune=other_commune)
    summary = dashboard.commune_summary(db_session, user=technician)
    assert summary.commune is commune
    assert summary.requests_by_status[RequestStatus.SUBMITTED] == 1
    assert summary.requests_by_status[RequestStatus.APPROVED] == 1
    assert sum(summary.requests_by_status.values()) == 2
    assert all(site.commune_id == commune.id for site in summary.sites)
    assert len(summary.sites) == 2


def test_commune_summary_is_for_technicians(db_session, manager):
    with pytest.raises(Forbidden):
        dashboard.commune_summary(db_session, user=manager)


def test_fleet_counts(db_session, make_unit, make_pool, make_request, manager, admin):
    make_unit()
    make_unit()
    make_pool()
    make_request(status=RequestStatus.DECLINED)
    db_session.add(
        Plan(status=PlanStatus.PROPOSED, strategy="cpsat", problem_json={}, problem_sha="0" * 64)
    )
    db_session.commit()
    counts = dashboard.fleet_counts(db_session, user=manager)
    assert counts.units == 2
    assert counts.pools == 1
    assert counts.requests_by_status[RequestStatus.DECLINED] == 1
    assert counts.proposed_plans == 1
    assert counts.approved_plan_id is None
    assert dashboard.fleet_counts(db_session, user=admin).units == 2


def test_fleet_counts_are_for_staff(db_session, technician):
    with pytest.raises(Forbidden):
        dashboard.fleet_counts(db_session, user=technician)
