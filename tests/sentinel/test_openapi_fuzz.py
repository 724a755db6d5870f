"""Schemathesis generates requests from the OpenAPI document of a live Sentinel
(uvicorn, real Redis, real model): no request may produce a server error.

Schemathesis' pytest integration (`from_fixture`) does not run under pytest 9, so
each operation's strategy is driven by Hypothesis directly and every operation's
first failure is reported together.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from tests.sentinel.support import (
    HEADERS,
    RegisteredModel,
    live_server,
    sentinel_settings,
    with_db,
)
from tests.support import RedisServer

pytestmark = pytest.mark.integration
EXAMPLES_PER_OPERATION = 40


@pytest.fixture(scope="module")
def sentinel_url(
    redis_server: RedisServer, registered_model: RegisteredModel
) -> Iterator[str]:
    config = sentinel_settings(with_db(redis_server.url), registered_model)
    with live_server(config) as url:
        yield url


def fuzz(operation: Any, base_url: str) -> None:
    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def no_server_error(case: Any) -> None:
        case.call_and_validate(
            base_url=base_url, headers=HEADERS, checks=[not_a_server_error]
        )

    no_server_error()


def test_no_generated_request_causes_a_server_error(sentinel_url: str) -> None:
    schema = schemathesis.openapi.from_url(f"{sentinel_url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 16
    failures = []
    for operation in operations:
        try:
            fuzz(operation, sentinel_url)
        except Exception as error:  # collect every operation's failure
            failures.append(f"{operation.method.upper()} {operation.path}: {error}")
    assert not failures, "\n\n".join(failures)
