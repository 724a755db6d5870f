"""The Models page's champion/challenger table and the What-if page's reason moves."""

from __future__ import annotations

import pytest

from ui.sentinel_api import case_as_scored, metric_comparison, reason_moves

pytestmark = pytest.mark.unit


def test_each_metric_gets_champion_challenger_and_the_difference() -> None:
    rows = metric_comparison(
        {"auc": 0.90, "precision_at_review": 0.40, "recall": 0.7},
        {"auc": 0.93, "precision_at_review": 0.35, "brier": 0.01},
    )

    assert [row["metric"] for row in rows] == [
        "auc",
        "precision_at_review",
        "recall",
        "brier",
    ]
    auc, precision, recall, brier = rows
    assert auc["difference"] == pytest.approx(0.03)
    assert precision["difference"] == pytest.approx(-0.05), "challenger minus champion"
    assert (recall["challenger"], recall["difference"]) == (None, None)
    assert (brier["champion"], brier["challenger"], brier["difference"]) == (
        None,
        0.01,
        None,
    )


def test_without_a_challenger_the_table_has_only_the_champion() -> None:
    rows = metric_comparison({"auc": 0.9}, None)

    assert rows == [
        {"metric": "auc", "champion": 0.9, "challenger": None, "difference": None}
    ]


def _reason(feature: str, contribution: float) -> dict[str, object]:
    return {"feature": feature, "contribution": contribution, "value": 0.0}


def test_reason_moves_lists_the_largest_changes_first_and_skips_unmoved() -> None:
    before = [_reason("amount", 0.5), _reason("hour_of_day", -0.2), _reason("x", 0.1)]
    after = [_reason("amount", 2.0), _reason("hour_of_day", -0.6), _reason("x", 0.1)]

    rows = reason_moves(before, after)

    assert [row["feature"] for row in rows] == ["amount", "hour_of_day"]
    assert rows[0] == {"feature": "amount", "before": 0.5, "after": 2.0, "change": 1.5}
    assert rows[1]["change"] == pytest.approx(-0.4)
    assert len(reason_moves(before, after, limit=1)) == 1


def test_a_feature_only_one_model_version_has_comes_last_without_a_change() -> None:
    rows = reason_moves(
        [_reason("amount", 0.5), _reason("old_feature", 0.3)],
        [_reason("amount", 0.4), _reason("new_feature", -0.1)],
    )

    assert [row["feature"] for row in rows] == [
        "amount",
        "old_feature",
        "new_feature",
    ]
    assert rows[1] == {
        "feature": "old_feature",
        "before": 0.3,
        "after": None,
        "change": None,
    }


def test_a_case_snapshot_reads_as_the_before_of_an_edit() -> None:
    case = {
        "score": 0.8,
        "band": "review",
        "snapshot": {
            "score": 0.8,
            "band": "review",
            "model": {"name": "m", "alias": "champion", "version": "3"},
            "features": {"amount": 90.0},
            "contributions": [_reason("amount", 1.2)],
        },
    }

    before = case_as_scored(case)

    assert before["score"] == 0.8 and before["band"] == "review"
    assert before["model"]["version"] == "3"
    assert before["features"] == {"amount": 90.0}
    assert before["contributions"] == [_reason("amount", 1.2)]
