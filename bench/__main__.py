"""`python -m bench [NAME ...]`: run bench_*.py modules (all by default).

Each module has `main() -> dict` returning its figures; they are merged into
bench/results/latest.json. Benchmarks measure; they never fail on a target.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from pathlib import Path

from bench.results import RESULTS, record

HERE = Path(__file__).resolve().parent


def available() -> list[str]:
    return sorted(path.stem for path in HERE.glob("bench_*.py"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", help=f"any of {available()}")
    args = parser.parse_args(argv)
    names = args.names or available()
    unknown = sorted(set(names) - set(available()))
    if unknown:
        print(f"error: unknown benchmark(s) {unknown}; choose from {available()}")
        return 2
    if not names:
        print("no benchmark found under bench/")
        return 0
    for name in names:
        started = time.perf_counter()
        print(f"[bench] {name} ...", flush=True)
        figures = importlib.import_module(f"bench.{name}").main()
        record(name, figures)
        elapsed = time.perf_counter() - started
        print(f"[bench] {name} done in {elapsed:.0f} s: {figures}", flush=True)
    print(f"[bench] results in {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
