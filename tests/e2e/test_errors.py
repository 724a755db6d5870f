"""API failures show a clear message with what to do, never a traceback, and the
rest of the workbench keeps working: a down Sentinel, a Scout that never answers,
an unknown case."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.workbench import (
    SLOW,
    Analyst,
    assert_no_traceback,
    go_to,
    screenshot,
    sign_in,
)
from tests.stack import NativeStack

pytestmark = pytest.mark.e2e


def test_a_down_or_silent_api_shows_what_to_do_and_the_rest_keeps_working(
    page: Page, second_workbench: str, analyst: Analyst
) -> None:
    sign_in(page, second_workbench, analyst)

    expect(page.get_by_text("Sentinel cannot be reached.").first).to_be_visible(
        timeout=SLOW
    )
    expect(
        page.get_by_text("What to do: Check that Sentinel runs").first
    ).to_be_visible()
    assert_no_traceback(page)
    screenshot(page, "error-sentinel-down")

    go_to(page, "Recommendations")
    expect(page.get_by_text("Scout did not answer within 1 s.").first).to_be_visible(
        timeout=SLOW
    )
    expect(page.get_by_text("What to do: It may be overloaded").first).to_be_visible()
    assert_no_traceback(page)
    screenshot(page, "error-scout-timeout")

    go_to(page, "System")
    expect(page.get_by_text("Sentinel is unreachable")).to_be_visible(timeout=SLOW)
    expect(page.get_by_text("Scout is unreachable")).to_be_visible(timeout=SLOW)
    assert_no_traceback(page)


def test_an_unknown_case_is_a_clear_not_found(
    signed_in: Page, native_stack: NativeStack
) -> None:
    page = signed_in
    page.goto(f"{native_stack.url('ui')}/case?case=c_does_not_exist")

    expect(
        page.get_by_text(
            "Case c_does_not_exist: Sentinel case c_does_not_exist "
            "does not exist (HTTP 404)."
        )
    ).to_be_visible(timeout=SLOW)
    expect(page.get_by_text("What to do: It may have been removed")).to_be_visible()
    go_to(page, "Review queue")
    expect(page.get_by_test_id("stDataFrame")).to_be_visible(timeout=SLOW)
    assert_no_traceback(page)
    screenshot(page, "error-unknown-case")
