"""Sentinel's drift reports (issue 7): scored traffic against the model's training.

Current: the transactions scored in the window (api.sentinel.scored_log), degraded
answers left out (their features are fallbacks, not traffic). Reference: the training
sample the fraud pipeline logged with the model that scored most of the window
(`reference/features.parquet` of its MLflow run). Columns tested: every model
feature and the score. Figures: the confirmed-fraud rate of the window (analysts'
`confirmed_fraud` decisions over transactions scored) against the training fraud
rate of that model's run, with the decision counts behind it; it is a lower bound
while cases are still undecided.
"""

from __future__ import annotations

import logging
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import pandas as pd
import redis
from fastapi import APIRouter, FastAPI

from api.common.drift import (
    BuiltReport,
    DriftSettings,
    DriftStore,
    DriftSummary,
    ModelRef,
    RowCounts,
    TooLittleData,
    Window,
    drift_router,
    load_drift_settings,
)
from api.common.errors import Conflict, DependencyUnavailable
from api.sentinel.features import FEATURE_NAMES
from api.sentinel.model import REFERENCE_SAMPLE
from api.sentinel.scored_log import ScoredLog, case_outcomes, read_window
from api.sentinel.settings import SentinelSettings

logger = logging.getLogger(__name__)

SCORE = "score"


@dataclass(frozen=True)
class Reference:
    """A registered model version's training sample and training fraud rate."""

    model: ModelRef
    sample: pd.DataFrame
    training_fraud_rate: float | None


@dataclass(frozen=True)
class SentinelWindow:
    window: Window
    current: pd.DataFrame
    excluded: int
    versions: dict[str, int]
    reference: Reference


class SentinelDriftSource:
    """Loads a window from the scored log and builds its report."""

    service: Literal["sentinel"] = "sentinel"

    def __init__(
        self,
        redis_url: str,
        tracking_uri: str,
        model_name: str,
        settings: DriftSettings,
    ) -> None:
        self.redis_url = redis_url
        self.tracking_uri = tracking_uri
        self.model_name = model_name
        self.settings = settings
        self._references: dict[str, Reference] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_settings(
        cls, settings: SentinelSettings, drift: DriftSettings
    ) -> SentinelDriftSource:
        return cls(
            settings.redis_url,
            settings.mlflow_tracking_uri,
            settings.sentinel_model_name,
            drift,
        )

    def _redis(self) -> redis.Redis[str]:
        return redis.Redis.from_url(
            self.redis_url, decode_responses=True, socket_timeout=30
        )

    def _redis_bytes(self) -> redis.Redis[bytes]:
        """For the scored log, whose features are binary."""
        return redis.Redis.from_url(self.redis_url, socket_timeout=30)

    def prepare(self, window: Window) -> SentinelWindow:
        client = self._redis_bytes()
        try:
            scored = read_window(client, window.start, window.end)
        except (redis.RedisError, OSError) as error:
            raise DependencyUnavailable(f"redis: {error}") from error
        finally:
            client.close()
        frame = scored.frame
        current = frame[~frame["degraded"].astype(bool)].reset_index(drop=True)
        if len(current) < self.settings.drift_min_rows:
            raise TooLittleData(
                "scored transactions (degraded answers not counted)",
                len(current),
                self.settings.drift_min_rows,
                window,
            )
        versions = Counter(current["model_version"].astype(str))
        version = versions.most_common(1)[0][0]
        return SentinelWindow(
            window=window,
            current=current,
            excluded=len(frame) - len(current) + scored.other_schema,
            versions=dict(versions),
            reference=self.reference(version),
        )

    def reference(self, version: str) -> Reference:
        """The training sample of a model version (downloaded once, then cached)."""
        with self._lock:
            if version not in self._references:
                self._references[version] = self._download_reference(version)
            return self._references[version]

    def _download_reference(self, version: str) -> Reference:
        """409 when MLflow answers but the run has no usable sample, 503 when it
        cannot be asked."""
        import mlflow.artifacts
        from mlflow import MlflowClient

        name = self.model_name
        folder = REFERENCE_SAMPLE.rsplit("/", 1)[0]
        try:
            client = MlflowClient(self.tracking_uri, registry_uri=self.tracking_uri)
            run_id = client.get_model_version(name, version).run_id
            metrics = client.get_run(run_id).data.metrics if run_id else {}
            listed = client.list_artifacts(run_id, folder) if run_id else []
            if REFERENCE_SAMPLE not in {item.path for item in listed}:
                raise Conflict(
                    f"{name} version {version} has no {REFERENCE_SAMPLE} artifact to "
                    "compare with: train it with pipelines.train_fraud, which logs it",
                    model_version=version,
                )
            with tempfile.TemporaryDirectory(prefix="sentinel-drift-") as tmp:
                path = mlflow.artifacts.download_artifacts(
                    run_id=run_id,
                    artifact_path=REFERENCE_SAMPLE,
                    dst_path=tmp,
                    tracking_uri=self.tracking_uri,
                )
                sample = pd.read_parquet(path)
        except Conflict:
            raise
        except Exception as error:  # any failure to ask MLflow: unavailable
            raise DependencyUnavailable(
                f"mlflow: cannot read the reference of {name} version {version}: "
                f"{str(error)[:300]}"
            ) from error
        missing = [c for c in (*FEATURE_NAMES, SCORE) if c not in sample]
        if missing:
            raise Conflict(
                f"{REFERENCE_SAMPLE} of {name} version {version} lacks {missing}",
                model_version=version,
            )
        rate = metrics.get("training_fraud_rate")
        return Reference(
            ModelRef(name=name, version=version, run_id=run_id), sample, rate
        )

    def build(self, prepared: SentinelWindow) -> BuiltReport:
        from api.common.drift_report import DriftColumns, run_drift

        started = time.perf_counter()
        window, current, reference = (
            prepared.window,
            prepared.current,
            prepared.reference,
        )
        figures = self._fraud_figures(current, reference)
        tested, skipped = features_to_test(window)
        columns = DriftColumns(numerical=[*tested, SCORE])
        outcome = run_drift(
            reference.sample,
            current,
            columns,
            self.settings.drift_share_threshold,
            heading=f"Sentinel drift · {window.label()}",
            facts=_facts(prepared, figures),
        )
        summary = DriftSummary(
            report_id=window.new_report_id(),
            service=self.service,
            window_start=window.start,
            window_end=window.end,
            created_at=datetime.now(UTC),
            dataset_drift=outcome.dataset_drift,
            drift_share=outcome.drift_share,
            drift_share_threshold=self.settings.drift_share_threshold,
            drifted_columns=outcome.drifted,
            columns=outcome.columns,
            rows=RowCounts(
                current=len(current),
                reference=len(reference.sample),
                excluded=prepared.excluded,
            ),
            model=reference.model,
            figures=figures,
            notes=_notes(prepared, skipped),
            build_seconds=round(time.perf_counter() - started, 2),
        )
        return BuiltReport(summary, outcome.html)

    def _fraud_figures(
        self, current: pd.DataFrame, reference: Reference
    ) -> dict[str, float | int | None]:
        flagged = current.loc[current["band"] != "approve", "transaction_id"]
        client = self._redis()
        try:
            outcomes = case_outcomes(client, [str(t) for t in flagged])
        finally:
            client.close()
        decided = outcomes.confirmed_fraud + outcomes.legitimate
        return {
            "confirmed_fraud_rate": outcomes.confirmed_fraud / len(current),
            "training_fraud_rate": reference.training_fraud_rate,
            "cases_opened": outcomes.cases,
            "confirmed_fraud": outcomes.confirmed_fraud,
            "legitimate": outcomes.legitimate,
            "escalated": outcomes.escalated,
            "undecided": outcomes.undecided,
            "case_fraud_rate": outcomes.confirmed_fraud / decided if decided else None,
            "mean_score": float(current[SCORE].mean()),
            "reference_mean_score": float(reference.sample[SCORE].mean()),
        }


def features_to_test(window: Window) -> tuple[list[str], list[str]]:
    """The features worth testing in this window, and those left out.

    A window shorter than a week cannot hold the reference's mix of weekdays (one
    day is all weekend or all weekday), nor one shorter than a day its mix of
    hours: those calendar features would always drift, so they are not tested.
    """
    length = window.end - window.start
    skipped = []
    if length < timedelta(days=7):
        skipped.append("is_weekend")
    if length < timedelta(days=1):
        skipped.append("hour_of_day")
    return [name for name in FEATURE_NAMES if name not in skipped], skipped


def _notes(prepared: SentinelWindow, skipped: list[str]) -> list[str]:
    notes = []
    if skipped:
        notes.append(
            f"not tested: {', '.join(skipped)} (a window this short cannot hold "
            "the reference's calendar mix)"
        )
    if prepared.excluded:
        notes.append(
            f"{prepared.excluded} scored transactions left out: degraded answers "
            "(fallback features) or another feature list"
        )
    if len(prepared.versions) > 1:
        notes.append(
            f"scored by several model versions {prepared.versions}; the reference "
            f"is version {prepared.reference.model.version}'s training sample"
        )
    return notes


def _facts(
    prepared: SentinelWindow, figures: dict[str, float | int | None]
) -> list[tuple[str, str]]:
    model = prepared.reference.model

    def rate(value: float | int | None) -> str:
        return "n/a" if value is None else f"{float(value):.3%}"

    return [
        ("Model", f"{model.name} version {model.version}"),
        ("Scored transactions", f"{len(prepared.current):,}"),
        ("Reference (training sample)", f"{len(prepared.reference.sample):,} rows"),
        (
            "Confirmed fraud rate",
            f"{rate(figures['confirmed_fraud_rate'])} of scored transactions "
            f"({figures['confirmed_fraud']} confirmed, {figures['undecided']} cases "
            "undecided)",
        ),
        ("Training fraud rate", rate(figures["training_fraud_rate"])),
    ]


def sentinel_drift_router(app: FastAPI, settings: SentinelSettings) -> APIRouter:
    """The /drift routes of Sentinel, with its drift-share gauge."""
    drift = load_drift_settings("sentinel")
    app.state.drift_settings = drift
    source = SentinelDriftSource.from_settings(settings, drift)
    store = DriftStore.for_service(drift, "sentinel")
    return drift_router(source, store, app.state.metrics.drift_share)


def scored_log_for(app: FastAPI, client: Any) -> ScoredLog:
    """The scorer's log of scored transactions (read by the reports above)."""
    drift: DriftSettings | None = getattr(app.state, "drift_settings", None)
    maxlen = drift.drift_stream_maxlen if drift else DriftSettings().drift_stream_maxlen
    return ScoredLog(client, maxlen)
