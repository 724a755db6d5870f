"""Recommendations: a user's list, a what-if that changes it and shows the difference,
similar items and semantic search."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.workbench import SLOW, assert_no_traceback, go_to, screenshot
from tests.stack import NativeStack

pytestmark = pytest.mark.e2e


def metric_number(page: Page, label: str) -> int:
    metric = page.get_by_test_id("stMetric").filter(
        has=page.get_by_text(label, exact=True)
    )
    return int(metric.get_by_test_id("stMetricValue").inner_text().strip())


def pick_first_option(page: Page, label: str) -> str:
    """Open a multiselect by its label and pick its first option; returns its text."""
    box = page.get_by_test_id("stMultiSelect").filter(
        has=page.get_by_text(label, exact=True)
    )
    box.click()
    option = page.get_by_role("option").filter(has_not_text="Select all").first
    expect(option).to_be_visible(timeout=SLOW)
    text = option.inner_text()
    option.click()
    page.keyboard.press("Escape")
    return text


def top_recommendation(stack: NativeStack) -> str:
    """The title of the first recommendation of the most active user (the page's
    default user), straight from Scout."""
    headers = {"X-API-Key": stack.settings["SCOUT_API_KEY"]}
    with httpx.Client(base_url=stack.url("scout"), headers=headers) as scout:
        user = scout.get("/v1/users", params={"limit": 1}).json()["users"][0]
        path = f"/v1/users/{user['user_id']}/recommendations"
        return str(scout.get(path, params={"k": 10}).json()["items"][0]["title"])


def test_disliking_the_top_item_changes_the_list_and_shows_the_difference(
    signed_in: Page, native_stack: NativeStack
) -> None:
    page = signed_in
    go_to(page, "Recommendations")
    expect(page.get_by_role("heading", name="Recommended now")).to_be_visible(
        timeout=SLOW
    )
    expect(page.get_by_role("heading", name=re.compile("^History of "))).to_be_visible()
    screenshot(page, "recommendations")

    top_title = top_recommendation(native_stack)
    disliked = pick_first_option(page, "Dislike")
    page.get_by_role("button", name="Show the what-if list").click()

    expect(page.get_by_text("What-if list", exact=True)).to_be_visible(timeout=SLOW)
    expect(page.get_by_text("Current list", exact=True)).to_be_visible()
    assert metric_number(page, "Entered") >= 1
    assert metric_number(page, "Left") >= 1
    expect(page.get_by_text(re.compile(r"0 liked, 1 disliked\)"))).to_be_visible()
    assert disliked.startswith(top_title)
    assert_no_traceback(page)
    screenshot(page, "recommendations-what-if")


def test_a_search_returns_items_and_similar_items_follow(signed_in: Page) -> None:
    page = signed_in
    go_to(page, "Recommendations")
    page.get_by_role("tab", name="Search").click()
    query = page.get_by_label("Search the catalogue")
    query.fill("wireless headphones")
    query.press("Enter")

    expect(
        page.get_by_text(re.compile(r"^\d+ items · words understood: "))
    ).to_be_visible(timeout=SLOW)
    expect(page.get_by_test_id("stDataFrame").filter(visible=True)).not_to_have_count(0)
    screenshot(page, "search")

    page.get_by_role("tab", name="Similar items").click()
    page.get_by_test_id("stSelectbox").filter(
        has=page.get_by_text("An item shown on this page", exact=True)
    ).click()
    page.get_by_role("option").nth(1).click()  # the first is "none"
    expect(page.get_by_text(re.compile(r"^Items like "))).to_be_visible(timeout=SLOW)
    assert_no_traceback(page)
    screenshot(page, "similar-items")
