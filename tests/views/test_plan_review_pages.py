"""The review of a long plan comes a page at a time, and its timelines a few weeks at a time."""

# The shared fixtures imported below are parameters of the tests.
# ruff: noqa: F811

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from booking.models import Assignment, Plan, Unavailability
from booking.services import planning
from booking.services.planning import data_fingerprint
from booking.services.planning import review as plan_review
from booking.timeutil import to_local
from tests.conftest import DEFAULT_START

# Shared fixtures: the fleet (two minibuses, 100 chairs), requests of the commune.
from tests.services.test_planning import ask, fleet, inline_runner  # noqa: F401


def propose(app, db_session, manager) -> Plan:
    with app.app_context():
        job = planning.propose_plan(db_session, by=manager, time_limit_seconds=5, strategy="greedy")
    plan = db_session.get(Plan, job.plan_id)
    assert plan is not None, job.message
    return plan


def loan_rows(page: str) -> list[int]:
    """The request ids of the loans table, in order."""
    table = page.split('id="loans"')[1].split("</table>")[0]
    return [int(i) for i in re.findall(r'<tr id="r(\d+)"', table)]


@pytest.fixture
def five_loans(app, db_session, manager, ask, monkeypatch):
    """Five loans a week apart, all served, reviewed two a page."""
    monkeypatch.setattr(plan_review, "LOANS_PER_PAGE", 2)
    loans = [ask(day=7 * n, title=f"Fête {n}") for n in range(5)]
    return propose(app, db_session, manager), loans


def test_loans_come_two_a_page_in_date_order(client, auth, manager, five_loans):
    plan, loans = five_loans
    auth.login(manager)
    first = client.get(f"/planning/plans/{plan.id}").get_data(as_text=True)
    assert loan_rows(first) == [loans[0].id, loans[1].id]
    assert "1–2 of 5" in first
    assert f'href="/planning/plans/{plan.id}?page=2#loans"' in first
    assert "Previous page" not in first.split('id="loans"')[1]

    last = client.get(f"/planning/plans/{plan.id}?page=3").get_data(as_text=True)
    assert loan_rows(last) == [loans[4].id]
    assert "5–5 of 5" in last and "?page=2#loans" in last

    # Pages beyond the last show the last one; anything else shows the first.
    assert loan_rows(client.get(f"/planning/plans/{plan.id}?page=99").get_data(as_text=True)) == [
        loans[4].id
    ]
    for junk in ("abc", "-1", "0", "1" * 40):
        response = client.get(f"/planning/plans/{plan.id}?page={junk}")
        assert response.status_code == 200
        assert loan_rows(response.get_data(as_text=True)) == [loans[0].id, loans[1].id]


def test_pinning_returns_to_the_page_of_the_loan(client, auth, manager, five_loans):
    plan, loans = five_loans
    auth.login(manager)
    response = client.post(f"/planning/plans/{plan.id}/requests/{loans[4].id}/pin")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/planning/plans/{plan.id}?page=3#r{loans[4].id}")
    response = client.post(f"/planning/plans/{plan.id}/requests/{loans[0].id}/unpin")
    assert response.headers["Location"].endswith(f"/planning/plans/{plan.id}#r{loans[0].id}")


def test_changes_name_the_first_requests_and_link_to_all(
    client,
    auth,
    manager,
    db_session,
    app,
    ask,
    monkeypatch,
):
    monkeypatch.setattr(plan_review, "CHANGES_SHOWN", 2)
    loans = [ask(day=7 * n, title=f"Marché {n}") for n in range(3)]
    plan = propose(app, db_session, manager)
    assert plan.diff is not None and len(plan.diff["new"]) == 3
    auth.login(manager)
    page = client.get(f"/planning/plans/{plan.id}").get_data(as_text=True)
    changes = page.split('id="changes"')[1].split("</details>")[0]
    assert "Newly served (3)" in changes
    assert "Marché 0" in changes and "Marché 1" in changes and "Marché 2" not in changes
    assert f'href="/planning/plans/{plan.id}?changes=all#changes"' in changes
    everything = client.get(f"/planning/plans/{plan.id}?changes=all").get_data(as_text=True)
    changes = everything.split('id="changes"')[1].split("</details>")[0]
    assert all(f"n° {loan.id} " in changes for loan in loans)
    assert "Show all" not in changes


def test_timelines_of_a_long_plan_show_four_weeks_at_a_time(
    client,
    auth,
    manager,
    db_session,
    app,
    ask,
):
    early, late = ask(day=0, title="Début"), ask(day=60, title="Fin")
    plan = propose(app, db_session, manager)
    auth.login(manager)
    page = client.get(f"/planning/plans/{plan.id}").get_data(as_text=True)
    timelines = page.split('id="timelines"')[1]
    assert f"n° {early.id} Début" in timelines and f"n° {late.id} Fin" not in timelines
    following = re.search(r'href="([^"]*from=(\d{4}-\d\d-\d\d)[^"]*)#timelines">Next weeks', page)
    assert following is not None
    # Follow "next weeks" until the late loan shows; the earlier one has left the window.
    for _ in range(3):
        page = client.get(following.group(1).replace("&amp;", "&")).get_data(as_text=True)
        timelines = page.split('id="timelines"')[1]
        if f"n° {late.id} Fin" in timelines:
            break
        following = re.search(r'href="([^"]*)#timelines">Next weeks', page)
        assert following is not None
    assert f"n° {late.id} Fin" in timelines and f"n° {early.id} Début" not in timelines
    assert "Previous weeks" in page
    shown = to_local(DEFAULT_START + timedelta(days=60)).date()
    day = client.get(f"/planning/plans/{plan.id}?from={shown.isoformat()}").get_data(as_text=True)
    assert f"n° {late.id} Fin" in day.split('id="timelines"')[1]
    for junk in ("yesterday", "0001-01-01", "9999-12-31", "2030-02-30"):
        assert client.get(f"/planning/plans/{plan.id}?from={junk}").status_code == 200


def test_staleness_follows_every_change_of_the_planning_data(
    db_session,
    app,
    manager,
    ask,
    fleet,
):
    ask(day=0)
    plan = propose(app, db_session, manager)
    with app.test_request_context():
        assert planning.current_fingerprint(db_session) == plan.data_fingerprint
        assert not planning.review_plan(db_session, plan.id, by=manager).is_stale

        # A window added without touching its unit: the feed generation does not move.
        db_session.add(
            Unavailability(
                unit_id=fleet.units[0].id,
                start_dt=DEFAULT_START + timedelta(days=20),
                end_dt=DEFAULT_START + timedelta(days=21),
            )
        )
        db_session.commit()
        db_session.expire_all()
        changed = planning.current_fingerprint(db_session)
        assert changed == data_fingerprint(db_session, horizon=None) != plan.data_fingerprint
        assert planning.review_plan(db_session, plan.id, by=manager).is_stale

        loan = ask(day=3)
        assert planning.current_fingerprint(db_session) == data_fingerprint(
            db_session, horizon=None
        )
        loan.priority = 1
        db_session.commit()
        assert planning.current_fingerprint(db_session) == data_fingerprint(
            db_session, horizon=None
        )
        served = db_session.scalars(select(Assignment).where(Assignment.plan_id == plan.id))
        assert all(a.is_served for a in served)


def _opening_tag(page: str, section: str) -> str:
    return (
        page.split(f'id="{section}"')[0].rsplit("<", 1)[1]
        + page.split(f'id="{section}"')[1].split(">")[0]
    )


def test_long_lists_open_folded_unless_a_page_of_them_is_asked_for(
    client, auth, manager, five_loans, monkeypatch
):
    plan, _loans = five_loans
    auth.login(manager)
    short = client.get(f"/planning/plans/{plan.id}").get_data(as_text=True)
    # Five loans are a short list: shown open.
    assert _opening_tag(short, "loans").endswith(" open")
    monkeypatch.setattr(plan_review, "SHORT_LIST", 3)
    folded = client.get(f"/planning/plans/{plan.id}").get_data(as_text=True)
    for section in ("loans", "changes"):
        assert _opening_tag(folded, section).startswith("details")
        assert not _opening_tag(folded, section).endswith(" open")
    # The summary stays open: the comparison and the approval come first.
    assert folded.index("Against first come, first served") < folded.index('id="changes"')
    assert "Approve this plan" in folded.split('id="changes"')[0]
    paged = client.get(f"/planning/plans/{plan.id}?page=2").get_data(as_text=True)
    assert _opening_tag(paged, "loans").endswith(" open")
    assert not _opening_tag(paged, "changes").endswith(" open")
    changes = client.get(f"/planning/plans/{plan.id}?changes=all").get_data(as_text=True)
    assert _opening_tag(changes, "changes").endswith(" open")


def test_timelines_are_keyboard_reachable_regions(client, auth, manager, five_loans):
    plan, _loans = five_loans
    auth.login(manager)
    page = client.get(f"/planning/plans/{plan.id}").get_data(as_text=True)
    regions = re.findall(
        r'<div class="table-wrap" tabindex="0" role="region" aria-label="([^"]+)">'
        r'<div class="timeline">',
        page,
    )
    # Minibuses only: no pool is drawn from, so there is no pool timeline.
    assert regions == ["Timeline per unit"]
