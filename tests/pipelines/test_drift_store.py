"""The drift report store: atomic writes, listing, look-ups, pruning, the gauge."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from api.common.drift import (
    BuiltReport,
    ColumnDrift,
    DriftStore,
    DriftSummary,
    DriftWindowIn,
    ModelRef,
    RowCounts,
    TooLittleData,
    Window,
)
from api.common.errors import NotFound

pytestmark = pytest.mark.unit

DAY0 = datetime(2025, 4, 1, tzinfo=UTC)


def summary(day: int, share: float, created_minute: int = 0) -> DriftSummary:
    window = Window(DAY0 + timedelta(days=day), DAY0 + timedelta(days=day + 1))
    drifted = ColumnDrift(
        column="amount", test="Wasserstein", score=0.9, threshold=0.1, drifted=True
    )
    return DriftSummary(
        report_id=window.new_report_id(),
        service="sentinel",
        window_start=window.start,
        window_end=window.end,
        created_at=DAY0 + timedelta(days=30, minutes=created_minute),
        dataset_drift=share >= 0.4,
        drift_share=share,
        drift_share_threshold=0.4,
        drifted_columns=[drifted],
        columns=[drifted],
        rows=RowCounts(current=1000, reference=5000),
        model=ModelRef(name="sentinel-fraud", version="3"),
        build_seconds=1.0,
    )


def save(store: DriftStore, item: DriftSummary) -> None:
    store.save(BuiltReport(item, f"<html><body>{item.report_id}</body></html>"))


def test_saved_reports_list_newest_window_first(tmp_path: Path) -> None:
    store = DriftStore(tmp_path / "drift" / "sentinel")
    first, second, third = summary(0, 0.1), summary(2, 0.6), summary(1, 0.2)
    for item in (first, second, third):
        save(store, item)
    listed = store.summaries()
    assert [s.report_id for s in listed] == [
        second.report_id,
        third.report_id,
        first.report_id,
    ]
    assert store.get(third.report_id) == third
    html = store.html_path(third.report_id).read_text()
    assert third.report_id in html
    assert store.latest_drift_share() == 0.6
    assert not list((tmp_path / "drift" / "sentinel").glob(".*"))  # no leftovers


def test_unknown_and_malformed_ids_are_not_found(tmp_path: Path) -> None:
    store = DriftStore(tmp_path)
    save(store, summary(0, 0.1))
    for report_id in ("20250101T000000Z-20250102T000000Z-abcdef", "../../etc/passwd"):
        with pytest.raises(NotFound) as missing:
            store.html_path(report_id)
        assert report_id in missing.value.detail
        with pytest.raises(NotFound):
            store.get(report_id)


def test_no_report_means_no_drift_share(tmp_path: Path) -> None:
    assert math.isnan(DriftStore(tmp_path / "nothing").latest_drift_share())
    assert DriftStore(tmp_path / "nothing").summaries() == []


def test_the_oldest_reports_are_pruned(tmp_path: Path) -> None:
    store = DriftStore(tmp_path, keep=2)
    items = [summary(day, 0.1, created_minute=day) for day in range(4)]
    for item in items:
        save(store, item)
    kept = {s.report_id for s in store.summaries()}
    assert kept == {items[2].report_id, items[3].report_id}
    assert not (tmp_path / items[0].report_id).exists()


def test_a_half_written_report_is_never_listed(tmp_path: Path) -> None:
    store = DriftStore(tmp_path)
    save(store, summary(0, 0.1))
    partial = tmp_path / ".20250105T000000Z-20250106T000000Z-aaaaaa.partial"
    partial.mkdir()
    (partial / "summary.json").write_text("{not json")
    broken = tmp_path / "20250107T000000Z-20250108T000000Z-bbbbbb"
    broken.mkdir()
    (broken / "summary.json").write_text("{not json")
    assert len(store.summaries()) == 1


def test_a_window_must_end_after_it_starts() -> None:
    with pytest.raises(ValueError, match="must be after"):
        Window(DAY0, DAY0)
    with pytest.raises(ValueError, match="window_end must be after"):
        DriftWindowIn(window_start=DAY0, window_end=DAY0 - timedelta(hours=1))
    naive = DriftWindowIn(
        window_start=datetime(2025, 4, 1), window_end=datetime(2025, 4, 2)
    )
    assert naive.window_start == DAY0  # no zone: taken as UTC


def test_too_little_data_names_both_numbers() -> None:
    error = TooLittleData(
        "scored transactions", 12, 200, Window(DAY0, DAY0 + timedelta(days=1))
    )
    assert error.status_code == 422
    assert error.context["rows"] == 12 and error.context["minimum"] == 200
    assert "12 scored transactions" in error.detail and "at least 200" in error.detail
