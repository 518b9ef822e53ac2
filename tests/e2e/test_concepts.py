"""Concept pages in a real browser: each opens, draws its main chart, and has no exception."""

import pytest
from playwright.sync_api import Page, expect

from .conftest import screenshot, wait_for_chart_points

PAGES = [
    ("activations", "act_curves"),
    ("initialization", "init_stats"),
    ("optimizers", "opt_paths"),
    ("schedules", "sched_curves"),
    ("preprocessing", "pre_cloud"),
    ("regularization", "reg_dropout"),
]


@pytest.mark.parametrize("path, key", PAGES)
def test_concept_page_draws_its_chart(app_server: str, page: Page, path: str, key: str) -> None:
    """The page renders and its main chart holds data."""
    page.goto(f"{app_server}/{path}")
    page.wait_for_selector("[data-testid=stAppViewContainer]")
    assert wait_for_chart_points(page, key, 1, timeout=90) >= 1
    expect(page.locator("[data-testid=stException]")).to_have_count(0)
    screenshot(page, f"concept-{path}")
