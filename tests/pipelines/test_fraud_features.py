"""What each fraud feature means, checked on a tiny history computed by hand.

The online store is proven equal to this offline computation in
test_feature_parity.py; here the offline values are compared with expectations.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from api.sentinel.features import (
    AGGREGATE_NAMES,
    FEATURE_NAMES,
    TransactionEvent,
    fallback_features,
    feature_vector,
    features_from_aggregates,
)
from pipelines.fraud_features import compute_features

pytestmark = pytest.mark.unit


def _history() -> pd.DataFrame:
    rows = [
        # id, time, customer, terminal, amount, fraud, label known at
        ("a", "2025-03-03T10:00:00Z", "c1", "m1", 10.00, 1, "2025-03-03T12:00:00Z"),
        ("b", "2025-03-03T10:05:00Z", "c1", "m2", 2.00, 0, "2025-03-05T00:00:00Z"),
        ("c", "2025-03-03T10:20:00Z", "c1", "m1", 30.00, 0, "2025-03-05T00:00:00Z"),
        ("d", "2025-03-04T10:00:00Z", "c1", "m1", 20.00, 0, "2025-03-06T00:00:00Z"),
        ("e", "2025-03-08T10:00:00Z", "c2", "m1", 7.00, 0, "2025-03-09T00:00:00Z"),
    ]
    frame = pd.DataFrame(
        rows,
        columns=[
            "transaction_id",
            "timestamp",
            "customer_id",
            "terminal_id",
            "amount",
            "is_fraud",
            "label_available_at",
        ],
    )
    for column in ("timestamp", "label_available_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame.set_index("transaction_id")


@pytest.fixture(scope="module")
def features() -> pd.DataFrame:
    return compute_features(_history())


def test_columns_are_the_model_inputs_in_order(features: pd.DataFrame) -> None:
    assert tuple(features.columns) == FEATURE_NAMES
    assert list(features.index) == ["a", "b", "c", "d", "e"]


def test_first_transaction_has_no_history(features: pd.DataFrame) -> None:
    a = features.loc["a"]
    assert a["customer_count_30d"] == 0
    assert a["customer_mean_amount_30d"] == 0
    assert a["amount_to_customer_mean_30d"] == 1.0
    assert a["terminal_new_for_customer"] == 1
    assert a["terminal_count_30d"] == 0 and a["terminal_risk_30d"] == 0


def test_velocity_and_card_testing_windows(features: pd.DataFrame) -> None:
    b, c = features.loc["b"], features.loc["c"]
    assert b["customer_count_10min"] == 1  # a, 5 minutes earlier
    assert b["terminal_new_for_customer"] == 1
    assert b["customer_small_new_terminal_count_1h"] == 0  # b itself is not counted
    assert c["customer_count_10min"] == 0  # a and b are 20 and 15 minutes back
    assert c["customer_count_1h"] == 2
    assert c["customer_small_new_terminal_count_1h"] == 1  # b: 2.00 at a new terminal
    assert c["terminal_new_for_customer"] == 0
    assert c["amount_to_customer_mean_30d"] == pytest.approx(30 / 6)


def test_windows_exclude_their_lower_edge(features: pd.DataFrame) -> None:
    d = features.loc["d"]  # exactly one day after a
    assert d["customer_count_1d"] == 2  # b and c, not a
    assert d["customer_mean_amount_1d"] == pytest.approx(16.0)
    assert d["customer_count_7d"] == 3
    assert d["customer_mean_amount_7d"] == pytest.approx(14.0)


def test_terminal_risk_uses_only_labels_known_before(features: pd.DataFrame) -> None:
    c, d, e = features.loc["c"], features.loc["d"], features.loc["e"]
    assert c["terminal_count_1d"] == 1
    assert c["terminal_risk_1d"] == 0  # a's fraud label arrives at 12:00, after c
    assert d["terminal_count_7d"] == 2 and d["terminal_risk_7d"] == 0.5
    assert d["terminal_count_1d"] == 1 and d["terminal_risk_1d"] == 0  # a left 1d
    assert e["terminal_count_7d"] == 3 and e["terminal_risk_7d"] == pytest.approx(1 / 3)


def test_calendar_features(features: pd.DataFrame) -> None:
    assert features.loc["a", "hour_of_day"] == 10
    assert features.loc["a", "is_weekend"] == 0  # Monday
    assert features.loc["e", "is_weekend"] == 1  # Saturday


def test_fallback_needs_no_history_and_is_neutral() -> None:
    saturday_night = datetime(2025, 3, 8, 23, 30, tzinfo=UTC)
    event = TransactionEvent("x", saturday_night, "c9", "m9", 80.0)
    values = fallback_features(event)
    assert tuple(values) == FEATURE_NAMES
    assert values["hour_of_day"] == 23 and values["is_weekend"] == 1
    assert values["amount_to_customer_mean_30d"] == 1.0
    assert values["terminal_risk_30d"] == 0.0
    population = fallback_features(event, {"customer_mean_amount_30d": 40.0})
    assert population["amount_to_customer_mean_30d"] == 2.0
    assert feature_vector(values)[0] == 80.0


@pytest.mark.parametrize(
    ("timestamp", "amount", "message"),
    [
        (datetime(2025, 1, 1), 1.0, "timezone-aware"),
        (datetime(2025, 1, 1, tzinfo=UTC), -1.0, "amount"),
        (datetime(2025, 1, 1, tzinfo=UTC), float("nan"), "amount"),
    ],
)
def test_event_rejects_what_windows_cannot_use(
    timestamp: datetime, amount: float, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        TransactionEvent("x", timestamp, "c", "t", amount)


def test_one_transaction_gets_the_very_values_of_its_column() -> None:
    """Serving computes one transaction with Python scalars, training whole columns
    with numpy: the same arithmetic, so the same float64 bits, edge cases included
    (no history, frauds above the count, amounts of zero)."""
    generator = np.random.default_rng(4)
    size = 2_000
    amounts = np.round(generator.uniform(0, 3_000, size), 2)
    amounts[:50] = 0.0
    times = generator.integers(0, 2_000_000_000_000, size)
    aggregates = {
        name: generator.integers(0, 4, size)
        if "count" in name or "seen" in name
        else generator.integers(0, 900_000, size)
        for name in AGGREGATE_NAMES
    }
    for name in AGGREGATE_NAMES:
        aggregates[name][:100] = 0  # no history at all
    aggregates["terminal_fraud_count_1d"][100:150] = 9  # more frauds than payments
    columns = features_from_aggregates(amounts, times, aggregates)
    for row in range(size):
        one = features_from_aggregates(
            float(amounts[row]),
            int(times[row]),
            {name: int(aggregates[name][row]) for name in AGGREGATE_NAMES},
        )
        assert tuple(one) == FEATURE_NAMES
        for name in FEATURE_NAMES:
            assert type(one[name]) is float, name
            assert one[name] == columns[name][row], (name, row)
