"""Replay a window of transactions through Sentinel to fill the review queue.

`python -m pipelines.replay [--from-file FILE] [--window 1d] [--rate 500]` waits for
Sentinel's /readyz, then sends the last WINDOW of the history (by transaction time)
through `POST /v1/score/batch` at about RATE transactions per second, in time order.
`--warmup 7d` first writes the WARMUP before the window straight into the online
feature store (no scoring, no case), with the fraud labels known by then, so the
replayed transactions see a realistic history instead of empty windows.

The simulated history is dated 2025, so by default every time is moved by one
constant shift that puts the last transaction in the week before now (whole weeks:
hour of day and weekday, model inputs both, stay as they were; every window feature
only compares times, so one shift for the warm-up, the labels and the window leaves
each feature value unchanged). `--original-times` sends the times as they are.

The default file is DATA_DIR/fraud/transactions.parquet (the bootstrap's simulated
history). SENTINEL_URL and SENTINEL_API_KEY say where to send; the warm-up writes to
FEATURES_REDIS_URL, else REDIS_URL (where Sentinel keeps its online features).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pandas as pd

from api.common.logging import configure_logging

logger = logging.getLogger(__name__)

REQUIRED_COLUMNS = (
    "transaction_id",
    "timestamp",
    "customer_id",
    "terminal_id",
    "amount",
)
DEFAULT_FILES = ("fraud/transactions.parquet", "fraud/transactions.csv.gz")
RETRIES = 5
NO_WARMUP = pd.Timedelta(0)
WARMUP_LANES = 32
WEEK = pd.Timedelta(days=7)
NO_SHIFT = pd.Timedelta(0)
TIME_COLUMNS = ("timestamp", "label_available_at")
# The drift-reports step sends the replayed day again one and two days later
# (pipelines.drift.inject_day). Those days must not lie in the future: a window read
# of the scored log (api.sentinel.scored_log) expects transaction times up to now.
ROOM_AFTER_REPLAY = pd.Timedelta(days=2)
# Where the bootstrap records the shift it used, for the steps that follow it.
SHIFT_RECORD = "fraud/replay_shift.json"


class ReplayError(Exception):
    """A one-line, user-facing reason the replay cannot go on."""


@dataclass
class ReplayReport:
    sent: int = 0
    degraded: int = 0
    bands: Counter[str] = field(default_factory=Counter)
    cases: int = 0
    warmed_up: int = 0
    seconds: float = 0.0
    shift: pd.Timedelta = NO_SHIFT

    def as_dict(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "bands": dict(self.bands),
            "cases_opened": self.cases,
            "degraded": self.degraded,
            "warmed_up": self.warmed_up,
            "shift_days": self.shift.days,
            "seconds": round(self.seconds, 2),
            "rate_per_s": round(self.sent / self.seconds, 1) if self.seconds else 0.0,
        }


def parse_duration(text: str) -> pd.Timedelta | None:
    """'2d', '12h', '90m', '0' or 'all' (None: everything)."""
    if text.strip().lower() == "all":
        return None
    try:
        duration = pd.Timedelta(text if text != "0" else "0s")
    except ValueError as error:
        raise ReplayError(f"{text!r} is not a duration like 2d, 12h or 90m") from error
    if duration < pd.Timedelta(0):
        raise ReplayError(f"{text!r} is negative")
    return duration


def load_history(path: Path) -> pd.DataFrame:
    """Transactions sorted by time, with the columns the API needs."""
    if not path.exists():
        raise ReplayError(f"{path}: no such file")
    parquet = path.suffix == ".parquet"
    frame = pd.read_parquet(path) if parquet else pd.read_csv(path)
    missing = [column for column in REQUIRED_COLUMNS if column not in frame]
    if missing:
        raise ReplayError(f"{path}: missing column(s) {missing}")
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
    return frame.sort_values("timestamp", kind="stable").reset_index(drop=True)


def split_window(
    history: pd.DataFrame, window: pd.Timedelta | None, warmup: pd.Timedelta | None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(warm-up rows, window rows): the window is the last stretch of the history."""
    if window is None or history.empty:
        return history.iloc[:0], history
    end = history["timestamp"].max()
    start = end - window
    in_window = history["timestamp"] > start
    before = history["timestamp"] <= start
    if warmup is not None:
        before &= history["timestamp"] > start - warmup
    return history[before], history[in_window]


def shift_to(last: pd.Timestamp, end_by: pd.Timestamp) -> pd.Timedelta:
    """The whole weeks that move `last` to within the week up to `end_by`.

    Whole weeks keep each time's hour of day and weekday (model inputs); the result
    is negative when `last` is later than `end_by`.
    """
    return WEEK * ((end_by - last) // WEEK)


def shift_times(history: pd.DataFrame, shift: pd.Timedelta) -> pd.DataFrame:
    """The history with its transaction and label times moved by `shift`."""
    if not shift:
        return history
    shifted = history.copy()
    for column in TIME_COLUMNS:
        if column in shifted:
            shifted[column] = pd.to_datetime(shifted[column], utc=True) + shift
    return shifted


def payload(row: Any) -> dict[str, Any]:
    currency = getattr(row, "currency", "EUR")
    return {
        "transaction_id": str(row.transaction_id),
        "timestamp": row.timestamp.isoformat(),
        "customer_id": str(row.customer_id),
        "terminal_id": str(row.terminal_id),
        "amount": round(float(row.amount), 2),
        "currency": currency if isinstance(currency, str) else "EUR",
    }


def wait_ready(client: httpx.Client, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    reason = "no answer yet"
    while time.monotonic() < deadline:
        try:
            response = client.get("/readyz")
            if response.status_code == 200:
                return
            reason = response.text[:300]
        except httpx.HTTPError as error:
            reason = str(error)
        time.sleep(1.0)
    raise ReplayError(f"sentinel not ready after {timeout_s:.0f} s: {reason}")


def send_batch(client: httpx.Client, batch: list[dict[str, Any]]) -> dict[str, Any]:
    """One /v1/score/batch call, retried on 503 and connection errors."""
    for attempt in range(1, RETRIES + 1):
        try:
            response = client.post("/v1/score/batch", json={"transactions": batch})
        except httpx.TransportError as error:
            reason = str(error)
        else:
            if response.status_code == 200:
                return dict(response.json())
            if response.status_code != 503:
                raise ReplayError(
                    f"sentinel refused a batch: HTTP {response.status_code} "
                    f"{response.text[:500]}"
                )
            reason = response.text[:300]
        logger.warning("replay_retry", extra={"attempt": attempt, "reason": reason})
        time.sleep(min(2**attempt, 10))
    raise ReplayError(f"sentinel kept failing after {RETRIES} attempts: {reason}")


def replay_window(
    client: httpx.Client,
    rows: pd.DataFrame,
    rate: float,
    batch_size: int,
    report: ReplayReport,
) -> None:
    """Send the rows in time order, pacing batches to about `rate` per second."""
    started = time.monotonic()
    payloads = [payload(row) for row in rows.itertuples(index=False)]
    for first in range(0, len(payloads), batch_size):
        batch = payloads[first : first + batch_size]
        if rate > 0:
            due = started + first / rate
            time.sleep(max(0.0, due - time.monotonic()))
        answer = send_batch(client, batch)
        report.sent += answer["count"]
        report.degraded += answer["degraded_count"]
        for result in answer["results"]:
            report.bands[result["band"]] += 1
            report.cases += result["case_id"] is not None
        if report.sent % (batch_size * 20) == 0:
            logger.info("replay_progress", extra={"sent": report.sent})


async def warm_up_features(
    rows: pd.DataFrame, redis_url: str, labels_until: Any
) -> int:
    """Write earlier transactions into the online store, and the labels known by
    `labels_until`, without scoring them; returns how many were written."""
    import redis.asyncio as aioredis

    from api.sentinel.features import OnlineFeatureStore

    client = aioredis.Redis.from_url(redis_url, max_connections=WARMUP_LANES + 4)
    store = OnlineFeatureStore(client)

    async def lane(part: pd.DataFrame) -> None:
        for row in part.itertuples(index=False):
            await store.update_and_read(_event(row))

    # Each customer's payments stay in time order within one lane; lanes run side
    # by side so that Redis fsyncs many writes at once (appendfsync always).
    # Terminal windows only count, so the order across customers does not matter.
    lanes = (
        pd.util.hash_array(rows["customer_id"].astype(str).to_numpy()) % WARMUP_LANES
    )
    try:
        await asyncio.gather(*(lane(rows[lanes == i]) for i in range(WARMUP_LANES)))
        for row, known_at in _known_frauds(rows, labels_until):
            await store.record_label(_event(row), True, known_at)
    finally:
        await client.aclose()  # type: ignore[attr-defined]  # stubs predate it
    return len(rows)


def _event(row: Any) -> Any:
    from api.sentinel.features import TransactionEvent

    return TransactionEvent(
        transaction_id=str(row.transaction_id),
        timestamp=row.timestamp.to_pydatetime(),
        customer_id=str(row.customer_id),
        terminal_id=str(row.terminal_id),
        amount=float(row.amount),
    )


def _known_frauds(rows: pd.DataFrame, until: Any) -> list[tuple[Any, Any]]:
    """Fraud rows whose label arrived before `until`, with that arrival time."""
    if "is_fraud" not in rows or "label_available_at" not in rows:
        return []
    known = pd.to_datetime(rows["label_available_at"], utc=True)
    chosen = (rows["is_fraud"] == 1) & (known < until)
    return [
        (row, moment.to_pydatetime())
        for row, moment in zip(
            rows[chosen].itertuples(index=False), known[chosen], strict=True
        )
    ]


def run_replay(
    source: Path,
    sentinel_url: str,
    api_key: str,
    window: pd.Timedelta | None,
    rate: float,
    batch_size: int = 100,
    warmup: pd.Timedelta | None = NO_WARMUP,
    redis_url: str | None = None,
    ready_timeout_s: float = 300.0,
    end_by: pd.Timestamp | None = None,
) -> ReplayReport:
    """Replay the history's last `window`; with `end_by`, shifted by whole weeks so
    that the last transaction lands in the week up to `end_by` (see shift_to)."""
    history = load_history(source)
    report = ReplayReport()
    if end_by is not None and not history.empty:
        report.shift = shift_to(history["timestamp"].max(), end_by)
        history = shift_times(history, report.shift)
        _log_shift(history, report.shift)
    warm_rows, window_rows = split_window(history, window, warmup)
    started = time.monotonic()
    with httpx.Client(
        base_url=sentinel_url, headers={"X-API-Key": api_key}, timeout=60
    ) as client:
        wait_ready(client, ready_timeout_s)
        if len(warm_rows):
            if not redis_url:
                raise ReplayError("--warmup needs REDIS_URL (or pass --warmup 0)")
            first = window_rows["timestamp"].min()
            report.warmed_up = asyncio.run(
                warm_up_features(warm_rows, redis_url, first)
            )
        replay_window(client, window_rows, rate, batch_size, report)
    report.seconds = time.monotonic() - started
    logger.info("replay_finished", extra=report.as_dict())
    return report


def _log_shift(shifted: pd.DataFrame, shift: pd.Timedelta) -> None:
    last = shifted["timestamp"].max()
    logger.info(
        "replay_times_shifted",
        extra={
            "shift_days": shift.days,
            "shift_s": int(shift.total_seconds()),
            "original_last": (last - shift).isoformat(),
            "last": last.isoformat(),
        },
    )


def default_source(data_dir: Path) -> Path:
    for relative in DEFAULT_FILES:
        if (data_dir / relative).exists():
            return data_dir / relative
    return data_dir / DEFAULT_FILES[0]


def bootstrap_replay(data_dir: Path) -> None:
    """Bootstrap step "fraud-replay": the last day, after a week of warm-up, moved
    to end at least ROOM_AFTER_REPLAY before now; the shift is recorded."""
    report = run_replay(
        default_source(data_dir),
        sentinel_url=os.environ["SENTINEL_URL"],
        api_key=os.environ["SENTINEL_API_KEY"],
        window=pd.Timedelta(days=1),
        rate=1000,
        warmup=pd.Timedelta(days=7),
        redis_url=features_redis_url(),
        end_by=pd.Timestamp.now(tz="UTC") - ROOM_AFTER_REPLAY,
    )
    record_shift(data_dir, report.shift)


def record_shift(data_dir: Path, shift: pd.Timedelta) -> None:
    path = data_dir / SHIFT_RECORD
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps({"shift_s": int(shift.total_seconds())}))
    temporary.replace(path)


def recorded_shift(data_dir: Path) -> pd.Timedelta:
    """The shift the bootstrap replay used (none when it has not run or kept the
    original times)."""
    path = data_dir / SHIFT_RECORD
    if not path.exists():
        return NO_SHIFT
    try:
        return pd.Timedelta(seconds=int(json.loads(path.read_text())["shift_s"]))
    except (ValueError, KeyError, TypeError) as error:
        raise ReplayError(f"{path}: unreadable ({error}); delete it") from None


def replayed_history(data_dir: Path) -> pd.DataFrame:
    """The default history at the times the bootstrap replay sent it."""
    history = load_history(default_source(data_dir))
    return shift_times(history, recorded_shift(data_dir))


def features_redis_url() -> str | None:
    """Where Sentinel keeps its online features (see SentinelSettings)."""
    return os.environ.get("FEATURES_REDIS_URL") or os.environ.get("REDIS_URL")


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m pipelines.replay", description=__doc__
    )
    parser.add_argument("--from-file", type=Path, help="CSV or Parquet history")
    parser.add_argument("--window", default="1d", help="last stretch to send (or all)")
    parser.add_argument("--rate", type=float, default=500, help="per second; 0: max")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--warmup", default="0", help="history before the window")
    parser.add_argument(
        "--original-times",
        action="store_true",
        help="send the history's own times (default: shifted by whole weeks so "
        "that the last transaction lands in the past week)",
    )
    parser.add_argument("--url", default=os.environ.get("SENTINEL_URL"))
    parser.add_argument("--ready-timeout", type=float, default=300.0)
    args = parser.parse_args(argv)
    if not args.url:
        parser.error("set SENTINEL_URL or pass --url")
    if not 1 <= args.batch_size <= 1000:
        parser.error("--batch-size must be between 1 and 1000")
    return args


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    configure_logging("replay", os.environ.get("LOG_LEVEL", "INFO"))
    data_dir = Path(os.environ.get("DATA_DIR", "data"))
    api_key = os.environ.get("SENTINEL_API_KEY", "")
    try:
        if not api_key:
            raise ReplayError("SENTINEL_API_KEY is not set")
        report = run_replay(
            args.from_file or default_source(data_dir),
            sentinel_url=args.url,
            api_key=api_key,
            window=parse_duration(args.window),
            rate=args.rate,
            batch_size=args.batch_size,
            warmup=parse_duration(args.warmup),
            redis_url=features_redis_url(),
            ready_timeout_s=args.ready_timeout,
            end_by=None if args.original_times else pd.Timestamp.now(tz="UTC"),
        )
    except ReplayError as error:
        print(f"replay: {error}", file=sys.stderr)
        return 2
    print(report.as_dict())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
