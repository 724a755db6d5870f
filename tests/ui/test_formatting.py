"""How amounts, times, ages and labels read for an analyst."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from ui.formatting import (
    age,
    currency_format,
    describe_event,
    local_naive,
    local_time,
    money,
    percent,
    timezone,
)
from ui.sentinel_api import CaseFilters, transaction_from_case

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [
        (1234.5, "EUR", "€1,234.50"),
        (0.5, "usd", "$0.50"),
        (-12, "GBP", "-£12.00"),
        (99.999, "CHF", "100.00 CHF"),
        (None, "EUR", "–"),
    ],
)
def test_amounts_carry_their_currency(
    amount: float | None, currency: str, shown: str
) -> None:
    assert money(amount, currency) == shown


def test_a_column_of_amounts_is_formatted_with_its_currency() -> None:
    assert currency_format("EUR") == "euro"
    assert currency_format("GBP") == "£%,.2f"
    assert currency_format("CHF") == "%,.2f CHF"
    assert currency_format(None) == "%,.2f"


def test_times_are_shown_in_the_analysts_zone_with_its_name() -> None:
    berlin = timezone("Europe/Berlin")

    assert local_time("2025-01-15T13:05:00+00:00", berlin) == "2025-01-15 14:05 CET"
    assert local_time("2025-07-15T13:05:00Z", berlin) == "2025-07-15 15:05 CEST"
    assert local_time("2025-07-15T13:05:00", timezone(None)) == "2025-07-15 13:05 UTC"
    assert local_naive("2025-01-15T13:05:00+00:00", berlin) == datetime(
        2025, 1, 15, 14, 5
    )
    assert timezone("Not/AZone").key == "UTC"


@pytest.mark.parametrize(
    ("elapsed", "shown"),
    [
        (timedelta(seconds=20), "just now"),
        (timedelta(minutes=12, seconds=30), "12 min"),
        (timedelta(hours=3, minutes=5), "3 h 5 min"),
        (timedelta(hours=2), "2 h"),
        (timedelta(days=2, hours=4, minutes=59), "2 d 4 h"),
    ],
)
def test_ages_read_naturally(elapsed: timedelta, shown: str) -> None:
    now = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)

    assert age(now - elapsed, now) == shown


def test_scores_read_as_percentages() -> None:
    assert percent(0.8731) == "87.3 %"
    assert percent(None) == "–"


def test_audit_details_read_as_words_not_json() -> None:
    detail = {"outcome": "confirmed_fraud", "note": "card reported stolen", "x": None}

    assert (
        describe_event(detail)
        == "outcome: Confirmed fraud · note: card reported stolen"
    )


def test_queue_filters_become_the_api_query_with_local_days_as_utc_bounds() -> None:
    filters = CaseFilters(
        status="open",
        band="block",
        first_day=date(2025, 1, 15),
        last_day=date(2025, 1, 16),
        min_amount=250.0,
        sort="amount",
        order="asc",
        page_size=50,
    )

    params = filters.to_params(timezone("Europe/Berlin"), cursor="abc")

    assert params == {
        "status": "open",
        "band": "block",
        "since": "2025-01-14T23:00:00+00:00",
        "until": "2025-01-16T22:59:59.999999+00:00",
        "min_amount": 250.0,
        "sort": "amount",
        "order": "asc",
        "limit": 50,
        "cursor": "abc",
    }


def test_unset_filters_are_left_out_of_the_query() -> None:
    params = CaseFilters(status=None).to_params(timezone("UTC"))

    assert params == {"sort": "score", "order": "desc", "limit": 50}


def test_a_case_gives_back_the_transaction_it_scored() -> None:
    snapshot_tx = {
        "transaction_id": "T1",
        "timestamp": "2025-01-15T13:05:00Z",
        "customer_id": "C1",
        "terminal_id": "TERM1",
        "amount": 310.0,
        "currency": "EUR",
        "extras": {"channel": "pos"},
    }

    transaction = transaction_from_case({"snapshot": {"transaction": snapshot_tx}})

    assert transaction == snapshot_tx
