"""Train the Sentinel fraud model (XGBoost), evaluate it, register it in MLflow.

`python -m pipelines.train_fraud [--transactions FILE | --generate-days N ...]
[--metrics-out FILE]`. The history is split in time: a training period, a gap as
long as the label delay (labels of its last days would not be known yet when the model
is trained), then a test period. Metrics on the test period: ROC AUC, average
precision, card precision at 100 per day and a calibration table, for the model and
for a rules-only baseline (the amount alone, i.e. every amount threshold). The model
is registered as `sentinel-fraud`; the first version gets alias `champion`, later
ones `challenger` (promotion is the model-lifecycle job's decision).
"""

from __future__ import annotations

import os

# OpenMP threads that spin while waiting burn the CPU other processes need on a busy
# 2-core machine (measured: training twice as slow); set before xgboost loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import json
import logging
import math
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; there is no display on servers
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import xgboost as xgb
from sklearn.metrics import precision_recall_curve

from api.common.logging import configure_logging
from api.sentinel.features import FEATURE_DESCRIPTIONS, FEATURE_NAMES
from pipelines.fraud_data import ValidationError, load_transactions
from pipelines.fraud_features import compute_features
from pipelines.fraud_metrics import (
    expected_calibration_error,
    ranking_metrics,
    reliability_table,
    undo_class_weight,
)
from pipelines.generate_transactions import SimulationConfig, simulate

logger = logging.getLogger(__name__)

MODEL_NAME = "sentinel-fraud"
EXPERIMENT_NAME = "sentinel-fraud"
CHAMPION, CHALLENGER = "champion", "challenger"
DEFAULT_LABEL_DELAY_DAYS = 7
TOP_CARDS = 100


class TrainingDataError(Exception):
    """The history is valid but cannot train and evaluate a model (too short...)."""


@dataclass(frozen=True)
class TrainingConfig:
    """Split and model settings; None means "derived from the data"."""

    label_delay_days: int | None = None  # None: longest delay seen, else 7
    test_days: int | None = None  # None: a fifth of the history, at most 14
    warmup_days: int | None = None  # None: a tenth of the history, at most 7
    num_boost_round: int = 200
    max_depth: int = 5
    max_bin: int = 64
    learning_rate: float = 0.1
    subsample: float = 0.8
    colsample_bytree: float = 0.8
    nthread: int = 2
    seed: int = 0
    reference_rows: int = 5_000
    experiment_name: str = EXPERIMENT_NAME
    model_name: str = MODEL_NAME


@dataclass(frozen=True)
class SplitPlan:
    """Day boundaries (UTC midnights) of the time-ordered split."""

    train_start: pd.Timestamp
    gap_start: pd.Timestamp
    test_start: pd.Timestamp
    test_end: pd.Timestamp  # exclusive
    label_delay_days: int

    def describe(self) -> dict[str, str | int]:
        return {
            "train_start": self.train_start.isoformat(),
            "train_end": self.gap_start.isoformat(),
            "test_start": self.test_start.isoformat(),
            "test_end": self.test_end.isoformat(),
            "label_delay_days": self.label_delay_days,
        }


@dataclass
class TrainingResult:
    booster: xgb.Booster
    plan: SplitPlan
    metrics: dict[str, float]
    calibration: pd.DataFrame
    reference: pd.DataFrame  # training features sample with score and label
    test_frame: pd.DataFrame  # is_fraud, score, amount of the test period
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RegisteredModelInfo:
    name: str
    version: str
    alias: str
    run_id: str
    model_uri: str
    metrics: dict[str, float]


def label_delay_days(transactions: pd.DataFrame, config: TrainingConfig) -> int:
    """The gap: as configured, else the longest delay in the data, else 7 days."""
    if config.label_delay_days is not None:
        return config.label_delay_days
    if "label_available_at" not in transactions:
        return DEFAULT_LABEL_DELAY_DAYS
    delay = transactions["label_available_at"] - transactions["timestamp"]
    longest = delay.max()
    if pd.isna(longest):
        return DEFAULT_LABEL_DELAY_DAYS
    return max(1, math.ceil(longest / pd.Timedelta(days=1)))


def plan_split(transactions: pd.DataFrame, config: TrainingConfig) -> SplitPlan:
    """Train period, a gap of the label delay, then the test period (whole days)."""
    first = transactions["timestamp"].min().floor("D")
    last = transactions["timestamp"].max().floor("D")
    days = (last - first).days + 1
    delay = label_delay_days(transactions, config)
    test_days = config.test_days or max(1, min(14, days // 5))
    warmup = (
        config.warmup_days if config.warmup_days is not None else min(7, days // 10)
    )
    train_days = days - warmup - delay - test_days
    if train_days < 1:
        raise TrainingDataError(
            f"history of {days} day(s) is too short: it needs {warmup} warm-up, at "
            f"least 1 training, {delay} label-delay gap and {test_days} test day(s)"
        )
    test_end = last + pd.Timedelta(days=1)
    test_start = test_end - pd.Timedelta(days=test_days)
    return SplitPlan(
        train_start=first + pd.Timedelta(days=warmup),
        gap_start=test_start - pd.Timedelta(days=delay),
        test_start=test_start,
        test_end=test_end,
        label_delay_days=delay,
    )


def train_model(
    transactions: pd.DataFrame, config: TrainingConfig | None = None
) -> TrainingResult:
    """Features, split, fit, evaluation; no MLflow (see `log_and_register`)."""
    config = config or TrainingConfig()
    plan = plan_split(transactions, config)
    features = compute_features(
        transactions, label_delay=pd.Timedelta(days=plan.label_delay_days)
    )
    when = transactions["timestamp"]
    train = ((when >= plan.train_start) & (when < plan.gap_start)).to_numpy()
    test = ((when >= plan.test_start) & (when < plan.test_end)).to_numpy()
    labels = transactions["is_fraud"].to_numpy(np.int64)
    _require_both_classes(labels[train], "training")
    _require_both_classes(labels[test], "test")

    started = time.perf_counter()
    booster, params = fit_booster(features[train], labels[train], config)
    fit_seconds = time.perf_counter() - started

    test_rows = transactions.loc[test]
    score = predict(booster, features[test])
    baseline = test_rows["amount"].to_numpy(np.float64)
    metrics = evaluate(test_rows, score, baseline)
    calibrated = undo_class_weight(score, params["scale_pos_weight"])
    calibration = reliability_table(test_rows["is_fraud"], score)
    metrics["calibration_error"] = expected_calibration_error(calibration)
    metrics["calibration_error_prior_corrected"] = expected_calibration_error(
        reliability_table(test_rows["is_fraud"], calibrated)
    )
    metrics.update(
        training_fraud_rate=float(labels[train].mean()),
        test_fraud_rate=float(labels[test].mean()),
        training_rows=float(train.sum()),
        test_rows=float(test.sum()),
        label_delay_days=float(plan.label_delay_days),
        fit_seconds=round(fit_seconds, 2),
    )
    reference = reference_sample(features[train], labels[train], booster, config)
    test_frame = pd.DataFrame(
        {
            "is_fraud": test_rows["is_fraud"].to_numpy(),
            "score": score,
            "amount": baseline,
        }
    )
    logger.info("fraud_model_trained", extra={"metrics": metrics, **plan.describe()})
    return TrainingResult(
        booster, plan, metrics, calibration, reference, test_frame, params
    )


def _require_both_classes(labels: np.ndarray, period: str) -> None:
    frauds = int(labels.sum())
    if frauds == 0 or frauds == len(labels):
        raise TrainingDataError(
            f"the {period} period has {len(labels)} transactions and {frauds} frauds; "
            "it needs both frauds and legitimate ones (use a longer history)"
        )


def fit_booster(
    features: pd.DataFrame, labels: np.ndarray, config: TrainingConfig
) -> tuple[xgb.Booster, dict[str, Any]]:
    """XGBoost on the training period, frauds weighted up by the class ratio."""
    frauds = int(labels.sum())
    params: dict[str, Any] = {
        "objective": "binary:logistic",
        "eval_metric": "aucpr",
        "tree_method": "hist",
        "nthread": config.nthread,
        "max_depth": config.max_depth,
        "max_bin": config.max_bin,
        "eta": config.learning_rate,
        "subsample": config.subsample,
        "colsample_bytree": config.colsample_bytree,
        "scale_pos_weight": (len(labels) - frauds) / frauds,
        "seed": config.seed,
    }
    matrix = xgb.DMatrix(
        features[list(FEATURE_NAMES)], label=labels, feature_names=list(FEATURE_NAMES)
    )
    booster = xgb.train(params, matrix, num_boost_round=config.num_boost_round)
    return booster, {**params, "num_boost_round": config.num_boost_round}


def predict(booster: xgb.Booster, features: pd.DataFrame) -> np.ndarray:
    """Fraud probability per row, the way Sentinel calls the model."""
    values = features[list(FEATURE_NAMES)].to_numpy(np.float32)
    return np.asarray(booster.inplace_predict(values), dtype=np.float64)


def evaluate(
    test_rows: pd.DataFrame, score: np.ndarray, baseline: np.ndarray
) -> dict[str, float]:
    """Model and amount-only baseline, ranked the same way on the test period."""
    day = test_rows["timestamp"].dt.floor("D")
    card = test_rows["customer_id"]
    labels = test_rows["is_fraud"]
    model = ranking_metrics(labels, score, day, card, TOP_CARDS)
    rules = ranking_metrics(labels, baseline, day, card, TOP_CARDS)
    return {**model, **{f"baseline_{name}": value for name, value in rules.items()}}


def reference_sample(
    features: pd.DataFrame,
    labels: np.ndarray,
    booster: xgb.Booster,
    config: TrainingConfig,
) -> pd.DataFrame:
    """Training features with label and score: the reference for drift reports."""
    rows = min(config.reference_rows, len(features))
    picked = np.random.default_rng(config.seed).choice(
        len(features), rows, replace=False
    )
    picked.sort()
    sample = features.iloc[picked].reset_index(drop=True)
    sample["is_fraud"] = labels[picked]
    sample["score"] = predict(booster, sample)
    return sample


def log_and_register(
    result: TrainingResult,
    tracking_uri: str,
    config: TrainingConfig | None = None,
    source: str = "dataframe",
) -> RegisteredModelInfo:
    """One MLflow run with everything the result holds; the model registered and
    given alias champion (first version) or challenger (any later one)."""
    import mlflow
    import mlflow.xgboost
    from mlflow.models import infer_signature
    from mlflow.tracking import MlflowClient

    config = config or TrainingConfig()
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_experiment(config.experiment_name)
    with (
        mlflow.start_run(run_name="train-fraud") as run,
        tempfile.TemporaryDirectory() as tmp,
    ):
        mlflow.log_params(_run_params(result, source))
        mlflow.log_metrics(result.metrics)
        mlflow.set_tags(
            {
                "label_delay_days": str(result.plan.label_delay_days),
                "training_fraud_rate": f"{result.metrics['training_fraud_rate']:.6f}",
            }
        )
        mlflow.log_dict(result.metrics, "metrics.json")
        mlflow.log_dict(_feature_list(), "features.json")
        mlflow.log_dict(result.plan.describe(), "split.json")
        mlflow.log_table(result.calibration, "calibration/reliability.json")
        for name, figure in _figures(result).items():
            mlflow.log_figure(figure, f"plots/{name}.png")
            plt.close(figure)
        reference = Path(tmp) / "features.parquet"
        result.reference.to_parquet(reference, index=False)
        mlflow.log_artifact(str(reference), artifact_path="reference")
        example = result.reference[list(FEATURE_NAMES)].head(5)
        signature = infer_signature(example, predict(result.booster, example))
        info = mlflow.xgboost.log_model(
            result.booster,
            name="model",
            signature=signature,
            input_example=example,
            registered_model_name=config.model_name,
            # Stated, not inferred: inference loads the model in a subprocess (slow).
            pip_requirements=[f"xgboost-cpu=={xgb.__version__}"],
        )
    version = str(info.registered_model_version)
    client = MlflowClient(tracking_uri=tracking_uri)
    alias = _choose_alias(client, config.model_name)
    client.set_registered_model_alias(config.model_name, alias, version)
    for key, value in _version_tags(result).items():
        client.set_model_version_tag(config.model_name, version, key, value)
    registered = RegisteredModelInfo(
        name=config.model_name,
        version=version,
        alias=alias,
        run_id=run.info.run_id,
        model_uri=f"models:/{config.model_name}/{version}",
        metrics=dict(result.metrics),
    )
    logger.info(
        "fraud_model_registered",
        extra={
            "model": registered.name,
            "version": version,
            "alias": alias,
            "run_id": registered.run_id,
        },
    )
    return registered


def _choose_alias(client: Any, name: str) -> str:
    aliases = client.get_registered_model(name).aliases or {}
    return CHALLENGER if CHAMPION in aliases else CHAMPION


def _run_params(result: TrainingResult, source: str) -> dict[str, Any]:
    params = {key: value for key, value in result.params.items() if key != "nthread"}
    return {
        **params,
        **result.plan.describe(),
        "source": source,
        "feature_count": len(FEATURE_NAMES),
        "score_prior_correction": "p / (p + (1 - p) * scale_pos_weight)",
    }


def _version_tags(result: TrainingResult) -> dict[str, str]:
    keep = (
        "roc_auc",
        "average_precision",
        "card_precision_at_100",
        "training_fraud_rate",
        "label_delay_days",
    )
    tags = {key: f"{result.metrics[key]:.6g}" for key in keep}
    tags["scale_pos_weight"] = f"{result.params['scale_pos_weight']:.6g}"
    return tags


def _feature_list() -> dict[str, Any]:
    return {
        "features": list(FEATURE_NAMES),
        "descriptions": FEATURE_DESCRIPTIONS,
        "definition": "api/sentinel/features.py",
    }


def _figures(result: TrainingResult) -> dict[str, plt.Figure]:
    return {
        "precision_recall": _pr_figure(result.test_frame),
        "feature_importance": _importance_figure(result.booster),
        "reliability": _reliability_figure(result.calibration),
    }


def _pr_figure(test_frame: pd.DataFrame) -> plt.Figure:
    figure, axis = plt.subplots(figsize=(6, 4.5))
    for label, column in (("model", "score"), ("baseline: amount", "amount")):
        precision, recall, _ = precision_recall_curve(
            test_frame["is_fraud"], test_frame[column]
        )
        axis.plot(recall, precision, label=label)
    axis.set(xlabel="recall", ylabel="precision", title="Precision-recall, test period")
    axis.legend()
    figure.tight_layout()
    return figure


def _importance_figure(booster: xgb.Booster) -> plt.Figure:
    gain = booster.get_score(importance_type="total_gain")
    ranked = sorted(gain.items(), key=lambda item: item[1])
    figure, axis = plt.subplots(figsize=(7, 6))
    axis.barh([name for name, _ in ranked], [value for _, value in ranked])
    axis.set(xlabel="total gain", title="Feature importance")
    figure.tight_layout()
    return figure


def _reliability_figure(table: pd.DataFrame) -> plt.Figure:
    figure, axis = plt.subplots(figsize=(5, 5))
    used = table[table["transactions"] > 0]
    axis.plot([0, 1], [0, 1], linestyle=":", color="grey", label="perfect")
    axis.plot(
        used["mean_predicted"], used["observed_fraud_rate"], marker="o", label="model"
    )
    axis.set(
        xlabel="mean predicted probability",
        ylabel="observed fraud rate",
        title="Reliability (test period)",
    )
    axis.legend()
    figure.tight_layout()
    return figure


def train_and_register(
    transactions: pd.DataFrame,
    tracking_uri: str,
    config: TrainingConfig | None = None,
    source: str = "dataframe",
) -> RegisteredModelInfo:
    """Train on a (validated) history and register the model: what tests call."""
    config = config or TrainingConfig()
    result = train_model(transactions, config)
    return log_and_register(result, tracking_uri, config, source)


def write_metrics(metrics: dict[str, float], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")


def bootstrap_model(data_dir: Path) -> None:
    """Bootstrap step "fraud-model": train on DATA_DIR/fraud and register."""
    tracking_uri = os.environ.get("MLFLOW_TRACKING_URI", "")
    if not tracking_uri:
        raise RuntimeError(
            "MLFLOW_TRACKING_URI is not set; the model has nowhere to go"
        )
    source = data_dir / "fraud" / "transactions.parquet"
    transactions = load_transactions(source)
    info = train_and_register(transactions, tracking_uri, source=str(source))
    write_metrics(info.metrics, data_dir / "fraud" / "metrics.json")


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m pipelines.train_fraud", description=__doc__
    )
    data = parser.add_argument_group("data (a file, or else a simulated history)")
    data.add_argument("--transactions", type=Path, help="CSV, .csv.gz or Parquet file")
    defaults = SimulationConfig()
    data.add_argument("--generate-days", type=int, default=defaults.days)
    data.add_argument("--customers", type=int, default=defaults.customers)
    data.add_argument("--terminals", type=int, default=defaults.terminals)
    data.add_argument("--seed", type=int, default=defaults.seed)
    model = parser.add_argument_group("training")
    model.add_argument("--rounds", type=int, default=TrainingConfig.num_boost_round)
    model.add_argument(
        "--test-days", type=int, help="default: 1/5 of the history, ≤ 14"
    )
    model.add_argument("--label-delay-days", type=int, help="default: from the data")
    out = parser.add_argument_group("output")
    out.add_argument("--metrics-out", type=Path, help="write the metrics as JSON here")
    out.add_argument(
        "--tracking-uri",
        default=os.environ.get("MLFLOW_TRACKING_URI"),
        help="MLflow server (default: $MLFLOW_TRACKING_URI)",
    )
    out.add_argument("--model-name", default=MODEL_NAME, help="registered model name")
    out.add_argument("--experiment", default=EXPERIMENT_NAME, help="MLflow experiment")
    out.add_argument("--no-mlflow", action="store_true", help="evaluate only")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    configure_logging("train_fraud", os.environ.get("LOG_LEVEL", "WARNING"))
    if not args.no_mlflow and not args.tracking_uri:
        print(
            "error: set MLFLOW_TRACKING_URI or --tracking-uri (or --no-mlflow)",
            file=sys.stderr,
        )
        return 2
    config = TrainingConfig(
        num_boost_round=args.rounds,
        test_days=args.test_days,
        label_delay_days=args.label_delay_days,
        model_name=args.model_name,
        experiment_name=args.experiment,
    )
    try:
        transactions, source = _load(args)
        started = time.perf_counter()
        result = train_model(transactions, config)
    except ValidationError as error:
        print(error.report(), file=sys.stderr)
        return 1
    except TrainingDataError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    result.metrics["train_seconds"] = round(time.perf_counter() - started, 2)
    if args.metrics_out:
        write_metrics(result.metrics, args.metrics_out)
    if not args.no_mlflow:
        info = log_and_register(result, args.tracking_uri, config, source)
        registered = f"{info.name} version {info.version} as @{info.alias}"
        print(f"registered {registered} (run {info.run_id})")
    _print_summary(result)
    return 0


def _load(args: argparse.Namespace) -> tuple[pd.DataFrame, str]:
    if args.transactions:
        return load_transactions(args.transactions), str(args.transactions)
    simulation = replace(
        SimulationConfig(),
        days=args.generate_days,
        customers=args.customers,
        terminals=args.terminals,
        seed=args.seed,
    )
    source = f"simulated: {simulation}"
    return simulate(simulation).transactions, source


def _print_summary(result: TrainingResult) -> None:
    metrics = result.metrics
    print(f"split: {result.plan.describe()}")
    for key in ("roc_auc", "average_precision", "card_precision_at_100"):
        model, baseline = metrics[key], metrics[f"baseline_{key}"]
        print(f"{key:24s} model {model:.4f}   baseline {baseline:.4f}")
    print(
        f"training fraud rate {metrics['training_fraud_rate']:.4%}, "
        f"calibration error {metrics['calibration_error']:.4f} "
        f"(prior-corrected {metrics['calibration_error_prior_corrected']:.4f})"
    )


if __name__ == "__main__":
    raise SystemExit(main())
