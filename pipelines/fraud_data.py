"""Load a transactions file (CSV, gzip CSV or Parquet) and validate it completely.

Validation checks every row and every column and reports all problems at once, each
with its row number (the N-th data row, header excluded: line N+1 of a CSV) and its
column, so a file is fixed in one pass. Nothing downstream runs on a file with
problems. `python -m pipelines.fraud_data FILE` checks a file from the shell.
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from api.common.logging import configure_logging

logger = logging.getLogger(__name__)

REQUIRED_COLUMNS = (
    "transaction_id",
    "timestamp",
    "customer_id",
    "terminal_id",
    "amount",
    "is_fraud",
)
ID_COLUMNS = ("transaction_id", "customer_id", "terminal_id")
# Optional columns with a meaning; any other column is kept as it is.
LABEL_AVAILABLE_AT = "label_available_at"
SHOWN_VALUE_CHARS = 40
# A zone designator right after a clock time: 10:15Z, 10:15:00+02:00, 10:15:00.5-0500.
ZONE_SUFFIX = r"\d:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:Z|[+-]\d{2}(?::?\d{2})?)$"
Mask = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input; row is 1-based, None for the whole file."""

    row: int | None
    column: str | None
    problem: str

    def __str__(self) -> str:
        where = []
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column '{self.column}'")
        return f"{', '.join(where) or 'file'}: {self.problem}"


class ValidationError(Exception):
    """The input cannot be used; `problems` lists everything found, in row order."""

    def __init__(self, source: str, problems: list[Problem]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: {len(problems)} problem(s); first: {problems[0]}")

    def report(self) -> str:
        lines = [f"{self.source}: {len(self.problems)} problem(s)"]
        lines += [f"  {problem}" for problem in self.problems]
        return "\n".join(lines)


def read_table(path: Path) -> pd.DataFrame:
    """The raw table: CSV cells as text (validation parses them), Parquet as typed."""
    name = path.name.lower()
    if not path.exists():
        raise ValidationError(str(path), [Problem(None, None, "file does not exist")])
    try:
        if name.endswith(".parquet"):
            return pd.read_parquet(path)
        if name.endswith((".csv", ".csv.gz")):
            return pd.read_csv(path, dtype=str, keep_default_na=False)
    except (ValueError, OSError, pd.errors.ParserError) as error:
        problem = Problem(None, None, f"cannot be read: {error}")
        raise ValidationError(str(path), [problem]) from error
    problem = Problem(None, None, "unknown format; use .csv, .csv.gz or .parquet")
    raise ValidationError(str(path), [problem])


def load_transactions(path: Path) -> pd.DataFrame:
    """Read and validate; the clean, typed table or ValidationError."""
    return validate_transactions(read_table(path), source=str(path))


def validate_transactions(raw: pd.DataFrame, source: str = "input") -> pd.DataFrame:
    """Check every required column and row; return a typed copy or raise with all
    problems: missing columns, empty ids, duplicate ids, bad timestamps, amounts that
    are not numbers or negative, labels other than 0/1, labels known too early."""
    problems: list[Problem] = []
    if raw.empty:
        problems.append(Problem(None, None, "no transactions (the table is empty)"))
    for column in REQUIRED_COLUMNS:
        if column not in raw.columns:
            problems.append(Problem(None, column, "required column is missing"))
    clean = raw.reset_index(drop=True).copy()
    for column in ID_COLUMNS:
        if column in clean:
            clean[column] = _check_ids(clean[column], column, problems)
    if "timestamp" in clean:
        clean["timestamp"] = _check_times(clean["timestamp"], "timestamp", problems)
    if "amount" in clean:
        clean["amount"] = _check_amounts(clean["amount"], problems)
    if "is_fraud" in clean:
        clean["is_fraud"] = _check_labels(clean["is_fraud"], problems)
    if LABEL_AVAILABLE_AT in clean:
        available = _check_times(
            clean[LABEL_AVAILABLE_AT], LABEL_AVAILABLE_AT, problems, optional=True
        )
        clean[LABEL_AVAILABLE_AT] = available
        if "timestamp" in clean:
            early = (available < clean["timestamp"]).to_numpy()
            _add(
                problems,
                early,
                LABEL_AVAILABLE_AT,
                clean[LABEL_AVAILABLE_AT],
                "label known before the transaction happened: {}",
            )
    if problems:
        problems.sort(key=lambda p: (p.row is not None, p.row or 0))
        logger.warning(
            "transactions_rejected", extra={"source": source, "problems": len(problems)}
        )
        raise ValidationError(source, problems)
    return clean


def _add(
    problems: list[Problem],
    mask: Mask,
    column: str,
    values: pd.Series,
    message: str,
) -> None:
    """One problem per flagged row; `{}` in message shows that row's value."""
    for position in np.flatnonzero(mask).tolist():
        value = str(values.iat[position])[:SHOWN_VALUE_CHARS]
        problems.append(Problem(position + 1, column, message.format(repr(value))))


def _check_ids(values: pd.Series, column: str, problems: list[Problem]) -> pd.Series:
    text = values.astype(str).str.strip()
    empty = (values.isna() | (text == "") | text.isin(["nan", "None"])).to_numpy()
    _add(problems, empty, column, values, "missing value ({})")
    if column == "transaction_id":
        _check_unique(text, empty, column, problems)
    return text


def _check_unique(
    text: pd.Series, empty: Mask, column: str, problems: list[Problem]
) -> None:
    repeated = text.duplicated(keep=False).to_numpy() & ~empty
    if not repeated.any():
        return
    rows = pd.Series(np.arange(1, len(text) + 1))[repeated]
    first_row = rows.groupby(text[repeated].to_numpy()).transform("min")
    for row, first in zip(rows, first_row, strict=True):
        if row != first:
            value = str(text.iat[row - 1])[:SHOWN_VALUE_CHARS]
            message = f"duplicate id {value!r} (first used in row {first})"
            problems.append(Problem(int(row), column, message))


def _check_times(
    values: pd.Series, column: str, problems: list[Problem], optional: bool = False
) -> pd.Series:
    """Timestamps in UTC; text must be ISO 8601, times without a zone are UTC.
    In an optional column an empty cell means "not known yet" and is allowed."""
    blank = np.zeros(len(values), dtype=bool)
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        parsed = values.dt.tz_convert("UTC")
    elif pd.api.types.is_datetime64_dtype(values.dtype):
        parsed = values.dt.tz_localize("UTC")
    elif pd.api.types.is_object_dtype(values.dtype) or pd.api.types.is_string_dtype(
        values.dtype
    ):
        text = values.astype(str).str.strip()
        blank = (values.isna() | text.isin(["", "NaT", "None", "nan"])).to_numpy()
        parsed = _parse_iso_times(text)
    else:
        parsed = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns, UTC]")
    bad = parsed.isna().to_numpy()
    if optional:
        bad &= ~blank
    _add(problems, bad, column, values, "not an ISO 8601 timestamp: {}")
    return parsed


def _parse_iso_times(text: pd.Series) -> pd.Series:
    """ISO 8601 text to UTC. Times with a zone and without one are parsed apart:
    pandas 2.3 applies the last zone it saw to a later time that has none."""
    zoned = text.str.contains(ZONE_SUFFIX, regex=True).to_numpy()
    parsed = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns, UTC]")
    if zoned.any():
        parsed[zoned] = pd.to_datetime(
            text[zoned], utc=True, errors="coerce", format="ISO8601"
        )
    if (~zoned).any():
        naive = pd.to_datetime(text[~zoned], errors="coerce", format="ISO8601")
        parsed[~zoned] = naive.dt.tz_localize("UTC")
    return parsed


def _check_amounts(values: pd.Series, problems: list[Problem]) -> pd.Series:
    number = pd.to_numeric(values, errors="coerce").astype(np.float64)
    not_number = ~np.isfinite(number.to_numpy())
    _add(problems, not_number, "amount", values, "not a finite number: {}")
    negative = number.to_numpy() < 0
    _add(problems, negative, "amount", values, "negative amount: {}")
    return number


def _check_labels(values: pd.Series, problems: list[Problem]) -> pd.Series:
    text = values.astype(str).str.strip().str.lower()
    mapping = {"0": 0, "1": 1, "0.0": 0, "1.0": 1, "false": 0, "true": 1}
    label = text.map(mapping)
    bad = label.isna().to_numpy()
    _add(problems, bad, "is_fraud", values, "label must be 0 or 1, got {}")
    return label.fillna(0).astype(np.int8)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pipelines.fraud_data",
        description="Validate a transactions file and list every problem.",
    )
    parser.add_argument("file", type=Path)
    args = parser.parse_args(argv)
    configure_logging("fraud_data", "WARNING")
    try:
        transactions = load_transactions(args.file)
    except ValidationError as error:
        print(error.report(), file=sys.stderr)
        return 1
    frauds = int(transactions["is_fraud"].sum())
    first, last = transactions["timestamp"].min(), transactions["timestamp"].max()
    print(f"{args.file}: {len(transactions)} transactions, {frauds} frauds")
    print(f"from {first} to {last}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
