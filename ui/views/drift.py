"""Drift reports: how far each service's recent traffic has moved from what its model
was trained on (drift monitoring, issue 7). A list with summaries, the share of
drifted columns per window over time, and Evidently's own report inline."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import httpx
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from api.common.headers import API_KEY_HEADER
from ui.client import ApiClient, ApiError
from ui.formatting import count, local_naive, local_time, percent
from ui.view import PageContext, run_page, section

SERVICES = {
    "Sentinel · scored transactions": "sentinel",
    "Scout · interactions and recommendations": "scout",
}
CALM, DRIFTED = "#2e7d32", "#c62828"
REPORT_HEIGHT = 900
HTML_TIMEOUT_S = 30.0


def render(ctx: PageContext) -> None:
    label = st.radio("Service", list(SERVICES), horizontal=True, key="drift_service")
    client = _client(ctx, SERVICES[label])
    reports = client.get("/v1/drift/reports", params={"limit": 500})["reports"]
    with section("Build a report"):
        build_form(client)
    if not reports:
        st.info(
            f"No drift report for {client.service} yet. The bootstrap builds the "
            "first ones after the replay; build one for a window above."
        )
        return
    headline(reports)
    st.plotly_chart(trend_chart(reports, ctx), key=f"drift_trend_{client.service}")
    chosen = report_table(reports, ctx, client.service)
    report_detail(client, chosen, ctx)


def _client(ctx: PageContext, service: str) -> ApiClient:
    return ctx.services.sentinel if service == "sentinel" else ctx.services.scout


def headline(reports: list[dict[str, Any]]) -> None:
    latest = reports[0]
    drifted = sum(report["dataset_drift"] for report in reports)
    first, second, third = st.columns(3)
    first.metric("Reports", count(len(reports)))
    second.metric("Drifted windows", count(drifted))
    third.metric(
        "Latest window",
        "Drifted" if latest["dataset_drift"] else "Calm",
        f"{percent(latest['drift_share'], 0)} of columns drifted",
        delta_color="off",
        delta_arrow="off",
    )


def trend_chart(reports: list[dict[str, Any]], ctx: PageContext) -> go.Figure:
    """Drift share per window (at its end), drifted windows marked in red."""
    ordered = sorted(reports, key=lambda r: r["window_end"])
    ends = [local_naive(r["window_end"], ctx.zone) for r in ordered]
    shares = [r["drift_share"] for r in ordered]
    drifted = [r["dataset_drift"] for r in ordered]
    hover = [
        f"{local_time(r['window_start'], ctx.zone)} → "
        f"{local_time(r['window_end'], ctx.zone)}<br>"
        f"{'drifted' if r['dataset_drift'] else 'calm'}: "
        f"{percent(r['drift_share'], 0)} of columns<br>"
        f"{', '.join(c['column'] for c in r['drifted_columns'][:6]) or 'no column'}"
        for r in ordered
    ]
    figure = go.Figure()
    figure.add_trace(
        go.Scatter(
            x=ends,
            y=shares,
            mode="lines+markers",
            name="share of drifted columns",
            line={"color": "#90a4ae"},
            marker={
                "size": [14 if d else 9 for d in drifted],
                "color": [DRIFTED if d else CALM for d in drifted],
                "symbol": ["x" if d else "circle" for d in drifted],
            },
            hovertext=hover,
            hoverinfo="text",
        )
    )
    threshold = ordered[-1]["drift_share_threshold"]
    figure.add_hline(
        y=threshold,
        line_dash="dash",
        line_color=DRIFTED,
        annotation_text=f"dataset drift from {percent(threshold, 0)}",
    )
    figure.update_layout(
        title="Share of drifted columns per window (red ✕: drifted window)",
        xaxis_title=f"end of window ({ctx.zone.key})",
        yaxis={"title": "drifted columns", "range": [0, 1.05], "tickformat": ".0%"},
        height=340,
        margin={"t": 50, "b": 40},
        showlegend=False,
    )
    return figure


def report_table(
    reports: list[dict[str, Any]], ctx: PageContext, service: str
) -> dict[str, Any]:
    """Every report, newest window first; the selected row (default: newest)."""
    zone = ctx.zone.key
    table = pd.DataFrame(
        {
            f"Window start ({zone})": [
                local_naive(r["window_start"], ctx.zone) for r in reports
            ],
            f"Window end ({zone})": [
                local_naive(r["window_end"], ctx.zone) for r in reports
            ],
            "Verdict": ["Drifted" if r["dataset_drift"] else "Calm" for r in reports],
            "Drifted columns (%)": [round(r["drift_share"] * 100, 1) for r in reports],
            "Drifted columns": [
                ", ".join(c["column"] for c in r["drifted_columns"]) or "–"
                for r in reports
            ],
            "Rows": [r["rows"]["current"] for r in reports],
            "Model version": [r["model"]["version"] for r in reports],
            "Report id": [r["report_id"] for r in reports],
        }
    )
    st.dataframe(
        table,
        hide_index=True,
        key=f"drift_table_{service}",
        column_config={
            "Drifted columns (%)": st.column_config.ProgressColumn(
                "Share drifted", format="%.0f%%", min_value=0, max_value=100
            ),
            "Rows": st.column_config.NumberColumn(format="%d"),
        },
    )
    labels = {
        r["report_id"]: (
            f"{'Drifted' if r['dataset_drift'] else 'Calm'} · "
            f"{local_time(r['window_start'], ctx.zone)} → "
            f"{local_time(r['window_end'], ctx.zone)} · {r['report_id']}"
        )
        for r in reports
    }
    chosen = st.selectbox(
        "Open report",
        list(labels),
        format_func=labels.__getitem__,
        key=f"drift_report_{service}",
    )
    return next(r for r in reports if r["report_id"] == chosen)


def report_detail(client: ApiClient, report: dict[str, Any], ctx: PageContext) -> None:
    window = (
        f"{local_time(report['window_start'], ctx.zone)} → "
        f"{local_time(report['window_end'], ctx.zone)}"
    )
    share = percent(report["drift_share"], 0)
    if report["dataset_drift"]:
        st.error(f"Drifted window {window}: {share} of the columns drifted.")
    else:
        st.success(f"Calm window {window}: {share} of the columns drifted.")
    st.caption(
        f"Report `{report['report_id']}` · model {report['model']['name']} version "
        f"{report['model']['version']} · {count(report['rows']['current'])} rows "
        f"against {count(report['rows']['reference'])} reference rows · built "
        f"{local_time(report['created_at'], ctx.zone)}"
    )
    figures(report)
    for note in report.get("notes", []):
        st.caption(f"Note: {note}")
    drifted = report["drifted_columns"]
    if drifted:
        st.dataframe(
            pd.DataFrame(
                {
                    "Column": [c["column"] for c in drifted],
                    "Test": [c["test"] for c in drifted],
                    "Score": [round(c["score"], 4) for c in drifted],
                    "Threshold": [c["threshold"] for c in drifted],
                }
            ),
            hide_index=True,
        )
    else:
        st.caption("No column drifted in this window.")
    with section("Evidently report"):
        st.markdown("#### Evidently report")
        html = report_html(
            client.service, client.base_url, client.api_key, report["report_id"]
        )
        st.iframe(html, height=REPORT_HEIGHT)


def figures(report: dict[str, Any]) -> None:
    values = report.get("figures", {})
    if "confirmed_fraud_rate" in values:
        left, middle, right = st.columns(3)
        left.metric(
            "Confirmed fraud rate",
            percent(values["confirmed_fraud_rate"], 2),
            help="Analysts' confirmed_fraud decisions over transactions scored in "
            "the window; a lower bound while cases are undecided.",
        )
        middle.metric(
            "Training fraud rate", percent(values.get("training_fraud_rate"), 2)
        )
        right.metric(
            "Cases undecided",
            count(values.get("undecided")),
            f"{count(values.get('cases_opened'))} opened",
            delta_color="off",
            delta_arrow="off",
        )
    if "coverage" in values:
        left, right = st.columns(2)
        left.metric(
            "Catalogue coverage of top-10 lists",
            percent(values["coverage"]),
            f"reference {percent(values.get('reference_coverage'))}",
            delta_color="off",
            delta_arrow="off",
        )
        right.metric("Active users", count(values.get("active_users")))


@st.cache_data(max_entries=3, ttl=600, show_spinner="Loading the Evidently report…")
def report_html(service: str, base_url: str, api_key: str, report_id: str) -> str:
    """The report's HTML (about 4 MB; only the last few are kept in memory)."""
    try:
        response = httpx.get(
            f"{base_url}/v1/drift/reports/{report_id}/html",
            headers={API_KEY_HEADER: api_key},
            timeout=HTML_TIMEOUT_S,
        )
    except httpx.HTTPError as error:
        raise ApiError(
            service, "cannot be reached", f"Check that {service} runs at {base_url}."
        ) from error
    if response.status_code != 200:
        raise ApiError(
            service,
            f"did not return report {report_id} (HTTP {response.status_code})",
            "Reload the page; the report may have been pruned.",
            response.status_code,
        )
    return response.text


def build_form(client: ApiClient) -> None:
    with st.expander("Build a report for a window"):
        with st.form(f"drift_build_{client.service}"):
            today = datetime.now(UTC).date()
            left, right = st.columns(2)
            start = left.date_input(
                "From (UTC, start of day)", today - timedelta(days=1)
            )
            end = right.date_input("To (UTC, start of day)", today)
            submitted = st.form_submit_button("Build report")
        if submitted:
            request_report(client, start, end)
        job = st.session_state.get(f"drift_job_{client.service}")
        if job:
            job_status(client, job)


def request_report(client: ApiClient, start: Any, end: Any) -> None:
    if not isinstance(start, date) or not isinstance(end, date):
        st.error("Choose both days.")
        return
    body = {
        "window_start": datetime.combine(start, time(), UTC).isoformat(),
        "window_end": datetime.combine(end, time(), UTC).isoformat(),
    }
    try:
        job = client.post("/v1/drift/reports", json=body)
    except ApiError as error:
        st.error(f"{error.service} {error.message}.", icon="⚠️")
        st.caption(f"What to do: {error.hint}")
        return
    st.session_state[f"drift_job_{client.service}"] = job["job_id"]


def job_status(client: ApiClient, job_id: str) -> None:
    job = client.get(f"/v1/drift/jobs/{job_id}")
    status = job["status"]
    if status == "done":
        st.success(f"Report {job['report_id']} is ready: it is in the list below.")
    elif status == "failed":
        st.error(f"The report could not be built: {job['error']}")
    else:
        st.info(f"Job {job_id} is {status}; reports take seconds to a minute.")
        st.button("Check again", key=f"drift_job_refresh_{client.service}")


run_page("Drift reports", render)
