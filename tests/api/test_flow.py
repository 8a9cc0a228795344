"""Inventory reads, planning, hand-overs, notifications and feeds through the API."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from openapi_spec_validator import validate
from sqlalchemy.orm import Session

from booking.models import LoanRequest, RequestStatus, Unavailability
from tests.api.conftest import ApiClient, World, request_body


def test_inventory_as_seen_by_each_role(tech_api: ApiClient, manager_api: ApiClient, world: World):
    assert [c["slug"] for c in tech_api.get("/communes").json["items"]] == ["melun"]
    assert len(manager_api.get("/communes").json["items"]) == 2
    assert [s["id"] for s in tech_api.get("/sites").json["items"]] == [world.site.id]
    staff_sites = {s["id"] for s in manager_api.get("/sites").json["items"]}
    assert {world.depot.id, world.site.id, world.other_site.id} <= staff_sites
    codes = [t["code"] for t in tech_api.get("/equipment-types").json["items"]]
    assert codes == ["chairs", "minibus"]
    assert tech_api.get("/units").status_code == 403
    assert [u["code"] for u in manager_api.get("/units").json["items"]] == ["MB-1", "MB-2"]
    assert manager_api.get("/pools").json["items"][0]["quantity"] == 20


def test_unavailabilities_of_a_unit(manager_api: ApiClient, world: World, db_session: Session):
    unit = world.units[0]
    unit.unavailabilities.append(
        Unavailability(
            start_dt=datetime(2030, 6, 1, tzinfo=UTC),
            end_dt=datetime(2030, 6, 10, tzinfo=UTC),
            reason="Contrôle technique",
        )
    )
    db_session.commit()
    items = manager_api.get(f"/units/{unit.id}/unavailabilities").json["items"]
    assert [(w["start_dt"], w["reason"]) for w in items] == [
        ("2030-06-01T00:00:00+00:00", "Contrôle technique")
    ]
    assert manager_api.get("/units/999999/unavailabilities").status_code == 404


def test_availability_for_a_quantity_at_a_site(tech_api: ApiClient, world: World):
    query = {
        "start": "2030-06-03T08:00:00+02:00",
        "end": "2030-06-05T18:00:00+02:00",
        "type_id": [world.minibus.id],
        "quantity": 3,
        "site_id": world.site.id,
    }
    rows = tech_api.get("/availability", query_string=query).json["items"]
    assert [(r["code"], r["free"], r["is_enough"]) for r in rows] == [("minibus", 2, False)]
    other = tech_api.get("/availability", query_string=query | {"site_id": world.other_site.id})
    assert other.status_code == 404
    backwards = tech_api.get("/availability", query_string=query | {"end": "2030-06-01T00:00"})
    assert backwards.status_code == 422


def test_plan_approve_hand_over_and_notify(
    tech_api: ApiClient, manager_api: ApiClient, world: World, db_session: Session
):
    loan_id = tech_api.post("/requests", json=request_body(world)).json["id"]
    assert tech_api.post("/plans/runs", json={}).status_code == 403
    run = manager_api.post("/plans/runs", json={"time_limit_seconds": 5})
    assert run.status_code == 202
    job = manager_api.get(run.headers["Location"]).json
    assert job["status"] == "succeeded", job
    plan = manager_api.get(f"/plans/{job['plan_id']}").json
    assert plan["status"] == "proposed" and not plan["is_stale"]
    assert plan["diff"]["new"] == [loan_id]
    assert {row["key"] for row in plan["comparison"]} >= {"served", "km"}
    assert plan["baseline_metrics"]["served"] == 1
    assert [a["request_id"] for a in plan["served"]["items"]] == [loan_id]
    approved = manager_api.post(f"/plans/{job['plan_id']}/approve")
    assert approved.status_code == 200 and approved.json["status"] == "approved"
    again = manager_api.post(f"/plans/{job['plan_id']}/approve")
    assert again.status_code == 409

    detail = tech_api.get(f"/requests/{loan_id}").json
    assert detail["status"] == "approved"
    assert detail["outcome"]["is_served"] and len(detail["outcome"]["units"]) == 1

    notes = tech_api.get("/notifications").json
    assert notes["unread"] >= 1
    first = notes["items"][0]
    assert tech_api.post(f"/notifications/{first['id']}/read").json["read_at"] is not None
    assert manager_api.post(f"/notifications/{first['id']}/read").status_code == 404
    assert tech_api.post("/notifications/read-all").json["marked"] == notes["unread"] - 1

    loan = tech_api.get(f"/requests/{loan_id}/handover").json
    keys = [item["key"] for item in loan["items"]]
    assert len(keys) == 2
    missing_taker = tech_api.post(f"/requests/{loan_id}/check-out", json={"taken_by": ""})
    assert missing_taker.status_code == 422
    out = tech_api.post(
        f"/requests/{loan_id}/check-out",
        json={"taken_by": "Jean Dupont"},
    )
    assert out.status_code == 201, out.json
    assert db_session.get(LoanRequest, loan_id).status is RequestStatus.HANDED_OVER
    back = tech_api.post(
        f"/requests/{loan_id}/check-in",
        json={"items": [{"key": keys[-1], "condition": "worn"}]},
    )
    assert back.status_code == 201, back.json
    assert {row["condition"] for row in back.json["handovers"]} == {"good", "worn"}
    assert db_session.get(LoanRequest, loan_id).status is RequestStatus.RETURNED


def test_feeds_create_list_revoke(tech_api: ApiClient, world: World, commune):
    made = tech_api.post("/feeds", json={"kind": "commune", "target_id": commune.id, "name": "Ma"})
    assert made.status_code == 201
    assert "/feeds/" in made.json["url"] and made.json["url"].endswith(".ics")
    feed_id = made.json["feed"]["id"]
    assert [f["id"] for f in tech_api.get("/feeds").json["items"]] == [feed_id]
    assert tech_api.post("/feeds", json={"kind": "manager", "name": "x"}).status_code == 403
    assert tech_api.delete(f"/feeds/{feed_id}").status_code == 204
    assert tech_api.get("/feeds").json["items"] == []
    assert tech_api.delete(f"/feeds/{feed_id}").status_code == 404


def test_the_document_is_valid_openapi_31(client):
    document = client.get("/api/v1/openapi.json").json
    assert document["openapi"] == "3.1.0"
    validate(document)
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


def test_the_documentation_page_uses_local_assets(client):
    page = client.get("/api/v1/docs")
    assert page.status_code == 200
    assert "http://" not in page.text and "https://" not in page.text
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        assert client.get(f"/static/vendor/swagger-ui/{asset}").status_code == 200


def test_unknown_addresses_and_methods_are_problems(tech_api: ApiClient):
    missing = tech_api.get("/nothing-here")
    assert missing.status_code == 404 and missing.mimetype == "application/problem+json"
    wrong = tech_api.call("PATCH", "/communes")
    assert wrong.status_code == 405 and wrong.mimetype == "application/problem+json"


def test_ids_beyond_the_database_range_are_404(tech_api: ApiClient, make_request: Callable):
    assert tech_api.get(f"/requests/{2**40}").status_code == 404
