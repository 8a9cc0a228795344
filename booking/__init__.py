"""Prêt Commun: the Flask application."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask

from booking import config as settings
from booking.db import Database

ROOT = settings.ROOT


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the application: settings, extensions, blueprints, commands.

    Args:
        test_config: settings that override the environment (tests, scripts).
    """
    app = Flask(
        __name__,
        instance_path=str(settings.DEFAULT_INSTANCE),
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    instance = Path(app.instance_path)
    overrides = dict(test_config or {})
    if "DATABASE_URL" not in overrides or "SECRET_KEY" not in overrides:
        # Only touch the instance folder (secret key file) when something is missing.
        base = settings.from_environment(instance)
    else:
        base = settings.from_environment_without_files()
    app.config.from_mapping(base)
    # Any Flask or application setting, e.g. FLASK_JOB_LEASE_SECONDS=60 (values read as JSON).
    app.config.from_prefixed_env()
    app.config.from_mapping(overrides)
    app.config.setdefault(
        "LOGIN_WINDOW", timedelta(minutes=int(app.config["LOGIN_WINDOW_MINUTES"]))
    )

    Database(app.config["DATABASE_URL"]).init_app(app)

    from booking import (
        api,
        cli,
        errors_web,
        headers,
        i18n,
        observability,
        routing,
        security,
        static_files,
        templating,
    )
    from booking.services import jobs, planning
    from booking.views import register_blueprints

    routing.init_app(app)
    observability.init_app(app)
    headers.init_app(app)
    i18n.init_app(app)
    security.init_app(app)
    errors_web.init_app(app)
    templating.init_app(app)
    static_files.init_app(app)
    register_blueprints(app)
    api.init_app(app)
    cli.init_app(app)

    jobs.init_app(app, run_job=planning.run_solver_job)
    _trust_proxies(app)
    return app


def _trust_proxies(app: Flask) -> None:
    """Read the client address, scheme, host and prefix from ``X-Forwarded-*`` headers,
    trusting as many proxies for each as ``PROXY_FIX_X_*`` says (none by default)."""
    counts = {
        name: int(app.config.get(f"PROXY_FIX_X_{name.upper()}") or 0)
        for name in ("for", "proto", "host", "prefix")
    }
    if any(counts.values()):
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app,
            x_for=counts["for"],
            x_proto=counts["proto"],
            x_host=counts["host"],
            x_prefix=counts["prefix"],
        )
