"""The replay job streams a window of history through a live Sentinel."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pandas as pd
import pytest
import redis

from pipelines import replay
from tests.sentinel.support import (
    API_KEY,
    HEADERS,
    RegisteredModel,
    live_server,
    sentinel_settings,
    with_db,
)
from tests.support import RedisServer

pytestmark = pytest.mark.integration
REPLAY_DB = 6


@pytest.fixture(scope="module")
def replay_redis_url(redis_server: RedisServer) -> str:
    url = with_db(redis_server.url, REPLAY_DB)
    client = redis.Redis.from_url(url)
    client.flushdb()
    client.close()
    return url


@pytest.fixture(scope="module")
def sentinel_url(
    replay_redis_url: str, registered_model: RegisteredModel
) -> Iterator[str]:
    config = sentinel_settings(replay_redis_url, registered_model)
    with live_server(config) as url:
        yield url


def test_replay_sends_the_window_after_warming_the_features(
    tmp_path: Path,
    fraud_history: pd.DataFrame,
    sentinel_url: str,
    replay_redis_url: str,
) -> None:
    source = tmp_path / "transactions.parquet"
    fraud_history.to_parquet(source, index=False)
    end = fraud_history["timestamp"].max()
    window = fraud_history[fraud_history["timestamp"] > end - timedelta(hours=12)]
    warm = fraud_history[
        (fraud_history["timestamp"] > end - timedelta(days=3, hours=12))
        & (fraud_history["timestamp"] <= end - timedelta(hours=12))
    ]

    report = replay.run_replay(
        source,
        sentinel_url=sentinel_url,
        api_key=API_KEY,
        window=pd.Timedelta(hours=12),
        rate=0,
        batch_size=50,
        warmup=pd.Timedelta(days=3),
        redis_url=replay_redis_url,
        ready_timeout_s=30,
    )

    assert report.sent == len(window) and report.warmed_up == len(warm)
    assert sum(report.bands.values()) == len(window) and report.degraded == 0
    stats = httpx.get(f"{sentinel_url}/v1/stats", headers=HEADERS).json()
    assert sum(day["scored"] for day in stats["days"]) == len(window)
    assert sum(stats["queue"].values()) == report.cases
    # Warmed up: the first replayed payment of a customer already has a history.
    first = window.iloc[0]
    probe = {
        "transaction": {
            "transaction_id": "probe",
            "timestamp": first["timestamp"].isoformat(),
            "customer_id": first["customer_id"],
            "terminal_id": first["terminal_id"],
            "amount": 10.0,
        }
    }
    answer = httpx.post(
        f"{sentinel_url}/v1/score/what-if", json=probe, headers=HEADERS
    ).json()
    assert answer["features"]["customer_count_30d"] > 0


def test_replay_explains_what_is_wrong(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SENTINEL_API_KEY", raising=False)
    assert replay.main(["--url", "http://127.0.0.1:9"]) == 2
    assert "SENTINEL_API_KEY is not set" in capsys.readouterr().err

    monkeypatch.setenv("SENTINEL_API_KEY", API_KEY)
    missing = tmp_path / "nothing.parquet"
    code = replay.main(["--from-file", str(missing), "--url", "http://127.0.0.1:9"])
    assert code == 2
    assert f"{missing}: no such file" in capsys.readouterr().err

    with pytest.raises(replay.ReplayError, match="not a duration"):
        replay.parse_duration("soon")

    bad = tmp_path / "bad.csv"
    bad.write_text("transaction_id,amount\nt1,3\n")
    with pytest.raises(replay.ReplayError, match="missing column"):
        replay.load_history(bad)

    frame = pd.DataFrame(
        {
            "transaction_id": ["a"],
            "timestamp": [pd.Timestamp("2025-01-01", tz="UTC")],
            "customer_id": ["c"],
            "terminal_id": ["t"],
            "amount": [1.0],
        }
    )
    frame.to_parquet(tmp_path / "ok.parquet")
    with pytest.raises(replay.ReplayError, match="not ready after 1 s"):
        replay.run_replay(
            tmp_path / "ok.parquet",
            sentinel_url="http://127.0.0.1:9",
            api_key=API_KEY,
            window=None,
            rate=0,
            ready_timeout_s=1,
        )
