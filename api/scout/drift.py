"""Scout's drift reports (issue 7): the interaction mix and recommendation coverage.

Current: the interactions of the window in DATA_DIR/scout/interactions.parquet, the
interaction log the bootstrap writes and training reads (Scout has no Redis, and what
users do is what the model learns from; logging served lists would need a store
Scout does not have). Reference: the interactions the serving model was trained on
(up to its `data_until`), the window itself left out, at most REFERENCE_ROWS.

One table, three kinds of rows (a column is tested on the rows that carry it):
- per interaction: the item's `category` and `price_band`, and the `event` type;
- per active user: `user_events`, events in the window (the reference counts events
  per user over consecutive stretches as long as the window, so both are comparable);
- per recommendation slot: `rec_category`, `rec_price_band` and `rec_popularity`
  (the item's popularity percentile) of the top-10 list each active user gets from
  the model's average-vector ranking (Scout's default strategy), computed exactly
  in numpy (no Qdrant: the embedded store is locked by the serving process).
Figures: catalogue coverage of those lists (distinct items / catalogue) for the
window and the reference, over the same number of users.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
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
from api.common.errors import DependencyUnavailable
from api.scout.model import EVENT_WEIGHTS, ScoutModel

logger = logging.getLogger(__name__)

INTERACTIONS = Path("scout") / "interactions.parquet"
PRICE_EDGES = (0.0, 10.0, 25.0, 50.0, 100.0, 250.0, float("inf"))
PRICE_BANDS = ("<10", "10-25", "25-50", "50-100", "100-250", "250+")
REFERENCE_ROWS = 20_000
LIST_USERS = 2_000
TOP_K = 10
SEED = 0
INTERACTION_COLUMNS = ("category", "price_band", "event")
USER_COLUMNS = ("user_events",)
LIST_COLUMNS = ("rec_category", "rec_price_band", "rec_popularity")


@dataclass(frozen=True)
class ScoutWindow:
    window: Window
    interactions: pd.DataFrame  # the window's
    log: pd.DataFrame  # the whole interaction log


ModelProvider = Callable[[], ScoutModel | None]


class ScoutDriftSource:
    """Loads a window of the interaction log and builds its report."""

    service: Literal["scout"] = "scout"

    def __init__(self, settings: DriftSettings, model: ModelProvider) -> None:
        self.settings = settings
        self._model = model

    def prepare(self, window: Window) -> ScoutWindow:
        log = read_log(self.settings.data_dir / INTERACTIONS)
        inside = (log["ts"] >= window.start) & (log["ts"] < window.end)
        current = log[inside].reset_index(drop=True)
        if len(current) < self.settings.drift_min_rows:
            raise TooLittleData(
                "interactions", len(current), self.settings.drift_min_rows, window
            )
        return ScoutWindow(window, current, log)

    def build(self, prepared: ScoutWindow) -> BuiltReport:
        from api.common.drift_report import DriftColumns, run_drift

        started = time.perf_counter()
        model = self._model()
        if model is None:
            raise DependencyUnavailable("Scout's model is not loaded yet; try later")
        window = prepared.window
        reference_log = _reference_log(prepared, model)
        rng = np.random.default_rng(SEED)
        users = min(
            LIST_USERS,
            prepared.interactions["user_id"].nunique(),
            reference_log["user_id"].nunique(),
        )
        history = prepared.log[prepared.log["ts"] < window.end]
        current, current_coverage = drift_table(
            model,
            prepared.interactions,
            prepared.interactions,
            history,
            window,
            users,
            rng,
            bounds=(window.start, window.end),
        )
        reference, reference_coverage = drift_table(
            model,
            _sample(reference_log, rng),
            reference_log,
            reference_log,
            window,
            users,
            rng,
        )
        columns = DriftColumns(
            numerical=["user_events", "rec_popularity"],
            categorical=[
                "category",
                "price_band",
                "event",
                "rec_category",
                "rec_price_band",
            ],
        )
        figures: dict[str, float | int | None] = {
            "coverage": current_coverage,
            "reference_coverage": reference_coverage,
            "active_users": int(prepared.interactions["user_id"].nunique()),
            "users_listed": users,
            "catalogue_items": model.size,
        }
        version = model.version
        model_ref = ModelRef(
            name=version.get("name", "scout"),
            version=version.get("version", "unknown"),
            run_id=version.get("run_id") or None,
        )
        outcome = run_drift(
            reference,
            current,
            columns,
            self.settings.drift_share_threshold,
            heading=f"Scout drift · {window.label()}",
            facts=[
                ("Model", f"{model_ref.name} version {model_ref.version}"),
                ("Interactions", f"{len(prepared.interactions):,}"),
                ("Reference interactions", f"{len(reference_log):,} (training data)"),
                (
                    "Catalogue coverage of top-10 lists",
                    f"{current_coverage:.1%} (reference {reference_coverage:.1%}, "
                    f"{users:,} users each)",
                ),
            ],
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
                current=len(prepared.interactions), reference=len(reference_log)
            ),
            model=model_ref,
            figures=figures,
            notes=[
                "reference: the model's training interactions without this window"
                + (
                    f", sampled to {REFERENCE_ROWS:,} rows"
                    if len(reference_log) > REFERENCE_ROWS
                    else ""
                )
            ],
            build_seconds=round(time.perf_counter() - started, 2),
        )
        return BuiltReport(summary, outcome.html)


def read_log(path: Path) -> pd.DataFrame:
    """The interaction log; empty when none was written yet (no window has data)."""
    columns = ["user_id", "item_id", "event", "ts"]
    if not path.exists():
        logger.warning("scout_interaction_log_missing", extra={"path": str(path)})
        return pd.DataFrame({name: pd.Series(dtype=object) for name in columns}).assign(
            ts=pd.Series(dtype="datetime64[ns, UTC]")
        )
    log = pd.read_parquet(path, columns=columns)
    log["ts"] = pd.to_datetime(log["ts"], utc=True)
    return log


def _reference_log(prepared: ScoutWindow, model: ScoutModel) -> pd.DataFrame:
    log, window = prepared.log, prepared.window
    keep = (log["ts"] < window.start) | (log["ts"] >= window.end)
    until = model.meta.get("data_until")
    if until:
        keep &= log["ts"] <= pd.Timestamp(until)
    reference = log[keep & log["item_id"].isin(model.index_of)]
    if reference.empty:
        raise DependencyUnavailable(
            "no training interactions outside the window to compare with"
        )
    return reference.reset_index(drop=True)


def _sample(frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    if len(frame) <= REFERENCE_ROWS:
        return frame
    picked = np.sort(rng.choice(len(frame), REFERENCE_ROWS, replace=False))
    return frame.iloc[picked].reset_index(drop=True)


def drift_table(
    model: ScoutModel,
    mix: pd.DataFrame,
    period: pd.DataFrame,
    history: pd.DataFrame,
    window: Window,
    users: int,
    rng: np.random.Generator,
    bounds: tuple[Any, Any] | None = None,
) -> tuple[pd.DataFrame, float]:
    """The three kinds of rows stacked in one table, and the lists' coverage.

    mix: interactions for the mix columns; period: every interaction of the period
    (activity, and whose lists are computed); history: what those lists start from.
    """
    known = mix[mix["item_id"].isin(model.index_of)]
    positions = known["item_id"].map(model.index_of).to_numpy(np.int64)
    interaction_rows = pd.DataFrame(
        {
            "category": model.categories[positions],
            "price_band": price_bands(model.prices[positions]),
            "event": known["event"].to_numpy(),
        }
    )
    activity = user_activity(period, window, bounds)
    if len(activity) > REFERENCE_ROWS:
        activity = rng.choice(activity, REFERENCE_ROWS, replace=False)
    user_rows = pd.DataFrame({"user_events": activity.astype(float)})
    chosen = rng.permutation(np.asarray(period["user_id"].unique()))[:users]
    lists = top_k_lists(model, history[history["user_id"].isin(chosen)])
    flat = lists.ravel()
    flat = flat[flat >= 0]
    popularity = model.items["popularity"].rank(pct=True).to_numpy()
    list_rows = pd.DataFrame(
        {
            "rec_category": model.categories[flat],
            "rec_price_band": price_bands(model.prices[flat]),
            "rec_popularity": popularity[flat],
        }
    )
    table = pd.concat([interaction_rows, user_rows, list_rows], ignore_index=True)
    coverage = len(np.unique(flat)) / model.size if model.size else 0.0
    return table, coverage


def price_bands(prices: np.ndarray) -> np.ndarray:
    codes = np.searchsorted(np.asarray(PRICE_EDGES), prices, side="right") - 1
    codes = np.clip(codes, 0, len(PRICE_BANDS) - 1)
    return np.asarray(PRICE_BANDS, dtype=object)[codes]


def user_activity(
    interactions: pd.DataFrame, window: Window, bounds: tuple[Any, Any] | None = None
) -> np.ndarray:
    """Events per active user per stretch as long as the window (stretches aligned
    on it), counting only stretches at least 90 % inside `bounds` (default: the
    first and last interaction): a partial stretch would understate activity."""
    if interactions.empty:
        return np.empty(0, dtype=np.int64)
    length = pd.Timedelta(window.end - window.start)
    origin = pd.Timestamp(window.start)
    low, high = bounds or (interactions["ts"].min(), interactions["ts"].max())
    first, last = (
        (pd.Timestamp(low) - origin) / length,
        (pd.Timestamp(high) - origin) / length,
    )
    stretch = (interactions["ts"] - origin) // length
    covered = np.minimum(stretch + 1, last) - np.maximum(stretch, first)
    whole = covered >= 0.9
    counts = (
        interactions[whole]
        .groupby([interactions["user_id"][whole], stretch[whole]])
        .size()
    )
    return counts.to_numpy()


def top_k_lists(model: ScoutModel, history: pd.DataFrame) -> np.ndarray:
    """Each user's top-k unseen items by the weighted mean of their item vectors."""
    known = history[history["item_id"].isin(model.index_of)]
    weights = (
        known.assign(weight=known["event"].map(EVENT_WEIGHTS).fillna(0.0))
        .groupby(["user_id", "item_id"])["weight"]
        .sum()
    )
    lists = []
    for _, rows in weights.groupby(level="user_id"):
        items = rows.index.get_level_values("item_id").map(model.index_of)
        positions = np.asarray(items, dtype=np.int64)
        lists.append(_user_list(model, positions, np.log1p(rows.to_numpy())))
    if not lists:
        return np.empty((0, TOP_K), dtype=np.int64)
    return np.vstack(lists)


def _user_list(model: ScoutModel, seen: np.ndarray, weights: np.ndarray) -> np.ndarray:
    profile = weights @ model.collab[seen] / max(float(weights.sum()), 1e-9)
    scores = model.collab @ profile
    scores[seen] = -np.inf
    k = min(TOP_K, model.size - len(seen))
    out = np.full(TOP_K, -1, dtype=np.int64)
    if k <= 0:
        return out
    top = np.argpartition(-scores, k - 1)[:k]
    out[:k] = top[np.argsort(-scores[top], kind="stable")]
    return out


def scout_drift_router(app: FastAPI) -> APIRouter:
    """The /drift routes of Scout (the model is the one the service has loaded)."""
    drift = load_drift_settings("scout")

    def loaded_model() -> ScoutModel | None:
        state: Any = getattr(app.state, "scout", None)
        recommender = getattr(state, "recommender", None)
        return None if recommender is None else recommender.model

    source = ScoutDriftSource(drift, loaded_model)
    store = DriftStore.for_service(drift, "scout")
    return drift_router(source, store, app.state.metrics.drift_share)
