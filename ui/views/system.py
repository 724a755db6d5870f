"""System page: each service's readiness, what it depends on, and key figures."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from ui import charts
from ui.client import ApiClient
from ui.formatting import count, local_time, percent
from ui.services import readiness
from ui.view import PageContext, run_page, section


def render(ctx: PageContext) -> None:
    services = ctx.services
    columns = st.columns(2)
    for column, client in zip(
        columns, (services.sentinel, services.scout), strict=True
    ):
        with column, st.container(border=True):
            readiness_card(client)
    st.subheader("Key figures")
    with section("Sentinel figures"):
        sentinel_figures(services.sentinel_api.stats(days=30), ctx)
    with section("Scout figures"):
        scout_figures(services.scout_api.model())


def readiness_card(client: ApiClient) -> None:
    body = readiness(client)
    st.subheader(client.service)
    if body.get("status") == "ready":
        st.success(f"{client.service} is ready")
    else:
        st.error(f"{client.service} is {body.get('status', 'not ready')}")
        st.caption(
            f"What to do: start it with `make run`, or read its log "
            f"(data/logs/{client.service.lower()}.log)."
        )
    rows = [
        {
            "dependency": name,
            "ok": "yes" if check.get("ok") else "no",
            "detail": check.get("detail", ""),
        }
        for name, check in body.get("checks", {}).items()
    ]
    if rows:
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    st.caption(client.base_url)


def sentinel_figures(stats: dict[str, Any], ctx: PageContext) -> None:
    queue, decisions = stats.get("queue", {}), stats.get("decisions", {})
    days = stats.get("days", [])
    latest = days[0] if days else {}
    columns = st.columns(6)
    columns[0].metric("Open cases", count(queue.get("open", 0)))
    columns[1].metric("In review", count(queue.get("in_review", 0)))
    columns[2].metric("Escalated", count(queue.get("escalated", 0)))
    columns[3].metric("Decisions", count(sum(decisions.values())))
    columns[4].metric(
        f"Scored on {latest.get('day', 'the last day')}",
        count(latest.get("scored", 0)),
    )
    columns[5].metric("Confirmed fraud rate (day)", percent(latest.get("fraud_rate")))
    if days:
        st.plotly_chart(charts.queue_trend(days), key="system_trend")
    st.caption(
        f"Figures from Sentinel at {local_time(stats.get('generated_at'), ctx.zone)}"
    )


def scout_figures(model: dict[str, Any]) -> None:
    columns = st.columns(4)
    columns[0].metric("Catalogue items", count(model.get("items")))
    columns[1].metric("Users", count(model.get("users")))
    columns[2].metric("Interactions", count(model.get("interactions")))
    columns[3].metric("Recommender version", str(model.get("version", "–")))


run_page("System", render)
