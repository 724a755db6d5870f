"""Drift reports. The content arrives with the drift monitoring (issue 7); until
the APIs offer drift routes this page says so instead of showing stale data."""

from __future__ import annotations

import streamlit as st

from ui.client import ApiClient, ApiError
from ui.view import PageContext, run_page, show_api_error


def drift_routes(client: ApiClient) -> list[str]:
    """The API's own routes that mention drift, from its OpenAPI document."""
    document = client.get("/openapi.json")
    return sorted(path for path in document.get("paths", {}) if "drift" in path)


def render(ctx: PageContext) -> None:
    found: dict[str, list[str]] = {}
    for client in (ctx.services.sentinel, ctx.services.scout):
        try:
            found[client.service] = drift_routes(client)
        except ApiError as error:
            show_api_error(error, "Drift routes")
    if not any(found.values()):
        st.info(
            "Drift reports are not available yet: neither Sentinel nor Scout offers "
            "drift routes. They arrive with the drift monitoring; the queue, cases "
            "and recommendations work without them."
        )
        return
    st.warning("The APIs offer drift routes, but this page does not show them yet:")
    for service, routes in found.items():
        for route in routes:
            st.markdown(f"- {service}: `{route}`")


run_page("Drift reports", render)
