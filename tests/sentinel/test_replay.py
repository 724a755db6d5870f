"""The replay job streams a window of history through a live Sentinel."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
import redis

from api.sentinel.features import FEATURE_NAMES
from api.sentinel.scored_log import STREAM_KEY, read_window
from pipelines import replay
from tests.sentinel.support import (
    API_KEY,
    HEADERS,
    RegisteredModel,
    live_server,
    sentinel_settings,
    with_db,
)
from tests.support import RedisServer, wait_until

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


def wait_for_quiet_scored_log(client: redis.Redis, quiet_s: float = 1.0) -> None:
    """Wait until Sentinel's scored log stops growing (its buffer is written).

    Sentinel writes the log a moment after answering; entries of an earlier replay
    that land after a FLUSHDB would be read as this replay's.
    """
    last = client.xlen(STREAM_KEY)
    quiet_since = time.monotonic()
    deadline = quiet_since + 30
    while time.monotonic() - quiet_since < quiet_s:
        if time.monotonic() > deadline:
            raise TimeoutError("Sentinel's scored log kept growing for 30 s")
        time.sleep(0.1)
        length = client.xlen(STREAM_KEY)
        if length != last:
            last, quiet_since = length, time.monotonic()


def replay_and_read_scored(
    source: Path, sentinel_url: str, redis_url: str, end_by: pd.Timestamp | None
) -> tuple[replay.ReplayReport, pd.DataFrame]:
    """Replay 12 h after 3 days of warm-up into an empty database; what was scored."""
    client = redis.Redis.from_url(redis_url)
    wait_for_quiet_scored_log(client)
    client.flushdb()
    report = replay.run_replay(
        source,
        sentinel_url=sentinel_url,
        api_key=API_KEY,
        window=pd.Timedelta(hours=12),
        rate=0,
        batch_size=50,
        warmup=pd.Timedelta(days=3),
        redis_url=redis_url,
        ready_timeout_s=30,
        end_by=end_by,
    )
    # Sentinel writes its scored log a moment after answering.
    wait_until(lambda: client.xlen(STREAM_KEY) >= report.sent, 10, "scored log")
    wait_for_quiet_scored_log(client)
    assert client.xlen(STREAM_KEY) == report.sent
    scored = read_window(
        client, pd.Timestamp("2000-01-01", tz="UTC"), pd.Timestamp.now(tz="UTC")
    ).frame
    client.close()
    return report, scored.set_index("transaction_id").sort_index()


def test_a_shifted_replay_lands_near_now_with_the_features_of_the_original(
    tmp_path: Path,
    fraud_history: pd.DataFrame,
    sentinel_url: str,
    replay_redis_url: str,
) -> None:
    source = tmp_path / "transactions.parquet"
    fraud_history.to_parquet(source, index=False)
    now = pd.Timestamp.now(tz="UTC")

    original, at_first = replay_and_read_scored(
        source, sentinel_url, replay_redis_url, end_by=None
    )
    shifted, moved = replay_and_read_scored(
        source, sentinel_url, replay_redis_url, end_by=now
    )

    assert original.shift == replay.NO_SHIFT
    assert shifted.shift > pd.Timedelta(days=300)
    assert shifted.shift % pd.Timedelta(days=7) == pd.Timedelta(0)
    assert original.degraded == shifted.degraded == 0
    assert len(moved) == len(at_first) == shifted.sent == original.sent
    assert list(moved.index) == list(at_first.index)
    assert (moved["timestamp"] - at_first["timestamp"] == shifted.shift).all()
    last = moved["timestamp"].max()
    assert now - pd.Timedelta(days=7) < last <= now
    # Warm-up, labels and window moved together: every feature value is the same.
    features = list(FEATURE_NAMES)
    assert moved[features].notna().all().all()
    np.testing.assert_array_equal(
        moved[features].to_numpy(), at_first[features].to_numpy()
    )
    assert at_first["customer_count_30d"].gt(0).mean() > 0.5
    assert at_first["terminal_risk_30d"].gt(0).any()
    np.testing.assert_array_equal(moved["score"], at_first["score"])


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
