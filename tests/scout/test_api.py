"""Every Scout endpoint against the trained collection and the registered model."""

from __future__ import annotations

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from tests.scout.conftest import HEADERS, TrainedScout

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def active_user(scout_client: TestClient) -> str:
    users = scout_client.get("/v1/users?limit=5", headers=HEADERS).json()["users"]
    return str(users[0]["user_id"])


def test_every_v1_route_needs_the_key(scout_client: TestClient) -> None:
    paths = [
        "/v1/users",
        "/v1/users/U00001",
        "/v1/users/U00001/recommendations",
        "/v1/items/I00001",
        "/v1/items/I00001/similar",
        "/v1/items/search?q=boots",
        "/v1/model",
    ]
    for path in paths:
        assert scout_client.get(path).status_code == 401, path
    response = scout_client.post("/v1/recommendations/what-if", json={})
    assert response.status_code == 401


def test_ready_names_qdrant_and_the_model(
    scout_client: TestClient, trained_scout: TrainedScout
) -> None:
    body = scout_client.get("/readyz").json()

    assert body["status"] == "ready"
    assert body["checks"]["qdrant"]["ok"] is True
    version = trained_scout.result.version
    assert body["checks"]["model"]["detail"].endswith(f"version {version}")


def test_recommendations_are_self_describing_and_exclude_seen(
    scout_client: TestClient, active_user: str
) -> None:
    history = scout_client.get(
        f"/v1/users/{active_user}?history_limit=1000", headers=HEADERS
    ).json()["history"]
    body = scout_client.get(
        f"/v1/users/{active_user}/recommendations?k=8", headers=HEADERS
    ).json()

    assert body["fallback"] is False and body["degraded"] is False
    assert len(body["items"]) == 8
    assert [item["rank"] for item in body["items"]] == list(range(1, 9))
    first = body["items"][0]
    assert {"title", "category", "brand", "price", "currency"} <= set(first)
    assert first["because"] and first["because"][0]["title"]
    seen = {item["item_id"] for item in history}
    assert not seen & {item["item_id"] for item in body["items"]}
    scores = [item["score"] for item in body["items"]]
    assert scores == sorted(scores, reverse=True)


def test_average_vector_explanations_add_up_to_the_score(
    scout_client: TestClient, trained_scout: TrainedScout
) -> None:
    # a user with at most three history items: every contribution is listed
    events = pd.read_parquet(trained_scout.data / "interactions.parquet")
    sizes = events.groupby("user_id")["item_id"].nunique()
    user = sizes[sizes <= 3].index[0]

    body = scout_client.get(
        f"/v1/users/{user}/recommendations?k=3", headers=HEADERS
    ).json()

    for item in body["items"]:
        total = sum(c["contribution"] for c in item["because"])
        assert total == pytest.approx(item["score"], rel=1e-2)


def test_filters_by_category_and_price(
    scout_client: TestClient, active_user: str
) -> None:
    body = scout_client.get(
        f"/v1/users/{active_user}/recommendations",
        params={"k": 5, "category": "books", "min_price": 10, "max_price": 40},
        headers=HEADERS,
    ).json()

    assert body["items"]
    for item in body["items"]:
        assert item["category"] == "books"
        assert 10 <= item["price"] <= 40
    assert body["filters"] == {
        "category": "books",
        "min_price": 10.0,
        "max_price": 40.0,
        "exclude_seen": True,
    }


def test_without_exclusion_seen_items_may_come_back(
    scout_client: TestClient, active_user: str
) -> None:
    history = scout_client.get(
        f"/v1/users/{active_user}?history_limit=1000", headers=HEADERS
    ).json()["history"]
    body = scout_client.get(
        f"/v1/users/{active_user}/recommendations?k=20&exclude_seen=false",
        headers=HEADERS,
    ).json()

    seen = {item["item_id"] for item in history}
    assert seen & {item["item_id"] for item in body["items"]}


def test_every_strategy_and_diversity_answers(
    scout_client: TestClient, active_user: str
) -> None:
    lists = {}
    for strategy in ("average_vector", "best_score", "sum_scores"):
        body = scout_client.get(
            f"/v1/users/{active_user}/recommendations",
            params={"strategy": strategy, "k": 10},
            headers=HEADERS,
        ).json()
        assert body["strategy"] == strategy and len(body["items"]) == 10
        lists[strategy] = [item["item_id"] for item in body["items"]]
    diverse = scout_client.get(
        f"/v1/users/{active_user}/recommendations",
        params={"diversity": 0.9, "k": 10},
        headers=HEADERS,
    ).json()

    categories = {item["category"] for item in diverse["items"]}
    plain = scout_client.get(
        f"/v1/users/{active_user}/recommendations?k=10", headers=HEADERS
    ).json()
    assert len(categories) >= len({item["category"] for item in plain["items"]})
    assert [i["item_id"] for i in diverse["items"]] != lists["average_vector"]


def test_unknown_user_is_404_naming_the_id(scout_client: TestClient) -> None:
    for path in ("/v1/users/U99999/recommendations", "/v1/users/U99999"):
        response = scout_client.get(path, headers=HEADERS)
        assert response.status_code == 404
        assert response.json()["user_id"] == "U99999"
        assert "U99999" in response.json()["detail"]


def test_unknown_item_is_404_naming_the_id(scout_client: TestClient) -> None:
    for path in ("/v1/items/NOPE/similar", "/v1/items/NOPE"):
        response = scout_client.get(path, headers=HEADERS)
        assert response.status_code == 404
        assert response.json()["item_id"] == "NOPE"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("k=0", "k"),
        ("k=abc", "k"),
        ("strategy=random", "strategy"),
        ("diversity=2", "diversity"),
        ("category=garden", "category"),
        ("min_price=50&max_price=10", "min_price"),
        ("min_price=-1", "min_price"),
    ],
)
def test_malformed_query_is_422_naming_the_field(
    scout_client: TestClient, active_user: str, query: str, field: str
) -> None:
    response = scout_client.get(
        f"/v1/users/{active_user}/recommendations?{query}", headers=HEADERS
    )

    assert response.status_code == 422
    assert [p["field"] for p in response.json()["problems"]] == [field]


def test_similar_items_by_collab_and_by_text(scout_client: TestClient) -> None:
    by_text = scout_client.get(
        "/v1/items/I00001/similar?by=text&k=5", headers=HEADERS
    ).json()
    by_collab = scout_client.get("/v1/items/I00001/similar?k=5", headers=HEADERS).json()

    category = by_text["item"]["category"]
    assert by_text["by"] == "text" and by_collab["by"] == "collab"
    assert all(item["category"] == category for item in by_text["items"])
    for body in (by_text, by_collab):
        assert len(body["items"]) == 5
        assert "I00001" not in {item["item_id"] for item in body["items"]}


def test_search_finds_matching_items(scout_client: TestClient) -> None:
    body = scout_client.get(
        "/v1/items/search",
        params={"q": "waterproof hiking boots", "k": 5},
        headers=HEADERS,
    ).json()

    assert body["known_terms"][:3] == ["waterproof", "hiking", "boot"]
    assert len(body["items"]) == 5
    assert all(item["category"] == "outdoor" for item in body["items"])


def test_search_with_no_known_word_says_so(scout_client: TestClient) -> None:
    body = scout_client.get("/v1/items/search?q=zzyzx", headers=HEADERS).json()

    assert body["items"] == [] and body["known_terms"] == []
    assert "no word" in body["note"]


def test_search_needs_a_query(scout_client: TestClient) -> None:
    response = scout_client.get("/v1/items/search?q=", headers=HEADERS)

    assert response.status_code == 422
    assert response.json()["problems"][0]["field"] == "q"


def test_user_shows_history_and_taste(
    scout_client: TestClient, active_user: str, trained_scout: TrainedScout
) -> None:
    body = scout_client.get(f"/v1/users/{active_user}", headers=HEADERS).json()

    events = pd.read_parquet(trained_scout.data / "interactions.parquet")
    mine = events[events["user_id"] == active_user]
    assert body["views"] == int((mine["event"] == "view").sum())
    assert body["items"] == mine["item_id"].nunique()
    shares = [c["share"] for c in body["taste"]["categories"]]
    assert sum(shares) == pytest.approx(1.0, abs=1e-3)
    assert shares == sorted(shares, reverse=True)
    seen = [h["last_seen"] for h in body["history"]]
    assert seen == sorted(seen, reverse=True)
    assert body["taste"]["price"]["currency"] == "EUR"


def test_users_are_listed_most_active_first(scout_client: TestClient) -> None:
    first = scout_client.get("/v1/users?limit=3", headers=HEADERS).json()
    second = scout_client.get("/v1/users?limit=3&offset=3", headers=HEADERS).json()

    assert first["total"] == 300
    activity = [
        u["views"] + u["clicks"] + u["purchases"]
        for u in first["users"] + second["users"]
    ]
    assert activity == sorted(activity, reverse=True)


def test_model_describes_itself(
    scout_client: TestClient, trained_scout: TrainedScout
) -> None:
    body = scout_client.get("/v1/model", headers=HEADERS).json()

    assert body["name"] == "scout-recommender" and body["alias"] == "champion"
    assert body["version"] == trained_scout.result.version
    assert body["method"] == trained_scout.result.method
    assert body["qdrant_mode"] == "embedded"
    assert set(body["test_metrics"]) == {"model", "popularity", "itemknn"}


def test_metrics_count_lists_and_name_the_model(
    scout_client: TestClient, active_user: str, trained_scout: TrainedScout
) -> None:
    scout_client.get(f"/v1/users/{active_user}/recommendations", headers=HEADERS)

    text = scout_client.get("/metrics").text

    assert 'scout_recommendations_total{endpoint="user",fallback="false"}' in text
    version = trained_scout.result.version
    assert (
        'scout_model_info{alias="champion",name="scout-recommender",'
        f'version="{version}"}} 1.0'
    ) in text
    assert "scout_drift_share NaN" in text
    assert "scout_degraded_answers_total 0.0" in text
