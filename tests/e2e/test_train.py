"""The live lab in a real browser: pick a lesson, Start, watch the loss chart grow, finish, reload the link."""

import re

from playwright.sync_api import Page, expect

from .conftest import count_chart_points, screenshot, wait_for_chart_points

LESSON = "Why XOR needs a hidden layer"


def _pick(page: Page, label: str, option: str) -> None:
    box = page.locator("[data-testid=stSelectbox]").filter(has_text=label).first
    box.click()
    page.get_by_role("option", name=option).click()


def test_lesson_start_watch_finish_and_reload(app_server: str, page: Page) -> None:
    """The whole path a teacher takes, ending with a link that restores config and run."""
    page.goto(f"{app_server}/train")  # a deep link as the server's first visit
    page.wait_for_selector("[data-testid=stAppViewContainer]")
    # app.py's top navigation is there, not the old pages/-folder sidebar list
    expect(page.get_by_text("Concepts", exact=True).first).to_be_visible(timeout=30_000)
    _pick(page, "Lesson", LESSON)
    page.get_by_role("button", name="Load lesson").click()
    expect(page.get_by_text(f"Lesson: {LESSON}")).to_be_visible(timeout=30_000)
    expect(page).to_have_url(re.compile(r"lesson=xor_needs_hidden"))
    # More epochs than the lesson, so there is time to see the chart grow while it trains; going through
    # the URL also checks that a link restores the lesson and its settings in a new session.
    page.goto(page.url.replace("epochs=30", "epochs=400"))
    expect(page.get_by_text(f"Lesson: {LESSON}")).to_be_visible(timeout=30_000)
    page.get_by_role("button", name=re.compile("Start")).click()
    first = wait_for_chart_points(page, "loss", 2, timeout=60)
    later = wait_for_chart_points(page, "loss", first + 5, timeout=60)
    assert later > first
    # The per-layer charts follow the run too, from the layer feed (no page rerun): scrolled into view,
    # the update-ratio chart gains points while the run trains; the hints panel is there beside them.
    expect(page.get_by_text("What the figures say")).to_be_visible(timeout=30_000)
    # The timeline slider is there while the run trains (its fragment reran once the run knew its length).
    expect(page.get_by_text(re.compile("layer histograms at any recorded step"))).to_be_visible(timeout=30_000)
    assert page.get_by_text(re.compile(r"Run · running")).count() == 1
    page.locator(".st-key-update_ratio").scroll_into_view_if_needed()
    ratio_first = wait_for_chart_points(page, "update_ratio", 1, timeout=30)
    wait_for_chart_points(page, "update_ratio", ratio_first + 1, timeout=30)
    page.locator(".st-key-loss").scroll_into_view_if_needed()
    screenshot(page, "train-live")
    expect(page.get_by_text(re.compile(r"Run · completed"))).to_be_visible(timeout=120_000)
    final_points = count_chart_points(page, "loss")
    wait_for_chart_points(page, "probe", 1, timeout=30)  # the decision boundary, from the layer feed
    screenshot(page, "train-finished")
    url = page.url
    assert "run=" in url and "depth=0" in url and "epochs=400" in url and "seed=" in url

    page.goto(url)
    page.wait_for_selector("[data-testid=stAppViewContainer]")
    expect(page.get_by_text(re.compile(r"Run · completed"))).to_be_visible(timeout=60_000)
    expect(page.get_by_text(f"Lesson: {LESSON}")).to_be_visible()
    assert wait_for_chart_points(page, "loss", final_points, timeout=60) == final_points
    expect(page.locator("[data-testid=stException]")).to_have_count(0)
    screenshot(page, "train-reloaded")
