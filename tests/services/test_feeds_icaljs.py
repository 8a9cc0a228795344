"""Feeds as Mozilla's ical.js reads them (Thunderbird's parser), driven through Node.

``make test`` installs ical.js with ``npm ci`` in tests/js. Nothing is skipped: without
Node or without the package the tests fail and say what to install.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from booking.models import Assignment, Commune, FeedKind, RequestStatus, Unit, User
from tests.services.test_feeds import (
    AUTUMN,
    DOMAIN,
    SPRING,
    _empty_caches,  # noqa: F401  (autouse fixture)
    approved_plan,  # noqa: F401
    depot,  # noqa: F401
    feed_for,
    fetch,
    make_loan,  # noqa: F401
    minibus,  # noqa: F401
    minibus_type,  # noqa: F401
)

JS_DIR = Path(__file__).resolve().parents[1] / "js"


def ical_js(body: bytes) -> dict[str, Any]:
    """What ical.js reads from ``body`` (see tests/js/check.mjs)."""
    node = shutil.which("node")
    assert node is not None, (
        "Node.js is needed to check feeds with ical.js: install it (Debian: apt-get install "
        "nodejs npm), then run `npm ci` in tests/js."
    )
    assert (JS_DIR / "node_modules" / "ical.js").is_dir(), (
        "ical.js is not installed: run `npm ci` in tests/js (make test does it)."
    )
    done = subprocess.run(
        [node, str(JS_DIR / "check.mjs")],
        input=body,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def utc(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def test_instants_across_both_summer_time_changes(
    db_session: Session,
    manager: User,
    commune: Commune,
    minibus: Unit,  # noqa: F811
    make_loan: Callable[..., Any],  # noqa: F811
) -> None:
    spring = make_loan(commune, minibus, start=SPRING, days=2)  # 27-29 March 2027
    autumn = make_loan(commune, minibus, start=AUTUMN, days=2)  # 30 Oct - 1 Nov 2027
    read = ical_js(fetch(db_session, feed_for(db_session, manager, FeedKind.MANAGER, None)))

    assert read["components"][0] == "vtimezone"
    assert "method" not in read["props"] and "uid" not in read["props"]
    (timezone,) = read["timezones"]
    assert timezone["tzid"] == "Europe/Paris"
    assert all(rule.startswith("FREQ=YEARLY") for rule in timezone["rrules"])
    found = {e["uid"]: e for e in read["events"]}
    # 08:00 in Paris is 07:00 UTC in winter time and 06:00 UTC in summer time.
    expected = {
        spring.id: ("2027-03-27T07:00:00.000Z", "2027-03-29T06:00:00.000Z"),
        autumn.id: ("2027-10-30T06:00:00.000Z", "2027-11-01T07:00:00.000Z"),
    }
    for loan_id, (start, end) in expected.items():
        event = found[f"pret-commun-loan-{loan_id}@{DOMAIN}"]
        assert event["tzid"] == "Europe/Paris"
        assert (event["start"], event["end"]) == (start, end)
    for loan in (spring, autumn):
        event = found[f"pret-commun-loan-{loan.id}@{DOMAIN}"]
        assert (event["start"], event["end"]) == (
            utc(loan.requested_start_dt),
            utc(loan.requested_end_dt),
        )
        assert event["status"] == "CONFIRMED"
        assert event["geo"] == [48.5392, 2.6601]


def test_changes_and_cancellation_as_ical_js_sees_them(
    db_session: Session,
    manager: User,
    commune: Commune,
    minibus: Unit,  # noqa: F811
    make_loan: Callable[..., Any],  # noqa: F811
) -> None:
    loan = make_loan(commune, minibus, start=AUTUMN)
    token = feed_for(db_session, manager, FeedKind.MANAGER, None)
    uid = f"pret-commun-loan-{loan.id}@{DOMAIN}"
    first = {e["uid"]: e for e in ical_js(fetch(db_session, token))["events"]}[uid]

    assignment = db_session.scalars(
        select(Assignment).where(Assignment.request_id == loan.id)
    ).one()
    assignment.end_dt = assignment.end_dt + timedelta(days=1)
    db_session.commit()
    moved = {e["uid"]: e for e in ical_js(fetch(db_session, token))["events"]}[uid]
    assert moved["sequence"] > first["sequence"]
    assert moved["end"] == "2027-11-02T07:00:00.000Z"
    assert moved["dtstamp"] >= first["dtstamp"]

    loan.status = RequestStatus.CANCELLED
    db_session.commit()
    cancelled = {e["uid"]: e for e in ical_js(fetch(db_session, token))["events"]}[uid]
    assert cancelled["status"] == "CANCELLED"
    assert cancelled["sequence"] > moved["sequence"]
    assert cancelled["summary"].startswith("[Cancelled] ")


def test_round_feed_as_ical_js_sees_it(
    db_session: Session,
    manager: User,
    commune: Commune,
    make_unit: Callable[..., Unit],
    make_type: Callable[..., Any],
    depot: Any,  # noqa: F811
    make_loan: Callable[..., Any],  # noqa: F811
) -> None:
    stage = make_unit(type=make_type(is_delivered=True), home_depot=depot)
    loan = make_loan(commune, stage, start=SPRING)
    read = ical_js(fetch(db_session, feed_for(db_session, manager, FeedKind.ROUND, None)))
    found = {e["uid"]: e for e in read["events"]}
    delivery = found[f"pret-commun-delivery-{loan.id}@{DOMAIN}"]
    collection = found[f"pret-commun-collection-{loan.id}@{DOMAIN}"]
    assert (delivery["start"], delivery["end"]) == (
        "2027-03-27T06:00:00.000Z",
        "2027-03-27T07:00:00.000Z",
    )
    assert collection["start"] == "2027-03-29T06:00:00.000Z"
    assert delivery["geo"] == [48.5392, 2.6601]
    assert set(found) == {delivery["uid"], collection["uid"]}
