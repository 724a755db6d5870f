"""Driving the workbench in Chromium: sign-in, navigation, screenshots, checks."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import Locator, Page, expect

from tests.stack import NativeStack
from tests.support import ROOT, wait_until

SCREENSHOTS = ROOT / "test-results" / "screenshots"
FIRST_ANALYST = re.compile(r"first workbench analyst: (\S+), password: (\S+)")
SLOW = 60_000  # ms: a rerun on a loaded 2-core machine can take a while


@dataclass(frozen=True)
class Analyst:
    name: str
    password: str


def first_analyst(stack: NativeStack) -> Analyst:
    """The analyst the launcher created for a fresh .env, from its printed line."""
    log = (stack.folder / "stack.log").read_text(errors="replace")
    found = FIRST_ANALYST.search(log)
    if found is None:
        raise AssertionError("the launcher printed no first workbench analyst")
    return Analyst(found.group(1), found.group(2))


def sign_in(page: Page, url: str, analyst: Analyst) -> None:
    page.goto(url)
    page.get_by_label("Analyst").fill(analyst.name)
    page.get_by_label("Password", exact=True).fill(analyst.password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text(f"Signed in as {analyst.name}")).to_be_visible(timeout=SLOW)
    wait_until(lambda: session_cookie(page) is not None, SLOW / 1000, "sign-in cookie")


def session_cookie(page: Page) -> str | None:
    """The signed sign-in cookie the workbench set in the browser, if any."""
    for cookie in page.context.cookies():
        if cookie["name"] == "workbench_session" and cookie["value"]:
            return cookie["value"]
    return None


def go_to(page: Page, title: str) -> None:
    """Follow the sidebar link to a page and wait for its title."""
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title).click()
    expect(heading(page, title)).to_be_visible(timeout=SLOW)


def heading(page: Page, text: str) -> Locator:
    return page.get_by_role("heading", name=text, exact=True)


def wait_idle(page: Page) -> None:
    """Until Streamlit says the script run finished (no 'Running...' widget)."""
    expect(page.get_by_test_id("stStatusWidget")).to_have_count(0, timeout=SLOW)


def assert_no_traceback(page: Page) -> None:
    expect(page.get_by_test_id("stException")).to_have_count(0)


def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def select_table_rows(page: Page, rows: list[int], table: int = 0) -> None:
    """Tick rows of a Streamlit table: its grid is a canvas, so click by position.

    Row and header heights are Streamlit's defaults (35 px); the tick box is in the
    first 30 px of a row.
    """
    grid = page.get_by_test_id("stDataFrame").nth(table).locator("canvas").first
    expect(grid).to_be_visible(timeout=SLOW)
    box = grid.bounding_box()
    assert box is not None
    for row in rows:
        page.mouse.click(box["x"] + 15, box["y"] + 35 * (row + 1) + 17)
        wait_idle(page)
