"""Histogram charts of the Train page: distributions over time (heatmaps) and at one step (bars).

Kinds: "act" (a layer's post-activation values), "weight" and "grad_w" (a parameter's
values and gradients; then the series name is a readable parameter name such as
"fc1.weight"). Bin edges are fixed per series by the recorder, so bin b means the
same value range at every step and a column-by-column heatmap is meaningful.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from lab.charts.style import (
    HEATMAP_SCALE,
    colour_names,
    empty_figure,
    even_indices,
    layer_color,
    param_layer,
    sig,
    sigs,
    style_figure,
)

MAX_COLUMNS = 300  # snapshot columns per heatmap: the recorder keeps at most 300 anyway
GRID_CELLS = 24_000  # z values per histogram grid (2 layers x 40 bins x 300 steps): about 100 kB of JSON
COLORBAR = "log(1+count)"
# kind -> (snapshot group, histogram key, meta edges key, value axis label, what is shown)
KINDS = {
    "act": ("layers", "hist", "act_edges", "activation value", "activations"),
    "weight": ("params", "w_hist", "w_edges", "weight value", "weights"),
    "grad_w": ("params", "g_hist", "g_edges", "gradient value", "weight gradients"),
}


def _kind(kind: str) -> tuple[str, str, str, str, str]:
    if kind not in KINDS:
        raise ValueError(f"kind={kind!r} is invalid: one of {', '.join(KINDS)}")
    return KINDS[kind]


def series_names(meta: dict, kind: str) -> list[str]:
    """What a kind is drawn for: the tapped layers for "act", the weight parameters otherwise."""
    group, _, edges_key, _, _ = _kind(kind)
    if group == "layers":
        names = list(meta.get("layers", []))
    else:
        params = list(meta.get("params", []))
        names = [p for p in params if p.endswith("weight")] or params  # biases are few values: little to see
    return [n for n in names if n in meta.get(edges_key, {})]


def bin_centres(edges: Sequence[float], bins: int) -> list[float]:
    """Centres of `bins` equal-width bins spanning [lo, hi] (how the recorder bins)."""
    lo, hi = edges
    w = (hi - lo) / bins
    return [sig(lo + (b + 0.5) * w) for b in range(bins)]


def _record(snap: dict, kind: str, name: str) -> list | None:
    group, hist_key, *_ = _kind(kind)
    return (snap.get(group, {}).get(name) or {}).get(hist_key)


def _label(name: str, kind: str, meta: dict) -> str:
    if kind == "act":
        act = meta.get("kinds", {}).get(name)
        return f"{name} activations" + (f" ({act})" if act else "")
    return f"{name} {'values' if kind == 'weight' else 'gradients'}"


def _heatmap(snapshots: Sequence[dict], meta: dict, name: str, kind: str, max_cols: int) -> go.Heatmap:
    """Steps x bins matrix of log1p(count) for one series; steps without a record are gaps."""
    bins = int(meta.get("bins", 40))
    cols = [snapshots[i] for i in even_indices(len(snapshots), max_cols)]
    columns = []
    for s in cols:
        h = _record(s, kind, name)
        # Two decimals of log1p(count) are far finer than a colour scale can show.
        columns.append([round(math.log1p(c), 2) for c in h] if h else [None] * bins)
    z = [list(row) for row in zip(*columns, strict=True)] if columns else []
    return go.Heatmap(x=[s["step"] for s in cols], y=bin_centres(meta[_kind(kind)[2]][name], bins), z=z,
                      name=name, zsmooth=False, hoverongaps=False,
                      hovertemplate="step %{x}<br>value %{y:.3g}<br>log(1+count) %{z}<extra>" + name + "</extra>")


def histogram_heatmap(snapshots: Sequence[dict], meta: dict, layer: str, kind: str = "act",
                      height: int | None = None, max_cols: int = MAX_COLUMNS) -> go.Figure:
    """One series' distribution over time: x = step, y = value bin, colour = log(1 + count)."""
    title = f"{_label(layer, kind, meta)} over time"
    if layer not in meta.get(_kind(kind)[2], {}):
        return empty_figure(title, f"No histogram recorded for {layer}", height, f"hist-{kind}-{layer}")
    if not snapshots:
        return empty_figure(title, "Waiting for the first recorded snapshot", height, f"hist-{kind}-{layer}")
    trace = _heatmap(snapshots, meta, layer, kind, max_cols)
    trace.update(colorscale=HEATMAP_SCALE, zmin=0, colorbar={"title": {"text": COLORBAR, "side": "right"}})
    fig = go.Figure(trace)
    return style_figure(fig, title, "step", _kind(kind)[3], height, f"hist-{kind}-{layer}")


def histogram_grid(snapshots: Sequence[dict], meta: dict, kind: str = "act", height: int | None = None,
                   max_cells: int = GRID_CELLS) -> go.Figure:
    """Every layer's (or weight's) distribution over time, one heatmap row per series with a shared step axis."""
    names = series_names(meta, kind)
    title = f"{_kind(kind)[4].capitalize()} per layer over time"
    if not names:
        return empty_figure(title, "No histograms recorded for this model", height, f"grid-{kind}")
    if not snapshots:
        return empty_figure(title, "Waiting for the first recorded snapshot", height, f"grid-{kind}")
    n, bins = len(names), int(meta.get("bins", 40))
    # Columns shrink as layers grow so the figure JSON stays bounded whatever the depth.
    max_cols = max(20, min(MAX_COLUMNS, max_cells // (bins * n)))
    fig = make_subplots(rows=n, cols=1, shared_xaxes=True, vertical_spacing=min(0.06, 0.3 / max(n - 1, 1)))
    for row, name in enumerate(names, start=1):
        fig.add_trace(_heatmap(snapshots, meta, name, kind, max_cols).update(coloraxis="coloraxis"), row=row, col=1)
        # A short y title per row names the layer; the value unit is in the figure title.
        fig.update_yaxes(title_text=name, row=row, col=1)
    style_figure(fig, f"{title} (y = {_kind(kind)[3]})", None, None, height or max(300, 90 + 110 * n),
                 f"grid-{kind}")
    fig.update_xaxes(title_text="step", row=n, col=1)
    # One shared colour scale: the same shade means the same count in every row.
    return fig.update_layout(coloraxis={"colorscale": HEATMAP_SCALE, "cmin": 0,
                                        "colorbar": {"title": {"text": COLORBAR, "side": "right"}}})


def histogram_at(snapshot: dict | None, meta: dict, kind: str = "act", step_label: str | None = None,
                 height: int | None = None) -> go.Figure:
    """Bar histograms of every layer (or weight) at one recorded step, one panel and one colour per series."""
    what, unit = _kind(kind)[4], _kind(kind)[3]
    names = [n for n in series_names(meta, kind) if snapshot and _record(snapshot, kind, n)]
    if not names:
        return empty_figure(f"{what.capitalize()} at one step", "Waiting for the first recorded snapshot", height,
                            f"at-{kind}")
    step_label = step_label or f"step {snapshot['step']}"
    cols = min(len(names), 3)
    rows = math.ceil(len(names) / cols)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=names, horizontal_spacing=0.08,
                        vertical_spacing=min(0.15, 0.5 / rows))
    palette_names = colour_names(meta)
    for i, name in enumerate(names):
        counts = _record(snapshot, kind, name)
        total = sum(counts) or 1
        lo, hi = meta[_kind(kind)[2]][name]
        owner = name if kind == "act" else param_layer(name)
        # Fractions, not counts: layers differ in size by orders of magnitude but their shapes compare.
        fig.add_trace(go.Bar(x=bin_centres((lo, hi), len(counts)), y=sigs([c / total for c in counts], 3),
                             width=(hi - lo) / len(counts), name=name, showlegend=False,
                             marker={"color": layer_color(owner, palette_names), "line": {"width": 0}},
                             hovertemplate="value %{x:.3g}<br>%{y:.1%} of values<extra>" + name + "</extra>"),
                      row=i // cols + 1, col=i % cols + 1)
    style_figure(fig, f"{what.capitalize()} at {step_label}", None, None, height or max(300, 80 + 200 * rows),
                 f"at-{kind}")
    # Room for the figure title above the panel titles.
    fig.update_layout(bargap=0, margin={"t": 64})
    for c in range(cols):
        last = max(i for i in range(len(names)) if i % cols == c)  # lowest panel of this column
        fig.update_xaxes(title_text=unit, row=last // cols + 1, col=c + 1)
    for r in range(1, rows + 1):
        fig.update_yaxes(title_text="fraction of values", tickformat=".0%", row=r, col=1)
    fig.update_yaxes(tickformat=".0%")
    return fig


def weight_histograms(snapshot: dict | None, meta: dict, step_label: str | None = None,
                      height: int | None = None) -> go.Figure:
    """Weight histogram of every weight parameter at one snapshot."""
    return histogram_at(snapshot, meta, "weight", step_label, height)
