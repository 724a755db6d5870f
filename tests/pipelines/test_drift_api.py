"""Drift through the real apps: Sentinel logs what it scores (real Redis), a report
is built in the background from that log and the model's training sample (real
MLflow), and both APIs serve what the pipeline stored."""

from __future__ import annotations

import asyncio
import math
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pandas as pd
import pytest
import redis
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.common.drift import DriftSettings, DriftStore, Window
from api.common.errors import Conflict, DependencyUnavailable
from api.scout.main import create_app as create_scout_app
from api.scout.settings import QdrantSettings, ScoutSettings
from api.sentinel.drift import SentinelDriftSource
from api.sentinel.features import FEATURE_NAMES
from api.sentinel.schemas import ModelRef, ScoreOut
from api.sentinel.scored_log import STREAM_KEY, ScoredLog, read_window
from pipelines.drift import build_report
from pipelines.generate_interactions import GeneratorConfig, generate, write_dataset
from pipelines.generate_transactions import SimulationConfig, simulate
from pipelines.train_fraud import TrainingConfig, train_and_register
from pipelines.train_scout import TrainConfig, build_collection, log_and_register, train
from tests.sentinel.support import (
    RegisteredModel,
    history_rows,
    running_app,
    sentinel_settings,
    with_db,
)
from tests.support import MlflowServer, RedisServer, wait_until

pytestmark = pytest.mark.integration

DRIFT_DB = 7  # the session Redis is shared: the drift tests own this database
MIN_ROWS = 100
SCOUT_KEY = "scout-drift-test-key"


@pytest.fixture(scope="module")
def history() -> pd.DataFrame:
    config = SimulationConfig(
        days=28,
        customers=300,
        terminals=300,
        terminals_per_customer=10,
        seed=5,
        fraud_intensity=6.0,
    )
    return simulate(config).transactions


@pytest.fixture(scope="module")
def fraud_model(mlflow_server: MlflowServer, history: pd.DataFrame) -> RegisteredModel:
    """The fraud pipeline's own training run: it logs the reference sample."""
    name = f"sentinel-drift-test-{uuid.uuid4().hex[:8]}"
    config = TrainingConfig(
        num_boost_round=30, model_name=name, experiment_name=name, reference_rows=2000
    )
    info = train_and_register(history, mlflow_server.url, config)
    return RegisteredModel(mlflow_server.url, name, "champion", info.version)


@pytest.fixture
def drift_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, redis_server: RedisServer
) -> Iterator[str]:
    url = with_db(redis_server.url, DRIFT_DB)
    client = redis.Redis.from_url(url)
    client.flushdb()
    client.close()
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.setenv("DRIFT_MIN_ROWS", str(MIN_ROWS))
    yield url


def last_day(history: pd.DataFrame) -> tuple[pd.DataFrame, Window]:
    last = history["timestamp"].max().to_pydatetime()
    window = Window(last - timedelta(days=1), last + timedelta(seconds=1))
    day = history[history["timestamp"] >= window.start]
    return day, window


async def score_all(client: httpx.AsyncClient, rows: list[dict[str, Any]]) -> None:
    for first in range(0, len(rows), 200):
        response = await client.post(
            "/v1/score/batch", json={"transactions": rows[first : first + 200]}
        )
        assert response.status_code == 200, response.text


async def logged(redis_url: str, count: int, timeout_s: float = 20) -> int:
    client = redis.Redis.from_url(redis_url)
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            length = int(client.xlen(STREAM_KEY))
            if length >= count:
                return length
            await asyncio.sleep(0.1)
        return int(client.xlen(STREAM_KEY))
    finally:
        client.close()


async def finished_job(client: httpx.AsyncClient, url: str) -> dict[str, Any]:
    deadline = time.monotonic() + 300  # Evidently's first import is slow when busy
    while time.monotonic() < deadline:
        job = (await client.get(url)).json()
        if job["status"] in {"done", "failed"}:
            return dict(job)
        await asyncio.sleep(0.5)
    raise TimeoutError(f"drift job {url} still running")


def test_scored_transactions_are_logged_with_their_features(
    drift_env: str, fraud_model: RegisteredModel, history: pd.DataFrame
) -> None:
    day, window = last_day(history)
    rows = history_rows(day)

    async def scenario() -> None:
        settings = sentinel_settings(drift_env, fraud_model)
        async with running_app(settings) as client:
            await score_all(client, rows)
            assert await logged(drift_env, len(rows)) == len(rows)
            what_if = {"transaction": rows[0], "feature_overrides": {}}
            assert (await client.post("/v1/score/what-if", json=what_if)).is_success
            await asyncio.sleep(0.5)
            assert await logged(drift_env, len(rows) + 1, 1) == len(rows)

    asyncio.run(scenario())
    client = redis.Redis.from_url(drift_env)
    scored = read_window(client, window.start, window.end).frame
    earlier = read_window(client, window.start - timedelta(days=3), window.start)
    client.close()
    assert len(scored) == len(rows) and earlier.frame.empty
    assert set(scored["transaction_id"]) == {row["transaction_id"] for row in rows}
    assert scored["model_version"].unique().tolist() == [fraud_model.version]
    assert scored["amount"].round(2).tolist() == [row["amount"] for row in rows]
    assert scored[list(FEATURE_NAMES)].notna().all().all()
    assert scored["score"].between(0, 1).all()
    assert set(scored["band"]) <= {"approve", "review", "block"}


def test_the_api_builds_lists_and_serves_a_report(
    drift_env: str, fraud_model: RegisteredModel, history: pd.DataFrame, tmp_path: Path
) -> None:
    day, window = last_day(history)
    rows = history_rows(day)
    body = {
        "window_start": window.start.isoformat(),
        "window_end": window.end.isoformat(),
    }

    async def scenario() -> dict[str, Any]:
        settings = sentinel_settings(drift_env, fraud_model)
        async with running_app(settings) as client:
            await score_all(client, rows)
            await logged(drift_env, len(rows))
            case = await confirm_one_fraud(client)

            empty = {
                "window_start": (window.start - timedelta(days=5)).isoformat(),
                "window_end": (window.start - timedelta(days=4)).isoformat(),
            }
            refused = await client.post("/v1/drift/reports", json=empty)
            assert refused.status_code == 422, refused.text
            assert refused.json()["rows"] == 0
            assert refused.json()["minimum"] == MIN_ROWS
            assert f"at least {MIN_ROWS}" in refused.json()["detail"]
            backwards = {**body, "window_end": body["window_start"]}
            assert (
                await client.post("/v1/drift/reports", json=backwards)
            ).status_code == 422

            accepted = await client.post("/v1/drift/reports", json=body)
            assert accepted.status_code == 202, accepted.text
            status_url = accepted.json()["status_url"]
            assert accepted.headers["location"] == status_url
            job = await finished_job(client, status_url)
            assert job["status"] == "done", job
            report_id = job["report_id"]

            listed = (await client.get("/v1/drift/reports")).json()
            summary = (await client.get(f"/v1/drift/reports/{report_id}")).json()
            page = await client.get(f"/v1/drift/reports/{report_id}/html")
            missing = await client.get(
                "/v1/drift/reports/20200101T000000Z-20200102T000000Z-abcdef"
            )
            unknown_job = await client.get("/v1/drift/jobs/nope")
            anonymous = await client.get("/v1/drift/reports", headers={"X-API-Key": ""})
            metrics = (await client.get("/metrics")).text
            return {
                "case": case,
                "listed": listed,
                "summary": summary,
                "page": page,
                "missing": missing,
                "unknown_job": unknown_job,
                "anonymous": anonymous,
                "metrics": metrics,
            }

    out = asyncio.run(scenario())
    summary = out["summary"]
    assert out["listed"]["count"] == 1
    assert out["listed"]["reports"][0] == summary
    assert summary["service"] == "sentinel"
    assert summary["model"]["version"] == fraud_model.version
    assert summary["rows"] == {"current": len(rows), "reference": 2000, "excluded": 0}
    assert pd.Timestamp(summary["window_start"]) == pd.Timestamp(window.start)
    assert len(summary["columns"]) == len(FEATURE_NAMES)  # is_weekend not tested
    assert summary["drift_share"] == pytest.approx(
        sum(c["drifted"] for c in summary["columns"]) / len(summary["columns"])
    )
    assert summary["figures"]["confirmed_fraud"] == 1
    assert summary["figures"]["confirmed_fraud_rate"] == pytest.approx(1 / len(rows))
    assert summary["figures"]["training_fraud_rate"] > 0

    page = out["page"]
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "drift-summary" in page.text and len(page.content) > 1_000_000
    stored = tmp_path / "drift" / "sentinel" / summary["report_id"]
    assert (stored / "report.html").read_bytes() == page.content

    assert out["missing"].status_code == 404
    assert "20200101T000000Z-20200102T000000Z-abcdef" in out["missing"].json()["detail"]
    assert out["unknown_job"].status_code == 404
    assert out["anonymous"].status_code == 401
    gauge = [
        line
        for line in out["metrics"].splitlines()
        if line.startswith("sentinel_drift_share ")
    ]
    assert gauge and float(gauge[0].split()[1]) == pytest.approx(summary["drift_share"])


async def confirm_one_fraud(client: httpx.AsyncClient) -> str:
    page = (await client.get("/v1/cases", params={"limit": 1})).json()
    case_id = str(page["items"][0]["case_id"])
    decision = {"outcome": "confirmed_fraud", "analyst": "ana", "note": "card stolen"}
    response = await client.post(f"/v1/cases/{case_id}/decision", json=decision)
    assert response.status_code == 200, response.text
    return case_id


def test_the_command_line_function_refuses_an_empty_window(
    drift_env: str, fraud_model: RegisteredModel, tmp_path: Path
) -> None:
    settings = DriftSettings(data_dir=tmp_path, drift_min_rows=MIN_ROWS)
    source = SentinelDriftSource(
        drift_env, fraud_model.tracking_uri, fraud_model.name, settings
    )
    start = pd.Timestamp("2024-01-01", tz="UTC").to_pydatetime()
    with pytest.raises(Exception) as refused:
        build_report("sentinel", start, start + timedelta(days=1), settings, source)
    assert getattr(refused.value, "status_code", None) == 422
    assert DriftStore.for_service(settings, "sentinel").summaries() == []
    assert math.isnan(DriftStore.for_service(settings, "sentinel").latest_drift_share())


def test_the_log_stays_capped(drift_env: str) -> None:
    maxlen = 1000

    async def scenario() -> int:
        import redis.asyncio as aioredis

        client = aioredis.Redis.from_url(drift_env, decode_responses=True)
        log = ScoredLog(client, maxlen=maxlen, flush_interval_s=0.01)
        for first in range(0, 5000, 500):
            answers = [fake_answer(f"t-{i}") for i in range(first, first + 500)]
            log.add(answers, [fake_item() for _ in answers])
            await asyncio.sleep(0.05)
        while log._buffer:
            await asyncio.sleep(0.05)
        length = int(await client.xlen(STREAM_KEY))
        await client.aclose()
        return length

    length = asyncio.run(scenario())
    # MAXLEN ~ trims whole stream nodes (100 entries each by default).
    assert maxlen <= length <= maxlen + 200


def fake_answer(transaction_id: str) -> ScoreOut:
    return ScoreOut(
        transaction_id=transaction_id,
        score=0.1,
        band="approve",
        reasons=[],
        explanation="approximate",
        model=ModelRef(name="m", alias="champion", version="1"),
        degraded=False,
        case_id=None,
        amount=10.0,
        currency="EUR",
        scored_at=datetime.now(UTC),
        latency_ms=1.0,
    )


def fake_item() -> SimpleNamespace:
    return SimpleNamespace(
        features=dict.fromkeys(FEATURE_NAMES, 1.0),
        event=SimpleNamespace(timestamp=datetime(2025, 1, 1, tzinfo=UTC)),
    )


# --- Scout --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def scout_stack(
    mlflow_server: MlflowServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Path, TestClient]]:
    """Scout trained on a small log in DATA_DIR/scout, served by the real app."""
    data_dir = tmp_path_factory.mktemp("drift-scout-api")
    dataset = generate(GeneratorConfig(items=300, users=400, mean_views_per_user=20))
    write_dataset(dataset, data_dir / "scout")
    qdrant = data_dir / "qdrant"
    name = f"scout-drift-test-{uuid.uuid4().hex[:8]}"
    config = TrainConfig(dims=16, text_dims=32, evaluate=False, candidates=("svd",))
    qdrant_settings = QdrantSettings(qdrant_path=str(qdrant), scout_collection=name)
    with tempfile.TemporaryDirectory(prefix="drift-scout-model-") as folder:
        result = train(data_dir / "scout", Path(folder), config)
        # Our own model name: the session MLflow also holds the Scout suite's model.
        log_and_register(result, config, mlflow_server.url, model_name=name)
        build_collection(qdrant_settings, result.model_folder, config.upload_batch)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DATA_DIR", str(data_dir))
        patch.setenv("DRIFT_MIN_ROWS", str(MIN_ROWS))
        settings = ScoutSettings(
            qdrant_path=str(qdrant),
            scout_collection=name,
            mlflow_tracking_uri=mlflow_server.url,
            scout_api_key=SecretStr(SCOUT_KEY),
            scout_model_name=name,
            scout_model_retry_s=0.5,
            log_level="WARNING",
        )
        with TestClient(create_scout_app(settings)) as client:
            wait_until(
                lambda: client.get("/readyz").status_code == 200, 120, "scout ready"
            )
            yield data_dir, client


def test_scout_builds_and_serves_a_report(
    scout_stack: tuple[Path, TestClient],
) -> None:
    data_dir, client = scout_stack
    headers = {"X-API-Key": SCOUT_KEY}
    log = pd.read_parquet(data_dir / "scout" / "interactions.parquet")
    end = pd.Timestamp(log["ts"].max()) + pd.Timedelta(seconds=1)
    body = {
        "window_start": (end - pd.Timedelta(days=14)).isoformat(),
        "window_end": end.isoformat(),
    }
    accepted = client.post("/v1/drift/reports", json=body, headers=headers)
    assert accepted.status_code == 202, accepted.text
    status_url = accepted.json()["status_url"]
    job: dict[str, Any] = {}
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        job = client.get(status_url, headers=headers).json()
        if job["status"] in {"done", "failed"}:
            break
        time.sleep(0.5)
    assert job["status"] == "done", job
    listed = client.get("/v1/drift/reports", headers=headers).json()
    assert [r["report_id"] for r in listed["reports"]] == [job["report_id"]]
    summary = listed["reports"][0]
    assert summary["service"] == "scout"
    assert {c["column"] for c in summary["columns"]} == {
        "category",
        "price_band",
        "event",
        "user_events",
        "rec_category",
        "rec_price_band",
        "rec_popularity",
    }
    assert 0 < summary["figures"]["coverage"] <= 1
    page = client.get(f"/v1/drift/reports/{job['report_id']}/html", headers=headers)
    assert page.headers["content-type"].startswith("text/html")
    assert "Catalogue coverage" in page.text
    assert (data_dir / "drift" / "scout" / job["report_id"] / "summary.json").exists()
    gauge = [
        line
        for line in client.get("/metrics").text.splitlines()
        if line.startswith("scout_drift_share ")
    ]
    assert float(gauge[0].split()[1]) == pytest.approx(summary["drift_share"])
    empty = {
        "window_start": "2020-01-01T00:00:00Z",
        "window_end": "2020-01-02T00:00:00Z",
    }
    refused = client.post("/v1/drift/reports", json=empty, headers=headers)
    assert refused.status_code == 422 and refused.json()["rows"] == 0


def test_a_model_without_a_reference_sample_is_a_conflict(
    mlflow_server: MlflowServer,
    history: pd.DataFrame,
    drift_env: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    name = f"sentinel-drift-noref-{uuid.uuid4().hex[:8]}"
    version = register_without_reference(history, mlflow_server.url, name)
    settings = DriftSettings(data_dir=tmp_path)
    source = SentinelDriftSource(drift_env, mlflow_server.url, name, settings)
    with pytest.raises(Conflict) as refused:
        source.reference(version)
    assert "reference/features.parquet" in refused.value.detail
    assert refused.value.status_code == 409
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    unreachable = SentinelDriftSource(drift_env, "http://127.0.0.1:9", name, settings)
    with pytest.raises(DependencyUnavailable):
        unreachable.reference(version)


def register_without_reference(
    history: pd.DataFrame, tracking_uri: str, name: str
) -> str:
    """A model logged the bare way: no reference sample beside it."""
    import mlflow
    import mlflow.xgboost
    import xgboost as xgb

    from pipelines.fraud_features import compute_features

    features = compute_features(history)[list(FEATURE_NAMES)]
    matrix = xgb.DMatrix(features, label=history["is_fraud"].to_numpy())
    booster = xgb.train({"objective": "binary:logistic"}, matrix, num_boost_round=3)
    mlflow.set_tracking_uri(tracking_uri)
    with mlflow.start_run():
        info = mlflow.xgboost.log_model(
            booster, name="model", registered_model_name=name, pip_requirements=[]
        )
    return str(info.registered_model_version)
