"""The fraud features computed offline, vectorised over a whole transaction history.

Computes the same integer aggregates as the online store (api.sentinel.features) and
turns them into features with the same function, so training and serving agree. The
stream order is time order (ties keep the file's row order); a transaction sees the
earlier ones of its customer or terminal with time in (t - window, t], and frauds whose
label was known strictly before t.

Every window is a binary search on one sorted key per group (group * span + time), so
a million rows take seconds, not a Python loop.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import numpy.typing as npt
import pandas as pd

from api.sentinel.features import (
    AGGREGATE_NAMES,
    CUSTOMER_VELOCITY_WINDOWS_MS,
    FEATURE_NAMES,
    LONGEST_WINDOW_MS,
    NEW_TERMINAL_MS,
    SMALL_AMOUNT_CENTS,
    SPEND_WINDOWS_MS,
    TERMINAL_WINDOWS_MS,
    features_from_aggregates,
)

IntArray = npt.NDArray[np.int64]
EPOCH = pd.Timestamp(0, tz="UTC")
# Used when a history has labels but no label_available_at column.
DEFAULT_LABEL_DELAY = timedelta(days=7)


def epoch_ms(timestamps: pd.Series) -> IntArray:
    """Whole milliseconds since the epoch, floored, as the online store counts."""
    elapsed = (timestamps - EPOCH) // pd.Timedelta(milliseconds=1)
    return np.asarray(elapsed, dtype=np.int64)


def amount_cents(amounts: pd.Series) -> IntArray:
    return np.rint(amounts.to_numpy(np.float64) * 100).astype(np.int64)


def compute_features(
    transactions: pd.DataFrame, label_delay: timedelta = DEFAULT_LABEL_DELAY
) -> pd.DataFrame:
    """FEATURE_NAMES columns for every transaction, aligned with its index.

    Needs transaction_id, timestamp (tz-aware), customer_id, terminal_id, amount;
    terminal risk also uses is_fraud and label_available_at (or timestamp +
    `label_delay` when that column is absent).
    """
    aggregates = compute_aggregates(transactions, label_delay)
    features = features_from_aggregates(
        transactions["amount"].to_numpy(np.float64),
        epoch_ms(transactions["timestamp"]),
        {name: aggregates[name].to_numpy() for name in AGGREGATE_NAMES},
    )
    return pd.DataFrame(features, index=transactions.index)[list(FEATURE_NAMES)]


def compute_aggregates(
    transactions: pd.DataFrame, label_delay: timedelta = DEFAULT_LABEL_DELAY
) -> pd.DataFrame:
    """The integer aggregates (AGGREGATE_NAMES) the online Lua script returns."""
    ms_all = epoch_ms(transactions["timestamp"])
    order = np.argsort(ms_all, kind="stable")  # the stream order
    ms = ms_all[order]
    base = int(ms.min()) if len(ms) else 0
    known = _label_known_ms(transactions, label_delay)[order]
    rel = ms - base
    rel_known = np.where(known >= 0, known - base, -1)
    span = (
        int(max(rel.max(initial=0), rel_known.max(initial=0))) + LONGEST_WINDOW_MS + 2
    )
    cents = amount_cents(transactions["amount"])[order]
    customer = pd.factorize(transactions["customer_id"].to_numpy()[order])[0]
    terminal = pd.factorize(transactions["terminal_id"].to_numpy()[order])[0]

    out: dict[str, IntArray] = {}
    out.update(_customer_windows(customer.astype(np.int64), rel, cents, span))
    seen = _terminal_seen(customer.astype(np.int64), terminal.astype(np.int64), rel)
    out["terminal_seen_by_customer"] = seen
    small_new = ((seen == 0) & (cents <= SMALL_AMOUNT_CENTS)).astype(np.int64)
    out["customer_small_new_terminal_count_1h"] = _window_sums(
        customer.astype(np.int64),
        rel,
        small_new,
        span,
        CUSTOMER_VELOCITY_WINDOWS_MS["1h"],
    )[1]
    out.update(_terminal_windows(terminal.astype(np.int64), rel, rel_known, span))

    result = pd.DataFrame(index=transactions.index)
    for name in AGGREGATE_NAMES:
        values = np.empty(len(order), dtype=np.int64)
        values[order] = out[name]
        result[name] = values
    return result


def _label_known_ms(transactions: pd.DataFrame, label_delay: timedelta) -> IntArray:
    """When each fraud label became known (ms); -1 for non-frauds and unknown ones."""
    n = len(transactions)
    if "is_fraud" not in transactions:
        return np.full(n, -1, dtype=np.int64)
    fraud = transactions["is_fraud"].to_numpy() == 1
    if "label_available_at" in transactions:
        available = transactions["label_available_at"]
        known = epoch_ms(available.fillna(EPOCH))
        fraud &= available.notna().to_numpy()
    else:
        known = epoch_ms(transactions["timestamp"] + label_delay)
    return np.where(fraud, known, -1)


def _group_sort(group: IntArray, rel: IntArray, span: int) -> tuple[IntArray, IntArray]:
    """Stable order by group (time order inside it) and the sorted composite keys."""
    perm = np.argsort(group, kind="stable")
    return perm, group[perm] * span + rel[perm]


def _window_sums(
    group: IntArray, rel: IntArray, values: IntArray, span: int, window_ms: int
) -> tuple[IntArray, IntArray]:
    """Per row: count and sum of `values` over the group's earlier rows in the
    window (t - window, t]; returned in stream order."""
    perm, keys = _group_sort(group, rel, span)
    lower = np.searchsorted(keys, keys - window_ms, side="right")
    position = np.arange(len(keys))
    prefix = np.concatenate([[0], np.cumsum(values[perm])])
    count = np.empty_like(position)
    total = np.empty_like(position)
    count[perm] = position - lower
    total[perm] = prefix[position] - prefix[lower]
    return count.astype(np.int64), total.astype(np.int64)


def _customer_windows(
    customer: IntArray, rel: IntArray, cents: IntArray, span: int
) -> dict[str, IntArray]:
    out: dict[str, IntArray] = {}
    for window, length in CUSTOMER_VELOCITY_WINDOWS_MS.items():
        out[f"customer_count_{window}"] = _window_sums(
            customer, rel, cents, span, length
        )[0]
    for window, length in SPEND_WINDOWS_MS.items():
        count, total = _window_sums(customer, rel, cents, span, length)
        out[f"customer_count_{window}"] = count
        out[f"customer_sum_cents_{window}"] = total
    return out


def _terminal_seen(customer: IntArray, terminal: IntArray, rel: IntArray) -> IntArray:
    """1 when the customer used this terminal in the NEW_TERMINAL_MS before."""
    pair = customer * (int(terminal.max(initial=0)) + 1) + terminal
    perm = np.argsort(pair, kind="stable")
    sorted_pair, sorted_rel = pair[perm], rel[perm]
    same = np.zeros(len(perm), dtype=bool)
    same[1:] = sorted_pair[1:] == sorted_pair[:-1]
    recent = np.zeros(len(perm), dtype=bool)
    recent[1:] = sorted_rel[:-1] > sorted_rel[1:] - NEW_TERMINAL_MS
    seen = np.empty(len(perm), dtype=np.int64)
    seen[perm] = (same & recent).astype(np.int64)
    return seen


def _terminal_windows(
    terminal: IntArray, rel: IntArray, rel_known: IntArray, span: int
) -> dict[str, IntArray]:
    ones = np.ones(len(rel), dtype=np.int64)
    out: dict[str, IntArray] = {}
    for window, length in TERMINAL_WINDOWS_MS.items():
        out[f"terminal_count_{window}"] = _window_sums(
            terminal, rel, ones, span, length
        )[0]
        out[f"terminal_fraud_count_{window}"] = _known_frauds(
            terminal, rel, rel_known, span, length
        )
    return out


def _known_frauds(
    terminal: IntArray, rel: IntArray, rel_known: IntArray, span: int, window_ms: int
) -> IntArray:
    """Per row at time t: frauds at its terminal with time in (t - window, t] whose
    label was known before t. Fraud j counts for the rows of its terminal with time
    in (known_j, t_j + window): one interval each, added with a difference array."""
    perm, keys = _group_sort(terminal, rel, span)
    frauds = np.flatnonzero(rel_known >= 0)
    group = terminal[frauds] * span
    first = np.searchsorted(keys, group + rel_known[frauds], side="right")
    stop = np.searchsorted(keys, group + rel[frauds] + window_ms, side="left")
    stop = np.maximum(stop, first)
    change = np.zeros(len(keys) + 1, dtype=np.int64)
    np.add.at(change, first, 1)
    np.add.at(change, stop, -1)
    counts = np.empty(len(keys), dtype=np.int64)
    counts[perm] = np.cumsum(change)[:-1]
    return counts
