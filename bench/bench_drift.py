"""Building Sentinel's drift report over 100,000 scored transactions.

Starts a redis-server and an MLflow server on free ports, trains and registers the
fraud model on a simulated history (its training run logs the reference sample),
writes the last 100,000 transactions of that history, with their features and
scores, into the scored-transaction stream through ScoredLog (what Sentinel does
as it scores), then times what `POST /v1/drift/reports` runs in its worker thread:

- `drift_report_100k_s`: read the window from Redis, fetch the reference, look up
  the analysts' decisions, run Evidently, render and store the HTML (steady state:
  Evidently already imported, the model's reference not yet downloaded);
- `drift_report_100k_read_s`: the Redis read alone; `drift_evidently_import_s`:
  the one-off import cost of the first report in a process.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pandas as pd

ROWS = 100_000


def main() -> dict[str, float]:
    from tests.support import start_mlflow, start_redis

    with tempfile.TemporaryDirectory(prefix="bench-drift-") as tmp:
        folder = Path(tmp)
        redis_server = start_redis(folder / "redis")
        mlflow_server = start_mlflow(folder / "mlflow")
        try:
            return measure(folder, redis_server.url, mlflow_server.url)
        finally:
            mlflow_server.stop()
            redis_server.stop()


def measure(folder: Path, redis_url: str, tracking_uri: str) -> dict[str, float]:
    from api.common.drift import DriftSettings, DriftStore, Window
    from api.sentinel.drift import SentinelDriftSource
    from api.sentinel.scored_log import read_window
    from pipelines.fraud_features import compute_features
    from pipelines.generate_transactions import SimulationConfig, simulate
    from pipelines.train_fraud import TrainingConfig, predict, train_and_register

    history = simulate(SimulationConfig(days=35, customers=2000, seed=3)).transactions
    config = TrainingConfig(
        num_boost_round=100, model_name="bench-drift", experiment_name="bench-drift"
    )
    info = train_and_register(history, tracking_uri, config)
    features = compute_features(history)
    current = features.tail(ROWS).reset_index(drop=True)
    current["score"] = predict(_booster(tracking_uri, info.model_uri), current)
    times = history["timestamp"].tail(ROWS).reset_index(drop=True)
    asyncio.run(_write_log(redis_url, history.tail(ROWS), current, times, info.version))
    window = Window(
        times.min().to_pydatetime(), times.max().to_pydatetime() + timedelta(seconds=1)
    )

    started = time.perf_counter()
    import api.common.drift_report  # noqa: F401  # the first report pays this once

    import_s = time.perf_counter() - started
    settings = DriftSettings(data_dir=folder / "data", drift_min_rows=1000)
    source = SentinelDriftSource(redis_url, tracking_uri, "bench-drift", settings)
    store = DriftStore.for_service(settings, "sentinel")

    import redis

    client = redis.Redis.from_url(redis_url)
    started = time.perf_counter()
    scored = read_window(client, window.start, window.end)
    read_s = time.perf_counter() - started
    client.close()

    started = time.perf_counter()
    report = source.build(source.prepare(window))
    store.save(report)
    total_s = time.perf_counter() - started
    summary = report.summary
    print(
        f"[bench_drift] {summary.rows.current} rows, drift share "
        f"{summary.drift_share:.2f}, html {len(report.html) / 1e6:.1f} MB"
    )
    if not len(scored.frame) == ROWS == summary.rows.current:
        raise RuntimeError(f"expected {ROWS} rows, read {len(scored.frame)}")
    return {
        "drift_report_100k_s": round(total_s, 2),
        "drift_report_100k_read_s": round(read_s, 2),
        "drift_evidently_import_s": round(import_s, 2),
    }


def _booster(tracking_uri: str, model_uri: str) -> Any:
    import mlflow.xgboost

    mlflow.set_tracking_uri(tracking_uri)
    return mlflow.xgboost.load_model(model_uri)


async def _write_log(
    redis_url: str,
    transactions: pd.DataFrame,
    current: pd.DataFrame,
    times: pd.Series,
    version: str,
) -> None:
    """Append the rows through ScoredLog, as Sentinel's scorer does."""
    import redis.asyncio as aioredis

    from api.sentinel.features import FEATURE_NAMES
    from api.sentinel.schemas import ModelRef
    from api.sentinel.scored_log import ScoredLog

    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    log = ScoredLog(client, maxlen=200_000)
    model = ModelRef(name="bench-drift", alias="champion", version=version)
    ids = transactions["transaction_id"].astype(str).tolist()
    values = current[list(FEATURE_NAMES)].to_dict("records")
    scores = current["score"].to_numpy()
    for first in range(0, ROWS, 1000):
        answers, items = [], []
        for i in range(first, min(first + 1000, ROWS)):
            answers.append(_answer(ids[i], float(scores[i]), model))
            moment = times.iloc[i].to_pydatetime()
            items.append(
                SimpleNamespace(
                    features=values[i], event=SimpleNamespace(timestamp=moment)
                )
            )
        log.add(answers, items)
        await log.flush()
    await client.aclose()  # type: ignore[attr-defined]


def _answer(transaction_id: str, score: float, model: Any) -> Any:
    from datetime import UTC, datetime

    from api.sentinel.schemas import ScoreOut

    band = "block" if score >= 0.9 else "review" if score >= 0.5 else "approve"
    return ScoreOut(
        transaction_id=transaction_id,
        score=score,
        band=band,
        reasons=[],
        explanation="approximate",
        model=model,
        degraded=False,
        case_id=None,
        amount=0.0,
        currency="EUR",
        scored_at=datetime.now(UTC),
        latency_ms=0.0,
    )


if __name__ == "__main__":
    print(main())
