"""Sentinel keeps answering: Redis down or slow, model missing, model swapped."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import time
import uuid
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import redis

from tests.sentinel.support import (
    RegisteredModel,
    register_model,
    running_app,
    sentinel_settings,
    transaction,
)
from tests.support import RedisServer, start_redis

pytestmark = pytest.mark.integration


@pytest.fixture
def own_redis(tmp_path: Path) -> Any:
    """A Redis this test may kill, pause and restart."""
    server = start_redis(tmp_path / "redis")
    yield server
    server.stop()


async def score(client: Any, tx_id: str, amount: float) -> dict[str, Any]:
    response = await client.post("/v1/score", json=transaction(tx_id, amount))
    assert response.status_code == 200, response.text
    return dict(response.json())


async def until_healthy(client: Any, prefix: str, timeout_s: float = 30) -> int:
    """Score until an answer is not degraded; returns how many attempts it took."""
    deadline = time.monotonic() + timeout_s
    attempt = 0
    while time.monotonic() < deadline:
        attempt += 1
        if not (await score(client, f"{prefix}-{attempt}", 20.0))["degraded"]:
            return attempt
        await asyncio.sleep(0.1)
    raise TimeoutError("scoring did not recover after Redis came back")


def test_redis_down_degrades_scoring_and_it_recovers_by_itself(
    own_redis: RedisServer, registered_model: RegisteredModel
) -> None:
    async def scenario() -> None:
        # Thresholds so high that only the degraded rule can send a payment to review.
        settings = sentinel_settings(
            own_redis.url,
            registered_model,
            review_threshold=0.999,
            block_threshold=0.9999,
            degraded_max_approve_amount=100.0,
        )
        async with running_app(settings) as client:
            healthy = await score(client, "before", 500.0)
            assert healthy["degraded"] is False and healthy["band"] == "approve"

            own_redis.kill_hard()
            small = await score(client, "small", 50.0)
            large = await score(client, "large", 500.0)
            ready = await client.get("/readyz")
            listing = await client.get("/v1/cases")

            own_redis.restart()
            attempts = await until_healthy(client, "after")
            await asyncio.sleep(1.5)  # the pending writer runs every second
            cases = (await client.get("/v1/cases")).json()
            metrics = (await client.get("/metrics")).text

        assert small["degraded"] is True and small["band"] == "approve"
        assert "redis unavailable" in small["degraded_reason"]
        assert large["degraded"] is True and large["band"] == "review"
        assert large["case_id"] is not None
        assert ready.status_code == 503
        assert ready.json()["checks"]["redis"]["ok"] is False
        assert listing.status_code == 503
        assert listing.json()["detail"].startswith("redis unavailable")
        # The case of the degraded review was kept in memory and written later.
        assert [c["case_id"] for c in cases["items"]] == [large["case_id"]]
        assert cases["items"][0]["degraded"] is True
        degraded = 2 + attempts - 1  # the two above, then until Redis was tried again
        assert f"sentinel_degraded_answers_total {degraded:.1f}" in metrics
        assert "sentinel_pending_case_writes 0.0" in metrics

    asyncio.run(scenario())


def test_redis_slower_than_its_budget_degrades_scoring(
    own_redis: RedisServer, registered_model: RegisteredModel
) -> None:
    async def scenario() -> None:
        settings = sentinel_settings(own_redis.url, registered_model)
        async with running_app(settings) as client:
            assert (await score(client, "before", 10.0))["degraded"] is False
            os.kill(own_redis.process.pid, signal.SIGSTOP)  # Redis stops answering
            try:
                paused = await score(client, "paused", 10.0)
            finally:
                os.kill(own_redis.process.pid, signal.SIGCONT)
            await until_healthy(client, "after")

        assert paused["degraded"] is True
        assert "redis unavailable" in paused["degraded_reason"]

    asyncio.run(scenario())


def test_a_missing_model_means_not_ready_until_it_is_registered(
    sentinel_redis_url: str,
    registered_model: RegisteredModel,
    fraud_history: pd.DataFrame,
) -> None:
    name = f"sentinel-late-{uuid.uuid4().hex[:8]}"
    late = RegisteredModel(registered_model.tracking_uri, name, "champion", "1")

    async def scenario() -> None:
        settings = sentinel_settings(sentinel_redis_url, late)
        async with running_app(settings, ready=False) as client:
            await asyncio.sleep(0.5)
            ready = await client.get("/readyz")
            assert ready.status_code == 503
            reason = ready.json()["checks"]["model"]["detail"]
            assert f"{name}@champion" in reason
            refused = await client.post("/v1/score", json=transaction("t"))
            assert refused.status_code == 503
            assert refused.json()["error"] == "dependency_unavailable"

            await asyncio.to_thread(
                register_model, fraud_history, late.tracking_uri, name, 10
            )
            deadline = time.monotonic() + 60
            while (await client.get("/readyz")).status_code != 200:
                assert time.monotonic() < deadline, "model never loaded"
                await asyncio.sleep(0.2)
            assert (await client.post("/v1/score", json=transaction("t"))).is_success

    asyncio.run(scenario())


def test_reload_swaps_the_model_without_failing_a_request(
    sentinel_redis_url: str,
    registered_model: RegisteredModel,
    fraud_history: pd.DataFrame,
) -> None:
    name = f"sentinel-swap-{uuid.uuid4().hex[:8]}"
    uri = registered_model.tracking_uri
    first = register_model(fraud_history, uri, name, rounds=20)
    model = RegisteredModel(uri, name, "champion", first)

    async def scenario() -> None:
        settings = sentinel_settings(sentinel_redis_url, model)
        async with running_app(settings) as client:
            second = await asyncio.to_thread(
                register_model, fraud_history, uri, name, 30, 1
            )
            stop = asyncio.Event()

            async def traffic(lane: int) -> list[Any]:
                seen: list[Any] = []
                after_swap = 0
                while after_swap < 10:  # keep going a little after the swap too
                    tx = transaction(f"swap-{lane}-{len(seen)}", 15.0 + len(seen))
                    seen.append(await client.post("/v1/score", json=tx))
                    after_swap += stop.is_set()
                return seen

            lanes = [asyncio.create_task(traffic(lane)) for lane in range(4)]
            reload = await client.post("/v1/model/reload")
            stop.set()
            per_lane = await asyncio.gather(*lanes)
            after = await client.post("/v1/score", json=transaction("after-swap"))
            served = (await client.get("/v1/model")).json()
            again = (await client.post("/v1/model/reload")).json()
            metrics = (await client.get("/metrics")).text

        assert reload.status_code == 200, reload.text
        assert reload.json()["previous_version"] == first
        assert reload.json()["version"] == second and reload.json()["changed"]
        answers = [answer for lane in per_lane for answer in lane]
        assert {a.status_code for a in answers} == {200}
        served_versions = {a.json()["model"]["version"] for a in answers}
        assert served_versions == {first, second}
        for lane in per_lane:  # each lane moves from the old model to the new once
            versions = [a.json()["model"]["version"] for a in lane]
            assert versions == sorted(versions, key=[first, second].index)
        assert after.json()["model"]["version"] == served["version"] == second
        assert again["changed"] is False
        assert f'version="{second}"' in metrics and f'version="{first}"' not in metrics

    asyncio.run(within(scenario(), seconds=120))


async def within(scenario: Coroutine[Any, Any, None], seconds: float) -> None:
    """Run the scenario; past the deadline, fail with the stack of every task.

    This test once hung with the event loop idle, and pytest-timeout could only show
    the loop's select(); these stacks showed the shutdown waiting for a cancelled
    writer (fixed in Scorer.keep_flushing). If a hang comes back, they say which
    await never completed.
    """
    task = asyncio.ensure_future(scenario)
    done, _ = await asyncio.wait({task}, timeout=seconds)
    if task in done:
        return task.result()
    stacks = []
    for pending in asyncio.all_tasks():
        if pending is asyncio.current_task():
            continue
        buffer = io.StringIO()
        pending.print_stack(file=buffer)
        stacks.append(buffer.getvalue() + "  awaiting: " + " -> ".join(awaits(pending)))
    task.cancel()
    pytest.fail(f"no answer within {seconds} s; pending tasks:\n" + "\n".join(stacks))


def awaits(task: asyncio.Task[Any]) -> list[str]:
    """Where each coroutine in the task's await chain is suspended (print_stack
    shows only the outermost one)."""
    found = []
    awaited: Any = task.get_coro()
    while awaited is not None:
        frame = getattr(awaited, "cr_frame", None) or getattr(awaited, "gi_frame", None)
        if frame is not None:
            found.append(
                f"{frame.f_code.co_name} ({frame.f_code.co_filename}:{frame.f_lineno})"
            )
        awaited = getattr(awaited, "cr_await", None) or getattr(
            awaited, "gi_yieldfrom", None
        )
    return found


def test_features_can_live_in_their_own_redis(
    own_redis: RedisServer, sentinel_redis_url: str, registered_model: RegisteredModel
) -> None:
    """The durable queue stays on REDIS_URL; features, labels go to their Redis."""

    async def scenario() -> None:
        settings = sentinel_settings(
            sentinel_redis_url,
            registered_model,
            features_redis_url=own_redis.url,
            review_threshold=0.0,
        )
        async with running_app(settings) as client:
            ready = (await client.get("/readyz")).json()
            assert ready["checks"]["features_redis"]["ok"] is True
            answer = await score(client, "split-1", 80.0)
            decided = await client.post(
                f"/v1/cases/{answer['case_id']}/decision",
                json={"outcome": "confirmed_fraud", "analyst": "alice"},
            )
            assert decided.status_code == 200

            own_redis.kill_hard()
            degraded = await score(client, "split-2", 80.0)
            case = await client.get(f"/v1/cases/{answer['case_id']}")
            ready_after = await client.get("/readyz")

        assert degraded["degraded"] is True
        assert case.status_code == 200 and case.json()["status"] == "closed"
        assert ready_after.status_code == 503
        assert ready_after.json()["checks"]["redis"]["ok"] is True
        assert ready_after.json()["checks"]["features_redis"]["ok"] is False

    asyncio.run(scenario())
    own_redis.restart()
    features = redis.Redis.from_url(own_redis.url, decode_responses=True)
    queue = redis.Redis.from_url(sentinel_redis_url, decode_responses=True)
    try:
        assert features.keys("sentinel:features:*terminal*:frauds") != []
        assert features.keys("sentinel:case:*") == []
        assert queue.keys("sentinel:features:*") == []
        assert queue.keys("sentinel:case:*") != []
    finally:
        features.close()
        queue.close()
