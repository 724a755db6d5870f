"""Training against a real MLflow server and Qdrant local mode."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from mlflow import MlflowClient
from qdrant_client import QdrantClient, models

from pipelines.train_scout import (
    MODEL_ALIAS,
    MODEL_NAME,
    TrainConfig,
    load_dataset,
    train,
)
from tests.scout.conftest import TrainedScout

pytestmark = pytest.mark.integration


def test_model_is_registered_with_the_champion_alias(
    trained_scout: TrainedScout,
) -> None:
    client = MlflowClient(trained_scout.tracking_uri)

    version = client.get_model_version_by_alias(MODEL_NAME, MODEL_ALIAS)

    assert version.version == trained_scout.result.version
    assert version.run_id == trained_scout.result.run_id
    assert version.run_id is not None
    artifacts = {a.path for a in client.list_artifacts(version.run_id, "scout_model")}
    assert {
        "scout_model/item_vectors.npz",
        "scout_model/text_encoder.npz",
        "scout_model/items.parquet",
        "scout_model/model.json",
    } <= artifacts


def test_every_metric_is_logged_for_model_and_both_baselines(
    trained_scout: TrainedScout,
) -> None:
    assert trained_scout.result.run_id is not None
    run = MlflowClient(trained_scout.tracking_uri).get_run(trained_scout.result.run_id)
    metrics = run.data.metrics

    for recommender in ("model", "popularity", "itemknn"):
        for metric in (
            "precision_at_10",
            "recall_at_10",
            "ndcg_at_10",
            "map_at_10",
            "coverage",
            "novelty",
            "diversity",
        ):
            assert f"{recommender}_{metric}" in metrics
    for candidate in ("svd", "ppmi_svd", "als"):
        assert f"val_{candidate}_ndcg_at_10" in metrics
    assert run.data.params["method"] == trained_scout.result.method


def test_the_chosen_method_won_validation_and_beats_popularity(
    trained_scout: TrainedScout,
) -> None:
    result = trained_scout.result
    assert result.validation is not None and result.test is not None
    validation = result.validation.metrics
    best = max(("svd", "ppmi_svd", "als"), key=lambda m: validation[m]["ndcg_at_10"])

    assert result.method == best
    test = result.test.metrics
    assert test["model"]["ndcg_at_10"] > test["popularity"]["ndcg_at_10"]
    assert test["model"]["coverage"] > test["popularity"]["coverage"]


def test_collection_has_both_named_vectors_and_the_payload(
    trained_scout: TrainedScout, scout_client: TestClient
) -> None:
    # the serving app holds the local-mode lock; ask through its client
    client: QdrantClient = scout_client.app.state.qdrant  # type: ignore[attr-defined]
    info = client.get_collection("scout-items")
    vectors = info.config.params.vectors
    assert isinstance(vectors, dict)

    assert vectors["collab"].distance == models.Distance.DOT
    assert vectors["text"].distance == models.Distance.COSINE
    assert vectors["collab"].size == 32
    items = pd.read_parquet(trained_scout.data / "items.parquet")
    assert client.count("scout-items", exact=True).count == len(items)
    point = client.retrieve("scout-items", [0], with_payload=True)[0]
    assert point.payload is not None
    assert set(point.payload) == {
        "item_id",
        "title",
        "category",
        "brand",
        "price",
        "currency",
        "popularity",
    }
    assert point.payload["item_id"] == items["item_id"].iloc[0]


def test_bad_interaction_rows_are_named(scout_data: Path, tmp_path: Path) -> None:
    items = pd.read_parquet(scout_data / "items.parquet")
    events = pd.read_parquet(scout_data / "interactions.parquet")
    events.loc[7, "event"] = "wishlist"
    items.to_parquet(tmp_path / "items.parquet")
    events.to_parquet(tmp_path / "interactions.parquet")

    with pytest.raises(ValueError, match=r"interactions.parquet row 7: column event"):
        load_dataset(tmp_path)


def test_a_missing_column_is_named(scout_data: Path, tmp_path: Path) -> None:
    pd.read_parquet(scout_data / "items.parquet").drop(columns="price").to_parquet(
        tmp_path / "items.parquet"
    )
    pd.read_parquet(scout_data / "interactions.parquet").to_parquet(
        tmp_path / "interactions.parquet"
    )

    with pytest.raises(ValueError, match=r"items.parquet: missing column\(s\) price"):
        train(tmp_path, tmp_path / "model", TrainConfig())


def test_unknown_candidate_is_refused(scout_data: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="choose from"):
        train(scout_data, tmp_path / "model", TrainConfig(candidates=("lightfm",)))
