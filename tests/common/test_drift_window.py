"""Window times far outside the calendar are a 422 on the field, never a 500."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from api.common.drift import DriftWindowIn

pytestmark = pytest.mark.unit


def test_a_time_that_leaves_the_calendar_names_the_field() -> None:
    with pytest.raises(ValidationError) as refused:
        DriftWindowIn.model_validate(
            {"window_start": "0001-01-01T00:00:00+00:01", "window_end": "2026-01-02"}
        )

    assert refused.value.errors()[0]["loc"] == ("window_start",)
    assert "outside the supported dates" in str(refused.value)


def test_naive_times_are_taken_as_utc() -> None:
    window = DriftWindowIn.model_validate(
        {"window_start": "2026-01-01T00:00:00", "window_end": "2026-01-02T00:00:00"}
    )

    assert window.window_start == datetime(2026, 1, 1, tzinfo=UTC)
