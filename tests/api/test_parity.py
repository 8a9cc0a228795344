"""A request made through the API is the request the page would make: same stored values,
same validation messages, same audit trail, same notifications."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from booking.models import AuditEvent, LoanRequest, Notification, User
from tests.api.conftest import ApiClient, World, request_body
from tests.conftest import AuthActions


def _form(world: World, **changes: str) -> dict[str, str]:
    data = {
        "site_id": str(world.site.id),
        "title": "Fête de la musique",
        "start_dt": "2030-06-03T08:00",
        "end_dt": "2030-06-05T18:00",
        "flex_days_before": "0",
        "flex_days_after": "1",
        "lines-0-type_id": str(world.minibus.id),
        "lines-0-quantity": "1",
        "lines-1-type_id": str(world.chairs.id),
        "lines-1-quantity": "10",
        "priority": "2",
        "notes": "Parking behind the town hall.",
        "submit": "1",
    }
    return data | changes


def _values(loan: LoanRequest) -> dict[str, object]:
    return {
        "commune_id": loan.commune_id,
        "site_id": loan.site_id,
        "title": loan.title,
        "window": (loan.requested_start_dt, loan.requested_end_dt),
        "flex": (loan.earliest_start_dt, loan.latest_end_dt),
        "priority": loan.priority,
        "notes": loan.notes,
        "lines": sorted((line.type_id, line.quantity) for line in loan.lines),
        "status": loan.status,
        "submitted_by_id": loan.submitted_by_id,
    }


def _audit(session: Session, loan_id: int) -> list[tuple[str, int | None, dict | None]]:
    events = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.object_type == "loan_request", AuditEvent.object_id == loan_id)
        .order_by(AuditEvent.id)
    )
    return [(e.action, e.actor_id, e.after) for e in events]


def test_same_request_audit_and_notifications(
    client: FlaskClient,
    auth: AuthActions,
    technician: User,
    manager: User,
    tech_api: ApiClient,
    world: World,
    db_session: Session,
):
    auth.login(technician)
    page = client.post("/requests/new", data=_form(world))
    assert page.status_code == 302
    page_id = int(page.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    api_id = tech_api.post("/requests", json=request_body(world)).json["id"]
    by_page, by_api = db_session.get(LoanRequest, page_id), db_session.get(LoanRequest, api_id)
    assert _values(by_page) == _values(by_api)
    page_audit, api_audit = _audit(db_session, page_id), _audit(db_session, api_id)
    assert [(a, actor) for a, actor, _after in page_audit] == [("request.submit", technician.id)]
    assert [(a, actor) for a, actor, _after in api_audit] == [(a, b) for a, b, _ in page_audit]
    assert page_audit[0][2] == api_audit[0][2]

    client.post(f"/requests/{page_id}/cancel", data={"reason": "Rain"})
    tech_api.post(f"/requests/{api_id}/cancel", json={"reason": "Rain"})
    notes = db_session.scalars(
        select(Notification).where(Notification.user_id == manager.id).order_by(Notification.id)
    ).all()
    assert [(n.kind, n.payload["request_id"]) for n in notes] == [
        ("request.cancelled", page_id),
        ("request.cancelled", api_id),
    ]
    assert notes[0].text.replace(f" {page_id} ", " # ") == notes[1].text.replace(
        f" {api_id} ", " # "
    )
    assert [a for a, _actor, _after in _audit(db_session, api_id)] == [
        a for a, _actor, _after in _audit(db_session, page_id)
    ]


def test_same_validation_messages(
    client: FlaskClient, auth: AuthActions, technician: User, tech_api: ApiClient, world: World
):
    auth.login(technician)
    page = client.post(
        "/requests/new",
        data=_form(
            world,
            site_id=str(world.other_site.id),
            priority="4",
            **{"lines-0-quantity": "9"},
        ),
    )
    assert page.status_code == 400
    body = request_body(
        world,
        site_id=world.other_site.id,
        priority=4,
        lines=[
            {"type_id": world.minibus.id, "quantity": 9},
            {"type_id": world.chairs.id, "quantity": 10},
        ],
    )
    problem = tech_api.post("/requests", json=body).json
    messages = [error["message"] for error in problem["errors"]]
    assert len(messages) == 3
    for message in messages:
        assert message.replace("'", "&#39;") in page.text
