"""Friendly error pages and JSON bodies; never a stack trace."""

from __future__ import annotations

import pytest

from booking.errors import Conflict, ValidationError


@pytest.fixture
def failing_app(app):
    """The application with a few routes that fail in known ways, errors not propagated."""
    app.config["PROPAGATE_EXCEPTIONS"] = False

    @app.route("/boom")
    def boom() -> str:
        raise RuntimeError("secret internals")

    @app.route("/conflict")
    def conflict() -> str:
        raise Conflict("Someone else took it.")

    @app.route("/api/invalid")
    def invalid() -> str:
        raise ValidationError(errors=[("start", "Give a start."), ("end", "Give an end.")])

    return app


def test_not_found_page(client):
    response = client.get("/nothing-here")
    assert response.status_code == 404
    assert "Page not found" in response.text
    assert "Prêt Commun" in response.text


def test_server_error_page_hides_the_trace(failing_app, client, caplog):
    response = client.get("/boom")
    assert response.status_code == 500
    assert "Something went wrong" in response.text
    assert "secret internals" not in response.text
    assert "Traceback" not in response.text
    # The trace goes to the log instead.
    assert any("secret internals" in str(record.exc_info) for record in caplog.records)


def test_business_errors_become_pages(failing_app, client):
    response = client.get("/conflict")
    assert response.status_code == 409
    assert "Someone else took it." in response.text


def test_api_errors_are_json(failing_app, client):
    response = client.get("/api/invalid")
    assert response.status_code == 400
    assert response.json == {
        "error": "The request could not be understood",
        "message": "Give a start.",
        "errors": ["Give a start.", "Give an end."],
    }


def test_json_clients_get_json(client):
    response = client.get("/nothing-here", headers={"Accept": "application/json"})
    assert response.status_code == 404
    assert response.json["error"] == "Page not found"


def test_method_not_allowed_page(client):
    response = client.get("/logout")
    assert response.status_code == 405
    assert "does not accept this kind of request" in response.text


def test_a_nul_character_anywhere_is_a_bad_request_not_an_error(client, auth, manager):
    auth.login(manager)
    for url in ["/units/%00", "/requests/?q=a%00b", "/audit/?actor=%00"]:
        response = client.get(url)
        assert response.status_code == 400, url
        assert b"NUL" in response.data
    response = client.post("/login", data={"email": "a\x00@b.fr", "password": "x"})
    assert response.status_code == 400
