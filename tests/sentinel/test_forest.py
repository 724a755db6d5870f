"""The flat numpy walk of the booster gives XGBoost's own scores, or is not used."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb

from api.sentinel.forest import (
    MAX_ROWS,
    TOLERANCE,
    FlatForest,
    boundary_rows,
    largest_difference,
    usable_forest,
)
from api.sentinel.model import fetch_model
from pipelines.fraud_features import compute_features
from pipelines.train_fraud import TrainingConfig
from tests.sentinel.support import RegisteredModel

FEATURES = 12


def training_data(seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    rows = rng.normal(size=(6000, FEATURES)).astype(np.float32)
    rows[:, 3] = np.round(rows[:, 3] * 4)  # a few distinct values: ties at splits
    labels = (rows[:, 0] + rows[:, 1] * rows[:, 2] + rng.normal(size=6000)) > 2.2
    rows[rng.random(rows.shape) < 0.08] = np.nan  # missing values take default_left
    return rows, labels


@pytest.fixture(scope="module")
def booster() -> xgb.Booster:
    """The production training parameters (depth, rounds, class weight)."""
    config = TrainingConfig()
    rows, labels = training_data()
    params = {
        "objective": "binary:logistic",
        "max_depth": config.max_depth,
        "eta": config.learning_rate,
        "scale_pos_weight": 20.0,
        "nthread": 1,
    }
    return xgb.train(params, xgb.DMatrix(rows, labels), config.num_boost_round)


@pytest.mark.unit
def test_scores_match_xgboost_on_fresh_rows_and_on_split_boundaries(
    booster: xgb.Booster,
) -> None:
    forest = FlatForest.from_booster(booster)
    fresh, _ = training_data(seed=11)
    expected = booster.inplace_predict(fresh)

    assert np.max(np.abs(forest.predict(fresh) - expected)) <= TOLERANCE
    assert largest_difference(forest, booster, seed=5) <= TOLERANCE
    for row in fresh[:MAX_ROWS]:  # the single-row path the service takes
        single = forest.predict(row[None, :])
        assert (
            abs(float(single[0]) - float(booster.inplace_predict(row[None, :])[0]))
            <= TOLERANCE
        )


@pytest.mark.unit
def test_boundary_rows_catch_a_walk_that_is_off_by_one_float(
    booster: xgb.Booster,
) -> None:
    """Thresholds moved by one float32 step change branches on the boundary rows."""
    forest = FlatForest.from_booster(booster)
    nudged = dataclasses.replace(
        forest, threshold=np.nextafter(forest.threshold, np.float32(np.inf))
    )
    rows = boundary_rows(forest, FEATURES, 2048, seed=5)

    assert largest_difference(nudged, booster, seed=5) > TOLERANCE
    assert np.isnan(rows).any() and np.isfinite(rows).any()


@pytest.mark.unit
def test_missing_values_follow_the_default_branch(booster: xgb.Booster) -> None:
    forest = FlatForest.from_booster(booster)
    empty = np.full((1, FEATURES), np.nan, dtype=np.float32)

    assert forest.predict(empty)[0] == pytest.approx(
        float(booster.inplace_predict(empty)[0]), abs=TOLERANCE
    )


@pytest.mark.unit
@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"objective": "multi:softprob", "num_class": 3}, "objective"),
        ({"objective": "binary:logistic", "booster": "dart"}, "booster"),
        ({"objective": "reg:squarederror"}, "objective"),
    ],
)
def test_models_the_walk_does_not_implement_keep_xgboost(
    params: dict[str, object], reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    rows, labels = training_data()
    target = labels.astype(int) + (rows[:, 4] > 1) if "num_class" in params else labels
    small = xgb.train({**params, "max_depth": 3}, xgb.DMatrix(rows, target), 5)

    with caplog.at_level("INFO", logger="api.sentinel.forest"):
        assert usable_forest(small) is None
    assert any(reason in str(getattr(r, "reason", "")) for r in caplog.records)


@pytest.mark.unit
def test_a_supported_model_is_used(booster: xgb.Booster) -> None:
    forest = usable_forest(booster)

    assert forest is not None
    assert forest.roots.size == TrainingConfig().num_boost_round


@pytest.mark.integration
def test_the_registered_fraud_model_is_scored_by_the_walk_with_xgboosts_scores(
    registered_model: RegisteredModel, fraud_history: pd.DataFrame
) -> None:
    """The model the pipeline trains and registers, loaded as the service loads it."""
    model = fetch_model(
        registered_model.tracking_uri, registered_model.name, registered_model.alias
    )
    features = compute_features(fraud_history)
    rows = model.rows(features[list(model.feature_names)].to_dict("records")[:500])

    assert model.forest is not None
    walked = np.concatenate([model.predict(row[None, :]) for row in rows])
    assert np.max(np.abs(walked - model.booster.inplace_predict(rows))) <= TOLERANCE
