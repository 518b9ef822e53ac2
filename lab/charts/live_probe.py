"""Model-probe charts of the Train page: first-layer filters (CNNs) and the decision boundary (2D toys).

Built as plain Plotly spec dicts (`filters_spec`, `boundary_spec`), which take a fraction
of the time of plotly's validating objects; the chart tests validate them through `go.Figure`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from lab.charts.style import class_color, empty_spec, even_indices, layout_style, rgba, sigs

GAP = 1  # transparent pixels between two filters in the tiled image
POINTS_PER_CLASS = 500  # the probe stores at most 500 points in all; this only guards other callers
LOW_ALPHA, HIGH_ALPHA = 0.06, 0.45  # boundary shade at chance confidence and at full confidence


def _tile(filters: np.ndarray) -> tuple[np.ndarray, int, int]:
    """Filters (out, h, w, c) normalised to [0, 1] each, tiled row-major into one (H, W, c) array; gaps NaN."""
    n, h, w, c = filters.shape
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    out = np.full((rows * h + (rows - 1) * GAP, cols * w + (cols - 1) * GAP, c), np.nan)
    for i, f in enumerate(filters):
        lo, hi = float(f.min()), float(f.max())
        # Each filter to its own range: the pattern is what matters, and scales differ a lot between filters.
        f = (f - lo) / (hi - lo) if hi > lo else np.full_like(f, 0.5)
        r, q = divmod(i, cols)
        out[r * (h + GAP):r * (h + GAP) + h, q * (w + GAP):q * (w + GAP) + w] = f
    return out, rows, cols


def filters_spec(snapshot: dict | None, height: int | None = None) -> dict:
    """The first conv layer's filters as one tiled image: RGB for 3 input channels, greyscale otherwise."""
    title = "First-layer filters"
    raw = snapshot.get("filters") if snapshot else None
    if not raw:
        return empty_spec(title, "Filters appear for convolutional models once a snapshot is recorded", height,
                          "filters")
    w = np.asarray(raw, dtype=float)  # (out, in, k, k)
    n, c_in, kh, kw = w.shape
    if c_in == 3:
        tiled, rows, cols = _tile(w.transpose(0, 2, 3, 1))
        alpha = np.where(np.isnan(tiled[..., :1]), 0.0, 1.0)
        rgb = np.nan_to_num(tiled) * 255
        z = np.concatenate([rgb.round(), alpha], axis=2).astype(int).tolist()
        trace = {"type": "image", "z": z, "colormodel": "rgba",
                 "hovertemplate": "filter pixel (%{x}, %{y}), each filter scaled to its own range<extra></extra>"}
        mode = "RGB"
    else:
        # One input channel is drawn as is; several non-RGB channels are averaged into one grey image.
        grey = w.mean(axis=1)[..., None]
        tiled, rows, cols = _tile(grey)
        z = [[None if math.isnan(v) else round(v, 3) for v in row] for row in tiled[..., 0].tolist()]
        trace = {"type": "heatmap", "z": z, "colorscale": [[0, "black"], [1, "white"]], "zmin": 0, "zmax": 1,
                 "zsmooth": False, "showscale": False, "hoverongaps": False,
                 "hovertemplate": "%{z:.2f} (each filter scaled to its own range)<extra></extra>"}
        mode = "greyscale" if c_in == 1 else f"mean of {c_in} channels"
    # Short enough for a narrow column; that each filter is scaled to its own range is said on hover.
    layout = layout_style(f"{title} ({n}, {kh}x{kw}, {mode})", None, None,
                          height or 360, "filters")
    layout["xaxis"] = {"visible": False, "constrain": "domain"}
    # Image orientation (row 0 at the top) and square pixels.
    layout["yaxis"] = {"visible": False, "autorange": "reversed", "scaleanchor": "x", "scaleratio": 1,
                       "constrain": "domain"}
    layout["meta"] = {"grid": [rows, cols]}
    return {"data": [trace], "layout": layout}

def _boundary_trace(grid: dict, boundary: dict, k: int) -> dict:
    """Predicted class as hue, confidence as opacity, encoded in one heatmap trace.

    z = class + confidence above chance (0..1), so each class owns one band of the
    colour scale running from nearly transparent to its full shade.
    """
    chance = 1 / k
    above = np.clip((np.asarray(boundary["conf"], dtype=float) - chance) / (1 - chance), 0.0, 1.0)
    z = np.round(np.asarray(boundary["cls"], dtype=float) + 0.01 + 0.98 * above, 3).tolist()
    scale = []
    for c in range(k):
        scale += [[c / k, rgba(class_color(c), LOW_ALPHA)], [(c + 1) / k, rgba(class_color(c), HIGH_ALPHA)]]
    return {"type": "heatmap", "x": sigs(grid["x"]), "y": sigs(grid["y"]), "z": z, "zmin": 0, "zmax": k,
            "colorscale": scale, "zsmooth": False, "showscale": False, "hoverinfo": "skip", "name": "prediction"}


def boundary_spec(meta: dict, snapshot: dict | None, class_names: Sequence[str] | None = None,
                  height: int | None = None) -> dict:
    """Decision boundary of a 2D toy: predicted class shaded by confidence, training points by label, equal axes."""
    grid, points = meta.get("grid"), meta.get("points") or {}
    boundary = snapshot.get("boundary") if snapshot else None
    if not grid:
        return empty_spec("Decision boundary", "Decision boundaries are drawn for the 2D datasets", height,
                          "boundary")
    labels = [int(v) for v in points.get("label", [])]
    k = int(meta.get("n_classes") or 0)
    k = max(k, max(labels, default=-1) + 1)
    if boundary:
        k = max(k, max(max(row) for row in boundary["cls"]) + 1)
    names = list(class_names or meta.get("class_names") or [])
    data = [_boundary_trace(grid, boundary, max(k, 2))] if boundary else []
    for c in range(k):
        idx = [i for i, lab in enumerate(labels) if lab == c]
        idx = [idx[j] for j in even_indices(len(idx), POINTS_PER_CLASS)]
        if not idx:
            continue
        data.append({"type": "scatter", "x": sigs([points["x"][i] for i in idx]),
                     "y": sigs([points["y"][i] for i in idx]), "mode": "markers",
                     "name": names[c] if c < len(names) else f"class {c}",
                     "marker": {"color": class_color(c), "size": 6, "line": {"width": 0.8, "color": "white"}}})
    title = f"Decision boundary, step {snapshot['step']}" if boundary else "Decision boundary (no snapshot yet)"
    layout = layout_style(title, "x₁ · shade = confidence", "x₂ (input feature 2)",
                          height or 420, "boundary", legend_entries=sum(t["type"] == "scatter" for t in data))
    layout["xaxis"].update(range=[grid["x"][0], grid["x"][-1]], constrain="domain")
    layout["yaxis"].update(range=[grid["y"][0], grid["y"][-1]], scaleanchor="x", scaleratio=1, constrain="domain")
    return {"data": data, "layout": layout}
