"""Who the API lets in: bearer tokens only, read-only tokens, revocation, rate limits,
the tokens page and the ``create-api-token`` command."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from booking.models import ApiRateWindow, ApiToken, User
from booking.services import api_tokens
from booking.services.feeds import hash_token
from tests.api.conftest import ApiClient, World, request_body
from tests.conftest import AuthActions


def test_no_token_is_401_with_a_challenge(api_as: Callable[..., ApiClient]):
    response = api_as(None).get("/requests")
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.json["type"] == "urn:pret-commun:problem:unauthorized"


def test_a_page_session_does_not_authorise_the_api(
    client: FlaskClient, auth: AuthActions, technician: User
):
    assert auth.login(technician).status_code == 302
    assert client.get("/requests/").status_code == 200
    assert client.get("/api/v1/requests").status_code == 401


def test_unknown_revoked_and_disabled_tokens_are_401(
    api_as: Callable[..., ApiClient], technician: User, db_session: Session
):
    assert ApiClient(api_as(None).client, "pc_nope").get("/communes").status_code == 401
    api = api_as(technician)
    assert api.get("/communes").status_code == 200
    token = db_session.scalars(select(ApiToken).where(ApiToken.user_id == technician.id)).one()
    api_tokens.revoke_token(db_session, token.id, by=technician)
    assert api.get("/communes").status_code == 401
    other = api_as(technician)
    technician.is_active_account = False
    db_session.commit()
    assert other.get("/communes").status_code == 401


def test_tokens_are_stored_hashed(make_token: Callable[..., str], technician: User, db_session):
    secret = make_token(technician)
    assert re.fullmatch(r"pc_[A-Za-z0-9_-]{43}", secret)
    stored = db_session.scalars(select(ApiToken)).one()
    assert stored.token_hash == hash_token(secret) != secret
    assert stored.prefix == secret[:8]


def test_read_only_tokens_may_read_but_not_write(
    api_as: Callable[..., ApiClient], technician: User, world: World
):
    api = api_as(technician, read_only=True)
    assert api.get("/requests").status_code == 200
    response = api.post("/requests", json=request_body(world))
    assert response.status_code == 403
    assert response.json["type"] == "urn:pret-commun:problem:forbidden"


def test_the_api_is_exempt_from_csrf(tech_api: ApiClient, world: World, csrf_enabled: None):
    assert tech_api.post("/requests", json=request_body(world)).status_code == 201


def test_rate_limit_is_per_token_and_stored(
    app: Flask, api_as: Callable[..., ApiClient], technician: User, db_session: Session
):
    app.config["API_RATE_LIMIT"] = 3
    app.config["API_RATE_WINDOW_SECONDS"] = 3600
    api, other = api_as(technician), api_as(technician)
    statuses = [api.get("/communes").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    refused = api.get("/communes")
    assert refused.json["type"] == "urn:pret-commun:problem:too-many-requests"
    assert 0 < int(refused.headers["Retry-After"]) <= 3600
    assert other.get("/communes").status_code == 200
    counts = sorted(w.count for w in db_session.scalars(select(ApiRateWindow)))
    assert counts == [1, 5]


def test_tokens_page_makes_lists_and_revokes(
    client: FlaskClient, auth: AuthActions, technician: User, db_session: Session
):
    auth.login(technician)
    made = client.post("/api-tokens/", data={"name": "Intranet", "read_only": "y"})
    assert made.status_code == 201
    secret = re.search(r'value="(pc_[^"]+)"', made.text).group(1)
    token = db_session.scalars(select(ApiToken)).one()
    assert token.is_read_only and token.name == "Intranet"
    listed = client.get("/api-tokens/")
    assert "Intranet" in listed.text and secret not in listed.text
    api = ApiClient(client, secret)
    assert api.get("/communes").status_code == 200
    assert client.post(f"/api-tokens/{token.id}/revoke").status_code == 302
    assert api.get("/communes").status_code == 401
    assert client.post("/api-tokens/", data={"name": ""}).status_code == 400


def test_tokens_page_needs_the_csrf_token(
    client: FlaskClient, auth: AuthActions, technician: User, csrf_enabled: None
):
    client.get("/login")
    response = client.post("/api-tokens/", data={"name": "x"})
    assert response.status_code in (302, 400)
    assert "pc_" not in response.text


def test_tokens_page_and_problems_in_french(
    app: Flask,
    compiled_translations: Path,
    client: FlaskClient,
    auth: AuthActions,
    technician: User,
    api_as: Callable[..., ApiClient],
):
    app.config["BABEL_DEFAULT_LOCALE"] = "fr"
    app.extensions["babel"].translation_directories = [str(compiled_translations)]
    auth.login(technician)
    assert "Jetons d’API" in client.get("/api-tokens/").text
    problem = api_as(technician, read_only=True).post("/feeds", json={}).json
    assert problem["detail"] == "Ce jeton d’API est en lecture seule."


def test_create_api_token_command(runner: FlaskCliRunner, client: FlaskClient, manager: User):
    result = runner.invoke(
        args=["create-api-token", "--email", manager.email, "--name", "GIS", "--read-only"]
    )
    assert result.exit_code == 0, result.output
    secret = result.output.strip().splitlines()[-1]
    api = ApiClient(client, secret)
    assert api.get("/units").status_code == 200
    assert api.post("/plans/runs", json={}).status_code == 403
    missing = runner.invoke(args=["create-api-token", "--email", "no@x.fr", "--name", "x"])
    assert missing.exit_code == 1
