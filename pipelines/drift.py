"""Drift reports from the command line, as a function, and as a bootstrap step.

`python -m pipelines.drift sentinel|scout --window-start 2025-04-04T00:00Z
--window-end 2025-04-05T00:00Z [--min-rows N]` builds one report with Evidently and
stores it where the APIs serve it from: DATA_DIR/drift/<service>/<report_id>/
(summary.json + report.html; why a folder and not MLflow artifacts: see
api.common.drift). The same code runs behind `POST /v1/drift/reports`.

Sentinel's report reads the scored-transaction stream in Redis (REDIS_URL) and the
model's training sample from MLflow (MLFLOW_TRACKING_URI); Scout's reads the
interaction log under DATA_DIR/scout/ and the champion model from MLflow.

The bootstrap step "drift-reports" (after the replay) sends the replayed day once
more one day later (a calm day), then a quarter of it two days later with every
amount multiplied by SHIFT_AMOUNT_FACTOR and paid at a random terminal (a known
shift), and builds a report for each of those two days; for Scout it builds one
report per week of the last four weeks of the interaction log. (The replayed day
itself is not reported on: it was sent fast, and under load its degraded answers,
left out of the report, are not a random sample of the day.)
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from api.common.drift import (
    DriftSettings,
    DriftStore,
    DriftSummary,
    TooLittleData,
    Window,
    as_utc,
    build_and_store,
)
from api.common.errors import ServiceError
from api.common.logging import configure_logging
from api.common.settings import load_settings

logger = logging.getLogger(__name__)

SERVICES = ("sentinel", "scout")
SHIFT_AMOUNT_FACTOR = 3.0
SHIFT_PREFIX = "drift-shift-"
CALM_PREFIX = "drift-calm-"
SHIFT_SEED = 7
SHIFT_SAMPLE = 4  # a shifted day of a quarter of the payments: fewer review cases
INJECT_RATE = 200
INJECT_BATCH = 20
SCOUT_WEEKS = 4


def sentinel_source(drift: DriftSettings) -> Any:
    from api.sentinel.drift import SentinelDriftSource
    from api.sentinel.settings import SentinelSettings

    settings = load_settings(SentinelSettings, "drift")
    return SentinelDriftSource.from_settings(settings, drift)


def scout_source(drift: DriftSettings) -> Any:
    from api.scout.drift import ScoutDriftSource
    from api.scout.loader import load_champion
    from api.scout.model import ScoutModel
    from api.scout.settings import ScoutSettings

    settings = load_settings(ScoutSettings, "drift")
    loaded: list[ScoutModel] = []

    def champion() -> ScoutModel:
        if not loaded:
            loaded.append(load_champion(settings))
        return loaded[0]

    return ScoutDriftSource(drift, champion)


def build_report(
    service: str,
    window_start: datetime,
    window_end: datetime,
    drift: DriftSettings | None = None,
    source: Any = None,
) -> DriftSummary:
    """Build and store one report; TooLittleData when the window is too small."""
    drift = drift or load_settings(DriftSettings, "drift")
    if source is None:
        source = (
            sentinel_source(drift) if service == "sentinel" else scout_source(drift)
        )
    window = Window(as_utc(window_start), as_utc(window_end))
    return build_and_store(source, DriftStore.for_service(drift, service), window)


# --- the bootstrap step ---------------------------------------------------------------


def bootstrap_reports(data_dir: Path) -> None:
    """Bootstrap step "drift-reports": a calm and a shifted Sentinel day; Scout."""
    drift = load_settings(DriftSettings, "drift").model_copy(
        update={"data_dir": data_dir}
    )
    # Reports are not vital to a fresh stack: a failure is logged, not raised.
    with _logged_failure("sentinel"):
        replayed = replayed_day(data_dir)
        sentinel = sentinel_source(drift)
        calm = inject_day(data_dir, replayed, offset_days=1, shift=False)
        _build_or_skip("sentinel", calm, drift, sentinel)
        shifted = inject_day(data_dir, replayed, offset_days=2, shift=True)
        _build_or_skip("sentinel", shifted, drift, sentinel)
    with _logged_failure("scout"):
        scout = scout_source(drift)
        for window in scout_weeks(data_dir):
            _build_or_skip("scout", window, drift, scout)


@contextmanager
def _logged_failure(service: str) -> Iterator[None]:
    try:
        yield
    except Exception:
        logger.exception("drift_bootstrap_failed", extra={"service": service})


def replayed_day(data_dir: Path) -> Window:
    """The day the replay step sent: the history's last 24 hours, at the times the
    replay sent them (it shifts the 2025 history towards now)."""
    from pipelines.replay import replayed_history

    history = replayed_history(data_dir)
    last = history["timestamp"].max().to_pydatetime()
    return Window(last - timedelta(days=1), last + timedelta(milliseconds=1))


def inject_day(data_dir: Path, day: Window, offset_days: int, shift: bool) -> Window:
    """Send the day's transactions again, `offset_days` later, through Sentinel.

    Unshifted: the same payments, a calm day. Shifted: every SHIFT_SAMPLE-th payment
    with its amount x SHIFT_AMOUNT_FACTOR at a random terminal (nearly always one
    its customer never used): a known shift in two of the four signals. Sent gently
    (INJECT_RATE per second, small batches) so that few answers are degraded.
    """
    from pipelines.replay import replayed_history, run_replay

    history = replayed_history(data_dir)
    when = history["timestamp"]
    rows = history[(when >= day.start) & (when < day.end)]
    offset = pd.Timedelta(days=offset_days)
    prefix = SHIFT_PREFIX if shift else CALM_PREFIX
    frame = pd.DataFrame(
        {
            "transaction_id": f"{prefix}{offset_days}-"
            + rows["transaction_id"].astype(str),
            "timestamp": rows["timestamp"] + offset,
            "customer_id": rows["customer_id"],
            "terminal_id": rows["terminal_id"],
            "amount": rows["amount"],
        }
    )
    if shift:
        frame = frame.iloc[::SHIFT_SAMPLE].reset_index(drop=True)
        rng = np.random.default_rng(SHIFT_SEED)
        frame["terminal_id"] = rng.choice(history["terminal_id"].unique(), len(frame))
        frame["amount"] = (frame["amount"] * SHIFT_AMOUNT_FACTOR).round(2)
    path = data_dir / "drift" / "inputs" / f"{prefix}{offset_days}.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(path, index=False)
    report = run_replay(
        path,
        sentinel_url=os.environ["SENTINEL_URL"],
        api_key=os.environ["SENTINEL_API_KEY"],
        window=None,
        rate=INJECT_RATE,
        batch_size=INJECT_BATCH,
    )
    logger.info(
        "drift_day_injected",
        extra={"shift": shift, "file": str(path), **report.as_dict()},
    )
    return Window(day.start + offset, day.end + offset)


def scout_weeks(data_dir: Path) -> list[Window]:
    from api.scout.drift import INTERACTIONS, read_log

    log = read_log(data_dir / INTERACTIONS)
    end = log["ts"].max().to_pydatetime() + timedelta(milliseconds=1)
    week = timedelta(days=7)
    return [
        Window(end - (SCOUT_WEEKS - i) * week, end - (SCOUT_WEEKS - i - 1) * week)
        for i in range(SCOUT_WEEKS)
    ]


def _build_or_skip(
    service: str, window: Window, drift: DriftSettings, source: Any
) -> DriftSummary | None:
    try:
        return build_report(service, window.start, window.end, drift, source)
    except TooLittleData as error:
        logger.warning(
            "drift_report_skipped",
            extra={
                "service": service,
                "window": window.describe(),
                "reason": error.detail,
            },
        )
        return None


# --- the command line -------------------------------------------------------------


def _timestamp(text: str) -> datetime:
    try:
        return as_utc(pd.Timestamp(text).to_pydatetime())
    except ValueError as error:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a time like 2025-04-04T00:00Z"
        ) from error


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m pipelines.drift", description=__doc__
    )
    parser.add_argument("service", choices=SERVICES)
    parser.add_argument("--window-start", type=_timestamp, required=True)
    parser.add_argument("--window-end", type=_timestamp, required=True)
    parser.add_argument("--min-rows", type=int, help="default: $DRIFT_MIN_ROWS or 200")
    parser.add_argument("--data-dir", type=Path, help="default: $DATA_DIR or ./data")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    configure_logging("drift", os.environ.get("LOG_LEVEL", "WARNING"))
    drift = load_settings(DriftSettings, "drift")
    changes: dict[str, Any] = {}
    if args.min_rows is not None:
        changes["drift_min_rows"] = args.min_rows
    if args.data_dir is not None:
        changes["data_dir"] = args.data_dir
    drift = drift.model_copy(update=changes)
    try:
        summary = build_report(args.service, args.window_start, args.window_end, drift)
    except ValueError as error:
        print(f"drift: {error}", file=sys.stderr)
        return 2
    except TooLittleData as error:
        print(f"drift: {error.detail}", file=sys.stderr)
        return 2
    except ServiceError as error:
        print(f"drift: {error.detail}", file=sys.stderr)
        return 1
    print(describe(summary, drift))
    return 0


def describe(summary: DriftSummary, drift: DriftSettings) -> str:
    drifted = ", ".join(
        f"{c.column} ({c.test} {c.score:.3g})" for c in summary.drifted_columns
    )
    folder = drift.data_dir / "drift" / summary.service / summary.report_id
    verdict = "DRIFTED" if summary.dataset_drift else "calm"
    return (
        f"{summary.service} report {summary.report_id}: {verdict}, drift share "
        f"{summary.drift_share:.2f} (threshold {summary.drift_share_threshold}), "
        f"{summary.rows.current} rows vs {summary.rows.reference} reference\n"
        f"drifted: {drifted or 'none'}\nstored in {folder}"
    )


if __name__ == "__main__":
    raise SystemExit(main())
