"""The Train page's network overview: a live diagram of the layers whose boxes pick the layer the charts focus on.

The figure is `lab.charts.overview.overview_spec`, carried in the layer feed's payload so it
follows the run without a rerun. A click on a box comes back through the live chart
component (Plotly's click event -> the component's `pick` trigger), and the page keeps the
picked layer in session state; the feed's URL carries it, so the per-layer charts then
arrive focused on that layer from the server.
"""

from __future__ import annotations

import streamlit as st

from lab.ui.live_chart import live_chart

FOCUS_KEY = "focus_layer"  # session state: the layer the per-layer charts focus on ("" or missing: all)


def focused_layer() -> str | None:
    """The layer picked in the overview, or None for all layers."""
    return st.session_state.get(FOCUS_KEY) or None


def pick(layer: str) -> None:
    """Focus the charts on `layer`; picking the focused layer (or the input box, '') again shows all layers."""
    st.session_state[FOCUS_KEY] = None if not layer or layer == focused_layer() else layer


def network_overview(fig: str, feed: dict | None, version: str) -> None:
    """Draw the overview; a click on a layer changes the focus and redraws the page once with it."""
    picked = live_chart(fig, "overview", feed, version, pickable=True)
    if picked is not None:
        pick(str(picked))
        st.rerun()
