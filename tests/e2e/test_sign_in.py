"""Sign-in with a named analyst, a reload keeps it, signing out ends it (also
after a restart), repeated failures lock a name out."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from devstack.processes import stop_process_group
from tests.e2e.workbench import (
    SLOW,
    Analyst,
    assert_no_traceback,
    screenshot,
    session_cookie,
    sign_in,
    wait_idle,
)
from tests.stack import NativeStack
from tests.support import ROOT, free_port, wait_until

pytestmark = pytest.mark.e2e


def test_a_wrong_password_is_refused(
    page: Page, native_stack: NativeStack, analyst: Analyst
) -> None:
    page.goto(native_stack.url("ui"))
    page.get_by_label("Analyst").fill(analyst.name)
    page.get_by_label("Password", exact=True).fill(analyst.password + "-wrong")
    page.get_by_role("button", name="Sign in").click()

    expect(page.get_by_text("Unknown analyst or wrong password")).to_be_visible(
        timeout=SLOW
    )
    expect(page.get_by_text("Signed in as")).to_have_count(0)
    expect(page.get_by_role("link", name="Review queue")).to_have_count(0)
    screenshot(page, "sign-in-refused")


def test_sign_in_survives_a_reload_and_sign_out_ends_it(
    page: Page, native_stack: NativeStack, analyst: Analyst
) -> None:
    sign_in(page, native_stack.url("ui"), analyst)
    assert session_cookie(page) is not None
    page.reload()
    expect(page.get_by_text(f"Signed in as {analyst.name}")).to_be_visible(timeout=SLOW)

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible(timeout=SLOW)
    wait_until(lambda: session_cookie(page) is None, SLOW / 1000, "cookie deleted")
    page.reload()

    expect(page.get_by_role("button", name="Sign in")).to_be_visible(timeout=SLOW)
    expect(page.get_by_text("Signed in as")).to_have_count(0)
    assert_no_traceback(page)
    screenshot(page, "sign-in")


def test_a_link_to_a_page_opens_it_after_signing_in(
    page: Page, native_stack: NativeStack, analyst: Analyst
) -> None:
    page.goto(f"{native_stack.url('ui')}/models")
    page.get_by_label("Analyst").fill(analyst.name)
    page.get_by_label("Password", exact=True).fill(analyst.password)
    page.get_by_role("button", name="Sign in").click()

    expect(page.get_by_role("heading", name="Models", exact=True)).to_be_visible(
        timeout=SLOW
    )
    expect(page.get_by_text("Page not found")).to_have_count(0)


def test_no_page_opens_without_sign_in_even_on_a_fresh_server(
    page: Page, second_workbench: str
) -> None:
    # The first request a new workbench server gets names a page directly.
    page.goto(f"{second_workbench}/recommendations")

    expect(page.get_by_role("button", name="Sign in")).to_be_visible(timeout=SLOW)
    expect(page.get_by_role("heading", name="Recommendations")).to_have_count(0)
    expect(page.get_by_test_id("stSidebarNav")).to_have_count(0)


def attempt(page: Page, name: str, password: str) -> None:
    page.get_by_label("Analyst").fill(name)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_five_failures_lock_the_name_out_with_a_time_to_try_again(
    page: Page, native_stack: NativeStack
) -> None:
    # A name nobody has: the answer must not reveal that either.
    name = f"nobody-{uuid.uuid4().hex[:8]}"
    page.goto(native_stack.url("ui"))
    for number in range(1, 5):
        attempt(page, name, f"guess-{number}")
        expect(page.get_by_text("Unknown analyst or wrong password")).to_be_visible(
            timeout=SLOW
        )
    attempt(page, name, "guess-5")
    expect(page.get_by_text("Too many failed sign-in attempts")).to_be_visible(
        timeout=SLOW
    )
    expect(page.get_by_text("Try again in 15 minutes")).to_be_visible()
    expect(page.get_by_text("Signed in as")).to_have_count(0)
    assert_no_traceback(page)
    screenshot(page, "sign-in-locked-out")


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310
            return bool(response.status == 200)
    except OSError:
        return False


@contextmanager
def workbench(stack: NativeStack, state_dir: Path, log: Path) -> Iterator[str]:
    """One more workbench server on the stack's APIs, with its own state folder."""
    port = free_port()
    env = dict(os.environ)
    settings = stack.settings
    for name in (
        "SENTINEL_API_KEY",
        "SCOUT_API_KEY",
        "WORKBENCH_ANALYSTS",
        "WORKBENCH_COOKIE_SECRET",
    ):
        env[name] = settings[name]
    env.update(
        {
            "SENTINEL_URL": stack.url("sentinel"),
            "SCOUT_URL": stack.url("scout"),
            "WORKBENCH_STATE_DIR": str(state_dir),
            "LOG_LEVEL": "WARNING",
        }
    )
    command = [
        sys.executable, "-m", "streamlit", "run", str(ROOT / "ui" / "app.py"),
        "--server.address", "127.0.0.1", "--server.port", str(port),
        "--server.headless", "true", "--browser.gatherUsageStats", "false",
    ]  # fmt: skip
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
        wait_until(lambda: _healthy(f"{url}/_stcore/health"), 120, "workbench")
        yield url
    finally:
        stop_process_group(process.pid)
        process.wait()


def test_a_copied_cookie_stays_signed_out_after_a_workbench_restart(
    browser: Browser, native_stack: NativeStack, analyst: Analyst, tmp_path: Path
) -> None:
    state_dir = tmp_path / "workbench-state"
    log = tmp_path / "workbench.log"
    with workbench(native_stack, state_dir, log) as url:
        first = browser.new_page()
        sign_in(first, url, analyst)
        copied = session_cookie(first)
        # While the first page still runs, the sign-in form's button stays on
        # screen (faded): wait for the run to end, and for the sign-out to show.
        wait_idle(first)
        first.get_by_role("button", name="Sign out").click()
        expect(first.get_by_text("Signed in as")).to_have_count(0, timeout=SLOW)
        expect(first.get_by_role("button", name="Sign in")).to_be_visible(timeout=SLOW)
        revoked = state_dir / "revoked_sessions.json"
        wait_until(revoked.exists, SLOW / 1000, "the sign-out saved to disk")
        first.close()
    assert copied is not None

    with workbench(native_stack, state_dir, log) as url:
        context = browser.new_context()
        context.add_cookies(
            [{"name": "workbench_session", "value": copied, "url": url}]
        )
        page = context.new_page()
        page.goto(url)
        expect(page.get_by_role("button", name="Sign in")).to_be_visible(timeout=SLOW)
        expect(page.get_by_text("Signed in as")).to_have_count(0)
        assert_no_traceback(page)
        context.close()
