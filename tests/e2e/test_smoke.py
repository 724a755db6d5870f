"""The workbench opens in Chromium and reports every service ready."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.stack import NativeStack

pytestmark = pytest.mark.e2e
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-results" / "screenshots"


def test_system_page_shows_every_service_ready(
    native_stack: NativeStack, page: Page
) -> None:
    page.goto(native_stack.url("ui"))

    expect(page.get_by_text("Sentinel is ready")).to_be_visible(timeout=30_000)
    expect(page.get_by_text("Scout is ready")).to_be_visible()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "system.png"), full_page=True)
