"""Settings read from the environment, with embedded defaults for a single machine.

``DATABASE_URL``  SQLAlchemy URL; default SQLite file ``instance/booking.sqlite3``.
``SECRET_KEY``    session signing key; default a random key generated once into
                  ``instance/secret_key`` (never a constant in the code).
``MAIL_*``        outgoing e-mail (see ``mail_settings``); no e-mail without ``MAIL_SERVER``.
Deployment       ``PUBLIC_BASE_URL``, ``TRUSTED_HOSTS``, ``PROXY_FIX_*``, cookies, upload size,
                 CSRF lifetime, jobs (see ``deployment_settings``).
``FLASK_*``      any other Flask or application setting, read by ``create_app`` with
                 ``app.config.from_prefixed_env()`` (``FLASK_JOB_LEASE_SECONDS=120``).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

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
    instance_path = instance_path or DEFAULT_INSTANCE
    # SQLite creates the file but not its folder: `flask init-db` on a fresh checkout.
    instance_path.mkdir(parents=True, exist_ok=True)
    return default_database_url(instance_path)


def secret_key(instance_path: Path) -> str:
    """``SECRET_KEY`` from the environment, else the key stored under the instance folder.

    The key is created on first use with owner-only permissions and reused afterwards so
    that sessions survive restarts.
    """
    key = os.environ.get("SECRET_KEY", "").strip()
    if key:
        return key
    path = instance_path / "secret_key"
    stored = _read_key(path)
    if stored:
        return stored
    instance_path.mkdir(parents=True, exist_ok=True)
    # Written whole under a temporary name, then linked into place: a process starting
    # at the same moment (another gunicorn worker) reads either no file or the whole
    # key, and the first link wins, so every process ends up with the same key.
    temporary = instance_path / f".secret_key.{os.getpid()}.{secrets.token_hex(4)}"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(secrets.token_hex(32) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    try:
        if path.exists() and not _read_key(path):
            os.replace(temporary, path)  # an empty file left by an older version
        else:
            os.link(temporary, path)
    except FileExistsError:
        pass
    finally:
        temporary.unlink(missing_ok=True)
    key = _read_key(path)
    if not key:
        raise RuntimeError(f"could not create the secret key file {path}")
    return key


def _read_key(path: Path) -> str:
    try:
        return path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return ""


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


def _number(name: str, default: float | None) -> float | None:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        number = float(value)
    except ValueError:
        number = -1
    if number < 0:
        raise ValueError(f"{name} must be a number of 0 or more, not {value!r}")
    return number


def _words(name: str) -> list[str] | None:
    value = os.environ.get(name, "").strip()
    return [word.strip() for word in value.split(",") if word.strip()] or None


def public_base_url() -> str:
    """``PUBLIC_BASE_URL``: where users reach the site, e.g. ``https://pret.agglo.example``.

    Raises:
        ValueError: not an http(s) URL without query or fragment.
    """
    value = os.environ.get("PUBLIC_BASE_URL", "").strip() or DEFAULT_PUBLIC_BASE_URL
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query:
        raise ValueError(f"PUBLIC_BASE_URL must be like https://host[/prefix], not {value!r}")
    return value.rstrip("/")


DEFAULT_PUBLIC_BASE_URL = "http://localhost:5000"
# Uploads (CSV imports) larger than this are refused with 413 (bytes).
DEFAULT_MAX_CONTENT_LENGTH = 10 * 1024 * 1024


def deployment_settings() -> dict[str, Any]:
    """How the application sits on the network, from the environment.

    ``PUBLIC_BASE_URL`` (the only source of absolute URLs in e-mails, feeds and links),
    ``TRUSTED_HOSTS`` (comma-separated host names the site answers to; others get 400),
    ``PROXY_FIX_X_FOR`` / ``_X_PROTO`` / ``_X_HOST`` / ``_X_PREFIX`` (how many proxies
    set each ``X-Forwarded-*`` header; 0 = not trusted), ``SESSION_COOKIE_SECURE`` (default
    on when the public URL is https), ``MAX_CONTENT_LENGTH`` (bytes),
    ``CSRF_TIME_LIMIT_SECONDS`` (form lifetime; unset = as long as the session),
    ``JOB_LEASE_SECONDS``, ``JOB_HEARTBEAT_SECONDS``, ``JOB_QUEUE_TIMEOUT_SECONDS``,
    ``LOG_LEVEL``.

    Raises:
        ValueError: a value cannot be read (the message names the variable).
    """
    base = public_base_url()
    secure_default = base.startswith("https://")
    secure = _flag("SESSION_COOKIE_SECURE") if os.environ.get("SESSION_COOKIE_SECURE") else None
    csrf = _number("CSRF_TIME_LIMIT_SECONDS", None)
    return {
        "PUBLIC_BASE_URL": base,
        "TRUSTED_HOSTS": _words("TRUSTED_HOSTS"),
        "PROXY_FIX_X_FOR": int(_number("PROXY_FIX_X_FOR", 0) or 0),
        "PROXY_FIX_X_PROTO": int(_number("PROXY_FIX_X_PROTO", 0) or 0),
        "PROXY_FIX_X_HOST": int(_number("PROXY_FIX_X_HOST", 0) or 0),
        "PROXY_FIX_X_PREFIX": int(_number("PROXY_FIX_X_PREFIX", 0) or 0),
        "SESSION_COOKIE_SECURE": secure_default if secure is None else secure,
        "REMEMBER_COOKIE_SECURE": secure_default if secure is None else secure,
        "MAX_CONTENT_LENGTH": int(
            _number("MAX_CONTENT_LENGTH", DEFAULT_MAX_CONTENT_LENGTH) or DEFAULT_MAX_CONTENT_LENGTH
        ),
        "WTF_CSRF_TIME_LIMIT": int(csrf) if csrf else None,
        "JOB_LEASE_SECONDS": _number("JOB_LEASE_SECONDS", 60.0),
        "JOB_HEARTBEAT_SECONDS": _number("JOB_HEARTBEAT_SECONDS", 10.0),
        "JOB_QUEUE_TIMEOUT_SECONDS": _number("JOB_QUEUE_TIMEOUT_SECONDS", 3600.0),
        "LOG_LEVEL": os.environ.get("LOG_LEVEL", "").strip().upper() or "INFO",
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
        "LOGIN_MAX_FAILURES_PER_ADDRESS": 20,
        "LOGIN_MAX_FAILURES_PER_ACCOUNT": 100,
        "LOGIN_WINDOW_MINUTES": 15,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        # How far ahead a recurring request may run (days).
        "PLANNING_HORIZON_DAYS": _positive_int("PLANNING_HORIZON_DAYS", 365),
        # Time limit of the quick re-plan offering freed capacity to the waiting list (s).
        "WAITING_REPLAN_SECONDS": _positive_int("WAITING_REPLAN_SECONDS", 10),
        # Delivery rounds: how many days ahead they are kept up to date, and the
        # optimiser's time limit per day (s).
        "ROUNDS_DAYS": _positive_int("ROUNDS_DAYS", 7),
        "ROUNDS_SECONDS": _positive_int("ROUNDS_SECONDS", 2),
        **mail_settings(),
        **deployment_settings(),
    }
