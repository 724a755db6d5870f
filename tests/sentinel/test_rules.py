"""Pure rules of Sentinel: bands, degraded limit, cursors, durability, settings."""

from __future__ import annotations

import time

import pytest
from pydantic import ValidationError

from api.common.errors import InvalidInput
from api.sentinel.cases import _decode_cursor, _encode_cursor, case_id_for
from api.sentinel.durability import Durability
from api.sentinel.schemas import TransactionIn
from api.sentinel.scoring import Policy, RedisBreaker
from api.sentinel.settings import SentinelSettings

pytestmark = pytest.mark.unit

POLICY = Policy(
    review_threshold=0.5,
    block_threshold=0.9,
    degraded_max_approve_amount=100.0,
    top_k=5,
)


@pytest.mark.parametrize(
    ("score", "amount", "degraded", "band"),
    [
        (0.1, 50.0, False, "approve"),
        (0.5, 50.0, False, "review"),
        (0.89, 50.0, False, "review"),
        (0.9, 50.0, False, "block"),
        (0.1, 5000.0, False, "approve"),
        (0.1, 100.0, True, "approve"),
        (0.1, 100.01, True, "review"),
        (0.95, 5000.0, True, "block"),
    ],
)
def test_band_from_thresholds_and_the_degraded_limit(
    score: float, amount: float, degraded: bool, band: str
) -> None:
    assert POLICY.band(score, amount, degraded) == band


def test_the_breaker_skips_redis_for_a_while_then_lets_it_be_tried() -> None:
    breaker = RedisBreaker(retry_after_s=0.5)
    assert not breaker.open
    breaker.trip(ConnectionError("refused"))
    assert breaker.open and breaker.reason == "redis unavailable: refused"
    time.sleep(0.55)
    assert not breaker.open


def test_a_cursor_round_trips_and_refuses_tampering_or_another_sort() -> None:
    cursor = _encode_cursor("amount", 12.5, "c_1")
    assert _decode_cursor(cursor, "amount") == (12.5, "c_1")
    with pytest.raises(InvalidInput, match="sort=amount"):
        _decode_cursor(cursor, "score")
    with pytest.raises(InvalidInput, match="cursor"):
        _decode_cursor("not-a-cursor!", "score")


def test_case_ids_are_stable_per_transaction() -> None:
    assert case_id_for("tx-1") == case_id_for("tx-1") != case_id_for("tx-2")


@pytest.mark.parametrize(
    ("version", "appendonly", "appendfsync", "durable", "waitaof"),
    [
        ("7.0.15", "yes", "always", True, False),
        ("7.2.4", "yes", "always", True, True),
        ("7.0.15", "yes", "everysec", False, False),
        ("6.2.14", "no", "always", False, False),
    ],
)
def test_durability_is_fsync_on_every_write(
    version: str, appendonly: str, appendfsync: str, durable: bool, waitaof: bool
) -> None:
    report = Durability(version, appendonly, appendfsync)
    assert report.fsync_every_write is durable
    assert report.supports_waitaof is waitaof


def test_a_transaction_needs_a_timezone_and_a_sane_amount() -> None:
    with pytest.raises(ValidationError) as raised:
        TransactionIn.model_validate(
            {
                "transaction_id": "t 1",
                "timestamp": "2025-01-01T00:00:00",
                "customer_id": "c",
                "terminal_id": "t",
                "amount": float("inf"),
            }
        )
    fields = {error["loc"][0] for error in raised.value.errors()}
    assert fields == {"transaction_id", "timestamp", "amount"}


def test_a_timestamp_is_stored_in_utc() -> None:
    tx = TransactionIn.model_validate(
        {
            "transaction_id": "t1",
            "timestamp": "2025-01-01T01:00:00+01:00",
            "customer_id": "c",
            "terminal_id": "t",
            "amount": 1,
        }
    )
    assert tx.timestamp.isoformat() == "2025-01-01T00:00:00+00:00"


def test_settings_refuse_a_block_threshold_below_review() -> None:
    with pytest.raises(ValidationError, match="BLOCK_THRESHOLD"):
        SentinelSettings(
            redis_url="redis://localhost/0",
            mlflow_tracking_uri="http://localhost:5000",
            sentinel_api_key="a-real-key",
            review_threshold=0.8,
            block_threshold=0.5,
        )
