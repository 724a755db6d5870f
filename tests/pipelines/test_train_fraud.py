"""Training against a real MLflow server: registration, aliases, artifacts, quality.

Each test registers under its own model name, so Sentinel's tests sharing the
session's MLflow server never see these versions.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import mlflow
import mlflow.xgboost
import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from api.sentinel.features import FEATURE_NAMES
from pipelines.fraud_data import load_transactions
from pipelines.train_fraud import (
    TrainingConfig,
    TrainingDataError,
    main,
    plan_split,
    train_and_register,
    train_model,
)
from tests.support import MlflowServer

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample_data" / "fraud" / "transactions.parquet"
MALFORMED = ROOT / "sample_data" / "fraud" / "malformed_transactions.csv"
METRIC_KEYS = {
    "roc_auc",
    "average_precision",
    "card_precision_at_100",
    "baseline_roc_auc",
    "baseline_average_precision",
    "baseline_card_precision_at_100",
}


@pytest.fixture(scope="module")
def sample() -> pd.DataFrame:
    return load_transactions(SAMPLE)


def _unique_name() -> str:
    return f"sentinel-fraud-test-{uuid.uuid4().hex[:8]}"


def test_split_leaves_a_label_delay_gap(sample: pd.DataFrame) -> None:
    plan = plan_split(sample, TrainingConfig())
    assert plan.label_delay_days == 7  # the sample's longest label delay, rounded up
    assert plan.test_start - plan.gap_start == pd.Timedelta(days=7)
    assert plan.train_start < plan.gap_start < plan.test_start < plan.test_end


def test_model_beats_the_amount_baseline_on_the_sample(sample: pd.DataFrame) -> None:
    metrics = train_model(sample, TrainingConfig()).metrics
    assert metrics["average_precision"] > 2 * metrics["baseline_average_precision"]
    assert metrics["roc_auc"] > metrics["baseline_roc_auc"]
    assert metrics["card_precision_at_100"] >= metrics["baseline_card_precision_at_100"]
    assert 0 < metrics["training_fraud_rate"] < 0.02


def test_first_version_is_champion_later_ones_challenger(
    mlflow_server: MlflowServer, sample: pd.DataFrame, tmp_path: Path
) -> None:
    config = TrainingConfig(model_name=_unique_name(), num_boost_round=60)
    first = train_and_register(sample, mlflow_server.url, config, source="sample")
    second = train_and_register(sample, mlflow_server.url, config, source="sample")
    assert (first.alias, second.alias) == ("champion", "challenger")

    client = MlflowClient(tracking_uri=mlflow_server.url)
    champion = client.get_model_version_by_alias(config.model_name, "champion")
    challenger = client.get_model_version_by_alias(config.model_name, "challenger")
    assert (champion.version, challenger.version) == (first.version, second.version)
    assert float(champion.tags["label_delay_days"]) == 7
    assert 0 < float(champion.tags["training_fraud_rate"]) < 0.02

    # Sentinel's way of loading and calling it.
    mlflow.set_tracking_uri(mlflow_server.url)
    booster = mlflow.xgboost.load_model(f"models:/{config.model_name}@champion")
    assert tuple(booster.feature_names) == FEATURE_NAMES

    artifacts = {
        item.path
        for folder in ("", "plots", "reference", "calibration")
        for item in client.list_artifacts(first.run_id, folder)
    }
    assert {
        "metrics.json",
        "features.json",
        "split.json",
        "plots/precision_recall.png",
        "plots/feature_importance.png",
        "plots/reliability.png",
        "reference/features.parquet",
        "calibration/reliability.json",
    } <= artifacts
    local = client.download_artifacts(
        first.run_id, "reference/features.parquet", str(tmp_path)
    )
    reference = pd.read_parquet(local)
    assert {*FEATURE_NAMES, "score", "is_fraud"} <= set(reference.columns)
    values = reference[list(FEATURE_NAMES)].to_numpy(np.float32)
    assert np.allclose(booster.inplace_predict(values), reference["score"], atol=1e-6)

    run = client.get_run(first.run_id)
    assert set(run.data.metrics) >= METRIC_KEYS
    assert run.data.params["label_delay_days"] == "7"
    assert run.data.params["source"] == "sample"


def test_cli_trains_from_a_file_and_writes_metrics(
    mlflow_server: MlflowServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    name = _unique_name()
    metrics_out = tmp_path / "metrics.json"
    args = [
        "--transactions",
        str(SAMPLE),
        "--metrics-out",
        str(metrics_out),
        "--tracking-uri",
        mlflow_server.url,
        "--model-name",
        name,
        "--rounds",
        "40",
    ]
    assert main(args) == 0
    metrics = json.loads(metrics_out.read_text())
    assert set(metrics) >= METRIC_KEYS
    assert f"registered {name} version 1 as @champion" in capsys.readouterr().out


def test_malformed_file_is_rejected_and_nothing_is_registered(
    mlflow_server: MlflowServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    name = _unique_name()
    metrics_out = tmp_path / "metrics.json"
    args = ["--transactions", str(MALFORMED), "--tracking-uri", mlflow_server.url]
    assert main([*args, "--model-name", name, "--metrics-out", str(metrics_out)]) == 1
    err = capsys.readouterr().err
    assert "8 problem(s)" in err
    assert "row 3, column 'timestamp'" in err
    assert not metrics_out.exists()
    client = MlflowClient(tracking_uri=mlflow_server.url)
    assert client.search_registered_models(filter_string=f"name = '{name}'") == []


def test_too_short_history_says_why(sample: pd.DataFrame) -> None:
    week = sample[
        sample["timestamp"] < sample["timestamp"].min() + pd.Timedelta(days=8)
    ]
    with pytest.raises(TrainingDataError, match="too short"):
        train_model(week, TrainingConfig())
