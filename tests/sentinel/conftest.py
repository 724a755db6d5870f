"""Fixtures for Sentinel: a model in the session MLflow, a clean Redis database."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pandas as pd
import pytest
import redis

from pipelines.generate_transactions import SimulationConfig, simulate
from tests.sentinel.support import RegisteredModel, register_model, with_db
from tests.support import MlflowServer, RedisServer


@pytest.fixture(scope="session")
def fraud_history() -> pd.DataFrame:
    """A few weeks of simulated payments with plenty of fraud (small and fast)."""
    config = SimulationConfig(
        days=28,
        customers=300,
        terminals=300,
        terminals_per_customer=10,
        seed=5,
        fraud_intensity=6.0,
    )
    return simulate(config).transactions


@pytest.fixture(scope="session")
def registered_model(
    mlflow_server: MlflowServer, fraud_history: pd.DataFrame
) -> RegisteredModel:
    name = f"sentinel-fraud-test-{uuid.uuid4().hex[:8]}"
    version = register_model(fraud_history, mlflow_server.url, name)
    return RegisteredModel(mlflow_server.url, name, "champion", version)


@pytest.fixture
def sentinel_redis_url(redis_server: RedisServer) -> Iterator[str]:
    """Sentinel's own database of the session Redis, emptied before each test."""
    url = with_db(redis_server.url)
    client = redis.Redis.from_url(url)
    client.flushdb()
    client.close()
    yield url
