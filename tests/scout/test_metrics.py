"""Offline ranking metrics against values worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pipelines.scout_metrics import (
    average_precision_at_k,
    evaluate_lists,
    intra_list_diversity,
    ndcg_at_k,
    novelty,
    precision_at_k,
    recall_at_k,
)

pytestmark = pytest.mark.unit


def test_precision_and_recall() -> None:
    ranked = [5, 1, 7, 2]

    assert precision_at_k(ranked, {1, 2, 9}, 4) == 0.5
    assert recall_at_k(ranked, {1, 2, 9}, 4) == pytest.approx(2 / 3)
    assert recall_at_k(ranked, set(), 4) == 0.0


def test_ndcg_rewards_hits_near_the_top() -> None:
    # hits at ranks 2 and 4 of 4; two relevant items
    expected = (1 / math.log2(3) + 1 / math.log2(5)) / (1 + 1 / math.log2(3))

    assert ndcg_at_k([5, 1, 7, 2], {1, 2}, 4) == pytest.approx(expected)
    assert ndcg_at_k([1, 2, 5, 7], {1, 2}, 4) == pytest.approx(1.0)
    assert ndcg_at_k([5, 7], {1}, 2) == 0.0


def test_average_precision() -> None:
    # hits at ranks 1 and 3: (1/1 + 2/3) / min(3, 4)
    assert average_precision_at_k([1, 5, 2, 7], {1, 2, 9}, 4) == pytest.approx(
        (1 + 2 / 3) / 3
    )


def test_novelty_is_higher_for_rarer_items() -> None:
    popularity = np.array([100, 1, 1, 50])

    assert novelty([[1, 2]], popularity, 100) > novelty([[0, 3]], popularity, 100)
    assert novelty([[0]], popularity, 100) == pytest.approx(0.0)


def test_diversity_is_zero_for_identical_items_and_one_for_orthogonal() -> None:
    vectors = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])

    assert intra_list_diversity([[0, 1]], vectors) == pytest.approx(0.0)
    assert intra_list_diversity([[0, 2]], vectors) == pytest.approx(1.0)


def test_evaluate_lists_reports_coverage_of_the_catalogue() -> None:
    vectors = np.eye(4)
    metrics = evaluate_lists(
        [[0, 1], [0, 2]], [{0}, {3}], np.array([2, 1, 1, 1]), 2, vectors, k=2
    )

    assert metrics["coverage"] == 0.75
    assert metrics["precision_at_10"] == 0.25
