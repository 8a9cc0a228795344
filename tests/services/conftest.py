"""Fixtures of the service tests that commit for real (see ``test_planning_concurrency``)."""

from tests.services.test_planning_concurrency import (
    real_db,  # noqa: F401  (a fixture)
    world,  # noqa: F401  (a fixture)
)
