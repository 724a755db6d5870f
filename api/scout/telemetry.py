"""Scout's own Prometheus metrics (names fixed: the Grafana dashboard reads them)."""

from __future__ import annotations

import math

from prometheus_client import CollectorRegistry, Counter, Gauge


class ScoutMetrics:
    """Counters and gauges in the app's own registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.recommendations = Counter(
            "scout_recommendations",
            "Recommendation lists answered, by endpoint and whether popular items "
            "stood in.",
            ["endpoint", "fallback"],
            registry=registry,
        )
        self.degraded = Counter(
            "scout_degraded_answers",
            "Answers given without Qdrant (popularity fallback).",
            registry=registry,
        )
        self.model_info = Gauge(
            "scout_model_info",
            "The model being served (value 1).",
            ["name", "alias", "version"],
            registry=registry,
        )
        self.drift_share = Gauge(
            "scout_drift_share",
            "Share of drifted columns in the latest interaction drift report "
            "(NaN until one exists).",
            registry=registry,
        )
        self.drift_share.set(math.nan)

    def count_list(self, endpoint: str, fallback: bool, degraded: bool) -> None:
        self.recommendations.labels(endpoint, str(fallback).lower()).inc()
        if degraded:
            self.degraded.inc()

    def serving(self, name: str, alias: str, version: str) -> None:
        self.model_info.clear()
        self.model_info.labels(name, alias, version).set(1)
