"""Blueprints, one per area of the product; the factory registers them all."""

from __future__ import annotations

from flask import Flask

from booking.views import (
    admin,
    api_tokens,
    audit,
    auth,
    feeds,
    handovers,
    health,
    inventory,
    main,
    notifications,
    planning,
    requests,
)

BLUEPRINTS = (
    admin.bp,
    api_tokens.bp,
    audit.bp,
    auth.bp,
    feeds.bp,
    handovers.bp,
    health.bp,
    inventory.bp,
    main.bp,
    notifications.bp,
    planning.bp,
    requests.bp,
)


def register_blueprints(app: Flask) -> None:
    """Register every blueprint of the application."""
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
