"""Settings read from the environment, with embedded defaults for a single machine.

``DATABASE_URL``  SQLAlchemy URL; default SQLite file ``instance/booking.sqlite3``.
``SECRET_KEY``    session signing key; default a random key generated once into
                  ``instance/secret_key`` (never a constant in the code).
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
    }
