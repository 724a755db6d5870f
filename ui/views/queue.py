"""Review queue: counts, filters, sorting, a page of cases, claim next, bulk decisions.

Only one page of cases (the API's cursor pagination) is fetched per run, so the page
stays fast whatever the queue's size.
"""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd
import streamlit as st

from ui.formatting import (
    age,
    band_label,
    count,
    currency_format,
    local_naive,
    outcome_label,
    status_label,
)
from ui.sentinel_api import (
    BANDS,
    OUTCOMES,
    SORTS,
    STATUSES,
    CaseFilters,
    SentinelApi,
    new_idempotency_key,
)
from ui.view import PageContext, flash, open_case, run_page, section

logger = logging.getLogger("ui.queue")
ANY = "any"
SORT_LABELS = {"score": "Score", "amount": "Amount", "age": "Age (payment time)"}
CURSORS = "queue_cursors"
FILTERS = "queue_filters"
TABLE_VERSION = "queue_table_version"
BULK_KEY = "queue_bulk_key"


def render(ctx: PageContext) -> None:
    api = ctx.services.sentinel_api
    with section("Queue counts"):
        show_counts(api.stats(days=1))
    filters = filter_controls(ctx.services.settings.workbench_page_size)
    claim_next_button(api, ctx.analyst, filters.band)
    cursor = current_cursor(filters)
    result = api.list_cases(filters, ctx.zone, cursor)
    cases = result["items"]
    selected = cases_table(cases, ctx)
    pagination(result, filters)
    if selected:
        selection_actions(api, ctx.analyst, [cases[i] for i in selected])


def show_counts(stats: dict[str, Any]) -> None:
    queue = stats.get("queue", {})
    by_band = stats.get("queue_by_band", {})
    columns = st.columns(6)
    for column, status in zip(columns, STATUSES, strict=False):
        column.metric(status_label(status), count(queue.get(status, 0)))
    decided = sum(stats.get("decisions", {}).values())
    columns[4].metric("Decisions (all time)", count(decided))
    open_block = by_band.get("block", {}).get("open", 0)
    columns[5].metric("Open, band block", count(open_block))


def filter_controls(page_size: int) -> CaseFilters:
    columns = st.columns([1.2, 1, 1.6, 1, 1.2, 0.9])
    status = columns[0].selectbox(
        "Status",
        [*STATUSES, ANY],
        format_func=lambda s: "Any" if s == ANY else status_label(s),
        key="queue_status",
    )
    band = columns[1].selectbox(
        "Band",
        [ANY, *BANDS],
        format_func=lambda b: "Any" if b == ANY else band_label(b),
        key="queue_band",
    )
    days = columns[2].date_input(
        "Payment date (local)", value=[], key="queue_days", help="A day or a range."
    )
    min_amount = columns[3].number_input(
        "Minimum amount", min_value=0.0, value=0.0, step=50.0, key="queue_min_amount"
    )
    sort = columns[4].selectbox(
        "Sort by", list(SORTS), format_func=lambda s: SORT_LABELS[s], key="queue_sort"
    )
    order = columns[5].selectbox(
        "Order",
        ["desc", "asc"],
        format_func=lambda o: "High / old first" if o == "desc" else "Low / new first",
        key="queue_order",
    )
    first, last = _day_range(days)
    return CaseFilters(
        status=None if status == ANY else status,
        band=None if band == ANY else band,
        first_day=first,
        last_day=last,
        min_amount=min_amount or None,
        sort=sort or "score",
        order=order,
        page_size=page_size,
    )


def _day_range(days: Any) -> tuple[Any, Any]:
    chosen = list(days) if isinstance(days, list | tuple) else [days]
    chosen = [day for day in chosen if day]
    if not chosen:
        return None, None
    return chosen[0], chosen[-1]


def current_cursor(filters: CaseFilters) -> str | None:
    """Pages visited are a stack of cursors; new filters start at page one."""
    if st.session_state.get(FILTERS) != filters:
        st.session_state[FILTERS] = filters
        st.session_state[CURSORS] = [None]
    cursors: list[str | None] = st.session_state[CURSORS]
    return cursors[-1]


def claim_next_button(api: SentinelApi, analyst: str, band: str | None) -> None:
    label = "Claim next case" + (f" ({band_label(band)})" if band else "")
    if not st.button(
        label, type="primary", icon=":material/my_location:", key="claim_next"
    ):
        return
    answer = api.claim_next(analyst, band)
    case = answer.get("case")
    if not answer.get("claimed") or not case:
        st.info("No open case is waiting: the queue is empty for this band.")
        return
    open_case(case["case_id"])


def cases_table(cases: list[dict[str, Any]], ctx: PageContext) -> list[int]:
    """The page of cases; returns the positions the analyst selected."""
    if not cases:
        st.info("No case matches these filters.")
        return []
    frame = cases_frame(cases, ctx)
    currencies = {case["currency"] for case in cases}
    single = currencies.pop() if len(currencies) == 1 else None
    paid_at = f"Paid at ({ctx.zone.key})"
    event = st.dataframe(
        frame,
        key=f"queue_table_{st.session_state.get(TABLE_VERSION, 0)}",
        hide_index=True,
        on_select="rerun",
        selection_mode="multi-row",
        column_order=[c for c in frame.columns if not (single and c == "Currency")],
        column_config={
            "Case": st.column_config.TextColumn(help="Select a cell and copy it"),
            "Score": st.column_config.ProgressColumn(
                min_value=0.0, max_value=1.0, format="percent"
            ),
            "Amount": st.column_config.NumberColumn(format=currency_format(single)),
            paid_at: st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
        },
    )
    st.caption(
        "Click a column title to sort this page; select rows to open a case or "
        "decide several at once."
    )
    return list(event.selection.rows)


def cases_frame(cases: list[dict[str, Any]], ctx: PageContext) -> pd.DataFrame:
    rows = [
        {
            "Case": case["case_id"],
            "Score": case["score"],
            "Band": band_label(case["band"]),
            "Amount": case["amount"],
            "Currency": case["currency"],
            f"Paid at ({ctx.zone.key})": local_naive(
                case["transaction_time"], ctx.zone
            ),
            "Age": age(case["transaction_time"]),
            "Status": status_label(case["status"]),
            "Customer": case["customer_id"],
            "Terminal": case["terminal_id"],
            "Claimed by": case.get("claimed_by") or "",
            "Outcome": outcome_label(case.get("outcome"))
            if case.get("outcome")
            else "",
        }
        for case in cases
    ]
    return pd.DataFrame(rows)


def pagination(result: dict[str, Any], filters: CaseFilters) -> None:
    cursors: list[str | None] = st.session_state[CURSORS]
    matching = (
        result.get("counts", {}).get(filters.status, 0)
        if filters.status
        else sum(result.get("counts", {}).values())
    )
    left, middle, right = st.columns([1, 3, 1])
    left.button(
        "← Previous page",
        disabled=len(cursors) == 1,
        on_click=_previous_page,
        key="queue_previous",
    )
    scope = f"{status_label(filters.status).lower()} " if filters.status else ""
    middle.caption(
        f"Page {len(cursors)} · {len(result['items'])} shown · "
        f"{count(matching)} {scope}cases"
        + (f" in band {filters.band}" if filters.band else "")
        + " (the count ignores the date and amount filters)"
    )
    next_cursor = result.get("next_cursor")
    right.button(
        "Next page →",
        disabled=not next_cursor,
        on_click=cursors.append,
        args=(next_cursor,),
        key="queue_next",
    )


def _previous_page() -> None:
    st.session_state[CURSORS].pop()


def selection_actions(
    api: SentinelApi, analyst: str, chosen: list[dict[str, Any]]
) -> None:
    st.subheader(f"{len(chosen)} selected")
    st.caption("Selected: " + ", ".join(case["case_id"] for case in chosen))
    if len(chosen) == 1 and st.button(
        "Open this case", icon=":material/search:", key="open_case"
    ):
        open_case(chosen[0]["case_id"])
    with st.form("bulk_decision", border=True):
        st.markdown("**Decide every selected case at once**")
        outcome = st.radio(
            "Outcome", OUTCOMES, format_func=outcome_label, horizontal=True
        )
        note = st.text_input("Note (recorded on each case)", max_chars=2000)
        submitted = st.form_submit_button(
            f"Apply to {len(chosen)} case(s) as {analyst}", type="primary"
        )
    if submitted:
        apply_bulk(api, analyst, [case["case_id"] for case in chosen], outcome, note)


def apply_bulk(
    api: SentinelApi, analyst: str, case_ids: list[str], outcome: str, note: str
) -> None:
    # The same submission retried (after a timeout) reuses its Idempotency-Key.
    signature = (tuple(case_ids), outcome, note)
    previous = st.session_state.get(BULK_KEY)
    key = previous[1] if previous and previous[0] == signature else None
    key = key or new_idempotency_key()
    st.session_state[BULK_KEY] = (signature, key)
    answer = api.decide_many(case_ids, outcome, analyst, note, key)
    failures = [r for r in answer["results"] if r["status_code"] != 200]
    logger.info(
        "bulk_decision_submitted",
        extra={
            "analyst": analyst,
            "outcome": outcome,
            "cases": len(case_ids),
            "applied": answer["applied"],
            "failed": len(failures),
        },
    )
    message = f"{answer['applied']} case(s) decided as {outcome_label(outcome)}."
    if failures:
        reasons = "; ".join(f"{r['case_id']}: {r.get('detail')}" for r in failures)
        flash(f"{message} {len(failures)} not decided: {reasons}", "warning")
    else:
        flash(message)
    st.session_state.pop(BULK_KEY, None)
    st.session_state[TABLE_VERSION] = st.session_state.get(TABLE_VERSION, 0) + 1
    st.rerun()


run_page("Review queue", render)
