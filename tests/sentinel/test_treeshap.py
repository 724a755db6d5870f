"""TreeSHAP tables give XGBoost's own pred_contribs and margins, or are not used."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb

from api.sentinel import treeshap
from api.sentinel.forest import FlatForest
from api.sentinel.model import fetch_model
from api.sentinel.treeshap import (
    TOLERANCE,
    TreeShapTables,
    largest_difference,
    usable_tree_shap,
)
from pipelines.fraud_features import compute_features
from pipelines.train_fraud import TrainingConfig
from tests.sentinel.support import RegisteredModel

FEATURES = 10


def training_data(seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    rows = rng.normal(size=(5000, FEATURES)).astype(np.float32)
    rows[:, 3] = np.round(rows[:, 3] * 3)  # few distinct values: rows on thresholds
    signal = rows[:, 0] + rows[:, 1] * rows[:, 2] + np.sin(3 * rows[:, 0])
    labels = (signal + rng.normal(size=5000)) > 1.8
    rows[rng.random(rows.shape) < 0.08] = np.nan  # missing values take default_left
    return rows, labels


def train(depth: int, rounds: int) -> xgb.Booster:
    rows, labels = training_data()
    params = {
        "objective": "binary:logistic",
        "max_depth": depth,
        "eta": 0.2,
        "nthread": 1,
    }
    return xgb.train(params, xgb.DMatrix(rows, labels), rounds)


def xgboost_explanations(
    booster: xgb.Booster, rows: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    matrix = xgb.DMatrix(rows, nthread=1)
    return (
        booster.predict(matrix, output_margin=True),
        booster.predict(matrix, pred_contribs=True),
    )


@pytest.fixture(scope="module")
def production_like() -> xgb.Booster:
    """The production depth and number of rounds."""
    config = TrainingConfig()
    return train(config.max_depth, config.num_boost_round)


@pytest.mark.unit
@pytest.mark.parametrize(("depth", "rounds"), [(1, 10), (3, 30), (8, 12)])
def test_tables_match_xgboost_on_fresh_rows_at_several_depths(
    depth: int, rounds: int
) -> None:
    """Deep trees split on the same feature several times along one path."""
    booster = train(depth, rounds)
    tables = TreeShapTables.from_booster(booster, FlatForest.from_booster(booster))
    fresh, _ = training_data(seed=17)
    fresh = fresh[:300]

    margins, contributions = tables.explain(fresh)
    expected_margins, expected = xgboost_explanations(booster, fresh)

    assert np.max(np.abs(contributions - expected)) <= TOLERANCE
    assert np.max(np.abs(margins - expected_margins)) <= TOLERANCE
    # Local accuracy: the contributions add up to the margin.
    assert np.max(np.abs(contributions.sum(axis=1) - margins)) <= 1e-3


@pytest.mark.unit
def test_production_like_model_matches_on_split_boundaries_and_missing_values(
    production_like: xgb.Booster,
) -> None:
    forest = FlatForest.from_booster(production_like)
    tables = TreeShapTables.from_booster(production_like, forest)
    empty = np.full((1, FEATURES), np.nan, dtype=np.float32)

    _, contributions = tables.explain(empty)
    _, expected = xgboost_explanations(production_like, empty)

    assert largest_difference(tables, forest, production_like, seed=4) <= TOLERANCE
    assert np.max(np.abs(contributions - expected)) <= TOLERANCE
    assert usable_tree_shap(production_like, forest) is not None


@pytest.mark.unit
def test_a_wrong_table_is_caught_and_xgboost_kept(
    production_like: xgb.Booster, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Thresholds moved by one float32 step change branches on the boundary rows;
    the load check must see that and refuse the tables."""
    forest = FlatForest.from_booster(production_like)
    tables = TreeShapTables.from_booster(production_like, forest)
    nudged = dataclasses.replace(
        tables,
        node_threshold=np.nextafter(tables.node_threshold, np.float32(np.inf)),
    )
    assert largest_difference(nudged, forest, production_like, seed=4) > TOLERANCE

    monkeypatch.setattr(
        TreeShapTables, "from_booster", classmethod(lambda cls, b, f: nudged)
    )
    assert usable_tree_shap(production_like, forest) is None


@pytest.mark.unit
def test_tables_too_large_are_not_built(
    production_like: xgb.Booster,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    forest = FlatForest.from_booster(production_like)
    monkeypatch.setattr(treeshap, "MAX_TABLE_VALUES", 10)

    with caplog.at_level("INFO", logger="api.sentinel.treeshap"):
        assert usable_tree_shap(production_like, forest) is None
    reasons = [str(getattr(r, "reason", "")) for r in caplog.records]
    assert any("tables of" in reason for reason in reasons), reasons


@pytest.mark.unit
def test_no_forest_means_no_tables(production_like: xgb.Booster) -> None:
    """A model the flat walk refused (objective, booster) is explained by XGBoost."""
    assert usable_tree_shap(production_like, None) is None


@pytest.mark.integration
def test_the_registered_fraud_model_loads_tables_that_explain_like_xgboost(
    registered_model: RegisteredModel, fraud_history: pd.DataFrame
) -> None:
    """The model the pipeline trains and registers, loaded as the service loads it,
    on the features the pipeline computes from the sample history."""
    model = fetch_model(
        registered_model.tracking_uri, registered_model.name, registered_model.alias
    )
    features = compute_features(fraud_history)
    rows = model.rows(features[list(model.feature_names)].to_dict("records")[:400])

    explained = model.predict_explained(rows[:8])
    matrix = xgb.DMatrix(rows, feature_names=list(model.feature_names), nthread=1)
    expected = model.booster.predict(matrix, pred_contribs=True)

    assert model.tree_shap is not None and explained is not None
    assert np.max(np.abs(model.contributions(rows, exact=True) - expected)) <= TOLERANCE
    assert (
        np.max(np.abs(explained[0] - model.booster.inplace_predict(rows[:8]))) <= 1e-5
    )
    assert model.predict_explained(rows[: treeshap.MAX_ROWS + 1]) is None
    plain = fetch_model(
        registered_model.tracking_uri,
        registered_model.name,
        registered_model.alias,
        tree_shap=False,
    )
    assert plain.tree_shap is None and plain.predict_explained(rows[:1]) is None
