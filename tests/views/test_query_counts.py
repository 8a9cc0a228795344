"""The pages that list many rows run a fixed number of SQL statements, whatever the rows.

Each test counts the statements of one answer with N requests, then with 3N, and wants
the same count: a relationship read row by row (an N+1) would add statements with N.
The requests are spread over communes, sites and equipment types of their own so that a
lazy load per row cannot hide behind the session's identity map.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event, select

from booking.db import get_db
from booking.models import Assignment, FeedKind, LoanRequest, Plan, SiteKind
from booking.services import feeds, planning
from booking.timeutil import to_local
from tests.conftest import DEFAULT_START

# Shared fixtures: the fleet (two minibuses, 100 chairs), requests of the commune.
from tests.services.test_planning import fleet, inline_runner  # noqa: F401

N = 4
# Statements that only mark transactions (the tests run inside a savepoint).
BOOKKEEPING = ("SAVEPOINT", "RELEASE", "ROLLBACK", "BEGIN", "COMMIT")


@contextmanager
def counting(app: Flask) -> Iterator[list[str]]:
    """The SQL statements run on the application's engine inside the block."""
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not statement.lstrip().upper().startswith(BOOKKEEPING):
            statements.append(statement)

    engine = get_db(app).engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def statements_of(app: Flask, answer: Callable[[], Any]) -> int:
    """How many statements ``answer()`` runs; its response must be a success.

    The session the test shares with the application is emptied first: rows the test
    made would otherwise spare some loads, by a number that depends on the test's past.
    """
    session = get_db(app).override
    assert session is not None
    session.expunge_all()
    with counting(app) as statements:
        response = answer()
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return len(statements)


@pytest.fixture
def grow(
    fleet,  # noqa: F811
    commune,
    make_request,
    make_site,
    make_type,
    make_unit,
    make_commune,
) -> Callable[[int], list[LoanRequest]]:
    """``grow(n)``: n more requests, half of them the commune's, the others from new
    communes, each with a minibus, chairs and one unit of a type of its own; two a day
    over a week, so that minibuses run short and requests are left unserved."""
    depot = make_site(kind=SiteKind.DEPOT, name="Dépôt annexe")
    made = 0

    def add(n: int) -> list[LoanRequest]:
        nonlocal made
        loans = []
        for _ in range(n):
            own = make_type(name=f"Matériel {made}", min_notice_hours=0)
            make_unit(type=own, home_depot=depot)
            place = {"commune": commune, "site": fleet.site}
            if made % 2:
                other = make_commune()
                place = {"commune": other, "site": make_site(commune=other)}
            loans.append(
                make_request(
                    lines=[(fleet.minibus, 1), (fleet.chair, 5), (own, 1)],
                    start=DEFAULT_START + timedelta(days=(made // 2) % 7),
                    title=f"Fête {made}",
                    priority=1 + made % 4,
                    priority_reason="Sécurité",
                    **place,
                )
            )
            made += 1
        return loans

    return add


def propose(app: Flask, db_session, manager) -> Plan:
    with app.app_context():
        job = planning.propose_plan(db_session, by=manager, time_limit_seconds=5, strategy="greedy")
    plan = db_session.get(Plan, job.plan_id)
    assert plan is not None, job.message
    return plan


def outcome_counts(db_session, plan: Plan) -> tuple[int, int]:
    """How many requests the plan decides about, and how many it leaves unserved."""
    rows = db_session.execute(select(Assignment.is_served).where(Assignment.plan_id == plan.id))
    served = [is_served for (is_served,) in rows]
    return len(served), served.count(False)


def approve(app: Flask, db_session, manager, plan: Plan) -> None:
    with app.app_context():
        planning.approve_plan(db_session, plan.id, by=manager)


def test_request_list_of_a_commune(app, client, auth, technician, grow):
    auth.login(technician)
    grow(N)
    few = statements_of(app, lambda: client.get("/requests/"))
    loans = grow(2 * N)
    many = statements_of(app, lambda: client.get("/requests/"))
    page = client.get("/requests/").get_data(as_text=True)
    assert all(
        f'id="request-{loan.id}"' in page
        for loan in loans
        if loan.commune_id == technician.commune_id
    )
    assert few == many


def test_request_list_of_every_commune(app, client, auth, manager, grow):
    auth.login(manager)
    grow(N)
    few = statements_of(app, lambda: client.get("/requests/"))
    loans = grow(2 * N)
    many = statements_of(app, lambda: client.get("/requests/"))
    page = client.get("/requests/").get_data(as_text=True)
    assert all(f'id="request-{loan.id}"' in page for loan in loans)
    assert few == many


def test_availability_endpoint(app, client, auth, technician, manager, db_session, grow):
    start = to_local(DEFAULT_START).strftime("%Y-%m-%dT%H:%M")
    end = to_local(DEFAULT_START + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M")
    path = f"/requests/availability?start={start}&end={end}"
    grow(N)
    approve(app, db_session, manager, propose(app, db_session, manager))
    grow(N)
    auth.login(technician)
    few = statements_of(app, lambda: client.get(path))
    approve(app, db_session, manager, propose(app, db_session, manager))
    grow(2 * N)
    many = statements_of(app, lambda: client.get(path))
    rows = client.get(path).get_json()["types"]
    assert sum(row["planned"] for row in rows) > 0 and sum(
        row["requested_by_commune"] for row in rows
    )
    assert few == many


def test_review_page_of_a_plan(app, client, auth, manager, db_session, grow):
    auth.login(manager)
    grow(N)
    approve(app, db_session, manager, propose(app, db_session, manager))
    grow(N)
    first = propose(app, db_session, manager)
    # Twice: the staleness check reads the data once, then again only when it changed.
    few = [statements_of(app, lambda: client.get(f"/planning/plans/{first.id}")) for _ in "12"]
    grow(4 * N)
    second = propose(app, db_session, manager)
    many = [statements_of(app, lambda: client.get(f"/planning/plans/{second.id}")) for _ in "12"]
    (first_all, first_unserved), (second_all, second_unserved) = (
        outcome_counts(db_session, plan) for plan in (first, second)
    )
    assert second_all > 2 * first_all and second_unserved > first_unserved > 0
    page = client.get(f"/planning/plans/{second.id}").get_data(as_text=True)
    assert "tl-bar" in page and "Newly served" in page and "Per commune" in page
    assert few == many
    assert few[1] < few[0]


def test_review_page_does_not_read_the_problem_document(
    app, client, auth, manager, db_session, grow
):
    grow(N)
    plan = propose(app, db_session, manager)
    db_session.expunge_all()
    auth.login(manager)
    with counting(app) as statements:
        assert client.get(f"/planning/plans/{plan.id}").status_code == 200
    # Loading the documents whole names them as columns, side by side.
    assert statements and not any("plans.problem_json, plans.plan_json" in s for s in statements)


def test_commune_feed(app, client, technician, db_session, manager, grow):
    grow(N)
    with app.app_context():
        _feed, token = feeds.create_feed(
            db_session,
            by=technician,
            kind=FeedKind.COMMUNE,
            target_id=technician.commune_id,
            name="Commune",
        )
    path = f"/feeds/{token}.ics"
    assert client.get(path).status_code == 200
    # Each count is of a feed built before, rebuilt after loans were approved.
    approve(app, db_session, manager, propose(app, db_session, manager))
    few = statements_of(app, lambda: client.get(path))
    grow(2 * N)
    approve(app, db_session, manager, propose(app, db_session, manager))
    many = statements_of(app, lambda: client.get(path))
    events = client.get(path).get_data(as_text=True).count("BEGIN:VEVENT")
    assert events > 0
    assert few == many
