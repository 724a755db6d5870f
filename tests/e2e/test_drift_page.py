"""The drift page on a fresh stack: the bootstrap's calm and drifted Sentinel
reports are listed, the trend chart marks them, and Evidently's report opens inline
(drift monitoring, issue 7)."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.workbench import SLOW, assert_no_traceback, go_to, screenshot
from tests.stack import NativeStack

pytestmark = pytest.mark.e2e


def sentinel_reports(stack: NativeStack) -> list[dict[str, object]]:
    response = httpx.get(
        f"{stack.url('sentinel')}/v1/drift/reports",
        headers={"X-API-Key": stack.settings["SENTINEL_API_KEY"]},
        timeout=30,
    )
    response.raise_for_status()
    return list(response.json()["reports"])


def test_the_bootstrap_left_a_calm_and_a_drifted_sentinel_report(
    native_stack: NativeStack,
) -> None:
    reports = sentinel_reports(native_stack)
    verdicts = sorted(bool(report["dataset_drift"]) for report in reports)
    assert verdicts == [False, True], reports
    drifted = next(r for r in reports if r["dataset_drift"])
    columns = {c["column"] for c in drifted["drifted_columns"]}  # type: ignore[attr-defined]
    assert {"amount", "terminal_new_for_customer", "score"} <= columns


def test_the_page_lists_reports_plots_the_trend_and_shows_evidently(
    signed_in: Page, native_stack: NativeStack
) -> None:
    reports = sentinel_reports(native_stack)
    calm = next(r for r in reports if not r["dataset_drift"])
    page = signed_in
    go_to(page, "Drift reports")

    table = page.get_by_test_id("stDataFrame").first
    expect(table).to_be_visible(timeout=SLOW)
    expect(page.get_by_text("Drifted windows")).to_be_visible()
    # The newest window (the shifted day) opens first, as drifted.
    expect(page.get_by_text(re.compile(r"^Drifted window "))).to_be_visible()
    chart = page.get_by_test_id("stPlotlyChart").first
    expect(chart).to_be_visible()
    expect(chart.locator(".scatterlayer .point")).to_have_count(len(reports))
    report = page.frame_locator("iframe[title='st.iframe']").first
    expect(report.locator("#drift-summary")).to_be_visible(timeout=SLOW)
    expect(report.get_by_text("Sentinel drift")).to_be_visible()
    expect(report.get_by_text("Confirmed fraud rate")).to_be_visible()
    assert_no_traceback(page)
    screenshot(page, "drift-reports-drifted")

    page.get_by_label("Open report").click()
    page.get_by_role("option", name=re.compile(str(calm["report_id"]))).click()
    expect(page.get_by_text(re.compile(r"^Calm window "))).to_be_visible(timeout=SLOW)
    expect(report.get_by_text("Sentinel drift")).to_be_visible(timeout=SLOW)
    assert_no_traceback(page)
    screenshot(page, "drift-reports-calm")
    page.locator("iframe[title='st.iframe']").first.scroll_into_view_if_needed()
    screenshot(page, "drift-reports-evidently")


def test_the_page_shows_scout_reports_too(signed_in: Page) -> None:
    page = signed_in
    go_to(page, "Drift reports")
    page.get_by_text("Scout · interactions and recommendations").click()
    expect(page.get_by_text("Catalogue coverage of top-10 lists").first).to_be_visible(
        timeout=SLOW
    )
    report = page.frame_locator("iframe[title='st.iframe']").first
    expect(report.get_by_text("Scout drift")).to_be_visible(timeout=SLOW)
    assert_no_traceback(page)
    screenshot(page, "drift-reports-scout")
