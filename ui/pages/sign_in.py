"""Sign-in page: named analysts with hashed passwords from WORKBENCH_ANALYSTS."""

from __future__ import annotations

import streamlit as st

from ui.auth import sign_in
from ui.services import get_services

st.title("Sentinel & Scout workbench")
st.caption("Sign in with the analyst name and password your administrator gave you.")

with st.form("sign_in", clear_on_submit=False, border=True, width=420):
    name = st.text_input("Analyst", key="sign_in_name", autocomplete="username")
    password = st.text_input(
        "Password",
        type="password",
        key="sign_in_password",
        autocomplete="current-password",
    )
    submitted = st.form_submit_button("Sign in", type="primary")

if submitted:
    if sign_in(get_services().settings, name, password):
        st.rerun()
    st.error("Unknown analyst or wrong password. Check both and try again.")
    st.caption(
        "A first analyst is created by `make run` on a fresh checkout (see its "
        "output); others are added to WORKBENCH_ANALYSTS with `python -m ui.passwords`."
    )
