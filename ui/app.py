"""Sentinel & Scout workbench: the entry point `streamlit run ui/app.py`."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from ui.auth import current_analyst, sign_in_form, sign_out, write_pending_cookie
from ui.services import ConfigurationProblem, get_services

# Not "pages/": Streamlit treats a pages/ folder beside the entry script as an old
# style multipage app and, on a fresh server, runs the page named in the URL without
# this script, hence without the sign-in.
PAGES = Path(__file__).parent / "views"


def page(file: str, title: str, icon: str, default: bool = False) -> st.Page:
    return st.Page(str(PAGES / file), title=title, icon=icon, default=default)


def signed_in_pages() -> dict[str, list[st.Page]]:
    return {
        "Fraud review": [
            page("queue.py", "Review queue", ":material/inbox:", default=True),
            page("case.py", "Case", ":material/search:"),
            page("what_if.py", "What-if scoring", ":material/science:"),
        ],
        "Recommendations": [
            page("recommendations.py", "Recommendations", ":material/shopping_bag:")
        ],
        "Operations": [
            page("drift.py", "Drift reports", ":material/trending_down:"),
            page("models.py", "Models", ":material/model_training:"),
            page("system.py", "System", ":material/monitor_heart:"),
        ],
    }


def main() -> None:
    st.set_page_config(
        page_title="Sentinel & Scout", page_icon=":material/shield:", layout="wide"
    )
    # An unexpected error must never put a traceback in front of an analyst.
    st.set_option("client.showErrorDetails", "none")
    st.set_option("client.toolbarMode", "viewer")
    try:
        settings = get_services().settings
    except ConfigurationProblem as problem:
        st.title("Sentinel & Scout workbench")
        st.error(f"The workbench is not configured: {problem}")
        st.info("Set the variables in .env (see .env.example), then restart it.")
        return
    with st.sidebar:
        write_pending_cookie()
    analyst = current_analyst(settings)
    # Every page is declared either way, so a link to one survives the sign-in.
    navigation = st.navigation(
        signed_in_pages(), position="sidebar" if analyst else "hidden"
    )
    if analyst is None:
        sign_in_form(settings)
        return
    with st.sidebar:
        st.caption(f"Signed in as **{analyst}**")
        if st.button("Sign out", key="sign_out", icon=":material/logout:"):
            sign_out(settings)
            st.rerun()
    navigation.run()


main()
