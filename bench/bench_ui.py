"""Workbench figures, measured with Playwright in Chromium against a native stack
started here (tests/stack.py NativeStack, free ports, a temporary folder).

- ui_queue_ready_s: an analyst on the System page clicks "Review queue" in the
  sidebar; the clock stops when the queue's table is drawn and its page caption
  ("Page 1 · 50 shown · N open cases") is on screen. At least 10,000 open cases are
  seeded first through Sentinel's POST /v1/score/batch (tests/e2e/cases.py).
- ui_decision_roundtrip_s: on the Case page the analyst clicks "Legitimate"; the
  clock stops when the next case's id replaces the decided one.

Both are medians over REPEATS runs after WARM_UP unmeasured ones (the first runs load
the browser's code chunks); the slowest run and the machine's 1-minute load average
are reported alongside, since the machine is shared.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from playwright.sync_api import Page, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from tests.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.e2e.cases import open_cases
from tests.e2e.workbench import first_analyst, sign_in
from tests.stack import NativeStack

OPEN_CASES = 10_000
REPEATS = 15
WARM_UP = 3
TIMEOUT_MS = 60_000

QUEUE_READY = """() => {
  const table = document.querySelector('[data-testid="stDataFrame"] canvas');
  const captions = [...document.querySelectorAll('[data-testid="stCaptionContainer"]')];
  return table !== null && captions.some(c => /^Page 1 · \\d+ shown/.test(c.innerText));
}"""
NEXT_CASE = """(previous) => {
  const code = document.querySelector('[data-testid="stCode"]');
  const shown = code ? code.innerText.trim() : '';
  return shown.startsWith('c_') && shown !== previous;
}"""
# The script run is over: no element left over from the previous run, no spinner.
IDLE = """() => document.querySelector('[data-stale="true"]') === null
  && document.querySelector('[data-testid="stStatusWidget"]') === null"""


def main() -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="bench-ui-") as folder:
        stack = NativeStack(Path(folder))
        started_s = stack.start()
        try:
            open_now = top_up_queue(stack)
            figures = measure(stack)
        finally:
            stack.stop()
    figures.update(
        {
            "ui_bench_open_cases": float(open_now),
            "ui_bench_stack_start_s": round(started_s, 1),
            "ui_bench_load_average_1m": round(os.getloadavg()[0], 2),
        }
    )
    return figures


def top_up_queue(stack: NativeStack) -> int:
    """Open cases through the API until at least OPEN_CASES are open."""
    key = stack.settings["SENTINEL_API_KEY"]
    missing = OPEN_CASES - open_count(stack)
    if missing > 0:
        open_cases(stack.url("sentinel"), key, missing)
    return open_count(stack)


def open_count(stack: NativeStack) -> int:
    headers = {"X-API-Key": stack.settings["SENTINEL_API_KEY"]}
    response = httpx.get(
        f"{stack.url('sentinel')}/v1/stats", headers=headers, timeout=60
    )
    response.raise_for_status()
    return int(response.json()["queue"]["open"])


def measure(stack: NativeStack) -> dict[str, float]:
    analyst = first_analyst(stack)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS
        )
        page = browser.new_page(viewport={"width": 1440, "height": 1000})
        page.set_default_timeout(TIMEOUT_MS)
        sign_in(page, stack.url("ui"), analyst)
        queue = repeat(lambda: queue_ready_s(page))
        page.get_by_role("button", name="Claim next case").click()
        wait_for(page, NEXT_CASE, "")
        decision = repeat(lambda: decision_roundtrip_s(page))
        browser.close()
    return {
        "ui_queue_ready_s": round(statistics.median(queue), 3),
        "ui_queue_ready_max_s": round(max(queue), 3),
        "ui_decision_roundtrip_s": round(statistics.median(decision), 3),
        "ui_decision_roundtrip_max_s": round(max(decision), 3),
    }


def repeat(run: Callable[[], float]) -> list[float]:
    timings = [run() for _ in range(WARM_UP + REPEATS)]
    return timings[WARM_UP:]


def queue_ready_s(page: Page) -> float:
    """System page -> click "Review queue" -> the queue drawn."""
    nav = page.get_by_test_id("stSidebarNav")
    nav.get_by_role("link", name="System").click()
    page.get_by_text("Catalogue items").wait_for()
    wait_for(page, IDLE)
    started = time.perf_counter()
    nav.get_by_role("link", name="Review queue").click()
    wait_for(page, QUEUE_READY)
    return time.perf_counter() - started


def decision_roundtrip_s(page: Page) -> float:
    """Click "Legitimate" on a case -> the next case's id on screen."""
    page.get_by_role("button", name="Legitimate").wait_for()
    wait_for(page, IDLE)
    shown = page.get_by_test_id("stCode").first.inner_text().strip()
    started = time.perf_counter()
    page.get_by_role("button", name="Legitimate").click()
    wait_for(page, NEXT_CASE, shown)
    return time.perf_counter() - started


def wait_for(page: Page, predicate: str, argument: str | None = None) -> None:
    """Check the page at every animation frame, so the clock stops promptly."""
    try:
        page.wait_for_function(
            predicate, arg=argument, polling="raf", timeout=TIMEOUT_MS
        )
    except PlaywrightTimeoutError as error:
        alerts = [alert.inner_text() for alert in page.get_by_test_id("stAlert").all()]
        raise RuntimeError(f"the page did not get there; it says {alerts}") from error
