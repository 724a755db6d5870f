"""Models and Drift reports render from the APIs without a traceback (the drift
page's content has its own tests in test_drift_page.py)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.workbench import SLOW, assert_no_traceback, go_to, screenshot

pytestmark = pytest.mark.e2e


def test_models_page_shows_both_champions_with_their_metrics(signed_in: Page) -> None:
    page = signed_in
    go_to(page, "Models")

    expect(
        page.get_by_text(re.compile(r"^sentinel-fraud · version \d+"))
    ).to_be_visible(timeout=SLOW)
    expect(
        page.get_by_text(re.compile(r"^scout-recommender · version "))
    ).to_be_visible()
    expect(page.get_by_text("Evaluation on the held-out period")).to_be_visible()
    expect(page.get_by_text("Champion (served)")).to_be_visible()
    challenger_state = re.compile(
        r"^(No challenger registered for sentinel-fraud\.|Challenger \(not served\))$"
    )
    expect(page.get_by_text(challenger_state).first).to_be_visible()
    expect(page.get_by_text("Held-out evaluation: model and baselines")).to_be_visible()
    assert_no_traceback(page)
    screenshot(page, "models")


def test_drift_page_renders_without_a_traceback(signed_in: Page) -> None:
    page = signed_in
    go_to(page, "Drift reports")

    expect(page.get_by_text("Sentinel · scored transactions")).to_be_visible(
        timeout=SLOW
    )
    expect(page.get_by_text("This page hit an unexpected problem")).to_have_count(0)
    assert_no_traceback(page)
    screenshot(page, "drift-reports")
