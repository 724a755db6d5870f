"""What-if from a case: the case's snapshot is the base, not today's features."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis

from api.sentinel.scoring import TRANSACTION_FEATURES
from tests.sentinel.support import (
    RegisteredModel,
    running_app,
    sentinel_settings,
    transaction,
)

pytestmark = pytest.mark.integration

CASE_TIME = datetime(2025, 3, 5, 12, 0, tzinfo=UTC)  # a Wednesday
HISTORY_FEATURES = (
    "customer_count_1h",
    "customer_count_1d",
    "customer_mean_amount_1d",
    "customer_count_30d",
    "customer_mean_amount_30d",
    "terminal_new_for_customer",
    "terminal_count_1d",
)


def run(scenario: Any) -> Any:
    return asyncio.run(scenario)


async def open_case_with_history(client: Any) -> dict[str, Any]:
    """Three earlier payments, the case's own, then two more that move the history."""
    for i, amount in enumerate([20.0, 40.0, 60.0]):
        when = CASE_TIME - timedelta(minutes=50 * (3 - i))
        await client.post("/v1/score", json=transaction(f"h-{i}", amount, when=when))
    scored = (await client.post("/v1/score", json=case_transaction())).json()
    assert scored["case_id"], scored
    for i in range(2):  # scored later, but earlier in time: today's view changes
        when = CASE_TIME - timedelta(minutes=5 + i)
        await client.post("/v1/score", json=transaction(f"late-{i}", 900.0, when=when))
    case = (await client.get(f"/v1/cases/{scored['case_id']}")).json()
    return dict(case)


def case_transaction(**changes: Any) -> dict[str, Any]:
    tx = transaction("case-tx", 80.0, when=CASE_TIME)
    tx.update(changes)
    return tx


def redis_contents(url: str) -> dict[str, Any]:
    """Every key with its type and value: compared before and after what-ifs."""
    client = redis.Redis.from_url(url, decode_responses=True)
    read = {
        "string": client.get,
        "hash": client.hgetall,
        "list": lambda key: client.lrange(key, 0, -1),
        "set": lambda key: sorted(client.smembers(key)),
        "zset": lambda key: client.zrange(key, 0, -1, withscores=True),
    }
    contents = {}
    for key in sorted(client.scan_iter()):
        kind = client.type(key)
        contents[key] = (kind, read[kind](key) if kind in read else None)
    client.close()
    return contents


async def settled_contents(url: str) -> dict[str, Any]:
    """Redis once the background writers (approvals, scored log) are done."""
    previous = None
    for _ in range(50):
        await asyncio.sleep(0.3)
        current = await asyncio.to_thread(redis_contents, url)
        if current == previous:
            return current
        previous = current
    raise AssertionError("redis kept changing without any request")


def test_a_case_what_if_starts_from_the_snapshot_and_recomputes_the_transaction(
    sentinel_redis_url: str, registered_model: RegisteredModel
) -> None:
    saturday_night = (CASE_TIME + timedelta(days=3, hours=-9)).isoformat()

    async def scenario() -> dict[str, Any]:
        settings = sentinel_settings(
            sentinel_redis_url, registered_model, review_threshold=0.0
        )
        async with running_app(settings) as client:
            case = await open_case_with_history(client)
            case_id = case["case_id"]

            async def what_if(tx: dict[str, Any], **body: Any) -> dict[str, Any]:
                answer = await client.post(
                    "/v1/score/what-if", json={"transaction": tx, **body}
                )
                assert answer.status_code == 200, answer.text
                return dict(answer.json())

            return {
                "case": case,
                "same": await what_if(case_transaction(), case_id=case_id),
                "online": await what_if(case_transaction()),
                "edited": await what_if(
                    case_transaction(amount=2500.0, timestamp=saturday_night),
                    case_id=case_id,
                ),
                "forced": await what_if(
                    case_transaction(amount=2500.0),
                    case_id=case_id,
                    feature_overrides={"amount": 7.0, "customer_count_1h": 9},
                ),
            }

    seen = run(scenario())
    case, same, online = seen["case"], seen["same"], seen["online"]
    snapshot = case["snapshot"]

    assert same["base"] == "case_snapshot" and online["base"] == "online_features"
    assert same["features"] == snapshot["features"]
    assert same["score"] == pytest.approx(snapshot["score"], abs=1e-6)
    assert same["score_change"] == pytest.approx(0.0, abs=1e-6)
    assert same["original"]["case_id"] == case["case_id"]
    assert same["original"]["score"] == snapshot["score"]
    assert same["original"]["band"] == snapshot["band"]
    assert same["original"]["reasons"] == snapshot["contributions"]
    assert same["recomputed"] == list(TRANSACTION_FEATURES)
    assert {r["feature"]: r["contribution"] for r in same["contributions"]} == (
        pytest.approx(
            {r["feature"]: r["contribution"] for r in snapshot["contributions"]}
        )
    )
    assert same["case_id"] is None and same["degraded"] is False
    # Today's features count the case's own payment and the late ones too.
    assert snapshot["features"]["customer_count_1h"] == 1.0
    assert online["features"]["customer_count_1h"] == 4.0
    assert online["original"] is None and online["score_change"] is None

    edited = seen["edited"]["features"]
    history_mean = snapshot["features"]["customer_mean_amount_30d"]
    assert history_mean == pytest.approx(40.0)
    assert edited["amount"] == 2500.0
    assert edited["amount_to_customer_mean_30d"] == pytest.approx(2500.0 / 40.0)
    assert (edited["hour_of_day"], edited["is_weekend"]) == (3.0, 1.0)
    assert snapshot["features"]["is_weekend"] == 0.0
    for name in HISTORY_FEATURES:
        assert edited[name] == snapshot["features"][name], name
    change = seen["edited"]["score"] - snapshot["score"]
    assert seen["edited"]["score_change"] == pytest.approx(change, abs=1e-6)

    forced = seen["forced"]
    assert forced["features"]["amount"] == 7.0, "overrides apply last"
    assert forced["features"]["customer_count_1h"] == 9.0
    assert forced["features"]["amount_to_customer_mean_30d"] == pytest.approx(62.5)
    assert forced["overridden"] == ["amount", "customer_count_1h"]


def test_case_what_ifs_write_and_count_nothing_and_name_an_unknown_case(
    sentinel_redis_url: str, registered_model: RegisteredModel
) -> None:
    async def scenario() -> dict[str, Any]:
        settings = sentinel_settings(
            sentinel_redis_url, registered_model, review_threshold=0.0
        )
        async with running_app(settings) as client:
            case = await open_case_with_history(client)
            before = await settled_contents(sentinel_redis_url)
            metrics_before = (await client.get("/metrics")).text
            known = await client.post(
                "/v1/score/what-if",
                json={
                    "transaction": case_transaction(amount=5.0),
                    "case_id": case["case_id"],
                },
            )
            unknown = await client.post(
                "/v1/score/what-if",
                json={"transaction": case_transaction(), "case_id": "case-nope"},
            )
            after = await settled_contents(sentinel_redis_url)
            metrics_after = (await client.get("/metrics")).text
            return {
                "known": known,
                "unknown": unknown,
                "redis_same": before == after,
                "keys": len(before),
                "scores_same": _score_counters(metrics_before)
                == _score_counters(metrics_after),
            }

    seen = run(scenario())
    assert seen["known"].status_code == 200
    assert seen["unknown"].status_code == 404
    assert seen["unknown"].json()["error"] == "not_found"
    assert "case-nope" in seen["unknown"].json()["detail"]
    assert seen["keys"] > 0 and seen["redis_same"], "no feature, case or counter"
    assert seen["scores_same"]


def _score_counters(metrics: str) -> list[str]:
    return [line for line in metrics.splitlines() if line.startswith("sentinel_")]


@pytest.mark.parametrize(
    ("field", "value"), [("customer_id", "cust-2"), ("terminal_id", "term-9")]
)
def test_the_case_customer_and_terminal_cannot_change(
    sentinel_redis_url: str, registered_model: RegisteredModel, field: str, value: str
) -> None:
    async def scenario() -> Any:
        settings = sentinel_settings(
            sentinel_redis_url, registered_model, review_threshold=0.0
        )
        async with running_app(settings) as client:
            scored = (await client.post("/v1/score", json=case_transaction())).json()
            return await client.post(
                "/v1/score/what-if",
                json={
                    "transaction": case_transaction(**{field: value}),
                    "case_id": scored["case_id"],
                },
            )

    response = run(scenario())
    assert response.status_code == 422
    body = response.json()
    assert body["field"] == f"transaction.{field}"
    assert field in body["detail"] and "start without case_id" in body["detail"]
