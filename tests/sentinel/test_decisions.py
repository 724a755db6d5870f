"""Decisions: idempotent retries, refused key reuse, one record under concurrency,
and nothing lost when Redis is killed with -9 right after the acknowledgement."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.sentinel.support import (
    RegisteredModel,
    running_app,
    sentinel_settings,
    transaction,
)
from tests.support import start_redis

pytestmark = pytest.mark.integration


async def one_case(client: Any, transaction_id: str = "tx-1") -> str:
    answer = (await client.post("/v1/score", json=transaction(transaction_id))).json()
    assert answer["case_id"], answer
    return str(answer["case_id"])


def decision(
    outcome: str = "confirmed_fraud", analyst: str = "alice"
) -> dict[str, str]:
    return {"outcome": outcome, "analyst": analyst, "note": "verified with customer"}


def test_a_retry_with_the_same_key_returns_the_first_answer(
    sentinel_redis_url: str, registered_model: RegisteredModel
) -> None:
    async def scenario() -> None:
        settings = sentinel_settings(
            sentinel_redis_url, registered_model, review_threshold=0.0
        )
        async with running_app(settings) as client:
            case_id = await one_case(client)
            headers = {"Idempotency-Key": "key-1"}
            url = f"/v1/cases/{case_id}/decision"
            first = await client.post(url, json=decision(), headers=headers)
            retry = await client.post(url, json=decision(), headers=headers)
            no_key = await client.post(url, json=decision())
            case = (await client.get(f"/v1/cases/{case_id}")).json()
            metrics = (await client.get("/metrics")).text

        assert first.status_code == retry.status_code == 200
        assert retry.json() == first.json()
        assert retry.headers["Idempotent-Replayed"] == "true"
        assert "Idempotent-Replayed" not in first.headers
        assert no_key.status_code == 409  # without the key it is a second decision
        assert len(case["decisions"]) == 1
        assert 'sentinel_decisions_total{outcome="confirmed_fraud"} 1.0' in metrics

    asyncio.run(scenario())


def test_a_different_body_under_the_same_key_is_refused(
    sentinel_redis_url: str, registered_model: RegisteredModel
) -> None:
    async def scenario() -> None:
        settings = sentinel_settings(
            sentinel_redis_url, registered_model, review_threshold=0.0
        )
        async with running_app(settings) as client:
            first_case = await one_case(client, "tx-1")
            second_case = await one_case(client, "tx-2")
            headers = {"Idempotency-Key": "key-2"}
            ok = await client.post(
                f"/v1/cases/{first_case}/decision", json=decision(), headers=headers
            )
            other_outcome = await client.post(
                f"/v1/cases/{first_case}/decision",
                json=decision("legitimate"),
                headers=headers,
            )
            other_case = await client.post(
                f"/v1/cases/{second_case}/decision", json=decision(), headers=headers
            )
            untouched = (await client.get(f"/v1/cases/{second_case}")).json()

        assert ok.status_code == 200
        for refused in (other_outcome, other_case):
            assert refused.status_code == 422
            assert "Idempotency-Key" in refused.json()["detail"]
        assert untouched["status"] == "open"

    asyncio.run(scenario())


def test_concurrent_duplicates_produce_one_record(
    sentinel_redis_url: str, registered_model: RegisteredModel
) -> None:
    async def scenario() -> None:
        settings = sentinel_settings(
            sentinel_redis_url, registered_model, review_threshold=0.0
        )
        async with running_app(settings) as client:
            case_id = await one_case(client)
            url = f"/v1/cases/{case_id}/decision"
            same_key = await asyncio.gather(
                *(
                    client.post(url, json=decision(), headers={"Idempotency-Key": "k"})
                    for _ in range(20)
                )
            )
            other_case = await one_case(client, "tx-2")
            rivals = await asyncio.gather(
                *(
                    client.post(
                        f"/v1/cases/{other_case}/decision",
                        json=decision("legitimate", f"analyst-{i}"),
                    )
                    for i in range(10)
                )
            )
            case = (await client.get(f"/v1/cases/{case_id}")).json()
            events = (await client.get(f"/v1/cases/{case_id}/events")).json()
            stats = (await client.get("/v1/stats")).json()

        assert {r.status_code for r in same_key} == {200}
        assert len({r.json()["decision_id"] for r in same_key}) == 1
        assert sum("Idempotent-Replayed" in r.headers for r in same_key) == 19
        assert len(case["decisions"]) == 1
        assert [e["kind"] for e in events["events"]].count("decided") == 1
        assert sorted(r.status_code for r in rivals) == [200] + [409] * 9
        assert stats["decisions"]["confirmed_fraud"] == 1
        assert stats["decisions"]["legitimate"] == 1

    asyncio.run(scenario())


def test_an_acknowledged_decision_survives_kill_9_of_redis(
    tmp_path: Path, registered_model: RegisteredModel
) -> None:
    server = start_redis(tmp_path / "redis")
    try:
        settings = sentinel_settings(server.url, registered_model, review_threshold=0.0)

        async def decide_then_kill() -> dict[str, Any]:
            async with running_app(settings) as client:
                case_id = await one_case(client)
                answer = await client.post(
                    f"/v1/cases/{case_id}/decision",
                    json=decision(),
                    headers={"Idempotency-Key": "survivor"},
                )
                assert answer.status_code == 200
                server.kill_hard()  # right after the acknowledgement, no shutdown
                return dict(answer.json())

        acknowledged = asyncio.run(decide_then_kill())
        server.restart()

        async def read_back() -> tuple[dict[str, Any], Any]:
            async with running_app(settings) as client:
                case_id = acknowledged["case_id"]
                case = (await client.get(f"/v1/cases/{case_id}")).json()
                retry = await client.post(
                    f"/v1/cases/{case_id}/decision",
                    json=decision(),
                    headers={"Idempotency-Key": "survivor"},
                )
                return case, retry

        case, retry = asyncio.run(read_back())
        assert case["status"] == "closed" and case["outcome"] == "confirmed_fraud"
        assert case["decisions"] == [acknowledged]
        assert retry.status_code == 200 and retry.json() == acknowledged
        raw = redis.Redis.from_url(server.url, decode_responses=True)
        assert raw.config_get("appendfsync") == {"appendfsync": "always"}
        raw.close()
    finally:
        server.stop()


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_scores_and_decisions_are_logged_with_the_ids_an_operator_searches(
    sentinel_redis_url: str, registered_model: RegisteredModel
) -> None:
    collect = Collect()

    async def scenario() -> str:
        settings = sentinel_settings(
            sentinel_redis_url,
            registered_model,
            review_threshold=0.0,
            log_level="DEBUG",
        )
        async with running_app(settings) as client:
            for name in ("api.sentinel.scoring", "api.sentinel.decisions"):
                logging.getLogger(name).addHandler(collect)
            case_id = await one_case(client, "logged-1")
            await client.post(f"/v1/cases/{case_id}/decision", json=decision())
            return case_id

    try:
        case_id = asyncio.run(scenario())
    finally:
        for name in ("api.sentinel.scoring", "api.sentinel.decisions"):
            logging.getLogger(name).removeHandler(collect)
    events = {record.getMessage(): record for record in collect.records}
    scored, decided = events["transaction_scored"], events["decision_recorded"]
    assert scored.levelno == logging.DEBUG and decided.levelno == logging.INFO
    for record in (scored, decided):
        fields = vars(record)
        assert fields["transaction_id"] == "logged-1"
        assert fields["case_id"] == case_id
        assert fields["model_version"] == registered_model.version
        assert fields["latency_ms"] > 0
    assert vars(decided)["analyst"] == "alice"
