"""Plotly figure builders for the app; only lab/charts/ imports plotly.

Every builder is pure (plain dicts and lists in, `go.Figure` out) and never imports
streamlit, so charts are tested without a browser. `style` holds the palette and
layout helpers shared by all chart modules; `live` draws the Train page. Import the
submodule you need: this package re-exports nothing so that importing it stays cheap.
"""
