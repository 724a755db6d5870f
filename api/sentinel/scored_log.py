"""The scored-transaction log that drift reports read (drift monitoring, issue 7).

Every transaction Sentinel scores (what-if excluded) is appended to a capped Redis
stream: transaction time, id, score, band, model version, the degraded flag and the
feature values, so a drift report for any recent window needs no export.

Off the hot path: scoring only appends to an in-memory buffer; a short-lived task
writes the buffer every FLUSH_INTERVAL_S in pipelines of XADD ... MAXLEN ~ N, so
a request pays no extra Redis round trip (nor an extra fsync under appendfsync
always). Known shortcomings: entries still in the buffer when the process dies are
lost (at most FLUSH_INTERVAL_S of traffic), and while Redis is down the buffer keeps
only the newest BUFFER_LIMIT entries; the drift log is telemetry, not a record.

Entry fields (few and compact: a report reads 100,000 entries in about a second):
i (transaction id), m ("transaction time in epoch ms,score,band,degraded 1/0,model
version,feature schema tag") and f (the feature values as float32 bytes in
FEATURE_NAMES order; the model itself scores float32).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import numpy as np
import pandas as pd
import redis
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from api.sentinel.cases import PREFIX, case_id_for
from api.sentinel.features import FEATURE_NAMES, to_epoch_ms
from api.sentinel.schemas import ScoreOut

logger = logging.getLogger(__name__)

STREAM_KEY = f"{PREFIX}scored"
SCHEMA_TAG = hashlib.sha1(",".join(FEATURE_NAMES).encode()).hexdigest()[:8]  # noqa: S324 - a tag, not security
FLUSH_INTERVAL_S = 0.25
WRITE_CHUNK = 16
BUFFER_LIMIT = 50_000
MAX_RETRY_DELAY_S = 5.0
READ_CHUNK = 10_000
FEATURE_DTYPE = np.dtype("<f4")
# A transaction is scored at or after its own time; this much client clock skew
# (transaction times slightly in the future) is still found by a window read.
CLOCK_SKEW = timedelta(hours=1)


class _Event(Protocol):
    @property
    def timestamp(self) -> datetime: ...


class ScoredItem(Protocol):
    """What the scorer knows about a transaction besides its answer."""

    @property
    def features(self) -> dict[str, float]: ...

    @property
    def event(self) -> _Event: ...


def log_entry(answer: ScoreOut, item: ScoredItem) -> dict[str, str | bytes]:
    features = item.features
    values = [features.get(name, math.nan) for name in FEATURE_NAMES]
    meta = (
        to_epoch_ms(item.event.timestamp),
        f"{answer.score:.7g}",
        answer.band,
        "1" if answer.degraded else "0",
        answer.model.version,
        SCHEMA_TAG,
    )
    return {
        "i": answer.transaction_id,
        "m": ",".join(str(part) for part in meta),
        "f": np.asarray(values, dtype=FEATURE_DTYPE).tobytes(),
    }


class ScoredLog:
    """Buffers scored transactions and writes them to the capped stream in batches."""

    def __init__(
        self,
        client: aioredis.Redis,
        maxlen: int = 200_000,
        flush_interval_s: float = FLUSH_INTERVAL_S,
        buffer_limit: int = BUFFER_LIMIT,
    ) -> None:
        self._client = client
        self.maxlen = maxlen
        self._interval = flush_interval_s
        self._buffer: deque[dict[str, str | bytes]] = deque(maxlen=buffer_limit)
        self._flusher: asyncio.Task[None] | None = None
        self.dropped = 0
        self.written = 0

    def add(self, answers: Sequence[ScoreOut], items: Sequence[ScoredItem]) -> None:
        """Queue the scored transactions (no I/O; a flush follows shortly)."""
        for answer, item in zip(answers, items, strict=True):
            if len(self._buffer) == self._buffer.maxlen:
                self.dropped += 1
            self._buffer.append(log_entry(answer, item))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.get_running_loop().create_task(
                self._flush_soon(), name="scored-log-flush"
            )

    async def _flush_soon(self) -> None:
        """Flush until the buffer stays empty; back off while Redis fails."""
        delay = self._interval
        while self._buffer:
            await asyncio.sleep(delay)
            written = await self.flush()
            failed = not written and self._buffer
            delay = min(delay * 2, MAX_RETRY_DELAY_S) if failed else self._interval

    async def flush(self) -> int:
        """Write everything buffered now; on failure keep the rest for later.

        In pipelines of WRITE_CHUNK entries: one XADD costs ~0.08 ms to prepare,
        and 75 in one go held the event loop for ~6 ms, which requests waited out.
        """
        written = 0
        for _ in range(0, len(self._buffer), WRITE_CHUNK):
            count = min(WRITE_CHUNK, len(self._buffer))
            batch = [self._buffer.popleft() for _ in range(count)]
            try:
                async with self._client.pipeline(transaction=False) as pipe:
                    for entry in batch:
                        pipe.xadd(
                            STREAM_KEY, entry, maxlen=self.maxlen, approximate=True
                        )
                    await pipe.execute()
            except (RedisError, OSError) as error:
                self._buffer.extendleft(reversed(batch))
                logger.warning(
                    "scored_log_write_failed",
                    extra={"pending": len(self._buffer), "reason": str(error)[:200]},
                )
                break
            written += count
        self.written += written
        if written and self.dropped:
            logger.warning("scored_log_dropped", extra={"dropped": self.dropped})
            self.dropped = 0
        return written


# --- reading (drift reports; synchronous, runs in a worker thread) --------------------


@dataclass(frozen=True)
class ScoredWindow:
    """The scored transactions of a window: features, score, band, model version."""

    frame: pd.DataFrame  # FEATURE_NAMES + score, band, model_version, degraded, ...
    other_schema: int  # entries written with another feature list, left out


def read_window(
    client: redis.Redis[bytes], start: datetime, end: datetime
) -> ScoredWindow:
    """Entries whose transaction time is in [start, end), last one per transaction.

    `client` must not decode responses (the features are binary).
    """
    start_ms, end_ms = to_epoch_ms(start), to_epoch_ms(end)
    low = f"{max(0, to_epoch_ms(start - CLOCK_SKEW))}-0"
    rows: dict[bytes, tuple[list[str], bytes]] = {}
    other_schema = 0
    while True:
        chunk = client.xrange(STREAM_KEY, min=low, max="+", count=READ_CHUNK)
        for _, fields in chunk:
            meta = fields[b"m"].decode().split(",")
            if not start_ms <= int(meta[0]) < end_ms:
                continue
            if meta[5] != SCHEMA_TAG:
                other_schema += 1
                continue
            rows[fields[b"i"]] = (meta, fields[b"f"])
        if len(chunk) < READ_CHUNK:
            break
        low = "(" + chunk[-1][0].decode()
    return ScoredWindow(_frame(rows), other_schema)


def _frame(rows: dict[bytes, tuple[list[str], bytes]]) -> pd.DataFrame:
    if not rows:
        columns = [*FEATURE_NAMES, "score", "band", "model_version", "degraded"]
        return pd.DataFrame(columns=[*columns, "transaction_id", "timestamp"])
    metas = [meta for meta, _ in rows.values()]
    values = np.frombuffer(b"".join(blob for _, blob in rows.values()), FEATURE_DTYPE)
    frame = pd.DataFrame(
        values.reshape(len(rows), len(FEATURE_NAMES)).astype(np.float64),
        columns=list(FEATURE_NAMES),
    )
    frame["score"] = np.array([meta[1] for meta in metas], dtype=np.float64)
    frame["band"] = [meta[2] for meta in metas]
    frame["degraded"] = [meta[3] == "1" for meta in metas]
    frame["model_version"] = [meta[4] for meta in metas]
    frame["transaction_id"] = [key.decode() for key in rows]
    frame["timestamp"] = pd.to_datetime(
        np.array([meta[0] for meta in metas], dtype=np.int64), unit="ms", utc=True
    )
    return frame


@dataclass(frozen=True)
class Outcomes:
    """Analysts' decisions on the cases the window's transactions opened."""

    cases: int
    confirmed_fraud: int
    legitimate: int
    escalated: int

    @property
    def undecided(self) -> int:
        return self.cases - self.confirmed_fraud - self.legitimate - self.escalated


def case_outcomes(client: redis.Redis, transaction_ids: Sequence[str]) -> Outcomes:
    """Outcome of each transaction's case (review and block bands open one)."""
    counts = {"confirmed_fraud": 0, "legitimate": 0, "escalate": 0}
    # The case hash key as api.sentinel.cases writes it: PREFIX + "case:" + case id.
    keys = [f"{PREFIX}case:{case_id_for(tid)}" for tid in transaction_ids]
    for first in range(0, len(keys), 1000):
        with client.pipeline(transaction=False) as pipe:
            for key in keys[first : first + 1000]:
                pipe.hget(key, "outcome")
            for outcome in pipe.execute():
                if outcome in counts:
                    counts[outcome] += 1
    return Outcomes(
        cases=len(keys),
        confirmed_fraud=counts["confirmed_fraud"],
        legitimate=counts["legitimate"],
        escalated=counts["escalate"],
    )
