"""Try it in a real browser: a finished lesson's hint starts its fix as the comparison run, then says if it worked."""

import re

from playwright.sync_api import Page, expect

from .conftest import screenshot, wait_for_chart_points

LESSON = "Squared error vs cross-entropy for classification"

# Names of the loss chart's traces (one pair per run: train and validation).
_TRACE_NAMES_JS = """
(selector) => {
  const el = document.querySelector(selector);
  return el && Array.isArray(el.data) ? el.data.map((t) => t.name || "") : [];
}
"""


def test_try_it_runs_the_fix_beside_the_run_and_reports_the_outcome(app_server: str, page: Page) -> None:
    """Lesson, Start, wait for the end, Try it on the hint, watch both runs overlaid, read the verdict line."""
    page.goto(f"{app_server}/train")
    page.wait_for_selector("[data-testid=stAppViewContainer]")
    box = page.locator("[data-testid=stSelectbox]").filter(has_text="Lesson").first
    box.click()
    page.get_by_role("option", name=LESSON).click()
    page.get_by_role("button", name="Load lesson").click()
    expect(page.get_by_text(f"Lesson: {LESSON}")).to_be_visible(timeout=30_000)
    page.get_by_role("button", name=re.compile("Start")).click()
    expect(page.get_by_text(re.compile(r"Run · completed"))).to_be_visible(timeout=120_000)

    # The finished run's hint about the loss has its button, drawn by the page (not by the feed's panel).
    button = page.locator(".st-key-try_mse_loss").get_by_role("button", name="Try it")
    expect(button).to_be_visible(timeout=30_000)
    expect(page.get_by_text("loss=cross_entropy").first).to_be_visible()
    button.click()
    # The comparison trains beside run A, overlaid on its charts, while the feed keeps the panel current.
    expect(page.get_by_text(re.compile(r"Run B · (queued|running|completed)"))).to_be_visible(timeout=60_000)
    wait_for_chart_points(page, "loss", 4, timeout=60)
    # The verdict: one line under the tried hint in the hints panel, delivered by the layer feed.
    verdict = page.locator(".tl-hint-verdict").get_by_text(
        re.compile(r"The fix worked: validation accuracy \d+% -> \d+%\.")
    )
    expect(verdict).to_be_visible(timeout=180_000)
    names = page.evaluate(_TRACE_NAMES_JS, ".st-key-loss .js-plotly-plot")
    assert any("loss=cross_entropy" in n for n in names), names
    # After the verdict the button is still there and usable; the page shows no exception.
    expect(button).to_be_enabled()
    expect(page.locator("[data-testid=stException]")).to_have_count(0)
    assert "cmp=" in page.url
    page.locator(".st-key-try_mse_loss").scroll_into_view_if_needed()
    screenshot(page, "train-try-fix")
