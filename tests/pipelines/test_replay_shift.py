"""The replay's time shift: whole weeks, landing in the week before the target."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from pipelines import replay

pytestmark = pytest.mark.unit


def ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


@pytest.mark.parametrize(
    ("last", "end_by", "weeks"),
    [
        ("2025-02-02 17:45", "2026-12-03 19:00", 95),  # 669 days apart
        ("2025-02-02 17:45", "2025-02-09 17:45", 1),  # exactly a week: lands on it
        ("2025-02-02 17:45", "2025-02-09 17:44", 0),  # a minute short of a week
        ("2025-02-02 17:45", "2025-02-02 17:45", 0),
        ("2026-12-10 08:00", "2026-12-03 19:00", -1),  # a history in the future
    ],
)
def test_the_shift_is_whole_weeks_and_lands_in_the_week_up_to_the_target(
    last: str, end_by: str, weeks: int
) -> None:
    shift = replay.shift_to(ts(last), ts(end_by))

    assert shift == pd.Timedelta(weeks=weeks)
    moved = ts(last) + shift
    assert ts(end_by) - pd.Timedelta(days=7) < moved <= ts(end_by)
    assert (moved.hour, moved.minute, moved.weekday()) == (
        ts(last).hour,
        ts(last).minute,
        ts(last).weekday(),
    )


def test_shifting_moves_transaction_and_label_times_alike() -> None:
    history = pd.DataFrame(
        {
            "transaction_id": ["a", "b"],
            "timestamp": [ts("2025-01-06 10:00"), ts("2025-01-07 11:30")],
            "label_available_at": [ts("2025-01-20 09:00"), ts("2025-01-08 00:00")],
            "amount": [3.5, 80.0],
        }
    )
    shift = pd.Timedelta(weeks=3)

    shifted = replay.shift_times(history, shift)

    for column in ("timestamp", "label_available_at"):
        assert (shifted[column] - history[column] == shift).all()
    assert shifted["amount"].tolist() == [3.5, 80.0]
    assert history["timestamp"][0] == ts("2025-01-06 10:00")  # the input is kept
    assert replay.shift_times(history, replay.NO_SHIFT) is history


def test_the_bootstrap_records_its_shift_for_the_steps_after_it(tmp_path: Path) -> None:
    history = pd.DataFrame(
        {
            "transaction_id": ["a"],
            "timestamp": [ts("2025-01-06 10:00")],
            "customer_id": ["c"],
            "terminal_id": ["t"],
            "amount": [1.0],
        }
    )
    (tmp_path / "fraud").mkdir()
    history.to_parquet(tmp_path / "fraud" / "transactions.parquet")
    assert replay.recorded_shift(tmp_path) == replay.NO_SHIFT

    replay.record_shift(tmp_path, pd.Timedelta(weeks=95))

    assert replay.recorded_shift(tmp_path) == pd.Timedelta(weeks=95)
    replayed = replay.replayed_history(tmp_path)
    assert replayed["timestamp"][0] == ts("2025-01-06 10:00") + pd.Timedelta(weeks=95)
    (tmp_path / replay.SHIFT_RECORD).write_text("{}")
    with pytest.raises(replay.ReplayError, match=r"replay_shift\.json: unreadable"):
        replay.recorded_shift(tmp_path)
