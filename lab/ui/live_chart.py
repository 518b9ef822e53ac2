"""Live charts: Plotly figures that stay mounted in the browser and are updated in place.

Why not `st.plotly_chart` for the Train page: its element id hashes the figure, so each
poll of a running training job replaces the chart with a new one and Plotly builds it from
scratch. Measured on this 2-core machine with one loss chart polled twice a second, that
kept Chromium's main thread about 60% busy and slowed the training worker beside it.
This module mounts a small `st.components.v2` component under a stable key; its script
(`live_chart.js`) hands each new figure to `Plotly.react` on the same element, which only
redraws what changed. The figures themselves are the same `lab.charts` builders, and the
Plotly modebar (PNG export included) is unchanged.

Plotly's browser bundle ships with the `plotly` Python package; it is copied once into the
app's `static/` folder, which Streamlit serves (`server.enableStaticServing`), so charts work
offline and are cached by the browser after the first page.
"""

from __future__ import annotations

import importlib.util
import shutil
import threading
from pathlib import Path
from urllib.parse import urlencode

import streamlit as st

from lab.charts.style import figure_json
from lab.ui.live_routes import FEED_PATH

ROOT = Path(__file__).resolve().parents[2]
STATIC_DIR = ROOT / "static"  # next to app.py: Streamlit serves it at app/static/
# Located without importing plotly here: only lab.charts imports plotly.
PLOTLY_BUNDLE = Path(importlib.util.find_spec("plotly").origin).parent / "package_data" / "plotly.min.js"
CONFIG = {"displaylogo": False, "responsive": True}

_JS = Path(__file__).with_name("live_chart.js").read_text()
# The status line's look; the charts are styled by their figures.
_CSS = """
.tl-status-line { line-height: 1.6; }
.tl-progress { height: 0.35rem; margin: 0.15rem 0 0.5rem; border-radius: 0.2rem; background: #E6E9EF; }
.tl-hints p { margin: 0 0 0.6rem; line-height: 1.5; }
.tl-hint-empty { opacity: 0.65; font-size: 0.875rem; }
.tl-hints p.tl-hint-verdict { margin-top: -0.4rem; padding-left: 0.6rem; border-left: 3px solid #009E73; }
.tl-progress > div { height: 100%; border-radius: 0.2rem; background: var(--st-primary-color, #0072B2); }
/* A row of charts wraps instead of squeezing them: a chart narrower than 12rem cannot show its titles,
   legend and tick labels apart (tests/e2e/test_layout.py). The timeline's bar grids need more room. */
[data-testid="stHorizontalBlock"]:has(.tl-live-chart) { flex-wrap: wrap; }
[data-testid="stColumn"]:has(.tl-live-chart) { min-width: min(100%, 12rem) !important; }
[data-testid="stColumn"]:has(.st-key-timeline_act, .st-key-timeline_weights) { min-width: min(100%, 28rem) !important; }
"""
_mount = st.components.v2.component("training_lab.live_chart", js=_JS, css=_CSS, isolate_styles=False)
_asset_lock = threading.Lock()
_asset_ready = False


def ensure_plotly_bundle() -> Path:
    """Copy plotly.min.js into static/ when missing or stale (cheap no-op afterwards); returns its path."""
    global _asset_ready
    target = STATIC_DIR / PLOTLY_BUNDLE.name
    with _asset_lock:
        if _asset_ready:
            return target
        src = PLOTLY_BUNDLE.stat()
        if not target.exists() or target.stat().st_size != src.st_size:
            STATIC_DIR.mkdir(exist_ok=True)
            tmp = target.with_suffix(".tmp")
            shutil.copyfile(PLOTLY_BUNDLE, tmp)
            tmp.replace(target)  # atomic: a browser never fetches half a file
        _asset_ready = True
    return target


def _feed_data(feed: dict | None, version: str) -> dict:
    return {"feed": feed, "version": version} if feed else {}


def live_chart(fig, key: str, feed: dict | None = None, version: str = "", pickable: bool = False):
    """Draw a Plotly figure (object, spec dict or JSON text) under a stable key; later calls update it in place.

    With `feed` (see `feed_spec`), the chart then polls the server's live route for newer
    versions of itself between Streamlit runs. Pages memoize figures that only change
    with a new snapshot; the JSON of such a figure is memoized here too (by identity), so
    an unchanged chart costs neither serialization nor a redraw. With `pickable`, a click on
    a point reruns the page and this call returns the point's `customdata` (else None).
    """
    ensure_plotly_bundle()
    if isinstance(fig, str):
        text = fig
    else:
        cache = st.session_state.setdefault("_live_chart_json", {})
        held = cache.get(key)
        if held is not None and held[0] is fig:
            text = held[1]
        else:
            text = figure_json(fig)
            cache[key] = (fig, text)
    data = {"figure": text, "config": CONFIG, "name": key, **_feed_data(feed, version)}
    if not pickable:
        _mount(key=key, data=data, width="stretch", height="content")
        return None
    result = _mount(
        key=key, data={**data, "pickable": True}, width="stretch", height="content", on_pick_change=lambda: None
    )
    return getattr(result, "pick", None)


def live_status(runs: list[dict], mine: list[bool], key: str, feed: dict | None = None, version: str = "") -> None:
    """The runs' status lines and progress bars; with `feed`, kept current from the live route.

    The page reruns once when the feed reports that no run is active (`ended`).
    """
    data = {"kind": "status", "runs": runs, "mine": mine, **_feed_data(feed, version)}
    _mount(key=key, data=data, width="stretch", height="content", on_ended_change=lambda: None)


def live_waiter(key: str, feed: dict, version: str) -> None:
    """An invisible component that reruns its fragment once the layers feed reports the run's number of steps.

    Placed in the timeline fragment: a run drawn before its worker took it up does not know its
    length yet, and only that fragment (not the whole page) needs to be drawn again when it does.
    """
    _mount(
        key=key, data={"kind": "waiter", **_feed_data(feed, version)}, height="content", on_ready_change=lambda: None
    )


def live_hints(hints: list[dict], key: str, feed: dict | None = None, version: str = "") -> None:
    """The diagnosis panel (lab.serving.live.layers.run_hints); with `feed`, kept current from the layers route."""
    data = {"kind": "hints", "hints": hints, **_feed_data(feed, version)}
    _mount(key=key, data=data, width="stretch", height="content")


def feed_spec(
    run_ids: list[str],
    presenter: bool,
    interval_s: float,
    active: bool,
    path: str = FEED_PATH,
    focus: str | None = None,
) -> dict:
    """What a live component needs to poll a live route: its URL, the poll interval and whether to poll at all."""
    query = urlencode({"runs": ",".join(run_ids), "presenter": int(presenter), **({"focus": focus} if focus else {})})
    return {"url": f"{path.lstrip('/')}?{query}", "interval_ms": round(interval_s * 1000), "active": active}
