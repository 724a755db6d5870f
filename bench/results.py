"""Merge a benchmark's figures into bench/results/latest.json."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "latest.json"


def _commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            cwd=RESULTS.parent,
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return out.stdout.strip()


def record(benchmark: str, figures: dict[str, float | int | str]) -> Path:
    """Write the figures at the top level (the names issues ask for) and under
    `runs[benchmark]` with when, where and on which commit they were measured."""
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    data = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    previous = data.get("runs", {}).get(benchmark, {}).get("figures", {})
    for stale in set(previous) - set(figures):  # a figure this benchmark dropped
        data.pop(stale, None)
    data.update(figures)
    data.setdefault("runs", {})[benchmark] = {
        "figures": figures,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": _commit(),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "system": platform.platform(),
        },
    }
    partial = RESULTS.with_suffix(".partial")
    partial.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    partial.replace(RESULTS)
    return RESULTS
