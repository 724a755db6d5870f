"""Review: the queue, claim next, a decision that opens the next case and survives a
restart of the whole stack, and a bulk decision."""

from __future__ import annotations

import json
import re

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.workbench import (
    SCREENSHOTS,
    SLOW,
    Analyst,
    assert_no_traceback,
    heading,
    screenshot,
    select_table_rows,
)
from tests.stack import NativeStack

pytestmark = pytest.mark.e2e


def shown_case_id(page: Page) -> str:
    """The case id the Case page shows in its copyable code block."""
    code = page.get_by_test_id("stCode").first
    expect(code).to_contain_text("c_", timeout=SLOW)
    return code.inner_text().strip()


def api_case(stack: NativeStack, case_id: str) -> dict[str, object]:
    headers = {"X-API-Key": stack.settings["SENTINEL_API_KEY"]}
    response = httpx.get(
        f"{stack.url('sentinel')}/v1/cases/{case_id}", headers=headers, timeout=30
    )
    response.raise_for_status()
    return dict(response.json())


def test_the_queue_shows_counts_and_a_page_of_cases(
    signed_in: Page, review_cases: int
) -> None:
    page = signed_in

    expect(heading(page, "Review queue")).to_be_visible(timeout=SLOW)
    expect(page.get_by_test_id("stMetric").first).to_contain_text("Open")
    expect(page.get_by_test_id("stDataFrame")).to_be_visible(timeout=SLOW)
    expect(page.get_by_text(re.compile(r"Page 1 · \d+ shown"))).to_be_visible()
    assert_no_traceback(page)
    screenshot(page, "review-queue")


def test_a_resolved_case_opens_the_next_and_survives_a_stack_restart(
    signed_in: Page, native_stack: NativeStack, analyst: Analyst, review_cases: int
) -> None:
    page = signed_in
    page.get_by_role("button", name="Claim next case").click()
    expect(heading(page, "Case")).to_be_visible(timeout=SLOW)
    case_id = shown_case_id(page)
    expect(page.get_by_text("What moved the score")).to_be_visible(timeout=SLOW)
    expect(page.get_by_role("heading", name="Audit trail")).to_be_visible()
    screenshot(page, "case")

    page.get_by_label("Note").fill("e2e: the cardholder confirmed this purchase")
    page.get_by_role("button", name="Legitimate").click()

    done = f"Case {case_id}: Legitimate, by {analyst.name}. Next case opened."
    expect(page.get_by_text(done)).to_be_visible(timeout=SLOW)
    assert shown_case_id(page) != case_id
    assert_no_traceback(page)

    native_stack.stop()
    restart_s = native_stack.start()
    SCREENSHOTS.parent.mkdir(parents=True, exist_ok=True)
    (SCREENSHOTS.parent / "stack-restart.json").write_text(
        json.dumps({"second_start_s": round(restart_s, 1)})
    )

    decided = api_case(native_stack, case_id)
    assert decided["status"] == "closed"
    assert decided["decided_by"] == analyst.name
    page.goto(f"{native_stack.url('ui')}/case?case={case_id}")
    expect(page.get_by_text("Decided: Legitimate")).to_be_visible(timeout=SLOW)
    expect(page.get_by_text(f"by {analyst.name} on")).to_be_visible()
    # The decision's caption, not the audit trail's grid cell with the same note
    # (the grid exposes its cells to the page only some of the time).
    note = f"Note from {analyst.name}: e2e: the cardholder confirmed this purchase"
    expect(page.get_by_text(note)).to_be_visible()
    screenshot(page, "case-after-restart")


def test_a_bulk_decision_closes_every_selected_case(
    signed_in: Page, native_stack: NativeStack, analyst: Analyst, review_cases: int
) -> None:
    page = signed_in
    select_table_rows(page, [0, 1])
    expect(page.get_by_text("2 selected")).to_be_visible(timeout=SLOW)
    chosen = page.get_by_text(re.compile(r"^Selected: ")).inner_text()
    case_ids = chosen.removeprefix("Selected: ").split(", ")

    form = page.get_by_test_id("stForm")
    form.get_by_text("Confirmed fraud").click()
    form.get_by_label("Note (recorded on each case)").fill("e2e: one ring, two cards")
    form.get_by_role("button", name=f"Apply to 2 case(s) as {analyst.name}").click()

    expect(page.get_by_text("2 case(s) decided as Confirmed fraud.")).to_be_visible(
        timeout=SLOW
    )
    for case_id in case_ids:
        case = api_case(native_stack, case_id)
        assert (case["status"], case["outcome"]) == ("closed", "confirmed_fraud")
        assert case["decided_by"] == analyst.name
    assert_no_traceback(page)
    screenshot(page, "bulk-decision")
