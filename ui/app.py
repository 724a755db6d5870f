"""Sentinel & Scout workbench: the entry point `streamlit run ui/app.py`."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

PAGES = Path(__file__).parent / "pages"

st.set_page_config(page_title="Sentinel & Scout", page_icon="🛡️", layout="wide")

navigation = st.navigation(
    {
        "Operations": [
            st.Page(str(PAGES / "system.py"), title="System", icon="🩺", default=True),
        ],
    }
)
navigation.run()
