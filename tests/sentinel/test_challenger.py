"""`GET /v1/model` reports the challenger from the real MLflow registry, cached, and
the champion's answer never depends on it."""

from __future__ import annotations

import asyncio
import threading
import uuid
from typing import Any

import pandas as pd
import pytest
from mlflow import MlflowClient

from api.sentinel.model import Challenger, ChallengerWatch
from pipelines.train_fraud import TrainingConfig, train_and_register
from tests.sentinel.support import (
    RegisteredModel,
    register_model,
    running_app,
    sentinel_settings,
)
from tests.support import MlflowServer, free_port

pytestmark = pytest.mark.integration


def run(scenario: Any) -> Any:
    return asyncio.run(scenario)


def test_the_challenger_appears_with_its_run_metrics_once_registered(
    sentinel_redis_url: str, mlflow_server: MlflowServer, fraud_history: pd.DataFrame
) -> None:
    name = f"sentinel-challenger-test-{uuid.uuid4().hex[:8]}"
    version = register_model(fraud_history, mlflow_server.url, name, rounds=10)
    champion = RegisteredModel(mlflow_server.url, name, "champion", version)

    def register_challenger() -> str:
        # The pipeline's own trainer: a later version gets the alias challenger.
        config = TrainingConfig(model_name=name, num_boost_round=12, seed=1)
        info = train_and_register(fraud_history, mlflow_server.url, config)
        assert info.alias == "challenger"
        return info.version

    async def scenario() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], str]:
        async with running_app(sentinel_settings(sentinel_redis_url, champion)) as c:
            before = (await c.get("/v1/model")).json()
            challenger_version = await asyncio.to_thread(register_challenger)
            cached = (await c.get("/v1/model")).json()
            c.app.state.models.challenger.ttl_s = 0  # type: ignore[attr-defined]
            after = (await c.get("/v1/model")).json()
            return before, cached, after, challenger_version

    before, cached, after, challenger_version = run(scenario())
    assert before["version"] == version and before["alias"] == "champion"
    assert before["challenger"] is None and before["challenger_error"] is None
    assert cached["challenger"] is None, "the lookup is cached for ttl_s"

    challenger = after["challenger"]
    assert after["version"] == version, "the champion is still the one served"
    assert challenger["version"] == challenger_version != version
    assert (challenger["name"], challenger["alias"]) == (name, "challenger")
    run_metrics = MlflowClient(mlflow_server.url).get_run(challenger["run_id"]).data
    assert challenger["metrics"] == pytest.approx(run_metrics.metrics)
    assert challenger["metrics"] != after["metrics"]
    assert challenger["registered_at"] is not None
    assert after["challenger_error"] is None


def test_an_unreachable_registry_leaves_the_champion_answer_intact(
    sentinel_redis_url: str,
    registered_model: RegisteredModel,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    nowhere = f"http://127.0.0.1:{free_port()}"  # nothing listens there

    async def scenario() -> tuple[int, dict[str, Any]]:
        settings = sentinel_settings(sentinel_redis_url, registered_model)
        async with running_app(settings) as client:
            models = client.app.state.models  # type: ignore[attr-defined]
            models.challenger = ChallengerWatch(nowhere, models.name, wait_s=60)
            response = await client.get("/v1/model")
            return response.status_code, response.json()

    status, body = run(scenario())
    assert status == 200
    assert body["version"] == registered_model.version
    assert body["metrics"] and body["feature_names"]
    assert body["challenger"] is None
    assert body["challenger_error"], "the reason the lookup failed is given"
    assert (
        "127.0.0.1" in body["challenger_error"] or "onnect" in body["challenger_error"]
    )


# --- the watch's caching and time limit, with a stand-in for the registry ----------


def _found(version: str) -> Challenger:
    return Challenger("m", "challenger", version, None, {"auc": 0.9}, None)


def test_the_watch_asks_the_registry_once_per_ttl() -> None:
    calls: list[str] = []

    def fetch(uri: str, name: str, alias: str) -> Challenger:
        calls.append(alias)
        return _found(str(len(calls)))

    async def scenario() -> list[str | None]:
        watch = ChallengerWatch("uri", "m", ttl_s=30, fetch=fetch)
        seen = [(await watch.lookup()).challenger for _ in range(3)]
        watch.forget()
        seen.append((await watch.lookup()).challenger)
        return [c.version if c else None for c in seen]

    assert run(scenario()) == ["1", "1", "1", "2"]
    assert calls == ["challenger", "challenger"]


def test_a_slow_registry_gets_an_error_in_time_then_the_late_answer() -> None:
    release = threading.Event()

    def fetch(uri: str, name: str, alias: str) -> Challenger:
        release.wait(10)
        return _found("7")

    async def scenario() -> tuple[Any, Any]:
        watch = ChallengerWatch("uri", "m", ttl_s=30, wait_s=0.2, fetch=fetch)
        slow = await watch.lookup()
        release.set()
        await asyncio.sleep(0.05)
        late = await watch.lookup()
        return slow, late

    slow, late = run(scenario())
    assert slow.challenger is None
    assert slow.error == "the registry did not answer within 0.2 s"
    assert late.challenger is not None and late.challenger.version == "7"


def test_a_failing_registry_is_an_error_reason_not_an_exception() -> None:
    def fetch(uri: str, name: str, alias: str) -> Challenger:
        raise ConnectionError("registry down")

    async def scenario() -> Any:
        return await ChallengerWatch("uri", "m", fetch=fetch).lookup()

    lookup = run(scenario())
    assert lookup.challenger is None
    assert lookup.error == "ConnectionError: registry down"
