"""One native stack for every end-to-end test of the session, and a signed-in page."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from devstack.processes import stop_process_group
from tests.e2e.cases import open_cases
from tests.e2e.workbench import Analyst, first_analyst, sign_in
from tests.stack import NativeStack
from tests.support import ROOT, free_port, wait_until

# Streamlit renders after each rerun, charts load lazily, and the machine is shared.
expect.set_options(timeout=30_000)
# Cases the browser tests open through Sentinel's API (the replay may add more).
SEEDED_CASES = 60


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    """A tall window (Streamlit scrolls inside the page) in an analyst's time zone."""
    return {
        **browser_context_args,
        "viewport": {"width": 1440, "height": 1800},
        "timezone_id": "Europe/Berlin",
    }


@pytest.fixture(scope="session")
def native_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NativeStack]:
    stack = NativeStack(tmp_path_factory.mktemp("stack"))
    stack.start()
    yield stack
    stack.stop()


@pytest.fixture(scope="session")
def analyst(native_stack: NativeStack) -> Analyst:
    """The first analyst the launcher made on the stack's fresh .env."""
    return first_analyst(native_stack)


@pytest.fixture(scope="session")
def review_cases(native_stack: NativeStack) -> int:
    key = native_stack.settings["SENTINEL_API_KEY"]
    return open_cases(native_stack.url("sentinel"), key, SEEDED_CASES)


@pytest.fixture
def signed_in(page: Page, native_stack: NativeStack, analyst: Analyst) -> Page:
    page.set_default_timeout(30_000)
    sign_in(page, native_stack.url("ui"), analyst)
    return page


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310
            return bool(response.status == 200)
    except OSError:
        return False


@pytest.fixture
def second_workbench(native_stack: NativeStack, tmp_path: Path) -> Iterator[str]:
    """A second workbench: Sentinel at a closed port, Scout at a socket that
    accepts connections and never answers (calls time out after 1 s)."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(64)
    port = free_port()
    settings = native_stack.settings
    env = dict(os.environ)
    env.update(
        {
            "SENTINEL_URL": f"http://127.0.0.1:{free_port()}",
            "SCOUT_URL": f"http://127.0.0.1:{silent.getsockname()[1]}",
            "API_TIMEOUT_S": "1",
            "LOG_LEVEL": "WARNING",
        }
    )
    for name in (
        "SENTINEL_API_KEY",
        "SCOUT_API_KEY",
        "WORKBENCH_ANALYSTS",
        "WORKBENCH_COOKIE_SECRET",
    ):
        env[name] = settings[name]
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(ROOT / "ui" / "app.py"),
        "--server.address",
        "127.0.0.1",
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
    ]
    log = tmp_path / "workbench.log"
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _healthy(f"{url}/_stcore/health"), 120, "second workbench")
        yield url
    finally:
        stop_process_group(process.pid)
        process.wait()
        silent.close()
        print(
            f"second workbench log ({log}):\n{log.read_text(errors='replace')[-4000:]}"
        )
