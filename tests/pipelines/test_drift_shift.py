"""Drift reports flag a window with a known shift and leave a calm one alone.

Seeded simulations (deterministic), thousands of rows per window, Evidently's own
tests: the same report code the services run (api.common.drift_report for Sentinel,
ScoutDriftSource for Scout), without Redis or MLflow.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from api.common.drift import DriftSettings, TooLittleData, Window
from api.common.drift_report import DriftColumns, DriftOutcome, run_drift
from api.scout.drift import INTERACTIONS, ScoutDriftSource
from api.scout.model import ScoutModel, load_model_folder
from api.sentinel.drift import features_to_test
from pipelines.fraud_features import compute_features
from pipelines.generate_interactions import GeneratorConfig, generate, write_dataset
from pipelines.generate_transactions import SimulationConfig, simulate
from pipelines.train_fraud import TrainingConfig, predict, train_model
from pipelines.train_scout import TrainConfig, train

pytestmark = pytest.mark.unit

THRESHOLD = DriftSettings().drift_share_threshold


@dataclass(frozen=True)
class FraudWorld:
    reference: pd.DataFrame  # the training sample, as logged with the model
    history: pd.DataFrame
    booster: object
    window: Window  # the last day of the history


@pytest.fixture(scope="module")
def fraud_world() -> FraudWorld:
    """Sixty days; the model trains after a 30-day warm-up, so its reference sample
    has full 30-day aggregates, like the last day of the history."""
    history = simulate(
        SimulationConfig(days=60, customers=1000, terminals=2000, seed=11)
    ).transactions
    config = TrainingConfig(num_boost_round=40, seed=0, warmup_days=30)
    result = train_model(history, config)
    last = history["timestamp"].max().to_pydatetime()
    window = Window(last - timedelta(days=1), last + timedelta(seconds=1))
    return FraudWorld(result.reference, history, result.booster, window)


def scored_window(
    world: FraudWorld, history: pd.DataFrame, window: Window
) -> pd.DataFrame:
    """Features (from the full history) and scores of the window's transactions."""
    history = history.sort_values("timestamp", kind="stable").reset_index(drop=True)
    features = compute_features(history)
    when = history["timestamp"]
    inside = ((when >= window.start) & (when < window.end)).to_numpy()
    current = features[inside].reset_index(drop=True)
    current["score"] = predict(world.booster, current)  # type: ignore[arg-type]
    return current


def shifted(world: FraudWorld, fraud_wave: bool) -> pd.DataFrame:
    """The history with the window's amounts tripled; as a fraud wave (what the
    bootstrap injects), only a quarter of the window's payments are kept and each
    is made at a random terminal, nearly always one its customer never used."""
    history = world.history.copy()
    terminals = history["terminal_id"].unique()
    if fraud_wave:
        positions = np.flatnonzero(in_window(world, history).to_numpy())
        dropped = positions[np.arange(len(positions)) % 4 != 0]
        history = history.drop(index=history.index[dropped]).reset_index(drop=True)
    inside = in_window(world, history)
    if fraud_wave:
        rng = np.random.default_rng(1)
        history.loc[inside, "terminal_id"] = rng.choice(terminals, int(inside.sum()))
    history.loc[inside, "amount"] *= 3
    return history


def in_window(world: FraudWorld, history: pd.DataFrame) -> pd.Series:
    when = history["timestamp"]
    return (when >= world.window.start) & (when < world.window.end)


def sentinel_outcome(world: FraudWorld, current: pd.DataFrame) -> DriftOutcome:
    tested, _ = features_to_test(world.window)
    columns = DriftColumns(numerical=[*tested, "score"])
    return run_drift(world.reference, current, columns, THRESHOLD, "test")


def test_a_day_like_the_training_period_is_not_flagged(
    fraud_world: FraudWorld,
) -> None:
    current = scored_window(fraud_world, fraud_world.history, fraud_world.window)
    assert len(current) > 1500
    outcome = sentinel_outcome(fraud_world, current)
    assert not outcome.dataset_drift, [c.column for c in outcome.drifted]
    assert outcome.drift_share <= THRESHOLD / 2
    assert "amount" not in {c.column for c in outcome.drifted}


def test_tripled_amounts_drift_the_amount_features_and_the_score(
    fraud_world: FraudWorld,
) -> None:
    history = shifted(fraud_world, fraud_wave=False)
    outcome = sentinel_outcome(
        fraud_world, scored_window(fraud_world, history, fraud_world.window)
    )
    drifted = {c.column: c for c in outcome.drifted}
    assert {"amount", "amount_to_customer_mean_30d", "score"} <= set(drifted)
    assert not {"hour_of_day", "customer_count_1d"} & set(drifted)
    assert drifted["amount"].test.startswith("Wasserstein")
    assert drifted["amount"].score > drifted["amount"].threshold
    # One of the four signals moved: about a third of the columns, not the dataset.
    assert 0.2 <= outcome.drift_share <= THRESHOLD - 0.1


def test_a_fraud_wave_day_is_flagged(fraud_world: FraudWorld) -> None:
    history = shifted(fraud_world, fraud_wave=True)
    current = scored_window(fraud_world, history, fraud_world.window)
    outcome = sentinel_outcome(fraud_world, current)
    assert outcome.dataset_drift
    assert outcome.drift_share >= THRESHOLD + 0.1
    drifted = {c.column for c in outcome.drifted}
    assert {
        "amount",
        "terminal_new_for_customer",
        "customer_count_1d",
        "score",
    } <= drifted
    assert "drift-summary" in outcome.html and len(outcome.html) > 1_000_000


def test_calendar_features_are_not_tested_in_short_windows() -> None:
    start = pd.Timestamp("2025-01-01", tz="UTC").to_pydatetime()
    day = features_to_test(Window(start, start + timedelta(days=1)))
    hours = features_to_test(Window(start, start + timedelta(hours=6)))
    week = features_to_test(Window(start, start + timedelta(days=7)))
    assert day[1] == ["is_weekend"]
    assert hours[1] == ["is_weekend", "hour_of_day"]
    assert week[1] == [] and "is_weekend" in week[0]


# --- Scout ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ScoutWorld:
    data_dir: Path
    log: pd.DataFrame
    items: pd.DataFrame
    model: ScoutModel
    window: Window


@pytest.fixture(scope="module")
def scout_world(tmp_path_factory: pytest.TempPathFactory) -> ScoutWorld:
    data_dir = tmp_path_factory.mktemp("drift-scout")
    dataset = generate(
        GeneratorConfig(items=400, users=800, mean_views_per_user=20, seed=11)
    )
    write_dataset(dataset, data_dir / "scout")
    config = TrainConfig(dims=32, text_dims=48, evaluate=False, candidates=("svd",))
    train(data_dir / "scout", data_dir / "model", config)
    model = load_model_folder(data_dir / "model")
    model.version = {"name": "scout-test", "alias": "champion", "version": "1"}
    log = dataset.interactions
    end = log["ts"].max().to_pydatetime() + timedelta(seconds=1)
    window = Window(end - timedelta(days=14), end)
    return ScoutWorld(data_dir, log, dataset.items, model, window)


def scout_source(world: ScoutWorld, log: pd.DataFrame) -> ScoutDriftSource:
    log.to_parquet(world.data_dir / INTERACTIONS, index=False)
    settings = DriftSettings(data_dir=world.data_dir, drift_min_rows=100)
    return ScoutDriftSource(settings, lambda: world.model)


def test_scout_weeks_like_the_training_data_are_not_flagged(
    scout_world: ScoutWorld,
) -> None:
    source = scout_source(scout_world, scout_world.log)
    summary = source.build(source.prepare(scout_world.window)).summary
    assert summary.rows.current > 3000
    assert not summary.dataset_drift, summary.drifted_columns
    drifted = {c.column for c in summary.drifted_columns}
    assert not drifted & {"category", "price_band", "rec_category"}
    coverage = summary.figures["coverage"]
    reference = summary.figures["reference_coverage"]
    assert coverage is not None and reference is not None
    assert abs(coverage - reference) < 0.1


def test_scout_flags_a_new_category_mix(scout_world: ScoutWorld) -> None:
    log = scout_world.log.copy()
    inside = log["ts"] >= scout_world.window.start
    kitchen = scout_world.items.loc[
        scout_world.items["category"] == "kitchen", "item_id"
    ].to_numpy()
    log.loc[inside, "item_id"] = np.random.default_rng(0).choice(kitchen, inside.sum())
    source = scout_source(scout_world, log)
    summary = source.build(source.prepare(scout_world.window)).summary
    assert summary.dataset_drift
    drifted = {c.column: c for c in summary.drifted_columns}
    assert {"category", "rec_category"} <= set(drifted)
    assert drifted["category"].test.startswith("Jensen-Shannon")


def test_scout_refuses_a_window_with_too_few_interactions(
    scout_world: ScoutWorld,
) -> None:
    source = scout_source(scout_world, scout_world.log)
    start = scout_world.log["ts"].min().to_pydatetime() - timedelta(days=30)
    with pytest.raises(TooLittleData) as refused:
        source.prepare(Window(start, start + timedelta(days=1)))
    assert refused.value.rows == 0 and refused.value.minimum == 100
    assert "at least 100" in refused.value.detail
