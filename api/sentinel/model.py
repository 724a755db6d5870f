"""The served fraud model: loaded from the MLflow registry by alias, swapped atomically.

Scores and their exact TreeSHAP explanations come from tables built at load
(api/sentinel/treeshap.py), used only after they reproduced XGBoost's own
`pred_contribs` and margins on split-boundary rows. A model they cannot represent
is scored by the booster's trees walked with numpy (api/sentinel/forest.py, checked
the same way) for a few rows and `Booster.inplace_predict` for larger batches (no
DMatrix is built to score), and explained by XGBoost's `predict` on a DMatrix built
for the explanation alone (see api.sentinel.scoring for when, and
bench/bench_sentinel.py for the cost of each path).
"""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import xgboost as xgb

from api.common.errors import DependencyUnavailable
from api.common.heap import settle_heap
from api.sentinel.features import FEATURE_NAMES, POPULATION_DEFAULTS
from api.sentinel.forest import MAX_ROWS as FOREST_MAX_ROWS
from api.sentinel.forest import FlatForest, usable_forest
from api.sentinel.treeshap import MAX_ROWS as TABLE_MAX_ROWS
from api.sentinel.treeshap import TreeShapTables, usable_tree_shap

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities.model_registry import ModelVersion

logger = logging.getLogger(__name__)

FloatRows = npt.NDArray[np.float32]
# The training run's sample of features (logged by pipelines.train_fraud).
REFERENCE_SAMPLE = "reference/features.parquet"

# MLflow's client retries a failing server for minutes by default; a service that
# must report "not ready" promptly wants a short answer instead.
MLFLOW_CLIENT_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "20",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
}


# The alias the training pipeline gives every version after the first.
CHALLENGER_ALIAS = "challenger"


class ModelUnavailable(Exception):
    """The registry could not give us a usable model (the reason says why)."""


@dataclass(frozen=True)
class LoadedModel:
    """One registered model version, ready to score."""

    name: str
    alias: str
    version: str
    run_id: str | None
    metrics: dict[str, float]
    booster: xgb.Booster = field(repr=False)
    feature_names: tuple[str, ...]
    loaded_at: datetime
    population: dict[str, float] = field(default_factory=dict)
    """Typical values (training medians) that stand in for Redis in degraded mode."""
    forest: FlatForest | None = field(default=None, repr=False)
    """The same trees as numpy arrays, faster for a few rows (api/sentinel/forest)."""
    tree_shap: TreeShapTables | None = field(default=None, repr=False)
    """Exact explanations (and scores) for a few rows (api/sentinel/treeshap)."""

    def rows(self, features: list[Mapping[str, float]]) -> FloatRows:
        """Feature dicts as a float32 matrix in the model's column order."""
        return np.array(
            [[row[name] for name in self.feature_names] for row in features],
            dtype=np.float32,
        )

    def predict(self, rows: FloatRows) -> npt.NDArray[np.float32]:
        """Probabilities of fraud, without building a DMatrix."""
        if self.forest is not None and rows.shape[0] <= FOREST_MAX_ROWS:
            return self.forest.predict(rows)
        return np.asarray(self.booster.inplace_predict(rows), dtype=np.float32)

    def predict_explained(
        self, rows: FloatRows
    ) -> tuple[npt.NDArray[np.float32], FloatRows] | None:
        """(probabilities, exact contributions) in one pass, when the model's
        TreeSHAP tables loaded and the rows are few; None otherwise (predict, then
        contributions where needed)."""
        if self.tree_shap is None or rows.shape[0] > TABLE_MAX_ROWS:
            return None
        margins, contributions = self.tree_shap.explain(rows)
        probabilities = 1.0 / (1.0 + np.exp(-margins))
        return np.asarray(probabilities, dtype=np.float32), contributions

    def contributions(self, rows: FloatRows, exact: bool) -> npt.NDArray[np.float32]:
        """Per-feature contributions in log-odds; the last column is the bias.

        exact: TreeSHAP (from the tables when they loaded). Otherwise XGBoost's path
        attribution (approx_contribs), several times cheaper than its TreeSHAP.
        """
        if exact and self.tree_shap is not None:
            return self.tree_shap.explain(rows)[1]
        # nthread=1: OpenMP threads for a few rows cost more than they save, and
        # on a busy machine their spinning costs milliseconds.
        matrix = xgb.DMatrix(rows, feature_names=list(self.feature_names), nthread=1)
        return np.asarray(
            self.booster.predict(matrix, pred_contribs=True, approx_contribs=not exact),
            dtype=np.float32,
        )

    def warm_up(self) -> None:
        """One prediction and one explanation, so the first request pays nothing."""
        row = np.zeros((1, len(self.feature_names)), dtype=np.float32)
        self.predict(row)
        self.predict_explained(row)
        self.contributions(row, exact=True)
        self.contributions(row, exact=False)


def fetch_model(
    tracking_uri: str, name: str, alias: str, tree_shap: bool = True
) -> LoadedModel:
    """Resolve `models:/NAME@ALIAS`, download it and build a warmed LoadedModel."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    version = _resolve(client, name, alias)
    booster = _download_booster(tracking_uri, name, str(version.version))
    forest = usable_forest(booster)
    model = LoadedModel(
        name=name,
        alias=alias,
        version=str(version.version),
        run_id=version.run_id,
        metrics=_run_metrics(client, version.run_id),
        booster=booster,
        feature_names=_checked_feature_names(booster),
        loaded_at=datetime.now(UTC),
        population=_population(tracking_uri, version.run_id),
        forest=forest,
        tree_shap=usable_tree_shap(booster, forest) if tree_shap else None,
    )
    model.warm_up()
    return model


def resolve_version(tracking_uri: str, name: str, alias: str) -> str:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    return str(_resolve(client, name, alias).version)


def _resolve(client: MlflowClient, name: str, alias: str) -> ModelVersion:
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException as error:
        if error.error_code == "RESOURCE_DOES_NOT_EXIST":
            raise ModelUnavailable(
                f"no model version has alias {name}@{alias} in the registry yet"
            ) from error
        raise ModelUnavailable(f"registry error: {error.message}") from error


def _download_booster(tracking_uri: str, name: str, version: str) -> xgb.Booster:
    import mlflow.artifacts
    import mlflow.xgboost

    with tempfile.TemporaryDirectory(prefix="sentinel-model-") as folder:
        path = mlflow.artifacts.download_artifacts(
            artifact_uri=f"models:/{name}/{version}",
            dst_path=folder,
            tracking_uri=tracking_uri,
            registry_uri=tracking_uri,
        )
        loaded = mlflow.xgboost.load_model(path)
    booster = loaded if isinstance(loaded, xgb.Booster) else loaded.get_booster()
    # One thread per prediction: a single row gains nothing from OpenMP, and the
    # event loop must not wait for a thread pool to spin up.
    booster.set_param({"nthread": 1})
    return booster


def _population(tracking_uri: str, run_id: str | None) -> dict[str, float]:
    """Medians of the run's reference sample of training features, when it has one."""
    import mlflow.artifacts
    import pandas as pd

    if not run_id:
        return {}
    with tempfile.TemporaryDirectory(prefix="sentinel-reference-") as folder:
        try:
            path = mlflow.artifacts.download_artifacts(
                run_id=run_id,
                artifact_path=REFERENCE_SAMPLE,
                dst_path=folder,
                tracking_uri=tracking_uri,
            )
            sample = pd.read_parquet(path)
        except Exception as error:  # optional artifact: built-in values are used
            logger.info(
                "reference_sample_missing",
                extra={"run_id": run_id, "reason": str(error)},
            )
            return {}
    return {
        name: float(sample[name].median())
        for name in POPULATION_DEFAULTS
        if name in sample and sample[name].notna().any()
    }


def _run_metrics(client: MlflowClient, run_id: str | None) -> dict[str, float]:
    if not run_id:
        return {}
    run = client.get_run(run_id)
    return {key: float(value) for key, value in run.data.metrics.items()}


def _checked_feature_names(booster: xgb.Booster) -> tuple[str, ...]:
    names = booster.feature_names
    if not names:
        raise ModelUnavailable(
            "the model has no feature names, so online features cannot be mapped"
        )
    unknown = sorted(set(names) - set(FEATURE_NAMES))
    if unknown:
        raise ModelUnavailable(
            f"the model expects features Sentinel does not compute: {unknown}"
        )
    return tuple(names)


@dataclass(frozen=True)
class Challenger:
    """A registered version waiting to be compared with the served one (not loaded)."""

    name: str
    alias: str
    version: str
    run_id: str | None
    metrics: dict[str, float]
    registered_at: datetime | None


@dataclass(frozen=True)
class ChallengerLookup:
    """What the registry said: the challenger, none, or why it could not be asked."""

    challenger: Challenger | None
    error: str | None = None


ChallengerFetch = Callable[[str, str, str], Challenger | None]


def fetch_challenger(tracking_uri: str, name: str, alias: str) -> Challenger | None:
    """The version under `NAME@ALIAS` and its run's metrics; None without the alias.

    Registry metadata only: the booster is neither downloaded nor loaded.
    """
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    # A missing alias is an INVALID_PARAMETER_VALUE error when asked by alias, like
    # a malformed request; the registered model's alias map tells them apart.
    try:
        registered = client.get_registered_model(name)
    except MlflowException as error:
        if error.error_code == "RESOURCE_DOES_NOT_EXIST":
            return None
        raise
    number = (registered.aliases or {}).get(alias)
    if number is None:
        return None
    version = client.get_model_version(name, str(number))
    created = version.creation_timestamp
    return Challenger(
        name=name,
        alias=alias,
        version=str(version.version),
        run_id=version.run_id,
        metrics=_run_metrics(client, version.run_id),
        registered_at=datetime.fromtimestamp(created / 1000, UTC) if created else None,
    )


class ChallengerWatch:
    """The challenger, asked of the registry in a thread and kept for `ttl_s`.

    A request waits at most `wait_s` for a lookup; a slower registry gets the last
    answer (or an error saying it is slow) while the lookup finishes in the
    background, so `GET /v1/model` never hangs on MLflow.
    """

    def __init__(
        self,
        tracking_uri: str,
        name: str,
        alias: str = CHALLENGER_ALIAS,
        ttl_s: float = 30.0,
        wait_s: float = 3.0,
        fetch: ChallengerFetch = fetch_challenger,
    ) -> None:
        self.tracking_uri = tracking_uri
        self.name = name
        self.alias = alias
        self.ttl_s = ttl_s
        self.wait_s = wait_s
        self._fetch = fetch
        self._last: ChallengerLookup | None = None
        self._fetched_at = float("-inf")
        self._running: asyncio.Task[ChallengerLookup] | None = None

    async def lookup(self) -> ChallengerLookup:
        fresh = time.monotonic() - self._fetched_at < self.ttl_s
        if self._last is not None and fresh:
            return self._last
        if self._running is None or self._running.done():
            self._running = asyncio.create_task(self._refresh())
        try:
            return await asyncio.wait_for(asyncio.shield(self._running), self.wait_s)
        except TimeoutError:
            return self._last or ChallengerLookup(
                None, f"the registry did not answer within {self.wait_s:g} s"
            )

    def forget(self) -> None:
        """Ask the registry again next time (aliases may have moved)."""
        self._fetched_at = float("-inf")

    async def _refresh(self) -> ChallengerLookup:
        for variable, value in MLFLOW_CLIENT_DEFAULTS.items():
            os.environ.setdefault(variable, value)
        try:
            found = await asyncio.to_thread(
                self._fetch, self.tracking_uri, self.name, self.alias
            )
            result = ChallengerLookup(found)
        except Exception as error:  # the champion's answer must not depend on it
            result = ChallengerLookup(None, _reason(error))
            logger.warning(
                "challenger_lookup_failed",
                extra={
                    "model_name": self.name,
                    "alias": self.alias,
                    "reason": result.error,
                },
            )
        self._last, self._fetched_at = result, time.monotonic()
        return result


SwapListener = Callable[[LoadedModel], None]


class ModelHolder:
    """Holds the model being served; a reload builds the next one, then swaps.

    Requests read `current` once and keep that object for the whole request, so a
    swap (one reference assignment) never changes a model under a running request.
    """

    def __init__(
        self,
        tracking_uri: str,
        name: str,
        alias: str,
        retry_s: float,
        on_swap: SwapListener | None = None,
        tree_shap: bool = True,
    ) -> None:
        self.tracking_uri = tracking_uri
        self.tree_shap = tree_shap
        self.name = name
        self.alias = alias
        self.retry_s = retry_s
        self.current: LoadedModel | None = None
        self.last_error: str | None = "not loaded yet"
        self._on_swap = on_swap
        self._lock = asyncio.Lock()
        self.challenger = ChallengerWatch(tracking_uri, name)

    def require(self) -> LoadedModel:
        model = self.current
        if model is None:
            raise DependencyUnavailable(
                f"model {self.name}@{self.alias} is not loaded: {self.last_error}"
            )
        return model

    async def reload(self) -> tuple[LoadedModel | None, LoadedModel]:
        """Load what the alias points to now; (previous, current) models."""
        for variable, value in MLFLOW_CLIENT_DEFAULTS.items():
            os.environ.setdefault(variable, value)
        async with self._lock:
            previous = self.current
            try:
                version = await asyncio.to_thread(
                    resolve_version, self.tracking_uri, self.name, self.alias
                )
                if previous is not None and previous.version == version:
                    return previous, previous
                model = await asyncio.to_thread(
                    fetch_model,
                    self.tracking_uri,
                    self.name,
                    self.alias,
                    self.tree_shap,
                )
            except ModelUnavailable:
                raise
            except Exception as error:  # registry, network, artifact or format
                raise ModelUnavailable(_reason(error)) from error
            self.current = model
            self.last_error = None
            if self._on_swap is not None:
                self._on_swap(model)
            settle_heap("model_loaded")  # the old model is garbage by now
        logger.info(
            "model_loaded",
            extra={
                "model_name": model.name,
                "alias": model.alias,
                "model_version": model.version,
                "previous_version": previous.version if previous else None,
            },
        )
        return previous, model

    async def keep_loading(self) -> None:
        """Retry until a model is loaded (the bootstrap may register it later)."""
        while self.current is None:
            try:
                await self.reload()
            except Exception as error:  # every failure is reported, then retried
                self.last_error = _reason(error)
                logger.warning(
                    "model_not_loaded",
                    extra={
                        "model_name": self.name,
                        "alias": self.alias,
                        "reason": self.last_error,
                        "retry_in_s": self.retry_s,
                    },
                )
                await asyncio.sleep(self.retry_s)


def _reason(error: Exception) -> str:
    if isinstance(error, ModelUnavailable):
        return str(error)
    return f"{type(error).__name__}: {error}"[:500]
