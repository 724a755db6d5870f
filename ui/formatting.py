"""How the workbench writes amounts, times, ages, scores and labels for an analyst."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

CURRENCY_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥", "INR": "₹"}
# Streamlit's named number formats (with thousands separators) per currency.
COLUMN_FORMATS = {"EUR": "euro", "USD": "dollar", "JPY": "yen"}
OUTCOME_LABELS = {
    "confirmed_fraud": "Confirmed fraud",
    "legitimate": "Legitimate",
    "escalate": "Escalated",
}
STATUS_LABELS = {
    "open": "Open",
    "in_review": "In review",
    "escalated": "Escalated",
    "closed": "Closed",
}
BAND_LABELS = {"approve": "Approve", "review": "Review", "block": "Block"}
EVENT_LABELS = {
    "opened": "Case opened",
    "claimed": "Claimed",
    "released": "Released",
    "claim_expired": "Claim expired",
    "decided": "Decided",
}


def money(amount: float | None, currency: str | None = "EUR") -> str:
    """€1,234.50 for known symbols, else 1,234.50 CHF; a dash when unknown."""
    if amount is None:
        return "–"
    code = (currency or "").upper()
    sign = "-" if amount < 0 else ""
    digits = f"{abs(amount):,.2f}"
    symbol = CURRENCY_SYMBOLS.get(code)
    if symbol:
        return f"{sign}{symbol}{digits}"
    return f"{sign}{digits} {code}".rstrip()


def currency_format(currency: str | None) -> str:
    """A printf format for a column of amounts in one currency (st.column_config)."""
    code = (currency or "").upper()
    if code in COLUMN_FORMATS:
        return COLUMN_FORMATS[code]
    symbol = CURRENCY_SYMBOLS.get(code)
    return f"{symbol}%,.2f" if symbol else f"%,.2f {code}".rstrip()


def timezone(name: str | None) -> ZoneInfo:
    """The browser's time zone by IANA name; UTC when unknown."""
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return ZoneInfo("UTC")


def parse_time(value: str | datetime | None) -> datetime | None:
    """An API time (ISO 8601, UTC when no zone is given) as an aware datetime."""
    if value is None or value == "":
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def local_time(value: str | datetime | None, zone: ZoneInfo) -> str:
    """2025-03-01 14:05 CET: the analyst's wall-clock time with the zone's name."""
    moment = parse_time(value)
    if moment is None:
        return "–"
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


def local_naive(value: str | datetime | None, zone: ZoneInfo) -> datetime | None:
    """Wall-clock time without a zone, for table columns titled with the zone."""
    moment = parse_time(value)
    return None if moment is None else moment.astimezone(zone).replace(tzinfo=None)


def age(since: str | datetime | None, now: datetime | None = None) -> str:
    """How long ago: 'just now', '12 min', '3 h 5 min', '2 d 4 h'."""
    moment = parse_time(since)
    if moment is None:
        return "–"
    elapsed = (now or datetime.now(UTC)) - moment
    if elapsed < timedelta(minutes=1):
        return "just now"
    minutes = int(elapsed.total_seconds() // 60)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{minutes} min"


def age_hours(since: str | datetime | None, now: datetime | None = None) -> float:
    moment = parse_time(since)
    if moment is None:
        return 0.0
    return max(0.0, ((now or datetime.now(UTC)) - moment).total_seconds() / 3600)


def percent(share: float | None, digits: int = 1) -> str:
    return "–" if share is None else f"{share * 100:.{digits}f} %"


def count(value: int | float | None) -> str:
    return "–" if value is None else f"{int(value):,}"


def feature_label(name: str) -> str:
    """terminal_risk_7d -> 'terminal risk 7d'."""
    return name.replace("_", " ")


def outcome_label(outcome: str | None) -> str:
    return OUTCOME_LABELS.get(outcome or "", outcome or "–")


def status_label(status: str | None) -> str:
    return STATUS_LABELS.get(status or "", status or "–")


def band_label(band: str | None) -> str:
    return BAND_LABELS.get(band or "", band or "–")


def describe_event(detail: dict[str, Any]) -> str:
    """The event's details as 'outcome: Legitimate · note: …', no raw JSON."""
    parts = []
    for name, value in detail.items():
        if value in (None, ""):
            continue
        shown = outcome_label(value) if name == "outcome" else value
        parts.append(f"{feature_label(str(name))}: {shown}")
    return " · ".join(parts)
