"""Whether the application can serve: the database answers."""

from __future__ import annotations

import logging

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

log = logging.getLogger(__name__)


def database_answers(engine: Engine) -> bool:
    """True when a fresh connection of ``engine`` runs ``SELECT 1``."""
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as error:
        log.warning("health check: the database does not answer: %s", error)
        return False
    return True
