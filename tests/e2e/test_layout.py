"""Charts clean enough to project: no legend, title or tick label on top of another, none cut off.

One finished run of every model kind (MLP on digits, CNN on shapes, MLP on spiral), each drawn at
1440x900 and 1024x768, in normal and presenter mode. Every chart's title, axis titles, tick labels
and legend are read from its SVG (layout_boxes.js) after the chart has been scrolled into view
(charts out of view are drawn only when they come into view). The runs are trained once, at full
speed, and reused for every viewport.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from .conftest import screenshot

BOXES_JS = (Path(__file__).with_name("layout_boxes.js")).read_text()
RUNS = {
    "mlp-digits": {"dataset": "digits", "model": "mlp", "epochs": "2"},
    "cnn-shapes": {"dataset": "shapes", "model": "cnn", "epochs": "1"},
    "mlp-spiral": {"dataset": "spiral", "model": "mlp", "depth": "3", "width": "32", "epochs": "10"},
}
VIEWPORTS = [(1440, 900), (1024, 768)]


def _query(params: dict) -> str:
    return "&".join(f"{k}={v}" for k, v in params.items())


def _finish(page: Page, base: str, params: dict) -> str:
    """Train one run at full speed from the Train page; return its run id once it has completed."""
    page.goto(f"{base}/train?{_query({**params, 'speed': 'max'})}")
    page.wait_for_selector("[data-testid=stAppViewContainer]")
    page.get_by_role("button", name=re.compile("Start")).first.click()
    expect(page.get_by_text(re.compile(r"Run · completed"))).to_be_visible(timeout=180_000)
    match = re.search(r"[?&]run=([\w-]+)", page.url)
    assert match, f"no run id in {page.url}"
    return match.group(1)


def _draw_every_chart(page: Page) -> int:
    """Scroll each live chart into view and wait until Plotly has drawn it; returns how many there are."""
    charts = page.locator(".tl-live-chart")
    n = charts.count()
    for i in range(n):
        chart = charts.nth(i)
        chart.scroll_into_view_if_needed()
        chart.locator(".main-svg").first.wait_for(state="attached", timeout=30_000)
    page.wait_for_timeout(300)  # responsive relayout after the last resize settles
    return n


_TITLE_JS = """
() => {
  const h1 = document.querySelector("h1");
  const header = document.querySelector("[data-testid=stHeader]");
  if (!h1) return "no page title";
  const top = h1.getBoundingClientRect().top;
  const bar = header ? header.getBoundingClientRect().bottom : 0;
  if (top >= bar - 1) return "";
  return `page title starts at ${top.toFixed(0)} px, under the top bar ending at ${bar.toFixed(0)} px`;
}
"""


@pytest.fixture(scope="module")
def finished_runs(browser: Browser, app_server: str):
    """A browser context that owns one finished run of every model kind: (context, {kind: run id})."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.set_default_timeout(60_000)
    ids = {kind: _finish(page, app_server, params) for kind, params in RUNS.items()}
    page.close()
    yield context, ids
    context.close()


@pytest.mark.parametrize("presenter", [False, True], ids=["normal", "presenter"])
@pytest.mark.parametrize("viewport", VIEWPORTS, ids=[f"{w}x{h}" for w, h in VIEWPORTS])
def test_no_chart_text_overlaps_or_is_cut_off(finished_runs, app_server: str, viewport, presenter: bool) -> None:
    """Every chart of every finished run: legend, titles and tick labels apart and inside their chart."""
    context, ids = finished_runs
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.set_viewport_size({"width": viewport[0], "height": viewport[1]})
    problems = []
    try:
        for kind, run_id in ids.items():
            params = {**RUNS[kind], "speed": "max", "run": run_id, "present": "1" if presenter else "0"}
            page.goto(f"{app_server}/train?{_query(params)}")
            expect(page.get_by_text(re.compile(r"Run · completed"))).to_be_visible(timeout=60_000)
            title = page.evaluate(_TITLE_JS)  # before scrolling: the page as it opens
            if title:
                problems.append(f"{kind}: {title}")
            n = _draw_every_chart(page)
            assert n >= 8, f"{kind}: only {n} live charts on the page"
            for chart in page.evaluate(BOXES_JS, None):
                problems += [f"{kind} · {chart['key']} ({chart['width']:.0f} px wide): {p}" for p in chart["problems"]]
            if problems:
                screenshot(page, f"layout-{kind}-{viewport[0]}-{'presenter' if presenter else 'normal'}")
    finally:
        page.close()
    assert not problems, "\n".join(problems)


_HEATMAP_ROWS_JS = """
(selector) => {
  const el = document.querySelector(selector);
  return el && Array.isArray(el.data) ? el.data.filter((t) => t.type === "heatmap").map((t) => t.name) : null;
}
"""


def test_clicking_a_layer_in_the_overview_focuses_the_per_layer_charts(finished_runs, app_server: str) -> None:
    """A click on a box in the network overview narrows the histograms to that layer; a second click undoes it."""
    context, ids = finished_runs
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        page.goto(f"{app_server}/train?{_query({**RUNS['mlp-spiral'], 'run': ids['mlp-spiral']})}")
        expect(page.get_by_text(re.compile(r"Run · completed"))).to_be_visible(timeout=60_000)
        _draw_every_chart(page)
        grid = ".st-key-act_hist .js-plotly-plot"
        page.wait_for_function(f"() => ({_HEATMAP_ROWS_JS})({grid!r})?.length === 3")
        for expected in (["fc2"], ["fc1", "fc2", "fc3"]):  # focus on fc2, then click it again: all layers
            box = page.locator(".st-key-overview .js-plotly-plot .point").nth(2)  # input, fc1, fc2, ...
            box.scroll_into_view_if_needed()
            r = box.bounding_box()
            x, y = r["x"] + r["width"] / 2, r["y"] + r["height"] / 2
            page.mouse.move(x, y)
            # Plotly clicks the point under its latest hover: wait until the hover label is there.
            page.locator(".st-key-overview .hoverlayer .hovertext").first.wait_for(timeout=10_000)
            page.mouse.click(x, y)
            try:
                rows = f"({_HEATMAP_ROWS_JS})({grid!r})"
                page.wait_for_function(f"(want) => JSON.stringify({rows}) === JSON.stringify(want)", arg=expected)
            except PlaywrightTimeoutError:
                screenshot(page, "overview-click")
                seen = page.evaluate(_HEATMAP_ROWS_JS, grid)
                raise AssertionError(f"after clicking fc2 the activation grid shows {seen}, not {expected}") from None
    finally:
        page.close()
