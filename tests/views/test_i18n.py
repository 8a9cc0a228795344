"""French by default, English on request; every interface string has its French text."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from flask import render_template_string

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "booking" / "translations"
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy_gettext": None}
METHODS = [("booking/**.py", "python"), ("templates/**.html", "jinja2")]


def _catalogue(locale: str):
    with open(TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po", "rb") as handle:
        return read_po(handle, locale=locale)


def _source_messages() -> set[str | tuple[str, ...]]:
    found: set[str | tuple[str, ...]] = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(ROOT), METHODS, keywords=KEYWORDS
    ):
        if isinstance(message, tuple):
            found.add(message[0])
        else:
            found.add(message)
    return found


def test_every_interface_string_has_a_french_translation():
    catalogue = _catalogue("fr")
    missing = []
    for message in sorted(_source_messages()):
        entry = catalogue.get(message)
        if entry is None or entry.fuzzy:
            missing.append(message)
            continue
        texts = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        if not all(texts):
            missing.append(message)
    assert not missing, (
        "Run `make messages` and translate in booking/translations/fr/LC_MESSAGES/messages.po: "
        + "; ".join(map(repr, missing))
    )


def test_french_translations_keep_their_placeholders():
    problems = [
        (message.id, [str(error) for error in errors])
        for message, errors in _catalogue("fr").check()
        if errors
    ]
    assert problems == []


@pytest.fixture
def french_app(app, compiled_translations):
    """The application with its production language settings."""
    app.config["BABEL_DEFAULT_LOCALE"] = "fr"
    app.extensions["babel"].translation_directories = [str(compiled_translations)]
    return app


def test_pages_are_french_by_default(french_app, client):
    page = client.get("/login").text
    assert '<html lang="fr">' in page
    assert "Se connecter" in page
    assert "Mot de passe" in page


def test_english_on_request(french_app, client):
    client.post("/language", data={"locale": "en"})
    page = client.get("/login").text
    assert '<html lang="en">' in page
    assert "Sign in" in page
    assert "Se connecter" not in page


def test_the_account_language_applies_after_sign_in(
    french_app, client, auth, technician, db_session
):
    technician.locale = "en"
    db_session.commit()
    auth.login(technician)
    assert "Sign out" in client.get("/").text


def test_service_errors_reach_the_user_in_french(french_app, client, auth, technician):
    response = auth.login(technician, "wrong password")
    assert "Adresse e-mail ou mot de passe incorrect" in response.text


def test_form_validation_messages_are_french(french_app, client):
    response = client.post("/login", data={"email": "", "password": ""})
    assert "Ce champ est requis." in response.text


@pytest.mark.parametrize(
    ("locale", "instant", "expected"),
    [
        # Summer time: UTC+2.
        ("fr", datetime(2030, 7, 14, 6, 0, tzinfo=UTC), "14 juil. 2030, 08:00:00"),
        # Winter time: UTC+1.
        ("fr", datetime(2030, 1, 15, 6, 0, tzinfo=UTC), "15 janv. 2030, 07:00:00"),
        ("en", datetime(2030, 7, 14, 6, 0, tzinfo=UTC), "Jul 14, 2030, 8:00:00\u202fAM"),
    ],
)
def test_times_are_shown_in_paris(french_app, locale, instant, expected):
    with french_app.test_request_context("/"):
        from flask import session

        session["locale"] = locale
        rendered = render_template_string("{{ when|localdt }}", when=instant)
    assert rendered == expected


def test_localdate_uses_the_paris_day(french_app):
    # 23:30 UTC on 14 July is already 15 July in Paris.
    with french_app.test_request_context("/"):
        rendered = render_template_string(
            "{{ when|localdate('short') }}", when=datetime(2030, 7, 14, 23, 30, tzinfo=UTC)
        )
    assert rendered == "15/07/2030"
