"""The one-shot bootstrap job: seeds data, trains, indexes, replays, reports.

Two phases. `seed` needs only Redis, MLflow and Qdrant (data, training, indexes);
`traffic` needs Sentinel and Scout answering (replay, drift reports). The native stack
runs `seed` before it starts the APIs and `traffic` after they are ready; compose runs
both in one container (`all`). Each step runs once per data directory: a marker file
records that it finished, so a second start redoes nothing.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import time
from datetime import UTC, datetime
from pathlib import Path

from api.common.logging import configure_logging

logger = logging.getLogger(__name__)

# phase -> [(step name, "module:function")]; each function takes the data directory.
STEPS: dict[str, list[tuple[str, str]]] = {
    "seed": [
        ("scout-data", "pipelines.generate_interactions:seed_data"),
        ("scout-model", "pipelines.train_scout:train_step"),
        ("fraud-data", "pipelines.generate_transactions:bootstrap_data"),
        ("fraud-model", "pipelines.train_fraud:bootstrap_model"),
    ],
    "traffic": [
        ("fraud-replay", "pipelines.replay:bootstrap_replay"),
        ("drift-reports", "pipelines.drift:bootstrap_reports"),
    ],
}


def marker_path(data_dir: Path, step: str) -> Path:
    return data_dir / "bootstrap" / f"{step}.done"


def run_step(data_dir: Path, step: str, target: str) -> bool:
    """Run one step unless its marker exists; True when it ran."""
    marker = marker_path(data_dir, step)
    if marker.exists():
        logger.info("bootstrap_step_skipped", extra={"step": step})
        return False
    module_name, _, function_name = target.partition(":")
    function = getattr(importlib.import_module(module_name), function_name)
    started = time.perf_counter()
    function(data_dir)
    elapsed = round(time.perf_counter() - started, 2)
    marker.parent.mkdir(parents=True, exist_ok=True)
    finished = datetime.now(UTC).isoformat()
    marker.write_text(json.dumps({"finished_at": finished, "seconds": elapsed}))
    logger.info("bootstrap_step_done", extra={"step": step, "seconds": elapsed})
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipelines.bootstrap")
    parser.add_argument("phase", choices=[*STEPS, "all"], nargs="?", default="all")
    args = parser.parse_args(argv)
    configure_logging("bootstrap", os.environ.get("LOG_LEVEL", "INFO"))
    data_dir = Path(os.environ.get("DATA_DIR", "data")).resolve()
    phases = list(STEPS) if args.phase == "all" else [args.phase]
    steps = [step for phase in phases for step in STEPS[phase]]
    ran = [name for name, target in steps if run_step(data_dir, name, target)]
    logger.info(
        "bootstrap_finished",
        extra={"phases": phases, "steps_run": ran, "steps": len(steps)},
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
