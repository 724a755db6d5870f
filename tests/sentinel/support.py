"""Helpers for Sentinel's tests: a registered model, a running app, transactions."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pandas as pd

from api.sentinel.main import create_app
from api.sentinel.settings import SentinelSettings
from tests.support import ROOT, running_api

API_KEY = "test-sentinel-key"
HEADERS = {"X-API-Key": API_KEY}
# The session Redis is shared with other suites: Sentinel's tests own this database.
SENTINEL_DB = 5


@dataclass(frozen=True)
class RegisteredModel:
    tracking_uri: str
    name: str
    alias: str
    version: str


def sentinel_settings(
    redis_url: str, model: RegisteredModel, **overrides: Any
) -> SentinelSettings:
    values: dict[str, Any] = {
        "redis_url": redis_url,
        "mlflow_tracking_uri": model.tracking_uri,
        "sentinel_api_key": API_KEY,
        "sentinel_model_name": model.name,
        "sentinel_model_alias": model.alias,
        "model_retry_s": 0.3,
        # Generous: the shared test machine is often busy. Degraded-mode tests kill
        # or pause Redis instead of relying on timing.
        "redis_timeout_ms": 1000,
        "redis_retry_after_ms": 200,
        "log_level": "WARNING",
    }
    values.update(overrides)
    return SentinelSettings(**values)


def register_model(
    history: pd.DataFrame,
    tracking_uri: str,
    name: str,
    rounds: int = 40,
    seed: int = 0,
) -> str:
    """Train with the fraud pipeline's own trainer, register, make it the champion.

    The trainer gives later versions the alias challenger; tests that need the new
    version served move champion to it, as a promotion would.
    """
    from mlflow import MlflowClient

    from pipelines.train_fraud import TrainingConfig, train_and_register

    config = TrainingConfig(model_name=name, num_boost_round=rounds, seed=seed)
    info = train_and_register(history, tracking_uri, config)
    if info.alias != "champion":
        client = MlflowClient(tracking_uri=tracking_uri)
        client.set_registered_model_alias(name, "champion", info.version)
    return info.version


def with_db(url: str, db: int = SENTINEL_DB) -> str:
    return url.rsplit("/", 1)[0] + f"/{db}"


async def wait_ready(client: httpx.AsyncClient, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    body: Any = None
    while time.monotonic() < deadline:
        response = await client.get("/readyz")
        body = response.json()
        if response.status_code == 200:
            return
        await asyncio.sleep(0.1)
    raise TimeoutError(f"sentinel not ready after {timeout_s} s: {body}")


@asynccontextmanager
async def running_app(
    settings: SentinelSettings, ready: bool = True
) -> AsyncIterator[httpx.AsyncClient]:
    """The real app with its lifespan, called in process through ASGI."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://sentinel", headers=HEADERS
        ) as client:
            client.app = app  # type: ignore[attr-defined]
            if ready:
                await wait_ready(client)
            yield client


@contextmanager
def live_server(settings: SentinelSettings) -> Iterator[str]:
    """Sentinel under uvicorn in its own process, on a free port."""
    environment = {
        "REDIS_URL": settings.redis_url,
        "MLFLOW_TRACKING_URI": settings.mlflow_tracking_uri,
        "SENTINEL_API_KEY": settings.sentinel_api_key.get_secret_value(),
        "SENTINEL_MODEL_NAME": settings.sentinel_model_name,
        "SENTINEL_MODEL_ALIAS": settings.sentinel_model_alias,
        "REDIS_TIMEOUT_MS": str(settings.redis_timeout_ms),
        "REDIS_RETRY_AFTER_MS": str(settings.redis_retry_after_ms),
        "MODEL_RETRY_S": str(settings.model_retry_s),
        "LOG_LEVEL": "WARNING",
    }
    with running_api("api.sentinel.main:create_app", environment, timeout_s=90) as api:
        yield api.url


def transaction(
    transaction_id: str,
    amount: float = 25.0,
    customer_id: str = "cust-1",
    terminal_id: str = "term-1",
    when: datetime | None = None,
) -> dict[str, Any]:
    moment = when or datetime(2025, 3, 3, 12, 0, tzinfo=UTC)
    return {
        "transaction_id": transaction_id,
        "timestamp": moment.isoformat(),
        "customer_id": customer_id,
        "terminal_id": terminal_id,
        "amount": amount,
        "currency": "EUR",
    }


def history_rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Simulated transactions as API payloads, in time order."""
    return [
        {
            "transaction_id": str(row.transaction_id),
            "timestamp": row.timestamp.isoformat(),
            "customer_id": str(row.customer_id),
            "terminal_id": str(row.terminal_id),
            "amount": float(row.amount),
            "currency": "EUR",
        }
        for row in frame.itertuples()
    ]


def hour_steps(start: datetime, count: int) -> list[datetime]:
    return [start + timedelta(hours=i) for i in range(count)]


def repo_path(*parts: str) -> Path:
    return ROOT.joinpath(*parts)
