"""What-if scoring: an edit of a case's payment moves its score and reasons, measured
from the case's snapshot; a blank payment can be scored and edited too."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.workbench import (
    SLOW,
    assert_no_traceback,
    heading,
    screenshot,
    wait_idle,
)
from tests.stack import NativeStack

pytestmark = pytest.mark.e2e


def an_open_case(stack: NativeStack) -> dict[str, object]:
    headers = {"X-API-Key": stack.settings["SENTINEL_API_KEY"]}
    response = httpx.get(
        f"{stack.url('sentinel')}/v1/cases",
        params={"status": "open", "sort": "score", "limit": 1},
        headers=headers,
        timeout=30,
    )
    response.raise_for_status()
    return dict(response.json()["items"][0])


def metric_value(page: Page, label: str) -> str:
    metric = page.get_by_test_id("stMetric").filter(has_text=label)
    return metric.get_by_test_id("stMetricValue").inner_text().strip()


def test_editing_the_amount_of_a_case_changes_its_score(
    signed_in: Page, native_stack: NativeStack, review_cases: int
) -> None:
    page = signed_in
    case = an_open_case(native_stack)
    page.goto(f"{native_stack.url('ui')}/what_if?case={case['case_id']}")
    expect(heading(page, "What-if scoring")).to_be_visible(timeout=SLOW)
    expect(page.get_by_text("Edited score")).to_be_visible(timeout=SLOW)
    # From a case the base is its snapshot: unedited, the case's own score.
    before = metric_value(page, "Case score when opened")
    assert metric_value(page, "Edited score") == before
    assert metric_value(page, "Base") == "case snapshot"
    expect(page.get_by_role("textbox", name="Terminal")).to_be_disabled()

    amount = page.get_by_label(re.compile(r"^Amount \("))
    amount.fill("3.50")
    amount.press("Enter")

    edited = page.get_by_test_id("stMetric").filter(has_text="Edited score")
    expect(edited.get_by_test_id("stMetricDelta")).not_to_have_text(
        re.compile(r"^\s*[+-]?0\.0 points\s*$"), timeout=SLOW
    )
    assert metric_value(page, "Edited score") != before
    # Until the run ends, the chart drawn before the edit may still be on the page
    # beside the new one (two titles: a strict-mode violation).
    wait_idle(page)
    expect(page.get_by_text("Features the edit changed")).to_be_visible()
    expect(page.get_by_text("Reasons before and after")).to_be_visible()
    expect(page.get_by_text("Reasons moving most")).to_be_visible()
    assert_no_traceback(page)
    screenshot(page, "what-if")


def test_a_blank_payment_can_be_scored_and_edited(signed_in: Page) -> None:
    page = signed_in
    page.get_by_test_id("stSidebarNav").get_by_role(
        "link", name="What-if scoring"
    ).click()
    page.get_by_text("A blank payment").click()
    expect(page.get_by_text("Edited score")).to_be_visible(timeout=SLOW)
    before = metric_value(page, "Edited score")

    terminal = page.get_by_label("Terminal")
    terminal.fill("T-SOMEWHERE-ELSE")
    terminal.press("Enter")
    amount = page.get_by_label(re.compile(r"^Amount \("))
    amount.fill("2500")
    amount.press("Enter")

    expect(
        page.get_by_test_id("stMetric")
        .filter(has_text="Edited score")
        .get_by_test_id("stMetricValue")
    ).not_to_have_text(before, timeout=SLOW)
    assert_no_traceback(page)
    screenshot(page, "what-if-blank")
