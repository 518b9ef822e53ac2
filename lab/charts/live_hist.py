"""Histogram charts of the Train page: distributions over time (heatmaps) and at one step (bars).

Kinds: "act" (a layer's post-activation values), "weight" and "grad_w" (a parameter's
values and gradients; then the series name is a readable parameter name such as
"fc1.weight"). Bin edges are fixed per series by the recorder, so bin b means the
same value range at every step and a column-by-column heatmap is meaningful.

Each chart is built as a plain Plotly spec dict (`histogram_grid_spec`, ...): the Train
page rebuilds them for every watched run whenever a snapshot arrives, and plotly's
validating objects and `make_subplots` cost tens of milliseconds a chart where the dict
takes about a millisecond. The chart tests pass each dict to `go.Figure`, which
validates it, so a typo in a spec fails them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from lab.charts.style import (
    HEATMAP_SCALE,
    colour_names,
    empty_spec,
    even_indices,
    layer_color,
    layout_style,
    param_layer,
    sig,
    sigs,
    subplot_grid,
)

OUTSIDE_COLOR = "#D55E00"  # vermillion: stands out on the Viridis heatmaps and beside layer-coloured bars
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


def _outside(snap: dict, kind: str, name: str) -> tuple[float, float]:
    """Counts of values below and above the histogram's range (0, 0 when the recorder did not count them)."""
    group = _kind(kind)[0]
    rec = snap.get(group, {}).get(name) or {}
    return rec.get("below") or 0.0, rec.get("above") or 0.0


def in_range_counts(snap: dict, kind: str, name: str) -> list | None:
    """The recorded histogram with the values outside its range taken out of the end bins (they hold them)."""
    counts = _record(snap, kind, name)
    if not counts:
        return counts
    below, above = _outside(snap, kind, name)
    counts = list(counts)
    counts[0] = max(counts[0] - below, 0.0)
    counts[-1] = max(counts[-1] - above, 0.0)
    return counts


def _series(cols: Sequence[dict], kind: str, name: str, bins: int) -> tuple[np.ndarray, list, list]:
    """One series over the columns, read once: in-range counts (a NaN row where nothing was recorded), the
    counts outside the range per column (below, above) and each column's recorded total (1 when none).

    The heatmap and its outside markers both need these; reading each snapshot once per series (not once per
    trace and side) is what keeps a 300-column grid cheap to rebuild on every new snapshot.
    """
    group, hist_key, *_ = _kind(kind)
    raw, outside, totals = [], [], []
    for snap in cols:
        rec = snap.get(group, {}).get(name) or {}
        counts = rec.get(hist_key)
        raw.append(counts or [np.nan] * bins)
        outside.append(((rec.get("below") or 0.0), (rec.get("above") or 0.0)))
        totals.append(sum(counts or []) or 1)
    grid = np.array(raw, dtype=float).reshape(-1, bins)
    out = np.array(outside, dtype=float).reshape(-1, 2)
    # As in_range_counts: the end bins hold the outside values, so take them out (never below 0; max(x, 0.0)).
    for col, side in ((0, 0), (-1, 1)):
        edge = grid[:, col] - out[:, side]
        grid[:, col] = np.where(0.0 > edge, 0.0, edge)  # a gap's NaN stays NaN
    return grid, outside, totals


def _outside_markers(cols: Sequence[dict], outside: list, totals: list, meta: dict, name: str, kind: str) -> list:
    """Triangles on the heatmap's edges at the steps where values fell outside its range, sized by their share."""
    lo, hi = meta[_kind(kind)[2]][name]
    traces = []
    for side, edge, symbol, where in ((1, hi, "triangle-up", "above"), (0, lo, "triangle-down", "below")):
        xs, shares = [], []
        for snap, out, total in zip(cols, outside, totals, strict=True):
            if out[side] > 0:
                xs.append(snap["step"])
                shares.append(sig(out[side] / total, 3))
        if xs:
            traces.append(
                {
                    "type": "scatter",
                    "x": xs,
                    "y": [sig(edge)] * len(xs),
                    "customdata": shares,
                    "mode": "markers",
                    "name": f"{name} {where} range",
                    "showlegend": False,
                    "cliponaxis": False,
                    "marker": {
                        "symbol": symbol,
                        "color": OUTSIDE_COLOR,
                        "line": {"width": 0},
                        "size": [round(5 + 7 * min(v * 5, 1), 1) for v in shares],
                    },
                    "hovertemplate": "step %{x}<br>%{customdata:.1%} of values "
                    + where
                    + f" the range (beyond {edge:.3g})<extra>{name}</extra>",
                }
            )
    return traces


def _label(name: str, kind: str, meta: dict) -> str:
    if kind == "act":
        act = meta.get("kinds", {}).get(name)
        return f"{name} activations" + (f" ({act})" if act else "")
    return f"{name} {'values' if kind == 'weight' else 'gradients'}"


def _heatmap(cols: Sequence[dict], meta: dict, name: str, kind: str) -> tuple[dict, list]:
    """Steps x bins matrix of log1p(count) for one series as a heatmap trace (steps without a record are gaps),
    and the markers of what fell outside its range."""
    bins = int(meta.get("bins", 40))
    counts, outside, totals = _series(cols, kind, name, bins)
    # Two decimals of log1p(count) are far finer than a colour scale can show. In numpy: a grid has
    # up to 24,000 cells and this runs for every watched run on every new snapshot.
    z = np.round(np.log1p(counts.T), 2).tolist()
    if np.isnan(counts).any():
        z = [[None if v != v else v for v in row] for row in z]  # NaN is not JSON; None is a gap
    trace = {
        "type": "heatmap",
        "x": [s["step"] for s in cols],
        "y": bin_centres(meta[_kind(kind)[2]][name], bins),
        "z": z,
        "name": name,
        "zsmooth": False,
        "hoverongaps": False,
        "hovertemplate": "step %{x}<br>value %{y:.3g}<br>log(1+count) %{z}<extra>" + name + "</extra>",
    }
    return trace, _outside_markers(cols, outside, totals, meta, name, kind)


def _colorbar() -> dict:
    return {"title": {"text": COLORBAR, "side": "right"}}


def histogram_heatmap_spec(
    snapshots: Sequence[dict],
    meta: dict,
    layer: str,
    kind: str = "act",
    height: int | None = None,
    max_cols: int = MAX_COLUMNS,
) -> dict:
    """One series' distribution over time: x = step, y = value bin, colour = log(1 + count), as a plain spec."""
    title = f"{_label(layer, kind, meta)} over time"
    if layer not in meta.get(_kind(kind)[2], {}):
        return empty_spec(title, f"No histogram recorded for {layer}", height, f"hist-{kind}-{layer}")
    if not snapshots:
        return empty_spec(title, "Waiting for the first recorded snapshot", height, f"hist-{kind}-{layer}")
    cols = [snapshots[i] for i in even_indices(len(snapshots), max_cols)]
    trace, markers = _heatmap(cols, meta, layer, kind)
    trace.update(colorscale=HEATMAP_SCALE, zmin=0, colorbar=_colorbar())
    data = [trace, *markers]
    return {"data": data, "layout": layout_style(title, "step", _kind(kind)[3], height, f"hist-{kind}-{layer}")}


def histogram_grid_spec(
    snapshots: Sequence[dict], meta: dict, kind: str = "act", height: int | None = None, max_cells: int = GRID_CELLS
) -> dict:
    """Every layer's (or weight's) distribution over time, one heatmap row per series with a shared step axis."""
    names = series_names(meta, kind)
    title = f"{_kind(kind)[4].capitalize()} over time"
    if not names:
        return empty_spec(title, "No histograms recorded for this model", height, f"grid-{kind}")
    if not snapshots:
        return empty_spec(title, "Waiting for the first recorded snapshot", height, f"grid-{kind}")
    n, bins = len(names), int(meta.get("bins", 40))
    # Columns shrink as layers grow so the figure JSON stays bounded whatever the depth.
    max_cols = max(20, min(MAX_COLUMNS, max_cells // (bins * n)))
    # Short titles: a chart may be a third of a laptop screen wide; each row's y axis names its layer.
    layout = layout_style(title, None, None, height or max(300, 90 + 110 * n), f"grid-{kind}")
    axes, suffixes = subplot_grid(n, 1, v_spacing=min(0.06, 0.3 / max(n - 1, 1)), shared_x=True)
    layout.update(axes)
    data = []
    cols = [snapshots[i] for i in even_indices(len(snapshots), max_cols)]
    for name, s in zip(names, suffixes, strict=True):
        trace, markers = _heatmap(cols, meta, name, kind)
        data.append({**trace, "coloraxis": "coloraxis", "xaxis": f"x{s}", "yaxis": f"y{s}"})
        data += [{**t, "xaxis": f"x{s}", "yaxis": f"y{s}"} for t in markers]
        # A short y title per row names the layer; the value unit is in the figure title.
        layout[f"yaxis{s}"]["title"] = {"text": name}
    layout[f"xaxis{suffixes[-1]}"]["title"] = {"text": "step"}
    # One shared colour scale: the same shade means the same count in every row.
    layout["coloraxis"] = {"colorscale": HEATMAP_SCALE, "cmin": 0, "colorbar": _colorbar()}
    return {"data": data, "layout": layout}


def histogram_at_spec(
    snapshot: dict | None, meta: dict, kind: str = "act", step_label: str | None = None, height: int | None = None
) -> dict:
    """Bar histograms of every layer (or weight) at one recorded step, one panel and one colour per series."""
    what, unit = _kind(kind)[4], _kind(kind)[3]
    names = [n for n in series_names(meta, kind) if snapshot and _record(snapshot, kind, n)]
    if not names:
        return empty_spec(
            f"{what.capitalize()} at one step", "Waiting for the first recorded snapshot", height, f"at-{kind}"
        )
    step_label = step_label or f"step {snapshot['step']}"
    cols = min(len(names), 3)
    rows = math.ceil(len(names) / cols)
    layout = layout_style(
        f"{what.capitalize()} at {step_label}", None, None, height or max(300, 80 + 200 * rows), f"at-{kind}"
    )
    # Room for the figure title above the panel titles.
    layout["margin"]["t"] = 64
    layout["bargap"] = 0
    axes, suffixes = subplot_grid(len(names), cols, names, h_spacing=0.08, v_spacing=min(0.15, 0.5 / rows))
    layout.update(axes)
    palette_names = colour_names(meta)
    data = []
    for i, (name, s) in enumerate(zip(names, suffixes, strict=True)):
        total = sum(_record(snapshot, kind, name)) or 1
        counts = in_range_counts(snapshot, kind, name)
        lo, hi = meta[_kind(kind)[2]][name]
        owner = name if kind == "act" else param_layer(name)
        # Fractions, not counts: layers differ in size by orders of magnitude but their shapes compare.
        data.append(
            {
                "type": "bar",
                "x": bin_centres((lo, hi), len(counts)),
                "y": sigs([c / total for c in counts], 3),
                "width": (hi - lo) / len(counts),
                "name": name,
                "showlegend": False,
                "marker": {"color": layer_color(owner, palette_names), "line": {"width": 0}},
                "hovertemplate": "value %{x:.3g}<br>%{y:.1%} of values<extra>" + name + "</extra>",
                "xaxis": f"x{s}",
                "yaxis": f"y{s}",
            }
        )
        data += _outside_bars(snapshot, kind, name, (lo, hi), total, s)
        layout[f"yaxis{s}"]["tickformat"] = ".0%"
        # The y axis' "0%" hangs below the corner where the x axis' first label starts: keep them apart.
        layout[f"xaxis{s}"]["ticklabelstandoff"] = 6
        if i % cols == 0:
            layout[f"yaxis{s}"]["title"] = {"text": "fraction of values"}
        if i + cols >= len(names):  # the lowest panel of its column
            layout[f"xaxis{s}"]["title"] = {"text": unit}
    return {"data": data, "layout": layout}


def _outside_bars(snapshot: dict, kind: str, name: str, edges: tuple[float, float], total: float, s: str) -> list:
    """Values outside the range as their own labelled bars, one bin width beyond each edge (never in the end bins)."""
    lo, hi = edges
    below, above = _outside(snapshot, kind, name)
    w = (hi - lo) / max(len(_record(snapshot, kind, name)), 1)
    xs, ys, labels = [], [], []
    for count, x, label in ((below, lo - 1.5 * w, f"< {lo:.2g}"), (above, hi + 1.5 * w, f"> {hi:.2g}")):
        if count > 0:
            xs.append(sig(x))
            ys.append(sig(count / total, 3))
            labels.append(label)
    if not xs:
        return []
    return [
        {
            "type": "bar",
            "x": xs,
            "y": ys,
            "width": w,
            "name": f"{name} outside the range",
            "showlegend": False,
            "text": labels,
            "textposition": "outside",
            "cliponaxis": False,
            "marker": {"color": OUTSIDE_COLOR, "line": {"width": 0}, "pattern": {"shape": "x", "fgcolor": "white"}},
            "hovertemplate": "%{y:.1%} of values outside the histogram's range (%{text})<extra>" + name + "</extra>",
            "xaxis": f"x{s}",
            "yaxis": f"y{s}",
        }
    ]


def weight_histograms_spec(
    snapshot: dict | None, meta: dict, step_label: str | None = None, height: int | None = None
) -> dict:
    """Weight histogram of every weight parameter at one snapshot, as a plain spec."""
    return histogram_at_spec(snapshot, meta, "weight", step_label, height)
