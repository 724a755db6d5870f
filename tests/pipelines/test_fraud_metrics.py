"""The measures the fraud model is judged by, on examples small enough to check."""

from __future__ import annotations

import numpy as np
import pytest

from pipelines.fraud_metrics import (
    card_precision_at_k,
    expected_calibration_error,
    reliability_table,
    undo_class_weight,
)

pytestmark = pytest.mark.unit


def test_card_precision_ranks_cards_by_their_riskiest_payment_each_day() -> None:
    day = ["d1", "d1", "d1", "d1", "d2", "d2", "d2"]
    card = ["A", "A", "B", "C", "A", "B", "C"]
    score = [0.9, 0.1, 0.8, 0.2, 0.1, 0.7, 0.6]
    fraud = [0, 1, 0, 1, 0, 0, 1]
    # d1: top-2 cards A (0.9, has a fraud) and B (0.8, none) -> 1/2
    # d2: top-2 cards B (0.7, none) and C (0.6, fraud) -> 1/2
    assert card_precision_at_k(day, card, score, fraud, k=2) == pytest.approx(0.5)
    # k above the number of cards: precision over the cards there are,
    # d1: A and C of 3 cards (2/3), d2: C of 3 cards (1/3).
    assert card_precision_at_k(day, card, score, fraud, k=10) == pytest.approx(0.5)


def test_reliability_table_counts_and_rates() -> None:
    probability = [0.05, 0.05, 0.95, 0.95, 0.95, 0.55]
    fraud = [0, 0, 1, 1, 0, 1]
    table = reliability_table(fraud, probability, bins=10)
    assert len(table) == 10
    assert table["transactions"].sum() == 6
    top = table.iloc[9]
    assert top["transactions"] == 3
    assert top["observed_fraud_rate"] == pytest.approx(2 / 3)
    assert top["mean_predicted"] == pytest.approx(0.95)
    error = expected_calibration_error(table)
    assert error == pytest.approx((2 * 0.05 + 3 * abs(0.95 - 2 / 3) + 0.45) / 6)


def test_prior_correction_undoes_positive_weighting() -> None:
    # Weighting positives w times multiplies the odds by w; undoing divides them.
    true_p = np.array([0.001, 0.01, 0.2])
    w = 99.0
    weighted = true_p * w / (true_p * w + (1 - true_p))
    assert np.allclose(undo_class_weight(weighted, w), true_p)
