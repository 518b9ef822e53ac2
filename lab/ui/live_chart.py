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

import streamlit as st

from lab.charts.style import figure_json

ROOT = Path(__file__).resolve().parents[2]
STATIC_DIR = ROOT / "static"  # next to app.py: Streamlit serves it at app/static/
# Located without importing plotly here: only lab.charts imports plotly.
PLOTLY_BUNDLE = Path(importlib.util.find_spec("plotly").origin).parent / "package_data" / "plotly.min.js"
CONFIG = {"displaylogo": False, "responsive": True}

_JS = Path(__file__).with_name("live_chart.js").read_text()
_mount = st.components.v2.component("training_lab.live_chart", js=_JS, isolate_styles=False)
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


def live_chart(fig, key: str) -> None:
    """Draw a Plotly figure under a stable key; later calls with the same key update it in place.

    Pages memoize figures that only change with a new snapshot; the JSON of such a figure
    is memoized here too (by identity), so an unchanged chart costs neither serialization
    nor a redraw: the browser sees the same data and does nothing.
    """
    ensure_plotly_bundle()
    cache = st.session_state.setdefault("_live_chart_json", {})
    held = cache.get(key)
    if held is not None and held[0] is fig:
        text = held[1]
    else:
        text = figure_json(fig)
        cache[key] = (fig, text)
    _mount(key=key, data={"figure": text, "config": CONFIG}, width="stretch", height="content")
