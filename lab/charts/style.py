"""Shared look of every chart: palette, layout, empty states, downsampling, presenter mode.

Concept and workflow charts reuse these helpers so that a layer, a class or a run has
the same colour on every page. Colours are explicit on traces only; backgrounds and
grid lines are left to the active template, so Streamlit's light and dark themes both
work. Presenter mode is one post-processing function, `presenter_layout(fig)`, rather
than a `font_scale` argument on every builder: builders stay simple and a page can
switch a finished (even memoized) figure to projector size.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go
from plotly.utils import PlotlyJSONEncoder

# Okabe & Ito's colour-blind-safe palette, black left out because it vanishes on a dark
# theme, and ordered so the first colours (most charts use only two or three) are the
# most distinct; yellow comes last because thin yellow lines are hard to see on white.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#E69F00", "#56B4E9", "#CC79A7", "#F0E442")
NEUTRAL = "#7F7F7F"  # reference lines and names no palette slot belongs to
HEATMAP_SCALE = "Viridis"  # perceptually uniform and readable with colour-vision deficiency

DEFAULT_HEIGHT = 320  # px: two charts side by side on a laptop still show their detail
BASE_FONT = 13  # px; presenter_layout scales every font from here
TITLE_FONT = 15
MARGIN = {"l": 60, "r": 16, "t": 44, "b": 48}  # compact: the title on top, tick labels and axis titles
MAX_POINTS = 500  # per trace, from DESIGN.md: more points cost JSON without showing more
SIG_DIGITS = 4  # significant digits kept in figure JSON: far below what a chart can show


# The look of figures drawn by the live chart component (lab.ui.live_chart), which bypasses
# st.plotly_chart and so Streamlit's own Plotly theme: transparent backgrounds on the app's
# light theme, its text colour and font, quiet grid lines. Small on purpose: it travels with
# every figure, where plotly's default template would add about 8 KB of JSON per chart.
APP_TEMPLATE = {
    "layout": {
        "font": {"family": '"Source Sans", "Source Sans Pro", sans-serif', "color": "#31333F"},
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "colorway": list(PALETTE),
        "hoverlabel": {"font": {"family": '"Source Sans", "Source Sans Pro", sans-serif'}},
        "xaxis": {"gridcolor": "#E6E9EF", "linecolor": "#D5DAE5", "zerolinecolor": "#D5DAE5", "automargin": True},
        # ticklabelstandoff: room between the y axis' lowest label and the x axis' first one in the corner.
        "yaxis": {"gridcolor": "#E6E9EF", "linecolor": "#D5DAE5", "zerolinecolor": "#D5DAE5", "automargin": True,
                  "ticklabelstandoff": 5},
    }
}


def figure_json(fig: go.Figure | dict) -> str:
    """A figure (or a plain spec dict) as Plotly JSON with APP_TEMPLATE as its template; the input is not changed."""
    spec = dict(fig) if isinstance(fig, dict) else fig.to_plotly_json()
    spec["layout"] = dict(spec.get("layout", {}), template=APP_TEMPLATE)
    return json.dumps(spec, cls=PlotlyJSONEncoder, separators=(",", ":"))


# ---- colours ---------------------------------------------------------------------


def layer_color(name: str, names: Sequence[str]) -> str:
    """The colour of `name` by its position in `names` (cycling the palette); grey if it is not listed."""
    try:
        return PALETTE[list(names).index(name) % len(PALETTE)]
    except ValueError:
        return NEUTRAL


def run_color(i: int) -> str:
    """The colour of the i-th run in a comparison (run A, run B, ...)."""
    return PALETTE[i % len(PALETTE)]


def class_color(k: int) -> str:
    """The colour of class k (decision boundaries, scatter points)."""
    return PALETTE[k % len(PALETTE)]


def rgba(color: str, alpha: float) -> str:
    """A '#RRGGBB' colour as an 'rgba(r,g,b,a)' string."""
    h = color.lstrip("#")
    r, g, b = (int(h[i:i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha:g})"


def param_layer(param: str) -> str:
    """The layer a readable parameter name belongs to: 'fc1.weight' -> 'fc1'."""
    return param.rsplit(".", 1)[0]


def colour_names(meta: dict) -> list[str]:
    """Layer names in depth order, then any other parameter owners (the output layer): the order colours follow."""
    names = list(meta.get("layers", []))
    for p in meta.get("params", []):
        owner = param_layer(p)
        if owner not in names:
            names.append(owner)
    return names


def param_color(param: str, meta: dict) -> str:
    """A parameter's colour: the colour of the layer that owns it, so weights and activations match."""
    return layer_color(param_layer(param), colour_names(meta))


# ---- numbers -----------------------------------------------------------------------


def finite(v: Any) -> float | None:
    """`v` as a float, or None when missing, NaN or infinite (Plotly draws None as a gap)."""
    if v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def sig(v: Any, digits: int = SIG_DIGITS) -> float | None:
    """`v` rounded to `digits` significant digits (None stays None): keeps figure JSON small."""
    f = finite(v)
    return None if f is None else float(f"{f:.{digits}g}")


def sigs(values: Sequence[Any], digits: int = SIG_DIGITS) -> list[float | None]:
    """`sig` over a sequence."""
    return [sig(v, digits) for v in values]


def even_indices(length: int, n: int) -> list[int]:
    """At most n indices into a sequence of `length`, evenly spaced, always including the first and last."""
    if length <= n:
        return list(range(length))
    if n <= 1:
        return [length - 1] if n == 1 else []
    return sorted({round(i * (length - 1) / (n - 1)) for i in range(n)})


def downsample(xs: Sequence[Any], ys: Sequence[Any], n: int = MAX_POINTS) -> tuple[list, list]:
    """At most n (x, y) pairs taken from the input: first, last, and each bucket's min and max.

    Min/max buckets (rather than every k-th point) keep spikes visible, and a loss spike
    is exactly what a student should see. Missing or non-finite y values never win a
    bucket; a bucket with nothing finite keeps its first point, so gaps stay gaps.
    """
    m = len(xs)
    if len(ys) != m:
        raise ValueError(f"xs and ys differ in length: {m} != {len(ys)}")
    if m <= n:
        return list(xs), list(ys)
    if n < 4:
        keep = even_indices(m, n)
        return [xs[i] for i in keep], [ys[i] for i in keep]
    buckets = (n - 2) // 2
    inner = m - 2
    keep = [0]
    for b in range(buckets):
        lo = 1 + b * inner // buckets
        hi = 1 + (b + 1) * inner // buckets
        vals = [(finite(ys[i]), i) for i in range(lo, hi)]
        vals = [(v, i) for v, i in vals if v is not None]
        if not vals:
            keep.append(lo)
            continue
        i_min, i_max = min(vals)[1], max(vals)[1]
        keep.extend(sorted({i_min, i_max}))
    keep.append(m - 1)
    return [xs[i] for i in keep], [ys[i] for i in keep]


# ---- layout ------------------------------------------------------------------------


def layout_style(title: str, x_title: str | None = None, y_title: str | None = None, height: int | None = None,
                 uirevision: str = "chart", hovermode: str | bool = "closest", legend_entries: int = 0) -> dict:
    """The shared title, fonts, margins, legend and uirevision as a plain layout dict (see `style_figure`)."""
    height = height or DEFAULT_HEIGHT
    layout = {
        # From the figure's left edge rather than the plot area's: the y-axis margin is room a title needs
        # in a narrow column.
        "title": {"text": title, "x": 0, "xref": "container", "xanchor": "left", "pad": {"l": 4},
                  "font": {"size": TITLE_FONT}},
        "font": {"size": BASE_FONT},
        "height": height,
        "margin": dict(MARGIN),
        "uirevision": uirevision,
        "hovermode": hovermode,
        # One entry says nothing the title does not. Several go in a horizontal row at the figure's bottom
        # edge ("container" coordinates): Plotly then grows the bottom margin by the legend's real height,
        # however many rows it wraps to, so it stays clear of the x-axis title at every width and font size.
        # (Placed in plot-area fractions below the axis, it moved onto the title whenever the margin grew.)
        "showlegend": legend_entries > 1,
        "legend": {"orientation": "h", "x": 0, "xanchor": "left", "y": 0, "yanchor": "bottom", "yref": "container"},
    }
    if x_title is not None:
        layout["xaxis"] = {"title": {"text": x_title}}
    if y_title is not None:
        layout["yaxis"] = {"title": {"text": y_title}}
    return layout


def style_figure(fig: go.Figure, title: str, x_title: str | None = None, y_title: str | None = None,
                 height: int | None = None, uirevision: str = "chart", hovermode: str | bool = "closest"
                 ) -> go.Figure:
    """Apply the shared title, fonts, margins, legend and uirevision to `fig` (in place) and return it."""
    entries = sum(1 for t in fig.data if t.type in ("scatter", "bar") and t.showlegend is not False)
    fig.update_layout(layout_style(title, None, None, height, uirevision, hovermode, entries))
    # Through update_*axes, so that every subplot's axes get the title, not only the first.
    if x_title is not None:
        fig.update_xaxes(title_text=x_title)
    if y_title is not None:
        fig.update_yaxes(title_text=y_title)
    return fig


SUBPLOT_TITLE_FONT = 16  # px, what make_subplots gives panel titles


def subplot_grid(n: int, cols: int = 1, titles: Sequence[str] | None = None, h_spacing: float | None = None,
                 v_spacing: float | None = None, shared_x: bool = False) -> tuple[dict, list[str]]:
    """Axes for n panels in a grid, as layout entries and per-panel axis suffixes: `make_subplots` as plain dicts.

    Panels fill the grid row by row from the top left, in `ceil(n / cols)` rows. Panel i's
    axes are layout["xaxis" + s] and layout["yaxis" + s] with s = suffixes[i] ("", "2", ...);
    a trace goes there with xaxis="x" + s, yaxis="y" + s. Domains are computed as
    make_subplots computes them: equal cells, `h_spacing` between columns and `v_spacing`
    between rows (paper fractions; by default make_subplots' own: 0.2 / cols, and 0.3 / rows
    or 0.5 / rows with titles). `titles` become annotations centred above each panel, as
    make_subplots' subplot_titles. `shared_x`: every x axis follows (`matches`) the lowest
    panel of its column, which alone shows tick labels, as with shared_xaxes=True. Unlike
    make_subplots, the unused cells of an incomplete last row get no axes, so they are not
    drawn as empty frames. Builds in microseconds where make_subplots takes tens of ms.
    """
    rows = max(math.ceil(n / cols), 1)
    h_spacing = 0.2 / cols if h_spacing is None else h_spacing
    if v_spacing is None:
        v_spacing = (0.5 if titles is not None else 0.3) / rows  # titles need room between rows
    width = (1 - h_spacing * (cols - 1)) / cols
    height = (1 - v_spacing * (rows - 1)) / rows
    suffixes = ["" if i == 0 else str(i + 1) for i in range(n)]
    layout: dict = {}
    annotations = []
    for i, s in enumerate(suffixes):
        row, col = divmod(i, cols)
        x0 = col * (width + h_spacing)
        y0 = (rows - 1 - row) * (height + v_spacing)  # row 0 is the top one
        xaxis = {"anchor": f"y{s}", "domain": [x0, x0 + width]}
        if shared_x:
            lowest = suffixes[max(range(col, n, cols))]
            if lowest != s:
                xaxis.update(matches=f"x{lowest}", showticklabels=False)
        layout[f"xaxis{s}"] = xaxis
        layout[f"yaxis{s}"] = {"anchor": f"x{s}", "domain": [y0, y0 + height]}
        if titles is not None:
            annotations.append({"text": titles[i], "x": x0 + width / 2, "y": y0 + height, "xref": "paper",
                                "yref": "paper", "xanchor": "center", "yanchor": "bottom", "showarrow": False,
                                "font": {"size": SUBPLOT_TITLE_FONT}})
    if annotations:
        layout["annotations"] = annotations
    return layout, suffixes


def empty_spec(title: str, message: str, height: int | None = None, uirevision: str = "chart") -> dict:
    """A titled figure spec with no data and one centred message (the empty state of any chart)."""
    layout = layout_style(title, height=height, uirevision=uirevision)
    layout["xaxis"] = {"visible": False}
    layout["yaxis"] = {"visible": False}
    layout["annotations"] = [{"text": message, "x": 0.5, "y": 0.5, "xref": "paper", "yref": "paper",
                              "showarrow": False, "font": {"size": BASE_FONT + 1, "color": NEUTRAL}}]
    layout["meta"] = {"empty": True}  # marks the empty state for callers and tests without parsing text
    return {"data": [], "layout": layout}


def empty_figure(title: str, message: str, height: int | None = None, uirevision: str = "chart") -> go.Figure:
    """`empty_spec` as a figure."""
    return go.Figure(empty_spec(title, message, height, uirevision))


def is_empty(fig: go.Figure) -> bool:
    """True for figures made by `empty_figure`."""
    meta = fig.layout.meta
    return isinstance(meta, dict) and bool(meta.get("empty"))


def _scale_fonts(node: Any, scale: float) -> None:
    """Multiply every font size found under `node` (nested dicts and lists) by `scale`."""
    if isinstance(node, dict):
        for key, val in node.items():
            if key.endswith("font") and isinstance(val, dict) and isinstance(val.get("size"), int | float):
                val["size"] = round(val["size"] * scale, 1)
            _scale_fonts(val, scale)
    elif isinstance(node, list):
        for item in node:
            _scale_fonts(item, scale)


def presenter_spec(spec: dict, scale: float = 1.5) -> dict:
    """A copy of a figure spec for a projector: fonts `scale` times larger, thicker lines, more margin and height."""
    spec = copy.deepcopy(spec)
    layout, data = spec.setdefault("layout", {}), spec.setdefault("data", [])
    layout.setdefault("font", {}).setdefault("size", BASE_FONT)
    _scale_fonts(layout, scale)
    _scale_fonts(data, scale)  # colorbar and text fonts live on traces
    for trace in data:
        line = trace.get("line")
        if isinstance(line, dict):
            line["width"] = round(line.get("width", 2) * min(scale, 1.5), 1)
    margin = layout.get("margin", {})
    layout["margin"] = {k: round(v * scale) for k, v in margin.items() if isinstance(v, int | float)}
    if layout.get("height"):
        layout["height"] = round(layout["height"] * min(scale, 1.5))
    return spec


def presenter_layout(fig: go.Figure, scale: float = 1.5) -> go.Figure:
    """`presenter_spec` applied to a figure (a new figure; `fig` is not changed)."""
    spec = presenter_spec(fig.to_plotly_json(), scale)
    return go.Figure(data=spec["data"], layout=spec["layout"])
