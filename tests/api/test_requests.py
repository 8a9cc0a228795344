"""Requests through the API: submit, list, read, replace, cancel, with the page's rules."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from booking.models import AuditEvent, LoanRequest, Notification, RequestStatus, User
from tests.api.conftest import ApiClient, World, request_body


def test_submit_returns_the_stored_request(tech_api: ApiClient, world: World, db_session: Session):
    response = tech_api.post("/requests", json=request_body(world))
    assert response.status_code == 201, response.json
    body = response.json
    assert response.headers["Location"] == f"/api/v1/requests/{body['id']}"
    assert body["status"] == "submitted"
    assert body["commune_id"] == world.site.commune_id
    assert body["requested_start_dt"] == "2030-06-03T06:00:00+00:00"
    assert body["latest_end_dt"] == "2030-06-06T16:00:00+00:00"
    assert sorted((li["type_code"], li["quantity"]) for li in body["lines"]) == [
        ("chairs", 10),
        ("minibus", 1),
    ]
    assert body["outcome"] is None
    loan = db_session.get(LoanRequest, body["id"])
    assert loan is not None and loan.title == "Fête de la musique"


def test_every_broken_rule_is_reported_at_once(tech_api: ApiClient, world: World):
    body = request_body(
        world,
        site_id=world.other_site.id,
        end_dt="2030-06-01T08:00:00+02:00",
        priority=4,
        lines=[{"type_id": world.minibus.id, "quantity": 9}],
    )
    response = tech_api.post("/requests", json=body)
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    problem = response.json
    assert problem["type"] == "urn:pret-commun:problem:validation"
    assert problem["status"] == 422
    fields = {error["field"] for error in problem["errors"]}
    assert {"site_id", "end_dt", "priority_reason", "lines"} <= fields
    messages = [error["message"] for error in problem["errors"]]
    assert "You ask for 9 Minibus but the whole fleet has 2." in messages


def test_missing_dates_are_reported_with_the_other_rules(tech_api: ApiClient, world: World):
    response = tech_api.post("/requests", json={"lines": []})
    assert response.status_code == 422
    fields = {error["field"] for error in response.json["errors"]}
    assert {"site_id", "start_dt", "end_dt", "lines"} <= fields


def test_shape_errors_are_listed_by_field(tech_api: ApiClient, world: World):
    body = request_body(world, start_dt="tomorrow", priority="high", unknown=1)
    response = tech_api.post("/requests", json=body)
    assert response.status_code == 422
    fields = {error["field"] for error in response.json["errors"]}
    assert {"start_dt", "priority", "unknown"} <= fields


def test_bad_json_is_a_problem_not_a_crash(tech_api: ApiClient, world: World):
    response = tech_api.post(
        "/requests", data="{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code in (400, 422)
    assert response.mimetype == "application/problem+json"


def test_list_pages_are_stable_and_filtered(
    tech_api: ApiClient, world: World, make_request: Callable[..., LoanRequest]
):
    commune = world.site.commune
    mine = [make_request(commune=commune, site=world.site) for _ in range(5)]
    make_request(commune=world.other_site.commune, site=world.other_site)
    first = tech_api.get("/requests?per_page=2&page=1").json
    second = tech_api.get("/requests?per_page=2&page=2").json
    third = tech_api.get("/requests?per_page=2&page=3").json
    ids = [r["id"] for page in (first, second, third) for r in page["items"]]
    assert ids == sorted(loan.id for loan in mine)  # same start: ties broken by id
    assert first["total"] == 5 and first["pages"] == 3
    assert tech_api.get("/requests?status=approved").json["total"] == 0
    assert tech_api.get("/requests?status=submitted&status=approved").json["total"] == 5


def test_list_answers_304_while_nothing_changed(
    tech_api: ApiClient, world: World, make_request: Callable[..., LoanRequest]
):
    make_request(commune=world.site.commune, site=world.site)
    first = tech_api.get("/requests")
    etag = first.headers["ETag"]
    again = tech_api.get("/requests", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.data == b""
    tech_api.post("/requests", json=request_body(world))
    changed = tech_api.get("/requests", headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag


def test_another_communes_request_is_missing(
    tech_api: ApiClient, world: World, make_request: Callable[..., LoanRequest]
):
    theirs = make_request(commune=world.other_site.commune, site=world.other_site)
    for method, path in (
        ("GET", f"/requests/{theirs.id}"),
        ("PUT", f"/requests/{theirs.id}"),
        ("POST", f"/requests/{theirs.id}/cancel"),
    ):
        response = tech_api.call(method, path, json=request_body(world) if method == "PUT" else {})
        assert response.status_code == 404, (method, path)
        assert response.json["type"] == "urn:pret-commun:problem:not-found"


def test_replace_with_a_stale_version_conflicts(tech_api: ApiClient, world: World):
    created = tech_api.post("/requests", json=request_body(world)).json
    path = f"/requests/{created['id']}"
    changed = tech_api.put(path, json=request_body(world, version=created["version"], priority=1))
    assert changed.status_code == 200
    assert changed.json["priority"] == 1
    assert changed.json["title"] == "Fête de la musique"
    stale = tech_api.put(path, json=request_body(world, version=created["version"]))
    assert stale.status_code == 409
    assert stale.json["type"] == "urn:pret-commun:problem:conflict"


def test_cancel_tells_the_managers_and_cannot_repeat(
    tech_api: ApiClient, world: World, manager: User, db_session: Session
):
    created = tech_api.post("/requests", json=request_body(world)).json
    response = tech_api.post(f"/requests/{created['id']}/cancel", json={"reason": "Rain"})
    assert response.status_code == 200
    assert response.json["status"] == "cancelled"
    notes = db_session.scalars(select(Notification).where(Notification.user_id == manager.id))
    assert [n.kind for n in notes] == ["request.cancelled"]
    actions = db_session.scalars(
        select(AuditEvent.action).where(AuditEvent.object_id == created["id"])
    ).all()
    assert set(actions) >= {"request.submit", "request.cancel"}
    again = tech_api.post(f"/requests/{created['id']}/cancel", json={})
    assert again.status_code == 409
    assert db_session.get(LoanRequest, created["id"]).status is RequestStatus.CANCELLED
