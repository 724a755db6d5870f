"""Validation of transaction files: every problem at once, with rows and columns."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from pipelines.fraud_data import (
    Problem,
    ValidationError,
    load_transactions,
    main,
    validate_transactions,
)

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
MALFORMED = ROOT / "sample_data" / "fraud" / "malformed_transactions.csv"
SAMPLE = ROOT / "sample_data" / "fraud" / "transactions.parquet"

# Zones differ row by row and the last row has none (UTC): each must stay itself.
GOOD_CSV = """transaction_id,timestamp,customer_id,terminal_id,amount,is_fraud
a,2025-03-01T09:15:00Z,c1,t1,42.10,0
b,2025-03-01T10:15:00+02:00,c1,t2,5,1
c,2025-03-01 11:00:00,c2,t1,0,false
d,2025-03-02,c2,t1,1.5,true
"""


def _problems(error: pytest.ExceptionInfo[ValidationError]) -> set[tuple[object, ...]]:
    return {(p.row, p.column) for p in error.value.problems}


def test_malformed_file_lists_every_problem_with_row_and_column() -> None:
    with pytest.raises(ValidationError) as error:
        load_transactions(MALFORMED)
    assert _problems(error) == {
        (2, "amount"),
        (3, "transaction_id"),
        (3, "timestamp"),
        (3, "amount"),
        (3, "is_fraud"),
        (4, "customer_id"),
        (4, "label_available_at"),
        (5, "is_fraud"),
    }
    text = error.value.report()
    assert "duplicate id 'tx-1' (first used in row 1)" in text
    assert "negative amount: '-8.50'" in text
    assert "label must be 0 or 1, got 'yes'" in text


def test_missing_columns_are_reported_together_with_row_problems(
    tmp_path: Path,
) -> None:
    path = tmp_path / "partial.csv"
    path.write_text("transaction_id,timestamp,amount\nx,yesterday,3\nx,2025-01-01,-1\n")
    with pytest.raises(ValidationError) as error:
        load_transactions(path)
    found = _problems(error)
    for column in ("customer_id", "terminal_id", "is_fraud"):
        assert (None, column) in found
    assert {(1, "timestamp"), (2, "transaction_id"), (2, "amount")} <= found
    # File-level problems come first, then rows in order.
    rows = [p.row for p in error.value.problems]
    assert rows[:3] == [None, None, None]
    assert rows[3:] == sorted(rows[3:])


def test_valid_csv_is_typed_with_utc_times(tmp_path: Path) -> None:
    path = tmp_path / "good.csv"
    path.write_text(GOOD_CSV)
    clean = load_transactions(path)
    assert str(clean["timestamp"].dt.tz) == "UTC"
    assert clean["timestamp"].iloc[1] == pd.Timestamp("2025-03-01T08:15:00Z")
    assert clean["timestamp"].iloc[2] == pd.Timestamp("2025-03-01T11:00:00Z")
    assert clean["timestamp"].iloc[3] == pd.Timestamp("2025-03-02T00:00:00Z")
    assert clean["amount"].tolist() == [42.10, 5.0, 0.0, 1.5]
    assert clean["is_fraud"].tolist() == [0, 1, 0, 1]


def test_gzip_csv_and_parquet_are_accepted(tmp_path: Path) -> None:
    frame = pd.read_csv(pd.io.common.StringIO(GOOD_CSV))
    frame.to_csv(tmp_path / "good.csv.gz", index=False)
    assert len(load_transactions(tmp_path / "good.csv.gz")) == 4
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], format="ISO8601", utc=True)
    frame["timestamp"] = frame["timestamp"].dt.tz_localize(None)  # naive means UTC
    frame["is_fraud"] = [0, 1, 0, 1]
    frame.to_parquet(tmp_path / "good.parquet")
    clean = load_transactions(tmp_path / "good.parquet")
    assert str(clean["timestamp"].dt.tz) == "UTC"


def test_empty_label_time_means_not_known_yet(tmp_path: Path) -> None:
    path = tmp_path / "labels.csv"
    path.write_text(
        "transaction_id,timestamp,customer_id,terminal_id,amount,is_fraud,"
        "label_available_at\n"
        "a,2025-03-01T09:15:00Z,c1,t1,4,1,\n"
        "b,2025-03-01T09:16:00Z,c1,t1,4,0,2025-03-03T00:00:00Z\n"
    )
    clean = load_transactions(path)
    assert clean["label_available_at"].isna().tolist() == [True, False]


def test_empty_table_unknown_format_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="empty"):
        validate_transactions(pd.DataFrame())
    (tmp_path / "data.xlsx").write_text("x")
    with pytest.raises(ValidationError, match="unknown format"):
        load_transactions(tmp_path / "data.xlsx")
    with pytest.raises(ValidationError, match="does not exist"):
        load_transactions(tmp_path / "absent.csv")


def test_shipped_sample_is_valid() -> None:
    clean = load_transactions(SAMPLE)
    assert len(clean) > 10_000
    assert clean["is_fraud"].isin([0, 1]).all()


def test_cli_prints_the_list_and_exits_non_zero(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main([str(MALFORMED)]) == 1
    err = capsys.readouterr().err
    assert "8 problem(s)" in err
    assert "row 4, column 'customer_id': missing value" in err


def test_problem_reads_like_a_sentence() -> None:
    assert str(Problem(3, "amount", "negative")) == "row 3, column 'amount': negative"
    assert str(Problem(None, "amount", "missing")) == "column 'amount': missing"
    assert str(Problem(None, None, "empty")) == "file: empty"
