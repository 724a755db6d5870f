"""The figures show what the analyst needs: largest reasons first, coloured by
direction; quality metrics only; rank moves from one list to the other."""

from __future__ import annotations

import pytest

from ui import charts

pytestmark = pytest.mark.unit


def test_the_largest_reasons_are_shown_with_their_direction() -> None:
    reasons = [
        {"feature": "amount", "value": 900.0, "contribution": 0.4},
        {"feature": "terminal_risk_7d", "value": 0.0, "contribution": -1.2},
        {"feature": "hour_of_day", "value": 3.0, "contribution": 2.5},
        {"feature": "is_weekend", "value": 0.0, "contribution": 0.01},
    ]

    bar = charts.contributions(reasons, top=3).data[0]

    # Plotly draws the first bar at the bottom: the largest is last.
    assert list(bar.y) == ["amount = 900", "terminal risk 7d = 0", "hour of day = 3"]
    assert list(bar.marker.color) == [charts.RAISES, charts.LOWERS, charts.RAISES]


def test_only_quality_metrics_are_drawn() -> None:
    metrics = {
        "roc_auc": 0.95,
        "average_precision": 0.64,
        "test_fraud_rate": 0.009,
        "calibration_error": 0.07,
        "rows": 4000.0,
    }

    bar = charts.metrics_bars(metrics, "quality").data[0]

    assert list(bar.y) == ["average precision", "roc auc"]


def test_rank_moves_put_items_outside_a_list_below_it() -> None:
    figure = charts.rank_moves(["a", "b"], ["c", "a"], {"a": "A", "b": "B", "c": "C"})

    ranks = {trace.name: list(trace.y) for trace in figure.data}
    assert ranks == {"A": [1, 2], "B": [2, 3], "C": [3, 1]}
    colours = {trace.name: trace.line.color for trace in figure.data}
    assert colours == {"A": "#7f8c8d", "B": charts.RAISES, "C": charts.LOWERS}
