"""The workbench opens in Chromium and, once signed in, reports every service ready."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.workbench import SLOW, assert_no_traceback, go_to, screenshot

pytestmark = pytest.mark.e2e


def test_system_page_shows_every_service_ready(signed_in: Page) -> None:
    page = signed_in
    go_to(page, "System")

    expect(page.get_by_text("Sentinel is ready")).to_be_visible(timeout=SLOW)
    expect(page.get_by_text("Scout is ready")).to_be_visible()
    expect(page.get_by_text("Catalogue items")).to_be_visible(timeout=SLOW)
    expect(page.get_by_text("Open cases")).to_be_visible()
    assert_no_traceback(page)
    screenshot(page, "system")
