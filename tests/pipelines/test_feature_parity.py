"""Training and serving compute the same features: one stream replayed both ways.

The stream goes through OnlineFeatureStore on a real redis-server, one event at a
time, with fraud labels recorded as they become known; the same history goes through
the vectorised offline computation. Every feature of every transaction must agree.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest
import redis.asyncio as aioredis

from api.sentinel.features import (
    FEATURE_NAMES,
    OnlineFeatureStore,
    TransactionEvent,
    TransactionRef,
)
from pipelines.fraud_features import compute_features, epoch_ms
from pipelines.generate_transactions import SimulationConfig, simulate
from tests.support import RedisServer

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def stream() -> pd.DataFrame:
    # Few customers and terminals, many frauds: every window and label path is used.
    config = SimulationConfig(
        days=21,
        customers=60,
        terminals=40,
        terminals_per_customer=8,
        seed=11,
        fraud_intensity=8.0,
    )
    transactions = simulate(config).transactions
    assert 2_000 < len(transactions) < 6_000
    return transactions


def _event(row: pd.Series) -> TransactionEvent:
    return TransactionEvent(
        transaction_id=row["transaction_id"],
        timestamp=row["timestamp"].to_pydatetime(),
        customer_id=row["customer_id"],
        terminal_id=row["terminal_id"],
        amount=float(row["amount"]),
    )


async def _replay(redis_url: str, transactions: pd.DataFrame) -> pd.DataFrame:
    """Online features of every transaction, labels arriving when they are known."""
    client = aioredis.Redis.from_url(redis_url)
    store = OnlineFeatureStore(client, prefix=f"parity-{uuid.uuid4().hex}")
    ms = epoch_ms(transactions["timestamp"])
    order = np.argsort(ms, kind="stable")
    labelled = transactions[transactions["is_fraud"] == 1]
    labelled = labelled.sort_values("label_available_at", kind="stable")
    label_ms = epoch_ms(labelled["label_available_at"])
    next_label = 0
    rows = []
    try:
        for position, index in enumerate(order):
            row = transactions.iloc[index]
            while next_label < len(labelled) and label_ms[next_label] < ms[index]:
                fraud = labelled.iloc[next_label]
                ref = TransactionRef(
                    fraud["transaction_id"],
                    fraud["timestamp"].to_pydatetime(),
                    fraud["terminal_id"],
                )
                known = fraud["label_available_at"].to_pydatetime()
                await store.record_label(ref, True, known)
                next_label += 1
            event = _event(row)
            preview = await store.read_only(event) if position % 7 == 0 else None
            features = await store.update_and_read(event)
            if preview is not None:
                assert preview == features, f"read_only differs at {event}"
            if position % 50 == 0:
                retry = await store.update_and_read(event)
                assert retry == features, f"a retry changed {event.transaction_id}"
            rows.append({"index": transactions.index[index], **features})
    finally:
        await client.aclose()
    return pd.DataFrame(rows).set_index("index").loc[transactions.index]


def test_online_and_offline_features_agree_for_every_transaction(
    redis_server: RedisServer, stream: pd.DataFrame
) -> None:
    offline = compute_features(stream)
    online = asyncio.run(_replay(redis_server.url, stream))

    for name in FEATURE_NAMES:
        close = np.isclose(online[name], offline[name], rtol=1e-12, atol=1e-9)
        bad = stream.loc[~close, "transaction_id"].head(5).tolist()
        assert close.all(), f"{name}: {int((~close).sum())} differ, e.g. {bad}"


def test_the_stream_exercises_every_feature(stream: pd.DataFrame) -> None:
    """Parity would prove little if windows were always empty."""
    offline = compute_features(stream)
    for name in FEATURE_NAMES:
        assert offline[name].nunique() > 1, f"{name} is constant in the test stream"
    assert (offline["terminal_risk_1d"] > 0).sum() > 0
    assert (offline["customer_small_new_terminal_count_1h"] >= 2).sum() > 0


def test_a_label_counts_only_once_it_is_known(redis_server: RedisServer) -> None:
    """Terminal risk ignores a fraud recorded with a known_at later than now."""

    async def scenario() -> tuple[float, float]:
        client = aioredis.Redis.from_url(redis_server.url)
        store = OnlineFeatureStore(client, prefix=f"labels-{uuid.uuid4().hex}")
        day = datetime(2025, 3, 3, 9, tzinfo=UTC)
        first = TransactionEvent("a", day, "cust-1", "term-1", 20.0)
        await store.update_and_read(first)
        later = day.replace(hour=15)
        await store.record_label(first, True, known_at=later)
        before = TransactionEvent("b", day.replace(hour=12), "cust-2", "term-1", 9.0)
        after = TransactionEvent("c", day.replace(hour=16), "cust-3", "term-1", 9.0)
        risk_before = (await store.read_only(before))["terminal_risk_1d"]
        risk_after = (await store.read_only(after))["terminal_risk_1d"]
        await client.aclose()
        return risk_before, risk_after

    risk_before, risk_after = asyncio.run(scenario())
    assert risk_before == 0.0
    assert risk_after == 1.0
