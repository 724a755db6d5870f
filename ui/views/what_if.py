"""What-if scoring: start from a case or a blank payment, edit it, watch the score
and the reasons move. Sentinel scores the edit without opening a case; from a case
it starts from the case's snapshot (its history when scored), so the change is
measured against the score the case got."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time
from typing import Any

import pandas as pd
import streamlit as st

from ui import charts
from ui.client import ApiError
from ui.formatting import band_label, feature_label, money, parse_time, percent
from ui.sentinel_api import (
    SentinelApi,
    case_as_scored,
    reason_moves,
    transaction_from_case,
)
from ui.view import PageContext, run_page, section, show_api_error

BASELINES = "what_if_baselines"
FEATURES = "what_if_feature_names"
SOURCES = ("case", "blank")


def render(ctx: PageContext) -> None:
    api = ctx.services.sentinel_api
    start = start_transaction(api)
    if start is None:
        return
    source_key, original, case = start
    # From a case, the "before" is the case as scored (its snapshot); the what-if
    # starts from that snapshot too, not from the history as it is now.
    before = (
        case_as_scored(case)
        if case is not None
        else baseline_score(api, source_key, original)
    )
    edited_tx, overrides = edit_controls(
        api, source_key, original, before, ctx, from_case=case is not None
    )
    edited = api.what_if(edited_tx, overrides, case["case_id"] if case else None)
    show_comparison(case, before, edited)
    with st.expander("Raw answers (JSON)"):
        st.json({"before": before, "after": edited}, expanded=False)


def start_transaction(
    api: SentinelApi,
) -> tuple[str, dict[str, Any], dict[str, Any] | None] | None:
    """(a key for this starting point, the transaction, the case it came from)."""
    from_url = st.query_params.get("case")
    source = st.radio(
        "Start from",
        SOURCES,
        index=0 if from_url else 1,
        format_func=lambda s: {"case": "A case", "blank": "A blank payment"}[s],
        horizontal=True,
        key="what_if_source",
    )
    if source == "blank":
        st.query_params.pop("case", None)
        return "blank", blank_transaction(), None
    case_id = st.text_input("Case id", value=from_url or "", key="what_if_case_id")
    if not case_id.strip():
        st.info("Paste a case id (copy it on the Case page or from the queue).")
        return None
    case_id = case_id.strip()
    st.query_params["case"] = case_id
    try:
        case = api.case(case_id)
    except ApiError as error:
        show_api_error(error, f"Case {case_id}")
        return None
    return f"case:{case_id}", transaction_from_case(case), case


def blank_transaction() -> dict[str, Any]:
    if "what_if_blank" not in st.session_state:
        now = datetime.now(UTC).replace(second=0, microsecond=0)
        st.session_state["what_if_blank"] = {
            "transaction_id": f"what-if-{uuid.uuid4().hex[:12]}",
            "timestamp": now.isoformat(),
            "customer_id": "C-WHATIF",
            "terminal_id": "T-WHATIF",
            "amount": 50.0,
            "currency": "EUR",
        }
    return dict(st.session_state["what_if_blank"])


def baseline_score(
    api: SentinelApi, source_key: str, original: dict[str, Any]
) -> dict[str, Any]:
    """The unedited payment scored now, once per starting point."""
    baselines: dict[str, Any] = st.session_state.setdefault(BASELINES, {})
    if source_key not in baselines:
        baselines[source_key] = api.what_if(original)
    return dict(baselines[source_key])


def edit_controls(
    api: SentinelApi,
    source_key: str,
    original: dict[str, Any],
    baseline: dict[str, Any],
    ctx: PageContext,
    from_case: bool = False,
) -> tuple[dict[str, Any], dict[str, float]]:
    st.subheader("Edit the payment")
    fixed = (
        "The case's history belongs to this customer and terminal: start from a "
        "blank payment to try others."
        if from_case
        else None
    )
    moment = (parse_time(original["timestamp"]) or datetime.now(UTC)).astimezone(
        ctx.zone
    )
    columns = st.columns(6)
    amount = columns[0].number_input(
        f"Amount ({original.get('currency', 'EUR')})",
        min_value=0.0,
        value=float(original["amount"]),
        step=10.0,
        key=f"wi_amount_{source_key}",
    )
    day = columns[1].date_input(
        "Date (local)", value=moment.date(), key=f"wi_day_{source_key}"
    )
    clock = columns[2].time_input(
        f"Time ({ctx.zone.key})",
        value=moment.time().replace(tzinfo=None),
        step=900,
        key=f"wi_time_{source_key}",
    )
    terminal = columns[3].text_input(
        "Terminal",
        value=original["terminal_id"],
        key=f"wi_terminal_{source_key}",
        disabled=from_case,
        help=fixed,
    )
    customer = columns[4].text_input(
        "Customer",
        value=original["customer_id"],
        key=f"wi_customer_{source_key}",
        disabled=from_case,
        help=fixed,
    )
    currency = columns[5].text_input(
        "Currency",
        value=original.get("currency", "EUR"),
        max_chars=3,
        key=f"wi_currency_{source_key}",
    )
    # The time widget has minutes only: an untouched time keeps the exact original.
    timestamp = original["timestamp"]
    if (day, _minute(clock)) != (moment.date(), _minute(moment.time())):
        timestamp = datetime.combine(day, clock, tzinfo=ctx.zone).isoformat()
    edited = dict(original)
    edited.update(
        amount=amount,
        timestamp=timestamp,
        terminal_id=terminal.strip(),
        customer_id=customer.strip(),
        currency=currency.strip().upper(),
    )
    return edited, feature_overrides(api, source_key, baseline)


def _minute(clock: time) -> time:
    return clock.replace(second=0, microsecond=0, tzinfo=None)


def feature_overrides(
    api: SentinelApi, source_key: str, baseline: dict[str, Any]
) -> dict[str, float]:
    with st.expander("Force feature values (advanced)"):
        names = feature_names(api, baseline)
        chosen = st.multiselect(
            "Features to force",
            names,
            format_func=feature_label,
            key=f"wi_override_names_{source_key}",
        )
        values = baseline.get("features", {})
        return {
            name: st.number_input(
                feature_label(name),
                value=float(values.get(name, 0.0)),
                key=f"wi_override_{source_key}_{name}",
            )
            for name in chosen
        }


def feature_names(api: SentinelApi, baseline: dict[str, Any]) -> list[str]:
    if FEATURES not in st.session_state:
        names: list[str] = list(baseline.get("features", {}))
        with section("Model features"):
            names = list(api.model().get("feature_names", names))
        st.session_state[FEATURES] = names
    return list(st.session_state[FEATURES])


def show_comparison(
    case: dict[str, Any] | None, before: dict[str, Any], after: dict[str, Any]
) -> None:
    st.subheader("Result")
    columns = st.columns(4)
    if case is not None:
        columns[0].metric(
            "Case score when opened",
            percent(before["score"]),
            help="The score the case got when it was opened (its snapshot).",
        )
        columns[3].metric(
            "Base",
            "case snapshot",
            help="The customer's and terminal's history as it was when the case was "
            "scored; amount, hour, weekend and the amount to 30-day mean follow "
            "the edit.",
        )
    else:
        columns[0].metric(
            "Unedited, scored now",
            percent(before["score"]),
            help="The starting payment scored with the customer's and terminal's "
            "history as it is now.",
        )
    delta = (after["score"] - before["score"]) * 100
    columns[1].metric(
        "Edited score",
        percent(after["score"]),
        delta=f"{delta:+.1f} points",
        delta_color="inverse",
    )
    band = band_label(after["band"])
    if after["band"] != before["band"]:
        band = f"{band_label(before['band'])} → {band}"
    columns[2].metric("Band", band)
    st.caption(
        f"Edited payment: {money(after['amount'], after['currency'])} · model "
        f"{after['model']['name']} version {after['model']['version']} · nothing is "
        "recorded and no case is opened."
    )
    then = before.get("model", {}).get("version")
    if case is not None and then and then != after["model"]["version"]:
        st.warning(
            f"The case was scored by model version {then}; the what-if uses the "
            f"served version {after['model']['version']}, so even an unedited "
            "payment may score differently."
        )
    old_reasons = before.get("contributions") or before.get("reasons", [])
    new_reasons = after.get("contributions") or after.get("reasons", [])
    st.plotly_chart(
        charts.contributions_compared(old_reasons, new_reasons),
        key="what_if_chart",
    )
    reasons_moving(old_reasons, new_reasons)
    changed_features(before, after)


def reasons_moving(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> None:
    rows = reason_moves(before, after)
    if not rows:
        st.caption("No reason moved.")
        return
    st.markdown("**Reasons moving most** (contribution in log-odds; + raises risk)")
    frame = pd.DataFrame(
        [
            {
                "Feature": feature_label(row["feature"]),
                "Before": row["before"],
                "After": row["after"],
                "Change": row["change"],
            }
            for row in rows
        ]
    )
    st.dataframe(
        frame,
        hide_index=True,
        column_config={
            "Before": st.column_config.NumberColumn(format="%+.3f"),
            "After": st.column_config.NumberColumn(format="%+.3f"),
            "Change": st.column_config.NumberColumn(format="%+.3f"),
        },
    )


def changed_features(before: dict[str, Any], after: dict[str, Any]) -> None:
    old, new = before.get("features", {}), after.get("features", {})
    rows = [
        {
            "Feature": feature_label(name),
            "Before": old.get(name),
            "After": value,
            "Forced": "yes" if name in after.get("overridden", []) else "",
        }
        for name, value in new.items()
        if old.get(name) != value
    ]
    if rows:
        st.markdown("**Features the edit changed**")
        st.dataframe(pd.DataFrame(rows), hide_index=True)
    else:
        st.caption("The edit changed no feature value.")


run_page("What-if scoring", render)
