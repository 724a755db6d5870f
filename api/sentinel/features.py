"""The fraud features: one definition shared by training (offline) and serving (online).

Both sides first compute the same integer *aggregates* (counts and sums in cents over
time windows) and then turn them into model inputs with `features_from_aggregates`,
so the arithmetic that produces a feature exists once. Offline, pipelines.fraud_features
computes the aggregates vectorised over a history; online, `OnlineFeatureStore` keeps
them in Redis, one Lua script call per transaction.

Window semantics (both sides): a transaction at time t (integer milliseconds, UTC) sees
the earlier transactions of its customer or terminal with time in (t - window, t];
terminal risk counts only frauds whose label was known strictly before t.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from math import isfinite
from typing import Any

import numpy as np
import numpy.typing as npt
import redis.asyncio as aioredis

logger = logging.getLogger(__name__)

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS

CUSTOMER_VELOCITY_WINDOWS_MS = {"10min": 10 * MINUTE_MS, "1h": HOUR_MS}
SPEND_WINDOWS_MS = {"1d": DAY_MS, "7d": 7 * DAY_MS, "30d": 30 * DAY_MS}
TERMINAL_WINDOWS_MS = SPEND_WINDOWS_MS
# A terminal is "new" for a customer who has not used it in this long.
NEW_TERMINAL_MS = 30 * DAY_MS
# Card testing probes with small amounts; this is the ceiling of "small".
SMALL_AMOUNT_CENTS = 500
LONGEST_WINDOW_MS = 30 * DAY_MS
# Online state outlives the longest window a little, then Redis drops it.
STATE_TTL_MS = LONGEST_WINDOW_MS + DAY_MS
# A retried scoring call within this time gets the answer of the first call.
ANSWER_TTL_MS = HOUR_MS

FEATURE_NAMES: tuple[str, ...] = (
    "amount",
    "hour_of_day",
    "is_weekend",
    "customer_count_10min",
    "customer_count_1h",
    "customer_count_1d",
    "customer_mean_amount_1d",
    "customer_count_7d",
    "customer_mean_amount_7d",
    "customer_count_30d",
    "customer_mean_amount_30d",
    "amount_to_customer_mean_30d",
    "terminal_new_for_customer",
    "customer_small_new_terminal_count_1h",
    "terminal_count_1d",
    "terminal_risk_1d",
    "terminal_count_7d",
    "terminal_risk_7d",
    "terminal_count_30d",
    "terminal_risk_30d",
)

FEATURE_DESCRIPTIONS: dict[str, str] = {
    "amount": "Transaction amount.",
    "hour_of_day": "Hour of the transaction time in UTC (0-23).",
    "is_weekend": "1 on Saturday or Sunday (UTC), else 0.",
    "customer_count_10min": "Customer's earlier transactions in the last 10 minutes.",
    "customer_count_1h": "Customer's earlier transactions in the last hour.",
    "customer_count_1d": "Customer's earlier transactions in the last day.",
    "customer_mean_amount_1d": "Their mean amount over the last day (0 if none).",
    "customer_count_7d": "Customer's earlier transactions in the last 7 days.",
    "customer_mean_amount_7d": "Their mean amount over the last 7 days (0 if none).",
    "customer_count_30d": "Customer's earlier transactions in the last 30 days.",
    "customer_mean_amount_30d": "Their mean amount over the last 30 days (0 if none).",
    "amount_to_customer_mean_30d": "Amount / 30-day mean amount (1 without history).",
    "terminal_new_for_customer": "1 if the customer has not used this terminal in "
    "the last 30 days.",
    "customer_small_new_terminal_count_1h": "Customer's payments of at most 5.00 at "
    "terminals new to them, in the last hour (card testing).",
    "terminal_count_1d": "Terminal's earlier transactions in the last day.",
    "terminal_risk_1d": "Share of those known to be fraud before now.",
    "terminal_count_7d": "Terminal's earlier transactions in the last 7 days.",
    "terminal_risk_7d": "Share of those known to be fraud before now.",
    "terminal_count_30d": "Terminal's earlier transactions in the last 30 days.",
    "terminal_risk_30d": "Share of those known to be fraud before now.",
}

# The integers both sides compute; the Lua script returns them in this order.
AGGREGATE_NAMES: tuple[str, ...] = (
    "customer_count_10min",
    "customer_count_1h",
    "customer_count_1d",
    "customer_sum_cents_1d",
    "customer_count_7d",
    "customer_sum_cents_7d",
    "customer_count_30d",
    "customer_sum_cents_30d",
    "terminal_seen_by_customer",
    "customer_small_new_terminal_count_1h",
    "terminal_count_1d",
    "terminal_count_7d",
    "terminal_count_30d",
    "terminal_fraud_count_1d",
    "terminal_fraud_count_7d",
    "terminal_fraud_count_30d",
)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ArrayLike = npt.ArrayLike


def to_epoch_ms(moment: datetime) -> int:
    """Whole milliseconds since the epoch (floored), the time unit of every window."""
    if moment.tzinfo is None:
        raise ValueError("timestamp must be timezone-aware (UTC)")
    return (moment - EPOCH) // timedelta(milliseconds=1)


def to_cents(amount: float) -> int:
    """Amounts enter windows as whole cents, so sums are exact on both sides."""
    return round(float(amount) * 100)


@dataclass(frozen=True)
class TransactionEvent:
    """One card payment as the feature store sees it."""

    transaction_id: str
    timestamp: datetime
    customer_id: str
    terminal_id: str
    amount: float
    extras: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.timestamp.tzinfo is None:
            raise ValueError("timestamp must be timezone-aware (UTC)")
        if not isfinite(self.amount) or self.amount < 0:
            raise ValueError(f"amount must be a finite number >= 0, got {self.amount}")
        for name in ("transaction_id", "customer_id", "terminal_id"):
            if not str(getattr(self, name)):
                raise ValueError(f"{name} must not be empty")
        object.__setattr__(self, "timestamp", self.timestamp.astimezone(UTC))

    @property
    def epoch_ms(self) -> int:
        return to_epoch_ms(self.timestamp)


@dataclass(frozen=True)
class TransactionRef:
    """What a label needs to know about the transaction it confirms."""

    transaction_id: str
    timestamp: datetime
    terminal_id: str


class _Columns:
    """Element-wise primitives for whole columns (training, replay): numpy."""

    where = staticmethod(np.where)
    maximum = staticmethod(np.maximum)
    minimum = staticmethod(np.minimum)

    @staticmethod
    def integer(value: Any) -> Any:
        return np.asarray(value, dtype=np.int64)

    @staticmethod
    def real(value: Any) -> Any:
        return np.asarray(value, dtype=np.float64)


class _Scalars:
    """The same primitives for one transaction, in plain Python.

    numpy's per-call overhead made the 20 features of one transaction cost ~70 us;
    Python ints and floats give the same IEEE results (every count and sum in
    cents is far below 2^53, so int / int rounds as float / float does) in ~10 us.
    """

    @staticmethod
    def where(condition: Any, yes: Any, no: Any) -> Any:
        return yes if condition else no

    maximum = staticmethod(max)
    minimum = staticmethod(min)
    integer = staticmethod(int)
    real = staticmethod(float)


def features_from_aggregates(
    amount: ArrayLike, epoch_ms: ArrayLike, aggregates: Mapping[str, ArrayLike]
) -> dict[str, Any]:
    """Model inputs from amounts, times and aggregates: whole columns give float64
    columns, one transaction (scalars) gives floats. The arithmetic below is the
    one definition for both; only the element-wise primitives differ."""
    one = np.ndim(amount) == 0 and np.ndim(epoch_ms) == 0
    # Any: the two primitive sets share names, not types (floats or columns).
    op: Any = _Scalars if one else _Columns
    amount_ = op.real(amount)
    ms = op.integer(epoch_ms)
    agg = {name: op.integer(aggregates[name]) for name in AGGREGATE_NAMES}
    day = ms // DAY_MS
    out: dict[str, Any] = {
        "amount": amount_,
        "hour_of_day": op.real((ms // HOUR_MS) % 24),
        # 1970-01-01 was a Thursday: weekday 3 when Monday is 0.
        "is_weekend": op.real(((day + 3) % 7) >= 5),
    }
    for window in CUSTOMER_VELOCITY_WINDOWS_MS:
        name = f"customer_count_{window}"
        out[name] = op.real(agg[name])
    for window in SPEND_WINDOWS_MS:
        count = agg[f"customer_count_{window}"]
        total = agg[f"customer_sum_cents_{window}"]
        out[f"customer_count_{window}"] = op.real(count)
        mean = total / op.maximum(count, 1) / 100.0
        out[f"customer_mean_amount_{window}"] = op.real(op.where(count > 0, mean, 0.0))
    mean_30d = out["customer_mean_amount_30d"]
    has_mean = mean_30d > 0
    out["amount_to_customer_mean_30d"] = op.real(
        op.where(has_mean, amount_ / op.where(has_mean, mean_30d, 1.0), 1.0)
    )
    out["terminal_new_for_customer"] = op.real(1 - agg["terminal_seen_by_customer"])
    small = agg["customer_small_new_terminal_count_1h"]
    out["customer_small_new_terminal_count_1h"] = op.real(small)
    for window in TERMINAL_WINDOWS_MS:
        count = agg[f"terminal_count_{window}"]
        frauds = agg[f"terminal_fraud_count_{window}"]
        out[f"terminal_count_{window}"] = op.real(count)
        # Labels recorded for transactions the store never saw could exceed count.
        share = op.minimum(frauds / op.maximum(count, 1), 1.0)
        out[f"terminal_risk_{window}"] = op.real(op.where(count > 0, share, 0.0))
    return {name: out[name] for name in FEATURE_NAMES}


def feature_vector(features: Mapping[str, float]) -> list[float]:
    """The values in FEATURE_NAMES order, as the model takes them."""
    return [float(features[name]) for name in FEATURE_NAMES]


# Neutral values for degraded mode: an ordinary customer at a familiar, clean terminal.
POPULATION_DEFAULTS: dict[str, float] = {
    "customer_count_10min": 0.0,
    "customer_count_1h": 0.0,
    "customer_count_1d": 1.0,
    "customer_count_7d": 7.0,
    "customer_count_30d": 30.0,
    "terminal_new_for_customer": 0.0,
    "customer_small_new_terminal_count_1h": 0.0,
    "terminal_count_1d": 1.0,
    "terminal_risk_1d": 0.0,
    "terminal_count_7d": 7.0,
    "terminal_risk_7d": 0.0,
    "terminal_count_30d": 30.0,
    "terminal_risk_30d": 0.0,
}


def fallback_features(
    event: TransactionEvent, population: Mapping[str, float] | None = None
) -> dict[str, float]:
    """Features without Redis: what the event itself says, the rest neutral.

    The customer's means default to this amount (ratio 1); pass `population` (for
    example medians of the training features) to use other neutral values.
    """
    ms = event.epoch_ms
    values = dict(POPULATION_DEFAULTS)
    for window in SPEND_WINDOWS_MS:
        values[f"customer_mean_amount_{window}"] = float(event.amount)
    values.update(population or {})
    mean_30d = values["customer_mean_amount_30d"]
    values["amount"] = float(event.amount)
    values["hour_of_day"] = float((ms // HOUR_MS) % 24)
    values["is_weekend"] = float(((ms // DAY_MS + 3) % 7) >= 5)
    values["amount_to_customer_mean_30d"] = (
        event.amount / mean_30d if mean_30d > 0 else 1.0
    )
    return {name: float(values[name]) for name in FEATURE_NAMES}


# One call per transaction: read the aggregates and, when asked, record the event.
# KEYS: 1 customer transactions (zset "<tx id>|<cents>" by time ms), 2 terminals the
# customer used (zset by last visit), 3 the customer's small payments at new
# terminals (zset), 4 terminal transactions (zset), 5 terminal frauds (zset by
# transaction time), 6 when each fraud label became known (hash), 7 the answer
# given for this transaction (string, for retries).
# ARGV: write (0/1), time ms, tx id, cents, terminal id, small-amount ceiling in
# cents, state TTL ms, answer TTL ms, windows ms: 10 min, 1 h, 1 d, 7 d, 30 d.
_FEATURE_SCRIPT = """
local write = ARGV[1] == '1'
if write then
  local cached = redis.call('GET', KEYS[7])
  if cached then
    local answer = {}
    for value in string.gmatch(cached, '[^,]+') do
      answer[#answer + 1] = tonumber(value)
    end
    return answer
  end
end
local t = tonumber(ARGV[2])
local cents = tonumber(ARGV[4])
local w10m, w1h = tonumber(ARGV[9]), tonumber(ARGV[10])
local w1d, w7d, w30d = tonumber(ARGV[11]), tonumber(ARGV[12]), tonumber(ARGV[13])
local function after(window) return string.format('(%d', t - window) end
local function upto(window) return string.format('%d', t - window) end

local c10m, c1h, c1d, c7d, c30d, s1d, s7d, s30d = 0, 0, 0, 0, 0, 0, 0, 0
local rows = redis.call('ZRANGEBYSCORE', KEYS[1], after(w30d), ARGV[2], 'WITHSCORES')
for i = 1, #rows, 2 do
  local ts = tonumber(rows[i + 1])
  local amount = tonumber(string.match(rows[i], '|(%d+)$'))
  c30d, s30d = c30d + 1, s30d + amount
  if ts > t - w7d then c7d, s7d = c7d + 1, s7d + amount end
  if ts > t - w1d then c1d, s1d = c1d + 1, s1d + amount end
  if ts > t - w1h then c1h = c1h + 1 end
  if ts > t - w10m then c10m = c10m + 1 end
end

local last_visit = redis.call('ZSCORE', KEYS[2], ARGV[5])
local seen = 0
if last_visit and tonumber(last_visit) > t - w30d then seen = 1 end
local small_new = redis.call('ZCOUNT', KEYS[3], after(w1h), ARGV[2])

local tc1d = redis.call('ZCOUNT', KEYS[4], after(w1d), ARGV[2])
local tc7d = redis.call('ZCOUNT', KEYS[4], after(w7d), ARGV[2])
local tc30d = redis.call('ZCOUNT', KEYS[4], after(w30d), ARGV[2])
local tf1d, tf7d, tf30d = 0, 0, 0
local frauds = redis.call('ZRANGEBYSCORE', KEYS[5], after(w30d), ARGV[2], 'WITHSCORES')
for i = 1, #frauds, 2 do
  local known = redis.call('HGET', KEYS[6], frauds[i])
  if known and tonumber(known) < t then
    local ts = tonumber(frauds[i + 1])
    tf30d = tf30d + 1
    if ts > t - w7d then tf7d = tf7d + 1 end
    if ts > t - w1d then tf1d = tf1d + 1 end
  end
end

local answer = {c10m, c1h, c1d, s1d, c7d, s7d, c30d, s30d, seen, small_new,
                tc1d, tc7d, tc30d, tf1d, tf7d, tf30d}
if write then
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3] .. '|' .. ARGV[4])
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', upto(w30d))
  redis.call('ZADD', KEYS[2], 'GT', ARGV[2], ARGV[5])
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', upto(w30d))
  if seen == 0 and cents <= tonumber(ARGV[6]) then
    redis.call('ZADD', KEYS[3], ARGV[2], ARGV[3])
  end
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', upto(w1h))
  redis.call('ZADD', KEYS[4], ARGV[2], ARGV[3])
  redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', upto(w30d))
  local expired = redis.call('ZRANGEBYSCORE', KEYS[5], '-inf', upto(w30d))
  for i = 1, #expired do redis.call('HDEL', KEYS[6], expired[i]) end
  redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', upto(w30d))
  for k = 1, 4 do redis.call('PEXPIRE', KEYS[k], ARGV[7]) end
  redis.call('SET', KEYS[7], table.concat(answer, ','), 'PX', ARGV[8])
end
return answer
"""


class OnlineFeatureStore:
    """Per-customer and per-terminal windows in Redis, updated one event at a time.

    Every key expires STATE_TTL_MS after its last write and windows are trimmed on
    each write, so memory stays bounded by 30 days of traffic.
    """

    def __init__(
        self, redis: aioredis.Redis, prefix: str = "sentinel:features"
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self._script = redis.register_script(_FEATURE_SCRIPT)

    async def update_and_read(self, event: TransactionEvent) -> dict[str, float]:
        """Record the event; return its features as they were just before it.

        One Redis round trip. A retry of the same transaction_id within an hour
        returns the first answer and records nothing twice.
        """
        return await self._run(event, write=True)

    async def read_only(self, event: TransactionEvent) -> dict[str, float]:
        """The features this event would get now, changing nothing (what-if)."""
        return await self._run(event, write=False)

    async def record_label(
        self,
        transaction: TransactionEvent | TransactionRef,
        is_fraud: bool,
        known_at: datetime,
    ) -> None:
        """A confirmed label: frauds feed the terminal's risk from `known_at` on.

        A legitimate label removes an earlier fraud label of the same transaction.
        """
        tx_ms = to_epoch_ms(transaction.timestamp)
        known_ms = to_epoch_ms(known_at)
        if known_ms < tx_ms:
            raise ValueError("known_at is earlier than the transaction it labels")
        frauds, known = self._terminal_label_keys(transaction.terminal_id)
        tx_id = str(transaction.transaction_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            if is_fraud:
                pipe.zadd(frauds, {tx_id: tx_ms})
                pipe.hset(known, tx_id, str(known_ms))
                pipe.pexpire(frauds, STATE_TTL_MS)
                pipe.pexpire(known, STATE_TTL_MS)
            else:
                pipe.zrem(frauds, tx_id)
                pipe.hdel(known, tx_id)
            await pipe.execute()
        logger.info(
            "label_recorded",
            extra={
                "transaction_id": tx_id,
                "terminal_id": transaction.terminal_id,
                "is_fraud": is_fraud,
                "known_at": known_at.isoformat(),
            },
        )

    async def _run(self, event: TransactionEvent, write: bool) -> dict[str, float]:
        ms = event.epoch_ms
        cents = to_cents(event.amount)
        args = [
            "1" if write else "0",
            str(ms),
            str(event.transaction_id),
            str(cents),
            str(event.terminal_id),
            str(SMALL_AMOUNT_CENTS),
            str(STATE_TTL_MS),
            str(ANSWER_TTL_MS),
            *(str(w) for w in CUSTOMER_VELOCITY_WINDOWS_MS.values()),
            *(str(w) for w in SPEND_WINDOWS_MS.values()),
        ]
        raw = await self._script(keys=self._keys(event), args=args)
        aggregates = dict(zip(AGGREGATE_NAMES, (int(v) for v in raw), strict=True))
        return features_from_aggregates(event.amount, ms, aggregates)

    def _keys(self, event: TransactionEvent) -> list[str]:
        customer = f"{self._prefix}:customer:{event.customer_id}"
        terminal = f"{self._prefix}:terminal:{event.terminal_id}"
        frauds, known = self._terminal_label_keys(event.terminal_id)
        return [
            f"{customer}:transactions",
            f"{customer}:terminals",
            f"{customer}:small_new_terminal",
            f"{terminal}:transactions",
            frauds,
            known,
            f"{self._prefix}:answer:{event.transaction_id}",
        ]

    def _terminal_label_keys(self, terminal_id: str) -> tuple[str, str]:
        terminal = f"{self._prefix}:terminal:{terminal_id}"
        return f"{terminal}:frauds", f"{terminal}:fraud_known_at"
