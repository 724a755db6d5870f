"""Offline ranking metrics at k for Scout: accuracy, coverage, novelty, diversity."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

METRIC_NAMES = (
    "precision_at_10",
    "recall_at_10",
    "ndcg_at_10",
    "map_at_10",
    "coverage",
    "novelty",
    "diversity",
)


def precision_at_k(ranked: Sequence[int], relevant: set[int], k: int) -> float:
    return sum(item in relevant for item in ranked[:k]) / k


def recall_at_k(ranked: Sequence[int], relevant: set[int], k: int) -> float:
    if not relevant:
        return 0.0
    return sum(item in relevant for item in ranked[:k]) / len(relevant)


def ndcg_at_k(ranked: Sequence[int], relevant: set[int], k: int) -> float:
    """Binary-gain nDCG: DCG of the list over the DCG of a perfect list."""
    gains = [
        1.0 / np.log2(rank + 2) for rank, i in enumerate(ranked[:k]) if i in relevant
    ]
    ideal = sum(1.0 / np.log2(rank + 2) for rank in range(min(len(relevant), k)))
    return float(sum(gains) / ideal) if ideal else 0.0


def average_precision_at_k(ranked: Sequence[int], relevant: set[int], k: int) -> float:
    """AP@k: mean of precision at each hit, over min(|relevant|, k)."""
    hits, total = 0, 0.0
    for rank, item in enumerate(ranked[:k]):
        if item in relevant:
            hits += 1
            total += hits / (rank + 1)
    denominator = min(len(relevant), k)
    return total / denominator if denominator else 0.0


def novelty(
    lists: Sequence[Sequence[int]], popularity: np.ndarray, users: int
) -> float:
    """Mean self-information -log2(share of users who saw the item) of shown items."""
    shown = np.concatenate([np.asarray(items[:10]) for items in lists])
    share = np.clip(popularity[shown] / max(users, 1), 1.0 / max(users, 1), 1.0)
    return float(np.mean(-np.log2(share)))


def intra_list_diversity(lists: Sequence[Sequence[int]], vectors: np.ndarray) -> float:
    """Mean pairwise cosine distance inside each list (vectors have unit rows)."""
    values = []
    for items in lists:
        chosen = vectors[np.asarray(items[:10])]
        if len(chosen) < 2:
            continue
        similarity = chosen @ chosen.T
        n = len(chosen)
        mean_similarity = (similarity.sum() - np.trace(similarity)) / (n * (n - 1))
        values.append(1.0 - mean_similarity)
    return float(np.mean(values)) if values else 0.0


def evaluate_lists(
    lists: Sequence[Sequence[int]],
    relevant: Sequence[set[int]],
    popularity: np.ndarray,
    users: int,
    content_vectors: np.ndarray,
    k: int = 10,
) -> dict[str, float]:
    """Every metric of METRIC_NAMES for one recommender's top-k lists."""
    n_items = len(popularity)
    return {
        "precision_at_10": _mean(precision_at_k, lists, relevant, k),
        "recall_at_10": _mean(recall_at_k, lists, relevant, k),
        "ndcg_at_10": _mean(ndcg_at_k, lists, relevant, k),
        "map_at_10": _mean(average_precision_at_k, lists, relevant, k),
        "coverage": len({i for items in lists for i in items[:k]}) / n_items,
        "novelty": novelty(lists, popularity, users),
        "diversity": intra_list_diversity(lists, content_vectors),
    }


def _mean(
    metric: object,
    lists: Sequence[Sequence[int]],
    relevant: Sequence[set[int]],
    k: int,
) -> float:
    assert callable(metric)
    values = [metric(items, rel, k) for items, rel in zip(lists, relevant, strict=True)]
    return float(np.mean(values)) if values else 0.0
