"""Recommendations: a user's history and list; a what-if on an edited history shown
beside the current list (entered, left, moved, because ...); similar items; search."""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from ui import charts
from ui.formatting import count, currency_format, local_time, percent
from ui.scout_api import (
    STRATEGIES,
    STRATEGY_LABELS,
    HistoryEdit,
    ScoutApi,
    because_text,
    change_marks,
)
from ui.view import PageContext, run_page, section

CANDIDATES = "rec_candidates"  # item id -> title, every item the page has shown
RESULTS = "rec_what_if"


def render(ctx: PageContext) -> None:
    api = ctx.services.scout_api
    tabs = st.tabs(["User and what-if", "Similar items", "Search"])
    with tabs[0], section("Users"):
        user_id = pick_user(api)
        if user_id:
            user_panel(api, user_id, ctx)
    with tabs[1], section("Similar items"):
        similar_panel(api)
    with tabs[2], section("Search"):
        search_panel(api)


def remember(items: list[dict[str, Any]]) -> None:
    known: dict[str, str] = st.session_state.setdefault(CANDIDATES, {})
    for item in items:
        known[item["item_id"]] = item["title"]


def item_name(item_id: str) -> str:
    title = st.session_state.get(CANDIDATES, {}).get(item_id)
    return f"{title} ({item_id})" if title else item_id


def pick_user(api: ScoutApi) -> str | None:
    listing = api.users(limit=200)
    users = listing["users"]
    labels = {
        u["user_id"]: f"{u['user_id']} · {u['items']} items, {u['purchases']} purchases"
        for u in users
    }
    left, right = st.columns([2, 1])
    chosen = left.selectbox(
        f"User ({count(listing['total'])} in all, most active first)",
        list(labels),
        format_func=lambda user_id: labels.get(user_id, user_id),
        key="rec_user_pick",
    )
    typed = right.text_input("…or a user id", key="rec_user_typed").strip()
    return typed or chosen


def user_panel(api: ScoutApi, user_id: str, ctx: PageContext) -> None:
    user = api.user(user_id)
    current = api.recommendations(user_id, k=10)
    remember(user["history"])
    remember(current["items"])
    history_column, list_column = st.columns(2)
    with history_column:
        history_view(user, ctx)
    with list_column:
        st.subheader("Recommended now")
        list_notes(current)
        items_table(current["items"], key="rec_current")
    what_if_panel(api, user, current)


def history_view(user: dict[str, Any], ctx: PageContext) -> None:
    st.subheader(f"History of {user['user_id']}")
    st.caption(
        f"{user['items']} items · {user['views']} views · {user['clicks']} clicks · "
        f"{user['purchases']} purchases · last seen "
        f"{local_time(user['last_seen'], ctx.zone)}"
    )
    taste = user["taste"]
    figure = go.Figure(
        go.Bar(
            x=[c["share"] * 100 for c in taste["categories"]],
            y=[c["category"] for c in taste["categories"]],
            orientation="h",
        )
    )
    price = taste["price"]
    figure.update_layout(
        title=f"Taste by category (%) · typical price {price['median']:.2f} "
        f"{price['currency']}",
        height=220,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
    )
    st.plotly_chart(figure, key="rec_taste")
    frame = pd.DataFrame(
        [
            {
                "Item": h["item_id"],
                "Title": h["title"],
                "Category": h["category"],
                "Price": h["price"],
                "Views": h["views"],
                "Clicks": h["clicks"],
                "Purchases": h["purchases"],
                f"Last seen ({ctx.zone.key})": local_time(h["last_seen"], ctx.zone),
            }
            for h in user["history"]
        ]
    )
    st.dataframe(
        frame,
        hide_index=True,
        height=260,
        column_config={"Price": price_column(user["history"])},
    )


def list_notes(answer: dict[str, Any]) -> None:
    if answer.get("degraded"):
        st.warning(f"Scout answered in degraded mode: {answer.get('reason')}")
    elif answer.get("fallback"):
        st.info(f"Popular items stand in: {answer.get('reason') or 'no history'}")


def price_column(items: list[dict[str, Any]]) -> Any:
    currencies = {item.get("currency") for item in items}
    single = currencies.pop() if len(currencies) == 1 else None
    return st.column_config.NumberColumn("Price", format=currency_format(single))


def items_table(
    items: list[dict[str, Any]], key: str, marks: dict[str, str] | None = None
) -> None:
    rows = []
    for item in items:
        row = {
            "Rank": item.get("rank"),
            "Title": item["title"],
            "Why": because_text(item),
            "Category": item["category"],
            "Price": item["price"],
            "Score": item.get("score"),
            "Item": item["item_id"],
        }
        if marks is not None:
            row = {"Change": marks.get(item["item_id"], ""), **row}
        rows.append(row)
    st.dataframe(
        pd.DataFrame(rows),
        hide_index=True,
        key=key,
        column_config={
            "Change": st.column_config.TextColumn(width="small"),
            "Rank": st.column_config.NumberColumn(width="small"),
            "Title": st.column_config.TextColumn(width="medium"),
            "Why": st.column_config.TextColumn(width="medium"),
            "Price": price_column(items),
            "Score": st.column_config.NumberColumn(format="%.3f"),
        },
    )


def what_if_panel(api: ScoutApi, user: dict[str, Any], current: dict[str, Any]) -> None:
    st.divider()
    st.subheader("What if this history changed?")
    history_ids = [h["item_id"] for h in user["history"]]
    current_ids = [i["item_id"] for i in current["items"]]
    finder = st.text_input(
        "Find items to add (semantic search)", key="rec_add_search"
    ).strip()
    if finder:
        remember(api.search(finder, k=10)["items"])
    options = list(st.session_state.get(CANDIDATES, {}))
    with st.form("rec_what_if_form"):
        columns = st.columns(4)
        add = columns[0].multiselect(
            "Add", [i for i in options if i not in history_ids], format_func=item_name
        )
        remove = columns[1].multiselect("Remove", history_ids, format_func=item_name)
        liked = columns[2].multiselect("Like", options, format_func=item_name)
        disliked = columns[3].multiselect(
            "Dislike", current_ids + history_ids, format_func=item_name
        )
        left, right = st.columns(2)
        strategy = left.selectbox(
            "Strategy", list(STRATEGIES), format_func=lambda s: STRATEGY_LABELS[s]
        )
        diversity = right.slider(
            "Diversity", 0.0, 1.0, 0.0, 0.1, help="0 = pure relevance (MMR)."
        )
        submitted = st.form_submit_button("Show the what-if list", type="primary")
    if submitted:
        edit = HistoryEdit(
            user["user_id"],
            add,
            remove,
            liked,
            disliked,
            strategy or "average_vector",
            diversity,
        )
        st.session_state[RESULTS] = (user["user_id"], api.what_if(edit))
    stored = st.session_state.get(RESULTS)
    if stored and stored[0] == user["user_id"]:
        show_what_if(stored[1])


def show_what_if(answer: dict[str, Any]) -> None:
    diff = answer["diff"]
    before, after = answer["current"], answer["recommendations"]
    remember(after["items"])
    columns = st.columns(4)
    columns[0].metric("Entered", len(diff["entered"]))
    columns[1].metric("Left", len(diff["left"]))
    columns[2].metric("Moved", len(diff["moved"]))
    columns[3].metric("Overlap at k", percent(diff["overlap_at_k"], 0))
    change = answer["history"]
    st.caption(
        f"History {change['items_before']} → {change['items_after']} items "
        f"({len(change['added'])} added, {len(change['removed'])} removed, "
        f"{len(change['liked'])} liked, {len(change['disliked'])} disliked); "
        f"{len(change['hidden_neighbours'])} near neighbours of disliked items hidden."
    )
    marks = change_marks(diff)
    left, right = st.columns(2)
    with left:
        st.markdown("**Current list**")
        left_marks = {c["item_id"]: "left" for c in diff["left"]}
        items_table(before["items"], key="rec_before", marks=left_marks)
    with right:
        st.markdown("**What-if list**")
        list_notes(after)
        items_table(after["items"], key="rec_after", marks=marks)
    titles = {i["item_id"]: i["title"] for i in before["items"] + after["items"]}
    st.plotly_chart(
        charts.rank_moves(
            [i["item_id"] for i in before["items"]],
            [i["item_id"] for i in after["items"]],
            titles,
        ),
        key="rec_rank_moves",
    )


def similar_panel(api: ScoutApi) -> None:
    options = list(st.session_state.get(CANDIDATES, {}))
    left, middle, right = st.columns([2, 2, 1])
    picked = left.selectbox(
        "An item shown on this page",
        [None, *options],
        format_func=lambda i: "–" if i is None else item_name(i),
        key="rec_similar_pick",
    )
    typed = middle.text_input("…or an item id", key="rec_similar_typed").strip()
    by = right.radio(
        "Similar by",
        ["collab", "text"],
        key="rec_similar_by",
        format_func=lambda by: {"collab": "Co-interest", "text": "Wording"}[by],
    )
    item_id = typed or picked
    if not item_id:
        st.caption("Pick an item to see the items most like it.")
        return
    answer = api.similar(item_id, by=by)
    item = answer["item"]
    st.markdown(f"Items like **{item['title']}** ({item['category']}, {item['brand']})")
    remember(answer["items"])
    items_table(answer["items"], key="rec_similar_table")


def search_panel(api: ScoutApi) -> None:
    query = st.text_input(
        "Search the catalogue",
        placeholder="e.g. waterproof hiking jacket",
        key="rec_search_query",
    ).strip()
    if not query:
        st.caption("Words of titles and descriptions are matched by meaning.")
        return
    answer = api.search(query, k=20)
    if answer.get("note"):
        st.info(answer["note"])
    if answer["items"]:
        st.caption(
            f"{len(answer['items'])} items · words understood: "
            + ", ".join(answer.get("known_terms", []))
        )
        remember(answer["items"])
        items_table(answer["items"], key="rec_search_table")


run_page("Recommendations", render)
