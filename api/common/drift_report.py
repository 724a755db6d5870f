"""Evidently's drift tests over a reference and a current table (both services).

Evidently's current API: `Report([...]).run(current, reference)`. DataDriftPreset
computes every column's drift three times (one ValueDrift metric per column, then the
dataset summary and the column table it renders); `DriftTable` below keeps only the
column table (the familiar table with one expandable plot per column, headed by the
share of drifted columns) and reads each column's result from it: a report over
100,000 rows builds in about a third of the preset's time. Our own summary (the
verdict, the window, the service's figures) goes above it in the same page.

Column tests are Evidently's defaults (chosen from the column type and row count:
Kolmogorov-Smirnov or chi-square / Z-test up to 1,000 reference rows, Wasserstein
distance or Jensen-Shannon distance above). Rows with a missing value are ignored
column by column, so one table can carry columns measured on different rows.

Evidently imports slowly (seconds): the services import this module only in the
thread that builds a report.
"""

from __future__ import annotations

import html
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.core.report import Context, Snapshot, _default_input_data_generator
from evidently.legacy.metrics import DataDriftTable
from evidently.presets import DataDriftPreset

from api.common.drift import ColumnDrift


class DriftTable(DataDriftPreset):
    """DataDriftPreset reduced to its column table: one drift test per column."""

    def generate_metrics(self, context: Context) -> list[Any]:
        return []

    def render(self, context: Context, child_widgets: Any = None) -> list[Any]:
        _, widgets = self._table(context)
        return list(widgets)

    def column_table(self, context: Context) -> Any:
        """The computed table (cached by Evidently after rendering)."""
        table, _ = self._table(context)
        return table

    def _table(self, context: Context) -> tuple[Any, Any]:
        metric = DataDriftTable(
            columns=self.columns,
            stattest=self.method,
            cat_stattest=self.cat_method,
            num_stattest=self.num_method,
            per_column_stattest=self.per_column_method,
            stattest_threshold=self.threshold,
            cat_stattest_threshold=self.cat_threshold,
            num_stattest_threshold=self.num_threshold,
            per_column_stattest_threshold=self.per_column_threshold,
        )
        return context.get_legacy_metric(metric, _default_input_data_generator, None)


@dataclass(frozen=True)
class DriftColumns:
    """Which columns to test, by kind (Evidently needs the kind)."""

    numerical: Sequence[str]
    categorical: Sequence[str] = ()

    @property
    def all(self) -> list[str]:
        return [*self.numerical, *self.categorical]


@dataclass(frozen=True)
class DriftOutcome:
    columns: list[ColumnDrift]
    drift_share: float
    dataset_drift: bool
    html: str

    @property
    def drifted(self) -> list[ColumnDrift]:
        return [column for column in self.columns if column.drifted]


def run_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    columns: DriftColumns,
    share_threshold: float,
    heading: str,
    facts: Sequence[tuple[str, str]] = (),
) -> DriftOutcome:
    """Test each column, summarise, and render the HTML with our facts on top."""
    names = columns.all
    definition = DataDefinition(
        numerical_columns=list(columns.numerical),
        categorical_columns=list(columns.categorical),
    )
    preset = DriftTable(columns=names, drift_share=share_threshold)
    with warnings.catch_warnings():
        # Constant columns make Evidently's correlation plots divide by zero.
        warnings.simplefilter("ignore", RuntimeWarning)
        snapshot = Report([preset]).run(
            Dataset.from_pandas(current[names], data_definition=definition),
            Dataset.from_pandas(reference[names], data_definition=definition),
        )
        table = preset.column_table(snapshot.context)
    results = [_column_drift(name, table.drift_by_columns[name]) for name in names]
    share = sum(column.drifted for column in results) / len(results)
    drifted = share >= share_threshold
    verdict = (
        f"{'yes' if drifted else 'no'}: {share:.0%} of {len(results)} columns "
        f"drifted (dataset drift from {share_threshold:.0%})"
    )
    return DriftOutcome(
        columns=results,
        drift_share=share,
        dataset_drift=drifted,
        html=_with_header(
            _page(snapshot), heading, [("Dataset drift", verdict), *facts]
        ),
    )


def _column_drift(name: str, result: Any) -> ColumnDrift:
    return ColumnDrift(
        column=name,
        test=str(result.stattest_name),
        score=float(result.drift_score),
        threshold=float(result.stattest_threshold),
        drifted=bool(result.drift_detected),
    )


def _page(snapshot: Snapshot) -> str:
    return str(snapshot.get_html_str(as_iframe=False))


def _with_header(page: str, heading: str, facts: Sequence[tuple[str, str]]) -> str:
    """Our own summary above Evidently's widgets, so the page stands on its own."""
    rows = "".join(
        f"<tr><th style='text-align:left;padding:2px 12px 2px 0'>{html.escape(k)}</th>"
        f"<td>{html.escape(v)}</td></tr>"
        for k, v in facts
    )
    block = (
        "<div id='drift-summary' style='font-family:sans-serif;margin:16px 24px'>"
        f"<h2 style='margin:0 0 8px 0'>{html.escape(heading)}</h2>"
        f"<table style='font-size:14px'>{rows}</table></div>"
    )
    marker = "<body>"
    if marker not in page:
        return block + page
    return page.replace(marker, marker + block, 1)
