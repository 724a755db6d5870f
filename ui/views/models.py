"""Models page: what each API serves (champion, and a challenger when reported,
metric by metric), with the evaluation metrics recorded in MLflow, read through the
APIs."""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from ui import charts
from ui.formatting import count, feature_label, local_time
from ui.sentinel_api import metric_comparison
from ui.view import PageContext, run_page, section


def render(ctx: PageContext) -> None:
    left, right = st.columns(2)
    with left, section("Sentinel model"):
        sentinel_model(ctx.services.sentinel_api.model(), ctx)
    with right, section("Scout model"):
        scout_model(ctx.services.scout_api.model(), ctx)


def model_header(model: dict[str, Any]) -> None:
    st.subheader(f"{model['name']} · version {model['version']}")
    st.caption(f"Served as the **{model['alias']}** (registry alias).")
    if model.get("run_id"):
        st.code(model["run_id"], language=None)


def sentinel_model(model: dict[str, Any], ctx: PageContext) -> None:
    with st.container(border=True):
        st.markdown("#### Fraud scoring (Sentinel)")
        model_header(model)
        st.caption(f"Loaded {local_time(model['loaded_at'], ctx.zone)}")
        metrics = model.get("metrics", {})
        if metrics:
            st.plotly_chart(
                charts.metrics_bars(metrics, "Evaluation on the held-out period"),
                key="sentinel_metrics",
            )
        challenger_section(model, ctx)
        thresholds = model.get("thresholds", {})
        st.markdown(
            f"Bands: review from score **{thresholds.get('review', '–')}**, block "
            f"from **{thresholds.get('block', '–')}**."
        )
        with st.expander(f"{len(model.get('feature_names', []))} features"):
            st.write(
                ", ".join(feature_label(f) for f in model.get("feature_names", []))
            )
        with st.expander("Raw answer (JSON)"):
            st.json(model, expanded=False)


def challenger_section(model: dict[str, Any], ctx: PageContext) -> None:
    """Champion and challenger side by side, metric by metric, with the difference."""
    challenger = model.get("challenger")
    champion_side, challenger_side = st.columns(2)
    champion_side.metric("Champion (served)", f"version {model['version']}")
    if challenger:
        challenger_side.metric(
            "Challenger (not served)", f"version {challenger['version']}"
        )
        if challenger.get("registered_at"):
            challenger_side.caption(
                f"Registered {local_time(challenger['registered_at'], ctx.zone)}"
            )
    else:
        challenger_side.metric("Challenger", "none")
        st.info(f"No challenger registered for {model['name']}.")
    if model.get("challenger_error"):
        st.warning(
            "The registry could not be asked for a challenger: "
            f"{model['challenger_error']}"
        )
    rows = metric_comparison(
        model.get("metrics", {}), challenger.get("metrics") if challenger else None
    )
    if rows:
        metric_table(rows, with_challenger=bool(challenger))


def scout_model(model: dict[str, Any], ctx: PageContext) -> None:
    with st.container(border=True):
        st.markdown("#### Recommendations (Scout)")
        model_header(model)
        challenger = model.get("challenger")
        if challenger:
            st.info(f"Challenger: version {challenger.get('version')}")
        else:
            st.caption("Scout's API reports no challenger.")
        st.caption(
            f"Trained {local_time(model['trained_at'], ctx.zone)} · "
            f"{model['method']} · {count(model['items'])} items, "
            f"{count(model['users'])} users, {count(model['interactions'])} "
            f"interactions · text encoder: {model['text_encoder']} · Qdrant "
            f"{model['qdrant_mode']}"
        )
        tests = model.get("test_metrics") or {}
        if tests:
            st.plotly_chart(baseline_figure(tests), key="scout_metrics")
            frame = pd.DataFrame(tests).T
            frame.index.name = "ranker"
            st.dataframe(frame, column_config=_three_decimals(frame.columns))
        else:
            st.caption("No offline evaluation was logged with this model.")
        with st.expander("Raw answer (JSON)"):
            st.json(model, expanded=False)


def baseline_figure(tests: dict[str, dict[str, float]]) -> go.Figure:
    """The model against its baselines, on the metrics all of them share."""
    shared = sorted(set.intersection(*(set(m) for m in tests.values())))
    shown = [name for name in shared if all(0 <= m[name] <= 1 for m in tests.values())]
    figure = go.Figure(
        [
            go.Bar(name=ranker, x=shown, y=[values[n] for n in shown])
            for ranker, values in tests.items()
        ]
    )
    figure.update_layout(
        title="Held-out evaluation: model and baselines",
        barmode="group",
        height=360,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
    )
    return figure


def metric_table(rows: list[dict[str, Any]], with_challenger: bool) -> None:
    frame = pd.DataFrame(rows).rename(
        columns={
            "metric": "Metric",
            "champion": "Champion",
            "challenger": "Challenger",
            "difference": "Difference (challenger − champion)",
        }
    )
    frame["Metric"] = frame["Metric"].map(feature_label)
    if not with_challenger:
        frame = frame[["Metric", "Champion"]]
    st.dataframe(
        frame,
        hide_index=True,
        column_config={
            name: st.column_config.NumberColumn(
                format="%+.4f" if "Diff" in name else "%.4f"
            )
            for name in frame.columns[1:]
        },
    )


def _three_decimals(columns: Any) -> dict[str, Any]:
    return {c: st.column_config.NumberColumn(format="%.3f") for c in columns}


run_page("Models", render)
