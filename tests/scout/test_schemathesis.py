"""Property-based requests generated from the OpenAPI document: no server error."""

from __future__ import annotations

import shutil

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from api.scout.main import create_app
from tests.scout.conftest import HEADERS, TrainedScout, scout_settings
from tests.support import wait_until

pytestmark = pytest.mark.integration
# The drift routes mounted on Scout belong to the drift monitoring work and are
# fuzzed by its own tests; this run covers the recommendation API.
DRIFT_PREFIX = "/v1/drift"


def _load_schemathesis_now() -> None:
    """Import schemathesis' lazily loaded modules while the stack is shallow.

    pytest rewrites the asserts of plugin packages as they are imported; a module
    first imported deep inside a running test made CPython 3.11's parser fail
    ("AST constructor recursion depth mismatch"). A throwaway app triggers them all.
    """
    app = FastAPI()

    @app.get("/ping")
    def ping(n: int = 0) -> dict[str, int]:
        return {"n": n}

    operation = next(
        iter(schemathesis.openapi.from_asgi("/openapi.json", app).get_all_operations())
    ).ok()  # type: ignore[union-attr]

    @given(case=operation.as_strategy())
    @settings(max_examples=1, database=None, deadline=None)
    def once(case: schemathesis.Case) -> None:
        case.call_and_validate(checks=[not_a_server_error])

    once()


_load_schemathesis_now()


@pytest.fixture(scope="module")
def scout_schema(
    trained_scout: TrainedScout, tmp_path_factory: pytest.TempPathFactory
) -> schemathesis.BaseSchema:
    """Its own app (schemathesis runs the lifespan) on a copy of the collection:
    the session's app holds the lock of the original folder."""
    copy = tmp_path_factory.mktemp("schemathesis") / "qdrant"
    shutil.copytree(
        trained_scout.qdrant_path, copy, ignore=shutil.ignore_patterns(".lock")
    )
    app = create_app(
        scout_settings(
            qdrant_path=str(copy), mlflow_tracking_uri=trained_scout.tracking_uri
        )
    )
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    wait_until(lambda: app.state.scout.recommender is not None, 60, "model loaded")
    return schema


def test_no_request_makes_a_server_error(
    scout_schema: schemathesis.BaseSchema,
) -> None:
    checked = []
    for result in scout_schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]
        if operation.path.startswith(DRIFT_PREFIX):
            continue

        @given(case=operation.as_strategy())
        @settings(
            max_examples=25,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def answers_without_server_error(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=HEADERS, checks=[not_a_server_error])

        answers_without_server_error()
        checked.append(operation.label)

    assert "POST /v1/recommendations/what-if" in checked
    assert len(checked) >= 10
