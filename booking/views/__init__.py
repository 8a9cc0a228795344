"""Blueprints, one per area of the product; the factory registers them all."""

from __future__ import annotations

from flask import Flask

from booking.views import (
    admin,
    api_tokens,
    audit,
    auth,
    equipment,
    feeds,
    handovers,
    health,
    inventory,
    labels,
    main,
    notifications,
    planning,
    reports,
    requests,
    rounds,
)

BLUEPRINTS = (
    admin.bp,
    api_tokens.bp,
    audit.bp,
    auth.bp,
    equipment.bp,
    feeds.bp,
    handovers.bp,
    health.bp,
    inventory.bp,
    labels.bp,
    main.bp,
    notifications.bp,
    planning.bp,
    reports.bp,
    requests.bp,
    rounds.bp,
)


def register_blueprints(app: Flask) -> None:
    """Register every blueprint of the application."""
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
