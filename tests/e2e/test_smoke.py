"""Smoke test: the served app renders its home page in a real browser."""

from playwright.sync_api import Page, expect

from .conftest import screenshot


def test_home_page_renders(app_server: str, page: Page) -> None:
    """The home page loads, shows the Training Lab title and raises no exception."""
    page.goto(app_server)
    page.wait_for_selector("[data-testid=stAppViewContainer]")
    expect(page.locator("h1", has_text="Training Lab")).to_be_visible()
    expect(page).to_have_title("Training Lab")
    expect(page.locator("[data-testid=stException]")).to_have_count(0)
    screenshot(page, "smoke-home")
