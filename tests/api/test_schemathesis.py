"""Schemathesis against the live OpenAPI document: every operation, as a technician and as
a manager, must never answer 5xx and must answer what the document describes."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from booking.models import User
from tests.api.conftest import ApiClient, World

# Small: every operation is tried, each with a handful of generated inputs.
MAX_EXAMPLES = 8
CHECKS = [not_a_server_error, response_schema_conformance]


@pytest.mark.parametrize("role", ["technician", "manager"])
def test_every_operation_conforms(
    app: Flask,
    role: str,
    technician: User,
    manager: User,
    world: World,
    api_as: Callable[..., ApiClient],
) -> None:
    user = technician if role == "technician" else manager
    token = api_as(user).token
    app.config["API_RATE_LIMIT"] = 1_000_000
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    headers = {"Authorization": f"Bearer {token}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20
    failures: list[str] = []
    for operation in operations:
        strategy = operation.as_strategy()

        @given(case=strategy)
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: schemathesis.Case) -> None:
            response = case.call(headers=headers)
            case.validate_response(response, checks=CHECKS, headers=headers)

        try:
            run()
        except Exception as error:  # collect every operation's failure, then report
            failures.append(f"{operation.label}: {error}")
    assert not failures, "\n\n".join(failures)
