"""Figures of the live Train page, built from the run store's JSON-ready history.

Curves (loss, accuracy, learning rate) take `RunSeries` so an A/B comparison is the
same call with two runs. Snapshot charts (update ratios, dead/saturated units, layer
statistics) take the recorder's snapshots and meta. Histograms over time live in
`live_hist`, model probes (filters, decision boundary) in `live_probe`; both are
re-exported here so a page needs one import. Every builder returns a plain Plotly
spec dict (`loss_spec`, `update_ratio_spec`, `histogram_grid_spec`, ...), an
empty-state spec (see `style.is_empty`) when there is nothing to draw yet: the live
feed builds the curves on every poll and the Train page the snapshot charts on every
new snapshot, for every watched run, and building the dict directly takes about a
millisecond where plotly's validating objects (and `make_subplots`) took 20 to 90 ms
a chart. The chart tests pass each spec to `go.Figure`, which validates it, so a
typo in a spec fails them. Only the loss and accuracy curves keep a `go.Figure`
builder, for the pages that draw them with `st.plotly_chart`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import plotly.graph_objects as go

from lab import registry
from lab.charts.live_hist import histogram_at_spec, histogram_grid_spec, histogram_heatmap_spec, weight_histograms_spec
from lab.charts.live_probe import boundary_spec, filters_spec
from lab.charts.style import (
    NEUTRAL,
    colour_names,
    downsample,
    empty_spec,
    finite,
    layer_color,
    layout_style,
    param_color,
    presenter_layout,
    rgba,
    run_color,
    sigs,
)

__all__ = [
    "RunSeries", "loss_spec", "accuracy_spec", "lr_spec", "loss_figure", "accuracy_figure",
    "update_ratio_spec", "dead_saturated_spec", "layer_stats_spec", "histogram_heatmap_spec", "histogram_grid_spec",
    "histogram_at_spec", "weight_histograms_spec", "filters_spec", "boundary_spec", "presenter_layout", "weight_params",
]

HEALTHY_RATIO = 1e-3  # Karpathy's rule of thumb: each step changes a weight matrix by about a thousandth
HEALTHY_BAND = (1e-4, 1e-2)  # an order of magnitude either way is still fine
LOG_SCALE_SPREAD = 100  # the loss chart turns logarithmic when its largest value is 100x its median
WAITING_STEPS = "Waiting for the first training steps"
WAITING_SNAPSHOT = "Waiting for the first recorded snapshot"


@dataclass(frozen=True)
class RunSeries:
    """One run's curves for the loss, accuracy and learning-rate charts: a legend label, train rows, val rows."""

    label: str  # legend prefix, e.g. "A" or a run name; "" for a single run
    train: list = field(default_factory=list)  # recorder train rows: step, train_loss, train_acc, lr, ...
    val: list = field(default_factory=list)  # recorder val rows: step, val_loss, val_acc, ...


def _name(label: str, what: str) -> str:
    return f"{label} · {what}" if label else what


def _series(rows: Sequence[dict], key: str) -> tuple[list, list]:
    """Steps and values of `key` over rows that have it, downsampled and rounded for JSON."""
    pairs = [(r["step"], r.get(key)) for r in rows if "step" in r and key in r]
    xs, ys = downsample([p[0] for p in pairs], [p[1] for p in pairs])
    return xs, sigs(ys)


def _metric_spec(runs: Sequence[RunSeries], key: str, title: str, y_title: str, height: int | None,
                 uirevision: str) -> dict:
    """Train (solid) and val (dashed, markers) curves of `key`, one colour per run."""
    data = []
    for i, run in enumerate(runs):
        color = run_color(i)
        group = f"run{i}"
        x, y = _series(run.train, f"train_{key}")
        if x:
            # Bucketed running averages: many points, so a plain line without markers.
            data.append({"type": "scatter", "x": x, "y": y, "mode": "lines", "name": _name(run.label, "train"),
                         "legendgroup": group, "line": {"color": color, "width": 1.5}})
        x, y = _series(run.val, f"val_{key}")
        if x:
            # Few evaluation points: markers show where the model was actually measured.
            data.append({"type": "scatter", "x": x, "y": y, "mode": "lines+markers",
                         "name": _name(run.label, "val"), "legendgroup": group,
                         "line": {"color": color, "width": 2, "dash": "dash"}, "marker": {"size": 5}})
    if not data:
        return empty_spec(title, WAITING_STEPS, height, uirevision)
    layout = layout_style(title, "step", y_title, height, uirevision, hovermode="x", legend_entries=len(data))
    return {"data": data, "layout": layout}


def needs_log_scale(values: Sequence) -> bool:
    """True when a linear axis would flatten most of the curve: the largest value dwarfs the typical one.

    A divergence (a 2e7 spike in a loss of about 2) makes every other point a flat line at zero;
    on a log axis both the spike and the ordinary curve stay readable.
    """
    vals = sorted(v for v in (finite(x) for x in values) if v is not None and v > 0)
    if len(vals) < 2:
        return False
    return vals[-1] > LOG_SCALE_SPREAD * vals[len(vals) // 2]


def loss_spec(runs: Sequence[RunSeries], log_y: bool | None = None, loss_name: str = "cross-entropy",
              height: int | None = None) -> dict:
    """Training and validation loss against step for one or more runs (A/B overlay), as a plain spec.

    `log_y=None` (the live feed's choice) switches to a log axis by itself once a spike dwarfs the curve.
    """
    spec = _metric_spec(runs, "loss", "Loss", f"loss ({loss_name})", height, "loss")
    if log_y is None:
        log_y = needs_log_scale([y for t in spec["data"] for y in t["y"]])
    if log_y and spec["data"]:
        spec["layout"]["yaxis"] = {"type": "log", "exponentformat": "power",
                                   "title": {"text": f"loss ({loss_name}, log scale)"}}
    return spec


def accuracy_spec(runs: Sequence[RunSeries], n_classes: int | None = None, height: int | None = None) -> dict:
    """Training and validation accuracy against step, with the chance level when known, as a plain spec."""
    spec = _metric_spec(runs, "acc", "Accuracy", "accuracy (% correct)", height, "accuracy")
    if spec["data"]:
        spec["layout"]["yaxis"].update(tickformat=".0%", rangemode="tozero")
        if n_classes and n_classes > 1:
            # Guessing scores 1/n: a curve stuck here has learned nothing.
            chance = 1 / n_classes
            line = {"color": NEUTRAL, "dash": "dot", "width": 1}
            spec["layout"]["shapes"] = [{"type": "line", "xref": "x domain", "x0": 0, "x1": 1, "yref": "y",
                                         "y0": chance, "y1": chance, "line": line}]
            spec["layout"]["annotations"] = [{"text": f"chance (1/{n_classes})", "xref": "x domain", "x": 1,
                                              "xanchor": "right", "yref": "y", "y": chance, "yanchor": "top",
                                              "showarrow": False, "font": {"color": NEUTRAL}}]
    return spec


def lr_spec(runs: Sequence[RunSeries], height: int | None = None) -> dict:
    """Learning rate against step (log scale), one line per run, as a plain spec."""
    data = []
    for i, run in enumerate(runs):
        x, y = _series(run.train, "lr")
        if x:
            # Schedules change the rate at steps: a staircase shows that honestly.
            data.append({"type": "scatter", "x": x, "y": y, "mode": "lines", "line_shape": "hv",
                         "name": _name(run.label, "learning rate"), "line": {"color": run_color(i), "width": 2}})
    if not data:
        return empty_spec("Learning rate", WAITING_STEPS, height, "lr")
    rates = {v for t in data for v in t["y"] if v is not None}
    if len(rates) == 1:
        # A constant rate is one number: a log axis around it would only show a dozen minor ticks.
        rate = rates.pop()
        # The title stays short (the chart is the narrowest of its row); the axis says the rate is constant.
        layout = layout_style("Learning rate", "step", "constant learning rate", height, "lr",
                              hovermode="x", legend_entries=len(data))
        layout["yaxis"].update(tickvals=[rate], ticktext=[f"{rate:g}"], range=[0, 2 * rate])
        return {"data": data, "layout": layout}
    layout = layout_style("Learning rate", "step", "learning rate (log scale)", height, "lr", hovermode="x",
                          legend_entries=len(data))
    # Full values on every tick: over less than a decade Plotly's log ticks otherwise read "3, 2, 0.01, 9".
    layout["yaxis"].update(type="log", tickformat=".2g", nticks=5)
    return {"data": data, "layout": layout}


def loss_figure(runs: Sequence[RunSeries], log_y: bool | None = None, loss_name: str = "cross-entropy",
                height: int | None = None) -> go.Figure:
    """`loss_spec` as a validated figure."""
    return go.Figure(loss_spec(runs, log_y, loss_name, height))


def accuracy_figure(runs: Sequence[RunSeries], n_classes: int | None = None, height: int | None = None) -> go.Figure:
    """`accuracy_spec` as a validated figure."""
    return go.Figure(accuracy_spec(runs, n_classes, height))

def weight_params(meta: dict) -> list[str]:
    """The weight matrices among the recorded parameters (biases are left out), or all of them if none match."""
    params = list(meta.get("params", []))
    weights = [p for p in params if p.endswith("weight")]
    return weights or params


def _snap_series(snapshots: Sequence[dict], get) -> tuple[list, list]:
    xs = [s["step"] for s in snapshots]
    ys = [get(s) for s in snapshots]
    xs, ys = downsample(xs, ys)
    return xs, sigs(ys)


def _ratio(param: str):
    return lambda s: (s.get("params", {}).get(param) or {}).get("ratio")


def update_ratio_spec(snapshots: Sequence[dict], meta: dict, compare: Sequence[dict] | None = None,
                      labels: tuple[str, str] = ("A", "B"), height: int | None = None) -> dict:
    """Update/weight ratio of every weight parameter over steps (log y), with the healthy ~1e-3 guide, as a spec.

    `compare`: a second run's snapshots (same architecture), drawn dotted; `labels` name the two runs.
    """
    title = "Update / weight ratio"
    runs = [(snapshots, "solid", labels[0] if compare is not None else "")]
    if compare is not None:
        runs.append((compare, "dot", labels[1]))
    data = []
    for snaps, dash, label in runs:
        for p in weight_params(meta):
            x, y = _snap_series(snaps, _ratio(p))
            if any(v is not None for v in y):
                data.append({"type": "scatter", "x": x, "y": y, "mode": "lines", "name": _name(label, p),
                             "legendgroup": p, "line": {"color": param_color(p, meta), "width": 2, "dash": dash}})
    if not data:
        return empty_spec(title, WAITING_SNAPSHOT, height, "ratio")
    layout = layout_style(title, "step", "‖ΔW‖ / ‖W‖ (log scale)", height, "ratio",
                          legend_entries=len(data))
    # One tick per decade: the ratio spans orders of magnitude and minor labels only clutter.
    layout["yaxis"].update(type="log", exponentformat="power", dtick=1)
    # Shapes use data values on a log axis and count towards autorange, so the band is always in view.
    layout["shapes"] = [
        {"type": "rect", "xref": "x domain", "x0": 0, "x1": 1, "yref": "y", "y0": HEALTHY_BAND[0],
         "y1": HEALTHY_BAND[1], "fillcolor": rgba("#009E73", 0.08), "line": {"width": 0}, "layer": "below"},
        {"type": "line", "xref": "x domain", "x0": 0, "x1": 1, "yref": "y", "y0": HEALTHY_RATIO, "y1": HEALTHY_RATIO,
         "line": {"color": NEUTRAL, "dash": "dash", "width": 1.5}},
    ]
    # Annotations, unlike shapes, take log10 of the value on a log axis.
    layout["annotations"] = [{"text": "healthy ~1e-3", "x": 1, "xref": "paper", "xanchor": "right",
                              "y": math.log10(HEALTHY_RATIO), "yref": "y", "yanchor": "bottom", "showarrow": False,
                              "font": {"color": NEUTRAL}}]
    return {"data": data, "layout": layout}

def _watch(layer: str, meta: dict, snapshots: Sequence[dict]) -> str | None:
    """'dead' or 'sat' when this layer has that statistic (by its activation, or by what was recorded)."""
    kind = meta.get("kinds", {}).get(layer, "")
    if kind in registry.RELU_FAMILY:
        return "dead"
    if kind in registry.SATURATING:
        return "sat"
    rec = next((s["layers"][layer] for s in snapshots if layer in s.get("layers", {})), {})
    return "dead" if "dead" in rec else "sat" if "sat" in rec else None


def dead_saturated_spec(snapshots: Sequence[dict], meta: dict, height: int | None = None) -> dict:
    """Share of dead (ReLU family) or saturated (tanh, sigmoid) units per layer over steps, as a plain spec."""
    title = "Dead and saturated units"
    watched = [(layer, w) for layer in meta.get("layers", []) if (w := _watch(layer, meta, snapshots))]
    if not watched:
        return empty_spec(title, "No ReLU/tanh/sigmoid layers to watch", height, "dead")
    if not snapshots:
        return empty_spec(title, WAITING_SNAPSHOT, height, "dead")
    names, kinds = colour_names(meta), meta.get("kinds", {})
    data = []
    for layer, w in watched:
        x, y = _snap_series(snapshots, lambda s, layer=layer, w=w: (s.get("layers", {}).get(layer) or {}).get(w))
        what = "dead" if w == "dead" else "saturated"
        data.append({"type": "scatter", "x": x, "y": y, "mode": "lines",
                     "name": f"{layer} {what} ({kinds.get(layer, '?')})",
                     "line": {"color": layer_color(layer, names), "width": 2},
                     # Units are features of a dense layer, channels of a conv layer.
                     "hovertemplate": "%{y:.1%} of units (channels for conv)"})
    layout = layout_style(title, "step", "share of units", height, "dead", hovermode="x",
                          legend_entries=len(data))
    # A fixed 0..100% axis: 45% dead should look like nearly half, not like a full-height line.
    layout["yaxis"].update(tickformat=".0%", range=[0, 1])
    return {"data": data, "layout": layout}

def layer_stats_spec(snapshots: Sequence[dict], meta: dict, height: int | None = None) -> dict:
    """Activation std and gradient std per layer at the latest snapshot, grouped bars on a log axis, as a spec."""
    title = "Signal through depth"
    snap = snapshots[-1] if snapshots else None
    layers = [layer for layer in meta.get("layers", []) if snap and layer in snap.get("layers", {})]
    if not layers:
        return empty_spec(title, WAITING_SNAPSHOT, height, "layer_stats")
    names = colour_names(meta)
    colors = [layer_color(layer, names) for layer in layers]
    recs = [snap["layers"][layer] for layer in layers]
    data = [
        {"type": "bar", "x": layers, "y": sigs([r.get("std") for r in recs]), "name": "activation std",
         "marker": {"color": colors}},
        # Same layer colours, hatched: the pair reads as one layer, the pattern as the quantity.
        {"type": "bar", "x": layers, "y": sigs([r.get("grad_std") for r in recs]), "name": "gradient std",
         "marker": {"color": colors, "pattern": {"shape": "/", "fillmode": "overlay", "fgcolor": "white"}}},
    ]
    layout = layout_style(title, f"layer (step {snap['step']})",
                          "standard deviation (log scale)", height, "layer_stats", legend_entries=len(data))
    layout["barmode"] = "group"
    layout["yaxis"].update(type="log", exponentformat="power", dtick=1)
    return {"data": data, "layout": layout}
