"""The transaction simulator: reproducible, realistic rates, every scenario, delays."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from pipelines.fraud_data import validate_transactions
from pipelines.generate_transactions import (
    LOOKALIKES,
    NO_TAG,
    SCENARIOS,
    SimulationConfig,
    main,
    simulate,
)

pytestmark = pytest.mark.unit

CONFIG = SimulationConfig(days=60, customers=400, terminals=800, seed=21)


@pytest.fixture(scope="module")
def history() -> pd.DataFrame:
    return simulate(CONFIG).transactions


def test_same_seed_same_history_other_seed_other_history(
    history: pd.DataFrame,
) -> None:
    pd.testing.assert_frame_equal(history, simulate(CONFIG).transactions)
    other = simulate(SimulationConfig(days=60, customers=400, terminals=800, seed=22))
    assert not other.transactions["amount"].equals(history["amount"])


def test_fraud_is_rare_but_present(history: pd.DataFrame) -> None:
    rate = history["is_fraud"].mean()
    assert 0.001 < rate < 0.02


def test_every_scenario_and_lookalike_is_present_and_tagged(
    history: pd.DataFrame,
) -> None:
    frauds = history[history["is_fraud"] == 1]
    assert set(frauds["fraud_scenario"]) == set(SCENARIOS)
    legit = history[history["is_fraud"] == 0]
    assert set(legit["fraud_scenario"]) == {NO_TAG}
    assert set(legit["lookalike"]) == {NO_TAG, *LOOKALIKES}


def test_scenarios_look_like_their_description(history: pd.DataFrame) -> None:
    by = history.groupby("fraud_scenario")["amount"]
    assert by.median()["high_amount"] > 5 * by.median()[NO_TAG]
    testing = history[history["fraud_scenario"] == "card_testing"]
    assert (testing["amount"] <= 3.0).mean() > 0.6
    large = history[history["lookalike"] == "large_purchase"]
    assert large["amount"].median() > 3 * history["amount"].median()


def test_labels_arrive_after_the_configured_delay(history: pd.DataFrame) -> None:
    delay_days = (history["label_available_at"] - history["timestamp"]) / pd.Timedelta(
        days=1
    )
    assert delay_days.min() >= CONFIG.label_delay_min_days
    assert delay_days.max() <= CONFIG.label_delay_max_days
    assert delay_days.std() > 1  # spread over days, not a constant shift


def test_history_is_time_ordered_unique_and_valid(history: pd.DataFrame) -> None:
    assert history["timestamp"].is_monotonic_increasing
    assert history["transaction_id"].is_unique
    assert (history["amount"] > 0).all()
    span = history["timestamp"].max() - history["timestamp"].min()
    assert span > pd.Timedelta(days=CONFIG.days - 1)
    validate_transactions(history)  # raises on any problem
    hours = history.loc[history["is_fraud"] == 0, "timestamp"].dt.hour
    assert hours.between(9, 20).mean() > 0.6  # people shop in the daytime


def test_cli_writes_the_three_tables(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--days", "5", "--customers", "20", "--terminals", "30", "--seed", "1"]
    assert main([*args, "--out", str(tmp_path), "--format", "csv"]) == 0
    for name in ("transactions", "customers", "terminals"):
        assert (tmp_path / f"{name}.csv.gz").stat().st_size > 0
    transactions = pd.read_csv(tmp_path / "transactions.csv.gz")
    assert {"fraud_scenario", "label_available_at"} <= set(transactions.columns)
    assert "generated in" in capsys.readouterr().out
