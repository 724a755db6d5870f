"""How fraud models are measured: ranking quality, card precision per day, calibration.

Card precision at k follows the fraud-detection literature: investigators check a fixed
number of cards a day, so what matters is the share of truly compromised cards among
the k cards the model ranks highest that day, averaged over days.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score

FloatArray = npt.NDArray[np.float64]


def card_precision_at_k(
    day: Sequence[object] | pd.Series,
    card: Sequence[object] | pd.Series,
    score: npt.ArrayLike,
    is_fraud: npt.ArrayLike,
    k: int = 100,
) -> float:
    """Mean over days of: share of compromised cards among the day's top-k cards.

    A card's risk for a day is its highest transaction score that day; it counts as
    compromised that day when any of its transactions that day is fraud. Days with
    fewer than k cards are scored over the cards they have.
    """
    frame = pd.DataFrame(
        {
            "day": np.asarray(day),
            "card": np.asarray(card),
            "score": np.asarray(score, dtype=np.float64),
            "fraud": np.asarray(is_fraud, dtype=np.int64),
        }
    )
    if frame.empty:
        return float("nan")
    cards = frame.groupby(["day", "card"], sort=False).agg(
        score=("score", "max"), fraud=("fraud", "max")
    )
    cards = cards.reset_index().sort_values(
        ["day", "score"], ascending=[True, False], kind="stable"
    )
    top = cards.groupby("day", sort=True).head(k)
    return float(top.groupby("day")["fraud"].mean().mean())


def ranking_metrics(
    is_fraud: npt.ArrayLike,
    score: npt.ArrayLike,
    day: pd.Series,
    card: pd.Series,
    k: int = 100,
) -> dict[str, float]:
    """roc_auc, average_precision and card_precision_at_{k} of one score."""
    labels = np.asarray(is_fraud, dtype=np.int64)
    scores = np.asarray(score, dtype=np.float64)
    return {
        "roc_auc": float(roc_auc_score(labels, scores)),
        "average_precision": float(average_precision_score(labels, scores)),
        f"card_precision_at_{k}": card_precision_at_k(day, card, scores, labels, k),
    }


def reliability_table(
    is_fraud: npt.ArrayLike, probability: npt.ArrayLike, bins: int = 10
) -> pd.DataFrame:
    """Calibration view: per probability bin, how many transactions, the mean
    predicted probability and the observed fraud rate (equal-width bins on [0, 1])."""
    labels = np.asarray(is_fraud, dtype=np.float64)
    prob = np.clip(np.asarray(probability, dtype=np.float64), 0.0, 1.0)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(prob, edges[1:-1]), 0, bins - 1)
    frame = pd.DataFrame({"bin": which, "prob": prob, "fraud": labels})
    table = frame.groupby("bin").agg(
        transactions=("prob", "size"),
        mean_predicted=("prob", "mean"),
        observed_fraud_rate=("fraud", "mean"),
    )
    table = table.reindex(range(bins))
    table.insert(0, "bin_low", edges[:-1])
    table.insert(1, "bin_high", edges[1:])
    table["transactions"] = table["transactions"].fillna(0).astype(np.int64)
    return table.reset_index(drop=True)


def expected_calibration_error(table: pd.DataFrame) -> float:
    """Transaction-weighted mean gap between predicted and observed rates."""
    used = table[table["transactions"] > 0]
    gap = (used["mean_predicted"] - used["observed_fraud_rate"]).abs()
    return float((gap * used["transactions"]).sum() / used["transactions"].sum())


def undo_class_weight(probability: npt.ArrayLike, positive_weight: float) -> FloatArray:
    """Probabilities of a model trained with positives weighted `positive_weight`
    times, brought back to the real fraud rate (prior correction)."""
    p = np.asarray(probability, dtype=np.float64)
    return p / (p + (1.0 - p) * positive_weight)
