"""Sign-in with a named analyst, a reload keeps it, signing out ends it."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.workbench import (
    SLOW,
    Analyst,
    assert_no_traceback,
    screenshot,
    session_cookie,
    sign_in,
)
from tests.stack import NativeStack
from tests.support import wait_until

pytestmark = pytest.mark.e2e


def test_a_wrong_password_is_refused(
    page: Page, native_stack: NativeStack, analyst: Analyst
) -> None:
    page.goto(native_stack.url("ui"))
    page.get_by_label("Analyst").fill(analyst.name)
    page.get_by_label("Password", exact=True).fill(analyst.password + "-wrong")
    page.get_by_role("button", name="Sign in").click()

    expect(page.get_by_text("Unknown analyst or wrong password")).to_be_visible(
        timeout=SLOW
    )
    expect(page.get_by_text("Signed in as")).to_have_count(0)
    expect(page.get_by_role("link", name="Review queue")).to_have_count(0)
    screenshot(page, "sign-in-refused")


def test_sign_in_survives_a_reload_and_sign_out_ends_it(
    page: Page, native_stack: NativeStack, analyst: Analyst
) -> None:
    sign_in(page, native_stack.url("ui"), analyst)
    assert session_cookie(page) is not None
    page.reload()
    expect(page.get_by_text(f"Signed in as {analyst.name}")).to_be_visible(timeout=SLOW)

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible(timeout=SLOW)
    wait_until(lambda: session_cookie(page) is None, SLOW / 1000, "cookie deleted")
    page.reload()

    expect(page.get_by_role("button", name="Sign in")).to_be_visible(timeout=SLOW)
    expect(page.get_by_text("Signed in as")).to_have_count(0)
    assert_no_traceback(page)
    screenshot(page, "sign-in")


def test_a_link_to_a_page_opens_it_after_signing_in(
    page: Page, native_stack: NativeStack, analyst: Analyst
) -> None:
    page.goto(f"{native_stack.url('ui')}/models")
    page.get_by_label("Analyst").fill(analyst.name)
    page.get_by_label("Password", exact=True).fill(analyst.password)
    page.get_by_role("button", name="Sign in").click()

    expect(page.get_by_role("heading", name="Models", exact=True)).to_be_visible(
        timeout=SLOW
    )
    expect(page.get_by_text("Page not found")).to_have_count(0)


def test_no_page_opens_without_sign_in_even_on_a_fresh_server(
    page: Page, second_workbench: str
) -> None:
    # The first request a new workbench server gets names a page directly.
    page.goto(f"{second_workbench}/recommendations")

    expect(page.get_by_role("button", name="Sign in")).to_be_visible(timeout=SLOW)
    expect(page.get_by_role("heading", name="Recommendations")).to_have_count(0)
    expect(page.get_by_test_id("stSidebarNav")).to_have_count(0)
