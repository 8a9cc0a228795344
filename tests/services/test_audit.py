"""The audit trail: filters, pages, access, CSV export and the diff of each event."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from booking.errors import Forbidden, ValidationError
from booking.models import AuditEvent, FeedKind
from booking.services import audit, feeds
from booking.services.audit import AuditFilters

# 2030-03-31 is the day Paris moves from UTC+1 to UTC+2.
T0 = datetime(2030, 3, 30, 22, 30, tzinfo=UTC)  # 2030-03-30 23:30 in Paris (+01:00)


@pytest.fixture
def make_event(db_session):
    def make(**params):
        params.setdefault("action", "request.update")
        params.setdefault("object_type", "loan_request")
        params.setdefault("object_id", 1)
        params.setdefault("at", T0)
        event = AuditEvent(**params)
        db_session.add(event)
        db_session.commit()
        return event

    return make


def _parse(chunks) -> list[dict[str, str]]:
    text = "".join(chunks)
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text[1:]), delimiter=";"))


def test_list_events_newest_first_and_paginated(db_session, manager, make_event):
    events = [make_event(at=T0 + timedelta(minutes=i), object_id=i) for i in range(5)]
    first = audit.list_events(db_session, by=manager, page=1, page_size=2)
    assert [e.id for e in first.events] == [events[4].id, events[3].id]
    assert (first.page, first.pages, first.total) == (1, 3, 5)
    assert first.has_next and not first.has_previous
    last = audit.list_events(db_session, by=manager, page=3, page_size=2)
    assert [e.id for e in last.events] == [events[0].id]
    # Past the end: the last page.
    beyond = audit.list_events(db_session, by=manager, page=99, page_size=2)
    assert beyond.page == 3 and [e.id for e in beyond.events] == [events[0].id]


def test_same_instant_is_ordered_by_id(db_session, manager, make_event):
    a, b = make_event(), make_event()
    page = audit.list_events(db_session, by=manager)
    assert [e.id for e in page.events] == [b.id, a.id]


@pytest.mark.parametrize("role", ["manager", "admin"])
def test_staff_may_read_and_export(request, db_session, role, make_event):
    user = request.getfixturevalue(role)
    make_event()
    assert audit.list_events(db_session, by=user).total == 1
    assert len(_parse(audit.export_csv(db_session, by=user))) == 1


def test_technicians_may_not_read_nor_export(db_session, technician, make_event):
    make_event()
    with pytest.raises(Forbidden):
        audit.list_events(db_session, by=technician)
    # Refused at once, not when the text is read.
    with pytest.raises(Forbidden):
        audit.export_csv(db_session, by=technician)
    with pytest.raises(Forbidden):
        audit.filter_choices(db_session, by=technician)


def test_filters_by_action_prefix_type_and_id(db_session, manager, make_event):
    submit = make_event(action="request.submit", object_id=7)
    update = make_event(action="request.update", object_id=8)
    plan = make_event(action="plan.approve", object_type="plan", object_id=7)
    # "_" and "%" are literal characters in the prefix, not wildcards.
    make_event(action="requestXsubmit")

    def ids(**filters):
        page = audit.list_events(db_session, AuditFilters(**filters), by=manager)
        return {e.id for e in page.events}

    assert ids(action="request.") == {submit.id, update.id}
    assert ids(action="request.sub") == {submit.id}
    assert ids(action="request_") == set()
    assert ids(object_type="plan") == {plan.id}
    assert ids(object_id=7) == {submit.id, plan.id}
    assert ids(object_type="loan_request", object_id=7) == {submit.id}
    assert ids(action="  plan  ") == {plan.id}


def test_filters_by_actor_email_or_name(db_session, manager, technician, make_event):
    by_manager = make_event(actor_id=manager.id)
    by_tech = make_event(actor_id=technician.id)
    make_event(actor_id=None)

    def ids(actor):
        page = audit.list_events(db_session, AuditFilters(actor=actor), by=manager)
        return {e.id for e in page.events}

    assert ids("MANAGER@agglo") == {by_manager.id}
    assert ids("tech melun") == {by_tech.id}
    assert ids("example") == {by_tech.id, by_manager.id}
    assert ids("%") == set()


def test_date_range_is_in_paris_days_inclusive(db_session, manager, make_event):
    # 23:30 on the 30th in Paris, although already the 30th 22:30 UTC.
    late_30 = make_event(at=T0)
    # 00:30 on the 31st in Paris (UTC+1 until 02:00), 23:30 UTC on the 30th.
    early_31 = make_event(at=T0 + timedelta(hours=1))
    # 23:59 on the 31st in Paris (UTC+2 by then).
    late_31 = make_event(at=datetime(2030, 3, 31, 21, 59, tzinfo=UTC))
    first_april = make_event(at=datetime(2030, 3, 31, 22, 0, tzinfo=UTC))

    def ids(**filters):
        page = audit.list_events(db_session, AuditFilters(**filters), by=manager)
        return {e.id for e in page.events}

    day = date(2030, 3, 31)
    assert ids(date_from=day, date_to=day) == {early_31.id, late_31.id}
    assert ids(date_to=date(2030, 3, 30)) == {late_30.id}
    assert ids(date_from=date(2030, 4, 1)) == {first_april.id}


def test_filter_by_commune_follows_requests_sites_and_accounts(
    db_session, manager, commune, other_commune, technician, make_request, make_site, make_event
):
    own_request = make_request(commune=commune)
    other_request = make_request(commune=other_commune)
    own_site = make_site(commune=commune)
    a = make_event(object_type="loan_request", object_id=own_request.id)
    make_event(object_type="loan_request", object_id=other_request.id)
    b = make_event(action="site.update", object_type="site", object_id=own_site.id)
    c = make_event(action="user.create", object_type="user", object_id=technician.id)
    # Same id, other kind of object: not this commune's.
    make_event(action="plan.approve", object_type="plan", object_id=own_request.id)
    page = audit.list_events(db_session, AuditFilters(commune_id=commune.id), by=manager)
    assert {e.id for e in page.events} == {a.id, b.id, c.id}


def test_bad_filters_are_named(db_session, manager):
    with pytest.raises(ValidationError) as caught:
        audit.list_events(
            db_session,
            AuditFilters(
                action="x" * 61,
                object_id=0,
                date_from=date(2030, 5, 2),
                date_to=date(2030, 5, 1),
                commune_id=999_999,
            ),
            by=manager,
        )
    fields = [field for field, _message in caught.value.errors]
    assert fields == ["action", "object_id", "date_to", "commune_id"]
    assert caught.value.for_field("date_to") == ["The end date is before the start date."]
    with pytest.raises(ValidationError, match="page"):
        audit.list_events(db_session, by=manager, page=0)


def test_changes_keep_only_changed_keys(make_event):
    update = make_event(before={"a": 1, "b": [1, 2], "c": "x"}, after={"a": 1, "b": [1, 3], "d": 4})
    assert [(c.key, c.before, c.after) for c in audit.changes(update)] == [
        ("b", [1, 2], [1, 3]),
        ("c", "x", None),
        ("d", None, 4),
    ]
    created = make_event(before=None, after={"name": "Tom", "role": "manager"})
    assert [c.key for c in audit.changes(created)] == ["name", "role"]
    assert audit.changes(make_event(before=None, after=None)) == []
    assert audit.display_value(None) == "—"
    assert audit.display_value("été") == "été"
    assert audit.display_value({"b": 1, "a": "é"}) == '{"a": "é", "b": 1}'


def test_export_csv_columns_and_values(db_session, manager, make_event):
    event = make_event(
        actor_id=manager.id,
        action="request.update",
        object_id=42,
        at=datetime(2030, 7, 14, 6, 5, 9, 123456, tzinfo=UTC),
        before={"title": "Fête", "priority": 2},
        after={"title": "Fête", "priority": 3},
    )
    system = make_event(actor_id=None, object_id=None, at=T0)
    rows = _parse(audit.export_csv(db_session, by=manager))
    assert list(rows[0]) == list(audit.CSV_COLUMNS)
    assert rows[0] == {
        "id": str(event.id),
        "at": "2030-07-14T08:05:09+02:00",
        "actor_email": "manager@agglo.example",
        "action": "request.update",
        "object_type": "loan_request",
        "object_id": "42",
        "before": '{"priority":2,"title":"Fête"}',
        "after": '{"priority":3,"title":"Fête"}',
    }
    assert json.loads(rows[0]["after"]) == {"title": "Fête", "priority": 3}
    assert rows[1]["id"] == str(system.id)
    assert rows[1]["at"] == "2030-03-30T23:30:00+01:00"
    assert (rows[1]["actor_email"], rows[1]["object_id"], rows[1]["before"]) == ("", "", "")


def test_export_csv_applies_the_filters(db_session, manager, make_event):
    keep = make_event(action="plan.approve", object_type="plan")
    make_event(action="request.submit")
    rows = _parse(audit.export_csv(db_session, AuditFilters(action="plan."), by=manager))
    assert [row["id"] for row in rows] == [str(keep.id)]
    with pytest.raises(ValidationError):
        audit.export_csv(db_session, AuditFilters(object_id=-1), by=manager)


def test_export_csv_reads_in_batches_without_losing_rows(
    db_session, manager, make_event, monkeypatch
):
    monkeypatch.setattr(audit, "EXPORT_BATCH", 3)
    # Two events per instant, so that batches end in the middle of an instant.
    events = [make_event(at=T0 + timedelta(minutes=i // 2)) for i in range(8)]
    chunks = list(audit.export_csv(db_session, by=manager))
    assert len(chunks) == 3  # batches of 3, 3 and 2 rows, the header with the first
    rows = _parse(chunks)
    expected = sorted(events, key=lambda e: (e.at, e.id), reverse=True)
    assert [row["id"] for row in rows] == [str(e.id) for e in expected]


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_export_csv_defuses_formulas(db_session, manager, make_user, make_event, start):
    author = make_user(email=f"{start}cmd@example.org")
    make_event(actor_id=author.id, action=f"{start}1+1", object_type=f"{start}HYPERLINK")
    row = _parse(audit.export_csv(db_session, by=manager))[0]
    for column in ("actor_email", "action", "object_type"):
        assert row[column].startswith("'" + start)
    assert audit.safe_cell("-3") == "'-3"
    assert audit.safe_cell("a=b") == "a=b"


def test_feed_changes_are_audited_without_the_token(db_session, technician, commune):
    feed, token = feeds.create_feed(
        db_session, by=technician, kind=FeedKind.COMMUNE, target_id=commune.id, name="Mairie"
    )
    feeds.rename_feed(db_session, feed.id, by=technician, name="Services techniques")
    _feed, new_token = feeds.regenerate_feed(db_session, feed.id, by=technician)
    feeds.revoke_feed(db_session, feed.id, by=technician, now=T0)
    events = db_session.scalars(
        select(AuditEvent).where(AuditEvent.object_type == "feed").order_by(AuditEvent.id)
    ).all()
    assert [e.action for e in events] == [
        "feed.create",
        "feed.rename",
        "feed.regenerate",
        "feed.revoke",
    ]
    assert {e.actor_id for e in events} == {technician.id}
    assert {e.object_id for e in events} == {feed.id}
    assert events[0].after == {
        "kind": "commune",
        "target_id": commune.id,
        "name": "Mairie",
        "revoked_at": None,
    }
    assert [(c.key, c.before, c.after) for c in audit.changes(events[1])] == [
        ("name", "Mairie", "Services techniques")
    ]
    assert [(c.key, c.before, c.after) for c in audit.changes(events[3])] == [
        ("revoked_at", None, T0.isoformat())
    ]
    trail = str([(e.before, e.after) for e in events])
    assert token not in trail and new_token not in trail
    assert feeds.hash_token(token) not in trail
