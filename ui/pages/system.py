"""System page: each service's readiness and what it depends on."""

from __future__ import annotations

import streamlit as st

from ui.services import ConfigurationProblem, get_services, readiness

st.title("System")

try:
    services = get_services()
except ConfigurationProblem as problem:
    st.error(f"The workbench is not configured: {problem}")
    st.info("Set the variables in .env (see .env.example) and restart the workbench.")
    st.stop()

columns = st.columns(2)
for column, client in zip(columns, (services.sentinel, services.scout), strict=True):
    body = readiness(client)
    ready = body.get("status") == "ready"
    with column, st.container(border=True):
        st.subheader(client.service)
        if ready:
            st.success(f"{client.service} is ready")
        else:
            st.error(f"{client.service} is {body.get('status', 'not ready')}")
        rows = [
            {
                "dependency": name,
                "ok": "yes" if check.get("ok") else "no",
                "detail": check.get("detail", ""),
            }
            for name, check in body.get("checks", {}).items()
        ]
        if rows:
            st.dataframe(rows, hide_index=True, use_container_width=True)
        st.caption(client.base_url)
