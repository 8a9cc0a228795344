"""The UTC datetime column type and the optimistic lock, on the test database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import StatementError
from sqlalchemy.orm.exc import StaleDataError

from booking.models import AuditEvent, LoanRequest


def test_aware_datetimes_come_back_as_utc(db_session, make_request):
    paris_summer = timezone(timedelta(hours=2))
    loan = make_request(requested_start_dt=datetime(2030, 7, 14, 9, 30, tzinfo=paris_summer))
    db_session.expire_all()
    stored = db_session.get(LoanRequest, loan.id).requested_start_dt
    assert stored == datetime(2030, 7, 14, 7, 30, tzinfo=UTC)
    assert stored.utcoffset() == timedelta(0)


def test_naive_datetimes_are_refused(db_session, make_request):
    loan = make_request()
    loan.requested_end_dt = datetime(2030, 7, 14, 9, 30)
    with pytest.raises(StatementError, match="naive datetime"):
        db_session.commit()
    db_session.rollback()


def test_comparisons_in_sql_use_utc(db_session, make_request):
    early = make_request(requested_start_dt=datetime(2030, 7, 14, 6, 0, tzinfo=UTC))
    make_request(requested_start_dt=datetime(2030, 7, 14, 8, 0, tzinfo=UTC))
    # 07:30 in Paris (UTC+2) is 05:30 UTC: both loans start after it; 08:30 Paris only the later.
    cutoff = datetime(2030, 7, 14, 8, 30, tzinfo=timezone(timedelta(hours=2)))
    later = db_session.scalars(
        select(LoanRequest.id).where(LoanRequest.requested_start_dt > cutoff)
    ).all()
    assert early.id not in later
    assert len(later) == 1


def test_version_counter_refuses_a_stale_write(db_session, make_request):
    loan = make_request()
    assert loan.version == 1
    loan.notes = "first edit"
    db_session.commit()
    assert loan.version == 2
    # Another process bumps the row behind this session's back.
    db_session.execute(
        update(LoanRequest).where(LoanRequest.id == loan.id).values(version=3),
        execution_options={"synchronize_session": False},
    )
    loan.notes = "second edit"
    with pytest.raises(StaleDataError):
        db_session.commit()
    db_session.rollback()


def test_json_columns_round_trip(db_session, admin):
    event = AuditEvent(
        actor_id=admin.id,
        action="test.event",
        object_type="thing",
        object_id=1,
        before={"a": [1, 2]},
        after={"é": "ü"},
    )
    db_session.add(event)
    db_session.commit()
    db_session.expire_all()
    loaded = db_session.get(AuditEvent, event.id)
    assert loaded.before == {"a": [1, 2]}
    assert loaded.after == {"é": "ü"}
    assert loaded.at.tzinfo is not None
