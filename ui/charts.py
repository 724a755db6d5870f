"""Plotly figures of the workbench, built from the APIs' answers (no Streamlit here)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

import plotly.graph_objects as go

from ui.formatting import feature_label, local_naive, money

RAISES = "#c0392b"
LOWERS = "#27ae60"
BAND_COLOURS = {"approve": "#27ae60", "review": "#f39c12", "block": "#c0392b"}
_LAYOUT: dict[str, Any] = {
    "margin": {"l": 10, "r": 10, "t": 40, "b": 10},
    "height": 360,
}


def contributions(reasons: Sequence[dict[str, Any]], top: int = 10) -> go.Figure:
    """Horizontal bars: what pushed the score up (red) or down (green)."""
    largest = sorted(reasons, key=lambda r: abs(r["contribution"]), reverse=True)
    shown = list(reversed(largest[:top]))  # biggest at the top of the chart
    figure = go.Figure(
        go.Bar(
            x=[r["contribution"] for r in shown],
            y=[_reason_label(r) for r in shown],
            orientation="h",
            marker_color=[RAISES if r["contribution"] > 0 else LOWERS for r in shown],
            hovertemplate="%{y}<br>contribution %{x:+.3f} (log-odds)<extra></extra>",
        )
    )
    figure.update_layout(
        title="What moved the score (log-odds; red raises risk)",
        xaxis_title="contribution",
        **_LAYOUT,
    )
    return figure


def contributions_compared(
    before: Sequence[dict[str, Any]], after: Sequence[dict[str, Any]], top: int = 10
) -> go.Figure:
    """The same features' contributions before and after an edit, side by side."""
    old = {r["feature"]: r["contribution"] for r in before}
    new = {r["feature"]: r["contribution"] for r in after}
    names = sorted(
        set(old) | set(new),
        key=lambda f: max(abs(old.get(f, 0.0)), abs(new.get(f, 0.0))),
        reverse=True,
    )[:top]
    names.reverse()
    labels = [feature_label(name) for name in names]
    figure = go.Figure(
        [
            go.Bar(
                name="before",
                x=[old.get(n, 0.0) for n in names],
                y=labels,
                orientation="h",
                marker_color="#95a5a6",
            ),
            go.Bar(
                name="after the edit",
                x=[new.get(n, 0.0) for n in names],
                y=labels,
                orientation="h",
                marker_color="#2980b9",
            ),
        ]
    )
    figure.update_layout(
        title="Reasons before and after (log-odds; right raises risk)",
        barmode="group",
        **{**_LAYOUT, "height": 420},
    )
    return figure


def transactions_timeline(
    transactions: Sequence[dict[str, Any]], zone: ZoneInfo, current: str | None
) -> go.Figure:
    """The customer's recent payments over time, coloured by band."""
    figure = go.Figure()
    for band, colour in BAND_COLOURS.items():
        rows = [t for t in transactions if t.get("band") == band]
        if not rows:
            continue
        figure.add_trace(
            go.Scatter(
                x=[local_naive(t["timestamp"], zone) for t in rows],
                y=[t["amount"] for t in rows],
                mode="markers",
                name=band,
                marker={
                    "color": colour,
                    "size": [16 if t["transaction_id"] == current else 9 for t in rows],
                    "line": {"width": 1, "color": "#2c3e50"},
                },
                text=[
                    f"{t['transaction_id']}<br>{money(t['amount'], t['currency'])}"
                    f"<br>terminal {t['terminal_id']}<br>score {t['score']:.2f}"
                    for t in rows
                ],
                hovertemplate="%{text}<extra></extra>",
            )
        )
    figure.update_layout(
        title=f"The customer's recent payments (times in {zone.key})",
        yaxis_title="amount",
        **_LAYOUT,
    )
    return figure


def queue_trend(days: Sequence[dict[str, Any]]) -> go.Figure:
    """Scored transactions and cases opened per day, with the confirmed fraud rate."""
    ordered = sorted(days, key=lambda d: d["day"])
    x = [d["day"] for d in ordered]
    figure = go.Figure(
        [
            go.Bar(name="scored", x=x, y=[d["scored"] for d in ordered]),
            go.Bar(name="cases opened", x=x, y=[d["cases_opened"] for d in ordered]),
            go.Scatter(
                name="confirmed fraud rate",
                x=x,
                y=[d["fraud_rate"] * 100 for d in ordered],
                yaxis="y2",
                mode="lines+markers",
            ),
        ]
    )
    figure.update_layout(
        title="Per day (UTC)",
        yaxis={"title": "count"},
        yaxis2={"title": "fraud rate %", "overlaying": "y", "side": "right"},
        legend={"orientation": "h"},
        **_LAYOUT,
    )
    return figure


QUALITY_WORDS = ("auc", "precision", "recall", "ndcg", "f1")


def metrics_bars(metrics: dict[str, float], title: str) -> go.Figure:
    """A model's quality metrics (AUC, precision, recall...), all between 0 and 1."""
    shown = {
        k: v
        for k, v in sorted(metrics.items())
        if 0.0 <= v <= 1.0 and any(word in k for word in QUALITY_WORDS)
    }
    figure = go.Figure(
        go.Bar(
            x=list(shown.values()),
            y=[feature_label(k) for k in shown],
            orientation="h",
            text=[f"{v:.3f}" for v in shown.values()],
            textposition="auto",
        )
    )
    figure.update_layout(title=title, xaxis={"range": [0, 1]}, **_LAYOUT)
    return figure


def rank_moves(
    before: Sequence[str], after: Sequence[str], titles: dict[str, str]
) -> go.Figure:
    """A slope chart: each item's rank in the current list and in the what-if list."""
    figure = go.Figure()
    depth = max(len(before), len(after)) + 1
    for item in dict.fromkeys([*before, *after]):
        old = before.index(item) + 1 if item in before else depth
        new = after.index(item) + 1 if item in after else depth
        colour = "#7f8c8d"
        if item not in before:
            colour = LOWERS
        elif item not in after:
            colour = RAISES
        figure.add_trace(
            go.Scatter(
                x=["current", "what-if"],
                y=[old, new],
                mode="lines+markers",
                line={"color": colour},
                name=titles.get(item, item)[:40],
                hovertemplate=f"{titles.get(item, item)}<br>rank %{{y}}<extra></extra>",
            )
        )
    figure.update_layout(
        title="Rank moves (green entered, red left; bottom row = not in the list)",
        yaxis={"autorange": "reversed", "title": "rank", "dtick": 1},
        showlegend=False,
        **_LAYOUT,
    )
    return figure


def _reason_label(reason: dict[str, Any]) -> str:
    return f"{feature_label(reason['feature'])} = {reason['value']:.4g}"
