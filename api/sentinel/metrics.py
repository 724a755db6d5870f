"""Sentinel's own Prometheus metrics (the Grafana dashboard queries these names)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

from api.sentinel.model import LoadedModel

BANDS = ("approve", "review", "block")
OUTCOMES = ("confirmed_fraud", "legitimate", "escalate")


class SentinelMetrics:
    """Counters and gauges registered in the app's own registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.scores = Counter(
            "sentinel_scores",
            "Transactions scored (what-if excluded), by band.",
            ["band"],
            registry=registry,
        )
        self.decisions = Counter(
            "sentinel_decisions",
            "Analyst decisions recorded (retries not counted), by outcome.",
            ["outcome"],
            registry=registry,
        )
        self.degraded_answers = Counter(
            "sentinel_degraded_answers",
            "Scores answered without Redis, from fallback features.",
            registry=registry,
        )
        self.model_info = Gauge(
            "sentinel_model_info",
            "The model being served (value 1).",
            ["name", "alias", "version"],
            registry=registry,
        )
        self.drift_share = Gauge(
            "sentinel_drift_share",
            "Share of drifted features in the latest drift report (NaN: none yet).",
            registry=registry,
        )
        self.pending_case_writes = Gauge(
            "sentinel_pending_case_writes",
            "Scored transactions waiting in memory for Redis to come back.",
            registry=registry,
        )
        self.drift_share.set(float("nan"))
        for band in BANDS:
            self.scores.labels(band)
        for outcome in OUTCOMES:
            self.decisions.labels(outcome)

    def model_swapped(self, model: LoadedModel) -> None:
        self.model_info.clear()
        self.model_info.labels(model.name, model.alias, model.version).set(1)
