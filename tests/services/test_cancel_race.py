"""A cancellation racing a plan approval, on a real database (SQLite and PostgreSQL).

The approval is made to commit between the moment the cancellation read the request and
the moment it writes it: SQLite then refuses the write ("database is locked", the reader's
snapshot is out of date) and PostgreSQL's version check finds the row changed. Either way
the technician gets a clear conflict, never a server error, and no unit is lent twice.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from booking.errors import Conflict
from booking.models import LoanRequest, Notification, Plan, PlanStatus, RequestStatus, User
from booking.services.requests import cancel_request
from tests.services import test_planning_concurrency as race

# The committed-for-real database and its small world, shared with the approval races.
real_db = race.real_db
world = race.world

MESSAGE = "This request was changed at the same time; reload it and try again."


@contextmanager
def approval_before_first_write(world: SimpleNamespace, plan_id: int) -> Iterator[list[object]]:
    """Approve ``plan_id`` on another connection just before this thread's next flush.

    Yields the approval's outcome (filled once it ran).
    """
    outcome: list[object] = []
    owner = threading.current_thread()

    def before_flush(session: Session, _context: Any, _instances: Any) -> None:
        if outcome or threading.current_thread() is not owner:
            return
        thread = threading.Thread(
            target=lambda: outcome.append(_run(race._approve(world, plan_id)))
        )
        thread.start()
        thread.join()

    event.listen(Session, "before_flush", before_flush)
    try:
        yield outcome
    finally:
        event.remove(Session, "before_flush", before_flush)


def _run(action: Callable[[], object]) -> object:
    try:
        return action()
    except Exception as error:
        return error


def _status(world: SimpleNamespace, request_id: int) -> RequestStatus:
    with world.database.session() as session:
        loan = session.get(LoanRequest, request_id)
        assert loan is not None
        return loan.status


def test_a_cancellation_overtaken_by_an_approval_is_a_clear_conflict(world):
    first = race._add_request(world, "Fête")
    race._add_request(world, "Marché")
    race._add_request(world, "Brocante")
    plan_id = race._propose(world)

    with (
        approval_before_first_write(world, plan_id) as approval,
        world.app.app_context(),
        world.database.session() as session,
    ):
        technician = session.get(User, world.ids.tech)
        with pytest.raises(Conflict) as caught:
            cancel_request(session, first, by=technician, reason="Rain")

    assert approval == ["approved"]
    assert caught.value.message == MESSAGE
    # The database itself refused the late write: the race really happened.
    assert isinstance(caught.value.__cause__, OperationalError | StaleDataError)
    # Nothing of the cancellation was written; the approval stands.
    assert _status(world, first) is RequestStatus.APPROVED
    with world.database.session() as session:
        kinds = session.scalars(select(Notification.kind)).all()
        assert "request.cancelled" not in kinds
    race._assert_no_unit_lent_twice(world)

    # Reloading and trying again cancels the approved loan and frees its unit.
    assert race._cancel(world, first)() == "cancelled"
    assert _status(world, first) is RequestStatus.CANCELLED
    race._assert_no_unit_lent_twice(world)


def test_the_cancel_page_shows_the_conflict_instead_of_an_error(world):
    first = race._add_request(world, "Fête")
    race._add_request(world, "Marché")
    plan_id = race._propose(world)
    world.app.config["WTF_CSRF_ENABLED"] = False
    client = world.app.test_client()
    signed_in = client.post(
        "/login", data={"email": "tech@melun.example", "password": "correct horse battery"}
    )
    assert signed_in.status_code == 302

    with approval_before_first_write(world, plan_id) as approval:
        response = client.post(
            f"/requests/{first}/cancel", data={"reason": "Rain"}, follow_redirects=True
        )

    assert approval == ["approved"]
    assert response.status_code == 200
    assert MESSAGE in response.get_data(as_text=True)
    assert _status(world, first) is RequestStatus.APPROVED
    race._assert_no_unit_lent_twice(world)


@pytest.mark.parametrize("rounds", [4])
def test_free_races_never_fail_with_a_database_error(world, rounds):
    """Approval and cancellation started at the same moment, whoever wins."""
    for n in range(rounds):
        first = race._add_request(world, f"Fête {n}", day=10 * n)
        race._add_request(world, f"Marché {n}", day=10 * n)
        plan_id = race._propose(world)

        approval, cancellation = race._in_threads(
            race._approve(world, plan_id), race._cancel(world, first)
        )

        assert cancellation == "cancelled" or (
            isinstance(cancellation, Conflict) and cancellation.message == MESSAGE
        ), repr(cancellation)
        assert approval == "approved" or isinstance(approval, Conflict), repr(approval)
        assert approval == "approved" or cancellation == "cancelled"
        if cancellation != "cancelled":
            assert _status(world, first) is RequestStatus.APPROVED
        race._assert_no_unit_lent_twice(world)
        with world.database.session() as session:
            plan = session.get(Plan, plan_id)
            assert plan is not None
            assert plan.status is (
                PlanStatus.APPROVED if approval == "approved" else PlanStatus.PROPOSED
            )
        if approval != "approved":
            assert race._approve(world, race._propose(world))() == "approved"
