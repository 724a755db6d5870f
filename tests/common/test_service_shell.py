"""What every service shares: key on /v1, open health and metrics, error shape."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.scout.main import create_app as create_scout
from api.scout.settings import ScoutSettings
from api.sentinel.main import create_app as create_sentinel
from api.sentinel.settings import SentinelSettings
from tests.support import RedisServer, free_port

pytestmark = pytest.mark.integration
KEY = "test-api-key"


def sentinel_settings(redis_url: str) -> SentinelSettings:
    return SentinelSettings(
        redis_url=redis_url,
        mlflow_tracking_uri="http://127.0.0.1:1",
        sentinel_api_key=SecretStr(KEY),
    )


@pytest.fixture
def scout(tmp_path: Path) -> Iterator[TestClient]:
    settings = ScoutSettings(
        qdrant_path=str(tmp_path / "qdrant"),
        mlflow_tracking_uri="http://127.0.0.1:1",
        scout_api_key=SecretStr(KEY),
    )
    with TestClient(create_scout(settings)) as client:
        yield client


def test_v1_routes_refuse_a_missing_or_wrong_key(scout: TestClient) -> None:
    missing = scout.get("/v1/whoami")
    wrong = scout.get("/v1/whoami", headers={"X-API-Key": "nope"})
    right = scout.get("/v1/whoami", headers={"X-API-Key": KEY})

    assert missing.status_code == 401
    assert missing.json() == {
        "error": "unauthorized",
        "detail": "missing X-API-Key header",
    }
    assert wrong.status_code == 401
    assert right.status_code == 200


def test_health_and_metrics_need_no_key(scout: TestClient) -> None:
    scout.get("/healthz")

    metrics = scout.get("/metrics")

    assert metrics.status_code == 200
    assert (
        'http_requests_total{method="GET",route="/healthz",service="scout",status="200"}'
        in metrics.text
    )


def test_unknown_route_keeps_the_error_shape(scout: TestClient) -> None:
    response = scout.get("/v1/nothing-here", headers={"X-API-Key": KEY})

    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_sentinel_ready_with_a_real_redis(redis_server: RedisServer) -> None:
    with TestClient(create_sentinel(sentinel_settings(redis_server.url))) as client:
        body = client.get("/readyz").json()

    assert body["checks"]["redis"]["ok"] is True


def test_sentinel_not_ready_names_redis_when_it_is_down() -> None:
    unused = f"redis://:pw@127.0.0.1:{free_port()}/0"

    with TestClient(create_sentinel(sentinel_settings(unused))) as client:
        response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["checks"]["redis"]["ok"] is False
    assert "redis unreachable" in response.json()["checks"]["redis"]["detail"]
