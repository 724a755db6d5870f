"""Scout without Qdrant (popularity, flagged) and without a model (503, said why)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.scout.main import create_app
from tests.scout.conftest import HEADERS, TrainedScout, scout_settings, wait_for_model
from tests.support import free_port, wait_until

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def without_qdrant(trained_scout: TrainedScout) -> Iterator[TestClient]:
    """The registered model, but QDRANT_URL points at a port nobody listens on."""
    settings = scout_settings(
        qdrant_url=f"http://127.0.0.1:{free_port()}",
        mlflow_tracking_uri=trained_scout.tracking_uri,
    )
    with TestClient(create_app(settings)) as client:
        wait_until(
            lambda: client.get("/readyz").json()["checks"]["model"]["ok"],
            60,
            "model loaded",
        )
        yield client


def test_recommendations_fall_back_to_popular_items_flagged_degraded(
    without_qdrant: TestClient,
) -> None:
    user = without_qdrant.get("/v1/users?limit=1", headers=HEADERS).json()["users"][0]

    body = without_qdrant.get(
        f"/v1/users/{user['user_id']}/recommendations?k=5&category=toys",
        headers=HEADERS,
    ).json()

    assert body["degraded"] is True and body["fallback"] is True
    assert "qdrant" in body["reason"]
    assert len(body["items"]) == 5
    assert all(item["category"] == "toys" for item in body["items"])
    popularity = [item["popularity"] for item in body["items"]]
    assert popularity == sorted(popularity, reverse=True)
    metrics = without_qdrant.get("/metrics").text
    assert "scout_degraded_answers_total 1.0" in metrics
    assert 'scout_recommendations_total{endpoint="user",fallback="true"} 1.0' in metrics


def test_what_if_is_degraded_too(without_qdrant: TestClient) -> None:
    response = without_qdrant.post(
        "/v1/recommendations/what-if", json={"liked": ["I00001"]}, headers=HEADERS
    )

    assert response.status_code == 200
    assert response.json()["recommendations"]["degraded"] is True


def test_readiness_says_qdrant_is_unreachable(without_qdrant: TestClient) -> None:
    response = without_qdrant.get("/readyz")

    assert response.status_code == 503
    check = response.json()["checks"]["qdrant"]
    assert check["ok"] is False and "qdrant unreachable" in check["detail"]
    assert response.json()["checks"]["model"]["ok"] is True


def test_search_and_similar_answer_503_naming_qdrant(
    without_qdrant: TestClient,
) -> None:
    for path in ("/v1/items/search?q=boots", "/v1/items/I00001/similar"):
        response = without_qdrant.get(path, headers=HEADERS)
        assert response.status_code == 503
        assert response.json()["error"] == "dependency_unavailable"
        assert "qdrant" in response.json()["detail"]


def test_without_a_model_v1_answers_503_and_readiness_says_why(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    settings = scout_settings(
        qdrant_path=str(tmp_path_factory.mktemp("empty-qdrant")),
        mlflow_tracking_uri=f"http://127.0.0.1:{free_port()}",
    )
    with TestClient(create_app(settings)) as client:
        wait_for_model(client)
        ready = client.get("/readyz")
        answer = client.get("/v1/users/U00001/recommendations", headers=HEADERS)

    assert ready.status_code == 503
    assert ready.json()["checks"]["model"]["detail"].startswith("model not loaded")
    assert "collection" in ready.json()["checks"]["qdrant"]["detail"]
    assert answer.status_code == 503
    assert "model not loaded" in answer.json()["detail"]
