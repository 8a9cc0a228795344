"""Settings read from the environment, with embedded defaults for a single machine.

``DATABASE_URL``  SQLAlchemy URL; default SQLite file ``instance/booking.sqlite3``.
``SECRET_KEY``    session signing key; default a random key generated once into
                  ``instance/secret_key`` (never a constant in the code).
``MAIL_*``        outgoing e-mail (see ``mail_settings``); no e-mail without ``MAIL_SERVER``.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_INSTANCE = ROOT / "instance"
DB_FILENAME = "booking.sqlite3"


def default_database_url(instance_path: Path) -> str:
    """The embedded SQLite database under the instance folder."""
    return f"sqlite:///{instance_path / DB_FILENAME}"


def database_url(instance_path: Path | None = None) -> str:
    """``DATABASE_URL`` from the environment, else the embedded SQLite file."""
    url = os.environ.get("DATABASE_URL", "").strip()
    if url:
        # Heroku-style URLs name the driver-less scheme; SQLAlchemy 2 wants psycopg 3 explicitly.
        if url.startswith("postgres://"):
            url = "postgresql+psycopg://" + url.removeprefix("postgres://")
        elif url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
        return url
    return default_database_url(instance_path or DEFAULT_INSTANCE)


def secret_key(instance_path: Path) -> str:
    """``SECRET_KEY`` from the environment, else the key stored under the instance folder.

    The key is created on first use with owner-only permissions and reused afterwards so
    that sessions survive restarts.
    """
    key = os.environ.get("SECRET_KEY", "").strip()
    if key:
        return key
    path = instance_path / "secret_key"
    if path.exists():
        stored = path.read_text(encoding="ascii").strip()
        if stored:
            return stored
    instance_path.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key + "\n")
    return key


def _flag(name: str) -> bool:
    value = os.environ.get(name, "").strip().lower()
    if value in ("", "0", "false", "no", "off"):
        return False
    if value in ("1", "true", "yes", "on"):
        return True
    raise ValueError(f"{name} must be true or false, not {value!r}")


def _positive_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number <= 0:
        raise ValueError(f"{name} must be a positive whole number, not {value!r}")
    return number


def mail_settings() -> dict[str, Any]:
    """Outgoing e-mail, from the environment.

    ``MAIL_SERVER`` (SMTP host; unset means no e-mail), ``MAIL_PORT`` (default 465 with
    ``MAIL_USE_SSL``, 587 with ``MAIL_USE_TLS``, else 25), ``MAIL_USERNAME`` and
    ``MAIL_PASSWORD`` (log in when a username is set), ``MAIL_USE_TLS`` (STARTTLS),
    ``MAIL_USE_SSL`` (implicit TLS), ``MAIL_FROM`` (sender address),
    ``MAIL_MAX_ATTEMPTS`` (tries per message before it is marked failed, default 5),
    ``MAIL_TIMEOUT`` (seconds, default 30) and ``MAIL_DELIVERY`` (``thread``: send in the
    background after each change that queued mail; ``off``: only ``flask send-mail``).

    Raises:
        ValueError: a value cannot be read (the message names the variable).
    """
    use_ssl = _flag("MAIL_USE_SSL")
    use_tls = _flag("MAIL_USE_TLS")
    if use_ssl and use_tls:
        raise ValueError("set MAIL_USE_SSL or MAIL_USE_TLS, not both")
    default_port = 465 if use_ssl else 587 if use_tls else 25
    delivery = os.environ.get("MAIL_DELIVERY", "").strip().lower() or "thread"
    if delivery not in ("thread", "off"):
        raise ValueError(f"MAIL_DELIVERY must be 'thread' or 'off', not {delivery!r}")
    return {
        "MAIL_SERVER": os.environ.get("MAIL_SERVER", "").strip(),
        "MAIL_PORT": _positive_int("MAIL_PORT", default_port),
        "MAIL_USERNAME": os.environ.get("MAIL_USERNAME", "").strip(),
        "MAIL_PASSWORD": os.environ.get("MAIL_PASSWORD", ""),
        "MAIL_USE_TLS": use_tls,
        "MAIL_USE_SSL": use_ssl,
        "MAIL_FROM": os.environ.get("MAIL_FROM", "").strip() or "pret-commun@localhost",
        "MAIL_MAX_ATTEMPTS": _positive_int("MAIL_MAX_ATTEMPTS", 5),
        "MAIL_TIMEOUT": _positive_int("MAIL_TIMEOUT", 30),
        "MAIL_DELIVERY": delivery,
    }


def from_environment(instance_path: Path) -> dict[str, Any]:
    """The application settings for ``instance_path``."""
    return {
        **from_environment_without_files(),
        "DATABASE_URL": database_url(instance_path),
        "SECRET_KEY": secret_key(instance_path),
    }


def from_environment_without_files() -> dict[str, Any]:
    """The settings that need neither the database URL nor the secret key."""
    return {
        "BABEL_DEFAULT_LOCALE": "fr",
        "BABEL_DEFAULT_TIMEZONE": "Europe/Paris",
        "DISPLAY_TIMEZONE": "Europe/Paris",
        "LANGUAGES": ["fr", "en"],
        "LOGIN_MAX_FAILURES": 5,
        "LOGIN_WINDOW_MINUTES": 15,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "WTF_CSRF_TIME_LIMIT": None,
        # How far ahead a recurring request may run (days).
        "PLANNING_HORIZON_DAYS": _positive_int("PLANNING_HORIZON_DAYS", 365),
        # Time limit of the quick re-plan offering freed capacity to the waiting list (s).
        "WAITING_REPLAN_SECONDS": _positive_int("WAITING_REPLAN_SECONDS", 10),
        # Delivery rounds: how many days ahead they are kept up to date, and the
        # optimiser's time limit per day (s).
        "ROUNDS_DAYS": _positive_int("ROUNDS_DAYS", 7),
        "ROUNDS_SECONDS": _positive_int("ROUNDS_SECONDS", 2),
        **mail_settings(),
    }
