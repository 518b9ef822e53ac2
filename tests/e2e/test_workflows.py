"""Workflow pages in a real browser: the babysitting recipe's first two steps and a 4-trial search."""

import re

from playwright.sync_api import Page, expect

from .conftest import screenshot, wait_for_chart_points


def _click(page: Page, key: str) -> None:
    page.locator(f".st-key-{key} button").click()


def test_babysitting_first_two_steps(app_server: str, page: Page) -> None:
    """Step 1 checks the initial loss against ln(C); step 2 overfits five batches to 100%."""
    page.goto(f"{app_server}/babysitting")
    page.wait_for_selector("[data-testid=stAppViewContainer]")
    _click(page, "babysit_step1")
    # The first call may wait for the workers to finish warming up on a fresh server.
    expect(page.get_by_text(re.compile(r"Step 1 passed"))).to_be_visible(timeout=120_000)
    _click(page, "babysit_step2")
    expect(page.get_by_text(re.compile(r"Step 2 passed"))).to_be_visible(timeout=180_000)
    assert wait_for_chart_points(page, "babysit_overfit", 2, timeout=30) >= 2
    expect(page.locator("[data-testid=stException]")).to_have_count(0)
    screenshot(page, "babysitting-steps-1-2")


def test_four_trial_search(app_server: str, page: Page) -> None:
    """A 4-trial search runs to the end and draws its scatter."""
    page.goto(f"{app_server}/search")
    page.wait_for_selector("[data-testid=stAppViewContainer]")
    budget = page.locator(".st-key-search_budget input")
    expect(budget).to_have_value("4")
    _click(page, "search_start")
    expect(page.get_by_text(re.compile(r"Trial 4 of 4 done"))).to_be_visible(timeout=240_000)
    assert wait_for_chart_points(page, "search_scatter", 4, timeout=60) >= 4
    expect(page.locator("[data-testid=stException]")).to_have_count(0)
    screenshot(page, "search-4-trials")
