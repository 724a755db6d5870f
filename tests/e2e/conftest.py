"""One native stack for every end-to-end test of the session, and a signed-in page."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page

from tests.e2e.cases import open_cases
from tests.e2e.workbench import Analyst, first_analyst, sign_in
from tests.stack import NativeStack

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
