"""Fraud training at scale and the model's lift over the amount-only baseline.

1. A simulated history of about one million transactions: generation time, then the
   wall time of features + split + XGBoost fit + evaluation (`fraud_train_1m_s`).
2. The default simulated history (what the bootstrap trains on): average precision
   and card precision at 100 of the model and of the baseline on the test period.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see pipelines/train_fraud.py

import time

from pipelines.fraud_features import compute_features
from pipelines.generate_transactions import SimulationConfig, simulate
from pipelines.train_fraud import TrainingConfig, train_model

MILLION = SimulationConfig(days=90, customers=5_000, terminals=10_000, seed=101)


def main() -> dict[str, float]:
    figures: dict[str, float] = {}
    started = time.perf_counter()
    history = simulate(MILLION).transactions
    figures["fraud_generate_1m_s"] = round(time.perf_counter() - started, 2)
    figures["fraud_train_1m_rows"] = float(len(history))

    started = time.perf_counter()
    compute_features(history)
    figures["fraud_features_1m_s"] = round(time.perf_counter() - started, 2)

    started = time.perf_counter()
    large = train_model(history, TrainingConfig())
    figures["fraud_train_1m_s"] = round(time.perf_counter() - started, 2)
    figures["fraud_fit_1m_s"] = large.metrics["fit_seconds"]
    figures["fraud_model_1m_average_precision"] = round(
        large.metrics["average_precision"], 4
    )
    del history, large

    default = train_model(simulate(SimulationConfig()).transactions, TrainingConfig())
    metrics = default.metrics
    for who, prefix in (("model", ""), ("baseline", "baseline_")):
        for key in ("average_precision", "card_precision_at_100", "roc_auc"):
            figures[f"fraud_{who}_{key}"] = round(metrics[f"{prefix}{key}"], 4)
    return figures


if __name__ == "__main__":
    print(main())
