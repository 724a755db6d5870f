"""Case page: the payment, its score and reasons, the customer's recent payments,
the audit trail, and the decision; after a decision the next case opens."""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd
import streamlit as st

from ui import charts
from ui.client import ApiError
from ui.formatting import (
    EVENT_LABELS,
    age,
    band_label,
    currency_format,
    describe_event,
    feature_label,
    local_naive,
    local_time,
    money,
    outcome_label,
    percent,
    status_label,
)
from ui.sentinel_api import SentinelApi, new_idempotency_key
from ui.view import (
    WHAT_IF_PAGE,
    PageContext,
    describe_error,
    flash,
    open_case,
    run_page,
    section,
    show_api_error,
)

logger = logging.getLogger("ui.case")
DECISION_KEYS = "decision_keys"
SHOWN = "case_on_screen"
PREFETCHED = "prefetched_case"
OPEN_STATUSES = ("open", "in_review", "escalated")
BUTTONS = (
    ("confirmed_fraud", "Confirm fraud", ":material/report:"),
    ("legitimate", "Legitimate", ":material/check_circle:"),
    ("escalate", "Escalate", ":material/arrow_upward:"),
)


def render(ctx: PageContext) -> None:
    api = ctx.services.sentinel_api
    case_id = chosen_case_id(api, ctx.analyst)
    if not case_id:
        return
    st.session_state[SHOWN] = case_id
    try:
        case = prefetched(case_id) or api.case(case_id)
    except ApiError as error:
        show_api_error(error, f"Case {case_id}")
        return
    header(case, ctx)
    left, right = st.columns([3, 2])
    with left:
        st.plotly_chart(
            charts.contributions(case["snapshot"]["contributions"]),
            key="reasons_chart",
        )
        explanation(case)
    with right:
        decision_panel(api, case, ctx)
    recent_transactions(case, ctx)
    with section("Audit trail"):
        audit_trail(api.events(case_id), ctx)


def prefetched(case_id: str) -> dict[str, Any] | None:
    """The case claim-next already returned, used once instead of a second call."""
    case = st.session_state.pop(PREFETCHED, None)
    return case if case and case.get("case_id") == case_id else None


def chosen_case_id(api: SentinelApi, analyst: str) -> str | None:
    """The case in the URL (?case=...), else a picker: an id or claim the next."""
    case_id = st.query_params.get("case") or st.session_state.get("case_id")
    if case_id:
        st.query_params["case"] = case_id
        return str(case_id)
    st.info(
        "No case is open. Pick one in the review queue, paste an id, or claim "
        "the next one."
    )
    typed = st.text_input("Case id", placeholder="c_…", key="case_id_input")
    if typed:
        open_case(typed.strip())
    if st.button(
        "Claim next case",
        type="primary",
        icon=":material/my_location:",
        key="case_claim_next",
    ):
        claim_and_open(api, analyst)
    return None


def claim_and_open(api: SentinelApi, analyst: str) -> None:
    answer = api.claim_next(analyst)
    if answer.get("claimed") and answer.get("case"):
        open_case(answer["case"]["case_id"])
    flash("No open case is waiting: the queue is empty.", "info")
    st.session_state.pop("case_id", None)
    st.query_params.clear()
    st.rerun()


def header(case: dict[str, Any], ctx: PageContext) -> None:
    transaction = case["snapshot"]["transaction"]
    st.code(case["case_id"], language=None)
    columns = st.columns(5)
    columns[0].metric("Score", percent(case["score"]))
    columns[1].metric("Band", band_label(case["band"]))
    columns[2].metric("Amount", money(case["amount"], case["currency"]))
    columns[3].metric("Status", status_label(case["status"]))
    columns[4].metric("Age", age(case["transaction_time"]))
    details = {
        "Transaction": case["transaction_id"],
        "Paid at": local_time(case["transaction_time"], ctx.zone),
        "Customer": case["customer_id"],
        "Terminal": case["terminal_id"],
        "Case opened": local_time(case["opened_at"], ctx.zone),
        "Model version": case["model_version"],
        "Claimed by": case.get("claimed_by") or "nobody",
    }
    for name, value in (transaction.get("extras") or {}).items():
        details[feature_label(str(name))] = str(value)
    st.dataframe(
        pd.DataFrame({"Detail": list(details), "Value": list(details.values())}),
        hide_index=True,
        width="stretch",
    )
    if case.get("degraded"):
        st.warning(
            "Scored in degraded mode (Redis was unavailable): the features were "
            "neutral fallbacks, so the reasons say little about this payment."
        )


def explanation(case: dict[str, Any]) -> None:
    snapshot = case["snapshot"]
    kind = "exact (TreeSHAP)" if snapshot["explanation"] == "exact" else "approximate"
    st.caption(
        f"Contributions are {kind}, in log-odds, from the model the case was "
        f"scored with (version {snapshot['model']['version']}); baseline "
        f"{snapshot['bias']:+.3f}."
    )
    with st.expander("Feature values the model saw"):
        features = snapshot["features"]
        st.dataframe(
            pd.DataFrame(
                {
                    "Feature": [feature_label(name) for name in features],
                    "Value": list(features.values()),
                }
            ),
            hide_index=True,
        )
    with st.expander("Raw case (JSON)"):
        st.json(case, expanded=False)


def decision_panel(api: SentinelApi, case: dict[str, Any], ctx: PageContext) -> None:
    with st.container(border=True):
        if case["status"] == "closed":
            closed_summary(case, ctx)
        else:
            decision_form(api, case, ctx)
        if st.button(
            "What-if from this case", icon=":material/science:", key="case_what_if"
        ):
            st.switch_page(WHAT_IF_PAGE, query_params={"case": case["case_id"]})


def closed_summary(case: dict[str, Any], ctx: PageContext) -> None:
    st.subheader(f"Decided: {outcome_label(case.get('outcome'))}")
    st.write(
        f"by **{case.get('decided_by')}** on "
        f"{local_time(case.get('decided_at'), ctx.zone)}"
    )
    for decision in case.get("decisions", []):
        if decision.get("note"):
            st.caption(f"Note from {decision['analyst']}: {decision['note']}")
    if st.button(
        "Claim next case",
        type="primary",
        icon=":material/my_location:",
        key="closed_next",
    ):
        claim_and_open(ctx.services.sentinel_api, ctx.analyst)


def decision_form(api: SentinelApi, case: dict[str, Any], ctx: PageContext) -> None:
    st.subheader("Decision")
    case_id = case["case_id"]
    holder = case.get("claimed_by")
    if holder and holder != ctx.analyst:
        st.warning(f"{holder} is working on this case; your decision will be refused.")
    st.text_area("Note", key=f"note_{case_id}", max_chars=2000, height=90)
    # A callback runs before the next script run, so that run shows the next case.
    for outcome, label, icon in BUTTONS:
        st.button(
            label,
            icon=icon,
            key=f"decide_{outcome}",
            width="stretch",
            on_click=decide_and_continue,
            args=(api, case_id, outcome, ctx.analyst),
        )
    st.caption(f"Recorded as decided by **{ctx.analyst}**.")
    if holder == ctx.analyst and st.button("Release to the queue", key="release"):
        api.release(case_id, ctx.analyst)
        flash(f"Case {case_id} is back in the queue.", "info")
        st.rerun()


def decide_and_continue(
    api: SentinelApi, case_id: str, outcome: str, analyst: str
) -> None:
    """Record the decision (a retry reuses its key), then claim the next case."""
    shown = st.session_state.get(SHOWN)
    if shown != case_id:
        # A button of the previous case, clicked while the next one was loading.
        flash(
            f"Not recorded: that click was for case {case_id}, and case {shown} "
            "is open now.",
            "warning",
        )
        return
    note = str(st.session_state.get(f"note_{case_id}", ""))
    keys: dict[tuple[str, str, str], str] = st.session_state.setdefault(
        DECISION_KEYS, {}
    )
    key = keys.setdefault((case_id, outcome, note), new_idempotency_key())
    try:
        decision = api.decide(case_id, outcome, analyst, note, key)
    except ApiError as error:
        flash(f"The decision was not recorded: {describe_error(error)}", "error")
        return
    keys.pop((case_id, outcome, note), None)
    logger.info(
        "decision_submitted",
        extra={"case_id": case_id, "analyst": analyst, "outcome": outcome},
    )
    done = f"Case {case_id}: {outcome_label(decision['outcome'])}, by {analyst}."
    try:
        answer = api.claim_next(analyst)
    except ApiError as error:
        flash(f"{done} No next case: {describe_error(error)}", "warning")
        return
    next_case = answer.get("case")
    if not (answer.get("claimed") and next_case):
        flash(f"{done} The queue is empty: no next case.", "info")
        return
    flash(f"{done} Next case opened.")
    st.session_state[PREFETCHED] = next_case
    st.session_state["case_id"] = next_case["case_id"]
    st.query_params["case"] = next_case["case_id"]


def recent_transactions(case: dict[str, Any], ctx: PageContext) -> None:
    recent = case.get("recent_transactions", [])
    st.subheader("The customer's recent payments")
    if not recent:
        st.caption("No other payment of this customer was scored recently.")
        return
    st.plotly_chart(
        charts.transactions_timeline(recent, ctx.zone, case["transaction_id"]),
        key="recent_chart",
    )
    currencies = {t["currency"] for t in recent}
    single = currencies.pop() if len(currencies) == 1 else None
    frame = pd.DataFrame(
        [
            {
                "Transaction": t["transaction_id"],
                f"Paid at ({ctx.zone.key})": local_naive(t["timestamp"], ctx.zone),
                "Amount": t["amount"],
                "Currency": t["currency"],
                "Terminal": t["terminal_id"],
                "Score": t["score"],
                "Band": band_label(t["band"]),
                "Case": t.get("case_id") or "",
            }
            for t in recent
        ]
    )
    st.dataframe(
        frame,
        hide_index=True,
        column_order=[c for c in frame.columns if not (single and c == "Currency")],
        column_config={
            "Score": st.column_config.NumberColumn(format="percent"),
            "Amount": st.column_config.NumberColumn(format=currency_format(single)),
        },
    )


def audit_trail(events: list[dict[str, Any]], ctx: PageContext) -> None:
    st.subheader("Audit trail")
    frame = pd.DataFrame(
        [
            {
                f"When ({ctx.zone.key})": local_naive(event["at"], ctx.zone),
                "What": EVENT_LABELS.get(event["kind"], event["kind"]),
                "Who": event["actor"],
                "Details": describe_event(event.get("detail") or {}),
            }
            for event in events
        ]
    )
    st.dataframe(frame, hide_index=True, width="stretch")


run_page("Case", render)
