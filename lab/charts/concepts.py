"""Figures of the concept pages: activations, initialization, optimizer paths, schedules, preprocessing, regularizers.

Builders are pure: they take the plain results of `lab.concepts.*` (dataclasses, lists, dicts) and return a
`go.Figure` styled by `lab.charts.style`, so the look matches the live pages.

Speed matters here because every control change rebuilds the page's figures: data goes in as float32 numpy
arrays (Plotly validates them in one step and sends them as compact binary instead of text), panels are laid
out by `_panels` rather than `make_subplots`, and shapes are added in one layout update rather than one
`add_vrect` at a time (each of those re-validates every shape so far).
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from PIL import Image

from lab.charts.style import HEATMAP_SCALE, NEUTRAL, PALETTE, even_indices, rgba, run_color, style_figure

SIGN_SCALE = [[0.0, PALETTE[1]], [0.5, "#FFFFFF"], [1.0, PALETTE[0]]]  # -1 orange, 0 white, +1 blue
DIVERGING = "RdBu"  # signed images (weights, centred pixels): white at zero
MAX_FRAMES = 25  # animation frames; each holds every path so far, so frames x points is what the JSON carries
FRAME_POINTS = 60  # points per path inside animation frames
PATH_POINTS = 500  # points per path in the static figure


def _f32(values) -> np.ndarray:
    """A float32 array (None and non-finite values become NaN, which Plotly draws as a gap)."""
    a = np.array(values, dtype=np.float64)  # None -> nan
    a[~np.isfinite(a)] = np.nan
    return a.astype(np.float32)


def _ax(kind: str, i: int) -> str:
    """Axis reference of panel i (1-based): 'x', 'x2', ..."""
    return kind if i == 1 else f"{kind}{i}"


def _panels(titles: Sequence[str], gap: float = 0.07) -> go.Figure:
    """An empty figure with len(titles) side-by-side panels; panel i uses axes _ax('x', i), _ax('y', i)."""
    n = len(titles)
    width = (1.0 - gap * (n - 1)) / n
    layout: dict = {"annotations": []}
    for i in range(1, n + 1):
        lo = (i - 1) * (width + gap)
        suffix = "" if i == 1 else str(i)
        layout[f"xaxis{suffix}"] = {"domain": [lo, lo + width], "anchor": _ax("y", i)}
        layout[f"yaxis{suffix}"] = {"domain": [0.0, 1.0], "anchor": _ax("x", i)}
        layout["annotations"].append({"text": titles[i - 1], "x": lo + width / 2, "y": 1.0, "xref": "paper",
                                      "yref": "paper", "xanchor": "center", "yanchor": "bottom",
                                      "showarrow": False, "font": {"size": 12}})
    return go.Figure(layout=layout)


def _axis(fig: go.Figure, kind: str, i: int, **props) -> None:
    fig.layout[f"{kind}axis{'' if i == 1 else i}"].update(**props)


def _vline(x: float, i: int, color: str, dash: str = "solid", width: float = 2) -> dict:
    """A vertical line shape across panel i."""
    return {"type": "line", "x0": x, "x1": x, "y0": 0, "y1": 1, "xref": _ax("x", i), "yref": f"{_ax('y', i)} domain",
            "line": {"color": color, "dash": dash, "width": width}}


def _hline(y: float, i: int, color: str, dash: str = "dash", width: float = 1) -> dict:
    """A horizontal line shape across panel i."""
    return {"type": "line", "y0": y, "y1": y, "x0": 0, "x1": 1, "yref": _ax("y", i), "xref": f"{_ax('x', i)} domain",
            "line": {"color": color, "dash": dash, "width": width}}


def _png(rgb: np.ndarray) -> str:
    """An (H, W, 3) uint8 image as a PNG data URI: small, and drawn pixel-sharp with zsmooth=False."""
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _to_rgb(img) -> np.ndarray:
    """(C, H, W) floats in [0, 1] -> (H, W, 3) uint8; grey images are repeated over the three channels."""
    a = np.clip(np.asarray(img, dtype=np.float64), 0.0, 1.0)
    if a.shape[0] == 1:
        a = np.repeat(a, 3, axis=0)
    return (a.transpose(1, 2, 0) * 255).round().astype(np.uint8)


# ---- activations --------------------------------------------------------------------------------------------


def activation_figure(curves: Sequence, vanishing: Mapping[str, Sequence[tuple[float, float]]],
                      labels: Mapping[str, str], threshold: float) -> go.Figure:
    """f(x) and f'(x) side by side for several activations; f' shaded where |f'| < threshold."""
    fig = _panels(["f(x)", "f'(x), by autograd"])
    shapes = [_hline(threshold, 2, NEUTRAL, "dot")]
    for i, c in enumerate(curves):
        color, name = run_color(i), labels.get(c.name, c.name)
        x = _f32(c.x)
        fig.add_trace(go.Scatter(x=x, y=_f32(c.y), mode="lines", name=name, legendgroup=c.name,
                                 line={"color": color, "width": 2}))
        fig.add_trace(go.Scatter(x=x, y=_f32(c.dy), mode="lines", name=name, legendgroup=c.name, showlegend=False,
                                 xaxis="x2", yaxis="y2", line={"color": color, "width": 2}))
        shapes += [{"type": "rect", "x0": a, "x1": b, "y0": 0, "y1": 1, "xref": "x2", "yref": "y2 domain",
                    "fillcolor": rgba(color, 0.12), "line": {"width": 0}, "layer": "below"}
                   for a, b in vanishing.get(c.name, ())]
    fig.update_layout(shapes=shapes)
    fig.update_xaxes(title_text="input x")
    return style_figure(fig, f"Activations and their slopes (shaded: |f'(x)| < {threshold:g}, the gradient vanishes)",
                        height=380, uirevision="activations")


def grad_sign_figure(patterns: Mapping[str, object]) -> go.Figure:
    """One heatmap per input source: the sign of dL/dw_i (columns) for each example (rows)."""
    names = list(patterns)
    fig = _panels([f"{n}: {patterns[n].one_sign_fraction:.0%} of examples one-signed" for n in names], gap=0.06)
    for i, n in enumerate(names, start=1):
        fig.add_trace(go.Heatmap(z=np.asarray(patterns[n].signs, dtype=np.int8), zmin=-1, zmax=1,
                                 colorscale=SIGN_SCALE, showscale=i == 1, xgap=1, ygap=1, xaxis=_ax("x", i),
                                 yaxis=_ax("y", i), colorbar={"title": {"text": "sign"}, "tickvals": [-1, 0, 1]},
                                 hovertemplate="example %{y}, weight %{x}: %{z}<extra></extra>"))
        _axis(fig, "x", i, title_text="weight i")
    _axis(fig, "y", 1, title_text="example")
    return style_figure(fig, "Sign of each example's weight gradient dL/dw_i", height=340, uirevision="signs")


# ---- initialization ------------------------------------------------------------------------------------------


def init_hist_figure(stats) -> go.Figure:
    """Per-layer activation histograms as a heatmap: layer (rows) x value (columns), colour = share of values."""
    edges = np.asarray(stats.edges)
    h = np.asarray([layer.hist for layer in stats.layers], dtype=np.float64)
    share = h / np.maximum(h.sum(1, keepdims=True), 1.0)
    fig = go.Figure(go.Heatmap(x=_f32((edges[:-1] + edges[1:]) / 2), y=[s.index for s in stats.layers],
                               z=share.astype(np.float32), colorscale=HEATMAP_SCALE, zmin=0,
                               colorbar={"title": {"text": "share"}},
                               hovertemplate="layer %{y}, value %{x:.3g}: %{z:.1%}<extra></extra>"))
    fig.update_yaxes(autorange="reversed", dtick=1)
    return style_figure(fig, "Activation histogram per layer (0 = the input)", "activation value", "layer",
                        height=360, uirevision="init-hist")


def init_stats_figure(stats) -> go.Figure:
    """Mean and std of each layer's activations going forward, and the gradient std coming back (log scale)."""
    idx = [s.index for s in stats.layers]
    fig = _panels(["forward: activations", "backward: gradient std at each layer's output"], gap=0.1)
    fig.add_trace(go.Scatter(x=idx, y=_f32([s.mean for s in stats.layers]), mode="lines+markers", name="mean",
                             line={"color": PALETTE[0]}))
    fig.add_trace(go.Scatter(x=idx, y=_f32([s.std for s in stats.layers]), mode="lines+markers", name="std",
                             line={"color": PALETTE[1]}))
    # A gradient of exactly 0 has no log; draw it at the bottom of float32's range instead of leaving a hole.
    grads = _f32([max(s.grad_std, 1e-38) for s in stats.layers])
    fig.add_trace(go.Scatter(x=idx, y=grads, mode="lines+markers", name="gradient std", xaxis="x2", yaxis="y2",
                             line={"color": PALETTE[2]}))
    for i in (1, 2):
        _axis(fig, "x", i, title_text="layer", dtick=1)
    _axis(fig, "y", 2, type="log", exponentformat="power")
    return style_figure(fig, "Signal through the layers", height=340, uirevision="init-stats")


def symmetry_figure(runs: Sequence) -> go.Figure:
    """Final first-layer weights (units x inputs) of each run side by side: identical rows = identical units."""
    fig = _panels([f"{r.init}: {r.distinct[-1]} different unit(s) of {len(r.final_weights)}" for r in runs],
                  gap=0.05)
    for i, r in enumerate(runs, start=1):
        w = np.asarray(r.final_weights, dtype=np.float32)
        m = float(np.abs(w).max()) or 1.0
        fig.add_trace(go.Heatmap(z=w, zmin=-m, zmax=m, colorscale=DIVERGING, showscale=False, xaxis=_ax("x", i),
                                 yaxis=_ax("y", i), hovertemplate="unit %{y}, input %{x}: %{z:.4g}<extra></extra>"))
        _axis(fig, "x", i, title_text="input pixel")
    _axis(fig, "y", 1, title_text="hidden unit")
    return style_figure(fig, "First-layer weights after training: one row per hidden unit", height=320,
                        uirevision="symmetry")


def distinct_units_figure(runs: Sequence) -> go.Figure:
    """How many different units the first layer has after each training step."""
    fig = go.Figure()
    for i, r in enumerate(runs):
        fig.add_trace(go.Scatter(x=list(range(len(r.distinct))), y=r.distinct, mode="lines", name=r.init,
                                 line={"color": run_color(i), "width": 2}))
    return style_figure(fig, "Different hidden units while training", "step", "distinct units", height=300,
                        uirevision="distinct")


# ---- optimizers on 2D surfaces -------------------------------------------------------------------------------


def optimizer_paths_figure(xs: Sequence[float], ys: Sequence[float], z: Sequence[Sequence[float]],
                           paths: Sequence, labels: Mapping[str, str], minimum: tuple[tuple[float, float], float],
                           start: tuple[float, float], title: str) -> go.Figure:
    """Contour of log10(loss - min) with every optimizer's path; a play button and a slider replay the paths.

    The full paths are drawn as lines; the animation moves one marker trace holding every optimizer's points
    so far (coloured per optimizer, the current point larger). One trace per frame keeps building the figure
    fast: a frame per optimizer would multiply the number of Plotly objects to validate.
    """
    (mx, my), fmin = minimum
    zz = np.log10(np.maximum(np.asarray(z) - fmin, 0.0) + 1e-3)  # log spreads out the deep, flat valleys
    fig = go.Figure(go.Contour(x=_f32(xs), y=_f32(ys), z=zz.astype(np.float32), colorscale=HEATMAP_SCALE,
                               ncontours=25, colorbar={"title": {"text": "log10(loss − min)"}},
                               contours={"coloring": "heatmap"}, line={"width": 0.5}, hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=[mx], y=[my], mode="markers", name="global minimum",
                             marker={"symbol": "star", "size": 14, "color": "white", "line": {"width": 1}}))
    fig.add_trace(go.Scatter(x=[start[0]], y=[start[1]], mode="markers", name="start",
                             marker={"symbol": "circle-open", "size": 12, "color": "white", "line": {"width": 2}}))
    pts = [np.asarray(p.xy, dtype=np.float32) for p in paths]
    for i, (p, a) in enumerate(zip(paths, pts, strict=True)):
        keep = even_indices(len(a), PATH_POINTS)
        name = labels.get(p.optimizer, p.optimizer) + (" (diverged)" if p.diverged else "")
        fig.add_trace(go.Scatter(x=a[keep, 0], y=a[keep, 1], mode="lines", name=name,
                                 line={"color": run_color(i), "width": 1.5}, opacity=0.7))
    frame_steps = even_indices(max((len(a) for a in pts), default=1), MAX_FRAMES)

    # Colours as numbers on a colorscale that puts optimizer i's colour at value i: numeric arrays travel as
    # compact binary, a list of colour strings per point would dominate the figure's size.
    n = max(len(pts), 2)
    scale = [[i / (n - 1), run_color(min(i, len(pts) - 1))] for i in range(n)]

    def progress(step: int) -> dict:
        """Marker positions, colours and sizes of every optimizer's path up to `step`."""
        x, y, color, size = [], [], [], []
        for i, a in enumerate(pts):
            last = min(step, len(a) - 1)
            keep = [k for k in even_indices(len(a), FRAME_POINTS) if k < last] + [last]
            x += a[keep, 0].tolist()
            y += a[keep, 1].tolist()
            color += [i] * len(keep)
            size += [4] * (len(keep) - 1) + [11]
        return {"x": _f32(x), "y": _f32(y),
                "marker": {"color": np.asarray(color, dtype=np.uint8), "size": np.asarray(size, dtype=np.uint8)}}

    dots_trace = go.Scatter(mode="markers", showlegend=False, hoverinfo="skip", **progress(frame_steps[-1]))
    dots_trace.marker.update(colorscale=scale, cmin=0, cmax=n - 1)  # once here; frames only change the data
    fig.add_trace(dots_trace)
    dots = len(fig.data) - 1
    fig.frames = [go.Frame(data=[go.Scatter(**progress(s))], traces=[dots], name=str(s)) for s in frame_steps]
    still = {"frame": {"duration": 0, "redraw": False}, "mode": "immediate", "transition": {"duration": 0}}
    fig.update_layout(
        updatemenus=[{"type": "buttons", "direction": "left", "showactive": False, "x": 0, "y": -0.1,
                      "xanchor": "left", "yanchor": "top", "buttons": [
                          {"label": "▶ play", "method": "animate",
                           "args": [None, {"frame": {"duration": 80, "redraw": False}, "fromcurrent": False,
                                           "transition": {"duration": 0}}]},
                          {"label": "❚❚ pause", "method": "animate", "args": [[None], still]}]}],
        sliders=[{"active": len(frame_steps) - 1, "x": 0.18, "len": 0.82, "y": -0.06, "yanchor": "top",
                  "currentvalue": {"prefix": "step "},
                  "steps": [{"label": str(s), "method": "animate", "args": [[str(s)], still]} for s in frame_steps]}],
    )
    fig.update_xaxes(range=[xs[0], xs[-1]])
    fig.update_yaxes(range=[ys[0], ys[-1]])
    style_figure(fig, title, "x (parameter 1)", "y (parameter 2)", height=560, uirevision="paths")
    # Room under the plot for the play button and slider, with the legend below them.
    fig.update_layout(margin={"l": 60, "r": 16, "t": 44, "b": 210}, legend={"y": -0.4})
    return fig


def optimizer_loss_figure(paths: Sequence, labels: Mapping[str, str], fmin: float) -> go.Figure:
    """loss − global minimum against step, log scale (the minimum itself would be at −∞)."""
    fig = go.Figure()
    for i, p in enumerate(paths):
        gap = [max(v - fmin, 1e-30) if math.isfinite(v) else None for v in p.loss]
        keep = even_indices(len(gap), PATH_POINTS)
        fig.add_trace(go.Scatter(x=keep, y=_f32([gap[k] for k in keep]), mode="lines",
                                 name=labels.get(p.optimizer, p.optimizer), line={"color": run_color(i), "width": 2}))
    fig.update_yaxes(type="log", exponentformat="power")
    return style_figure(fig, "Distance to the minimum value", "step", "loss − minimum", height=360,
                        uirevision="paths-loss")


# ---- schedules -----------------------------------------------------------------------------------------------


def schedules_figure(curves: Mapping[str, Sequence[float]], log_y: bool = False,
                     title: str = "Learning rate over the run", x_scale: float = 1.0, x_title: str = "optimizer step",
                     ref_lines: Mapping[str, float] | None = None) -> go.Figure:
    """One line per schedule (name -> rate at every step); x is step x x_scale; optional horizontal references."""
    fig = go.Figure()
    for i, (name, lrs) in enumerate(curves.items()):
        keep = even_indices(len(lrs), PATH_POINTS)
        fig.add_trace(go.Scatter(x=_f32([k * x_scale for k in keep]), y=_f32([lrs[k] for k in keep]), mode="lines",
                                 name=name, line={"color": run_color(i), "width": 2}))
    shapes = []
    for label, y in (ref_lines or {}).items():
        shapes.append(_hline(y, 1, NEUTRAL))
        fig.add_annotation(x=0, xref="x domain", y=y, text=label, showarrow=False, xanchor="left", yanchor="bottom",
                           font={"color": NEUTRAL})
    fig.update_layout(shapes=shapes)
    if log_y:
        fig.update_yaxes(type="log", exponentformat="power")
    return style_figure(fig, title, x_title, "learning rate", height=360, uirevision=title)


# ---- preprocessing -------------------------------------------------------------------------------------------


def cloud_figure(views: Sequence, labels: Mapping[str, str]) -> go.Figure:
    """The same point cloud after each transform, one panel each, equal axis scales, origin marked."""
    fig = _panels([labels.get(v.kind, v.kind) for v in views], gap=0.03)
    for i, v in enumerate(views, start=1):
        pts = np.asarray(v.points, dtype=np.float32)
        fig.add_trace(go.Scatter(x=pts[:, 0], y=pts[:, 1], mode="markers", showlegend=False, xaxis=_ax("x", i),
                                 yaxis=_ax("y", i), marker={"size": 4, "color": PALETTE[0], "opacity": 0.6}))
        fig.add_trace(go.Scatter(x=[0], y=[0], mode="markers", showlegend=False, hoverinfo="skip", xaxis=_ax("x", i),
                                 yaxis=_ax("y", i),
                                 marker={"symbol": "cross-thin", "size": 14,
                                         "line": {"width": 2, "color": PALETTE[1]}}))
        # The same range on both axes of a panel, so a round cloud looks round and a stretched one stretched.
        lim = float(np.abs(pts).max()) * 1.05 + 1e-9
        _axis(fig, "x", i, range=[-lim, lim])
        _axis(fig, "y", i, range=[-lim, lim], scaleanchor=_ax("x", i))
    return style_figure(fig, "One cloud, five preprocessings (orange cross: the origin)", height=340,
                        uirevision="cloud")


def image_stats_figure(stats) -> go.Figure:
    """Mean image, one example, and the example centred by the mean image and by the channel means."""
    fig = _panels(["mean image", f"example: {stats.label}", "− mean image", "− channel means"], gap=0.04)
    for i, img in ((1, stats.mean_image), (2, stats.example)):
        fig.add_trace(go.Image(source=_png(_to_rgb(img)), zsmooth=False, hoverinfo="skip", xaxis=_ax("x", i),
                               yaxis=_ax("y", i)))
    for i, key in ((3, "minus_mean_image"), (4, "minus_channel_means")):
        # Centred images are signed: show their mean over channels on a diverging scale, white = 0.
        z = np.asarray(getattr(stats, key), dtype=np.float32).mean(0)
        fig.add_trace(go.Heatmap(z=z, zmin=-1, zmax=1, colorscale=DIVERGING, showscale=i == 4, xaxis=_ax("x", i),
                                 yaxis=_ax("y", i), hovertemplate="%{z:.2f}<extra></extra>"))
        _axis(fig, "y", i, autorange="reversed")
    for i in range(1, 5):
        _axis(fig, "x", i, visible=False)
        _axis(fig, "y", i, visible=False, scaleanchor=_ax("x", i))
    return style_figure(fig, f"{stats.dataset}: an example, centred two ways", height=320, uirevision="images")


def channel_means_figure(stats) -> go.Figure:
    """Per-channel mean (bars) and std (error bars) of the raw training pixels."""
    n = len(stats.channel_means)
    names = ["grey"] if n == 1 else ["red", "green", "blue"][:n]
    colors = [NEUTRAL] if n == 1 else ["#D55E00", "#009E73", "#0072B2"][:n]
    fig = go.Figure(go.Bar(x=names, y=_f32(stats.channel_means), marker_color=colors,
                           error_y={"type": "data", "array": _f32(stats.channel_stds), "visible": True}))
    fig.update_yaxes(range=[0, 1])
    return style_figure(fig, "Per-channel mean ± std", "channel", "pixel value", height=300, uirevision="channels")


def race_figure(losses: Mapping[str, Sequence[float]], labels: Mapping[str, str]) -> go.Figure:
    """Training loss per preprocessing (already smoothed by the caller), same model and seed."""
    fig = go.Figure()
    for i, (kind, ls) in enumerate(losses.items()):
        fig.add_trace(go.Scatter(x=np.arange(1, len(ls) + 1), y=_f32(ls), mode="lines", name=labels.get(kind, kind),
                                 line={"color": run_color(i), "width": 2}))
    return style_figure(fig, "Training loss (moving average of 10 steps)", "step", "loss", height=340,
                        uirevision="race")


# ---- regularization and augmentation ------------------------------------------------------------------------


def gallery_figure(gallery, labels: Mapping[str, str]) -> go.Figure:
    """All images in one mosaic: a column per augmentation (originals first), training targets under each tile."""
    cols = [("original", gallery.originals, gallery.labels)] + [(r.name, r.images, r.captions) for r in gallery.rows]
    tiles = [[_to_rgb(img) for img in imgs] for _, imgs, _ in cols]
    h, w = tiles[0][0].shape[:2]
    pad, cap = max(1, w // 6), h  # cap: room under each tile for a caption of up to two lines
    cell_h, cell_w = h + pad + cap, w + 2 * pad
    n_rows = len(tiles[0])
    canvas = np.full((n_rows * cell_h, len(cols) * cell_w, 3), 255, dtype=np.uint8)
    for c, column in enumerate(tiles):
        for r, t in enumerate(column):
            canvas[r * cell_h:r * cell_h + h, c * cell_w + pad:c * cell_w + pad + w] = t
    fig = go.Figure(go.Image(source=_png(canvas), zsmooth=False, hoverinfo="skip"))
    notes = []
    for c, (_, _, caps) in enumerate(cols):
        for r, text in enumerate(caps):
            # "62% 3 + 38% 8" becomes two short lines so it fits under its tile
            notes.append({"x": c * cell_w + cell_w / 2, "y": r * cell_h + h + pad / 2, "showarrow": False,
                          "text": text.replace(" + ", "<br>"), "yanchor": "top", "font": {"size": 9}})
    fig.update_layout(annotations=notes)
    fig.update_xaxes(side="top", tickangle=0, tickvals=[c * cell_w + cell_w / 2 for c in range(len(cols))],
                     ticktext=[labels.get(name, name) for name, _, _ in cols], showgrid=False, zeroline=False)
    fig.update_yaxes(visible=False)
    # The image keeps its aspect ratio, so size the figure for a wide page rather than a fixed height.
    height = int(min(1000, max(320, 800 * canvas.shape[0] / canvas.shape[1] + 110)))
    style_figure(fig, "Augmentation gallery (under each image: the label training sees)", height=height,
                 uirevision="gallery")
    fig.update_layout(margin={"l": 16, "r": 16, "t": 70, "b": 16})
    return fig


def dropout_figure(demo) -> go.Figure:
    """Sampled masks, per-unit expectations in train vs eval mode, and one downstream unit's spread of outputs."""
    fig = _panels(["sampled masks: 0 or 1/(1-p)", "per unit: train-mode mean vs eval", "w · dropout(h) of one unit"],
                  gap=0.08)
    fig.add_trace(go.Heatmap(z=_f32(demo.masks), colorscale=HEATMAP_SCALE, zmin=0, showscale=False, xgap=1, ygap=1,
                             hovertemplate="sample %{y}, unit %{x}: ×%{z:.3g}<extra></extra>"))
    units = np.arange(len(demo.h))
    bars = (("eval output", demo.eval_out), ("train mean (inverted dropout)", demo.train_mean),
            ("train mean without the 1/(1-p)", demo.plain_mean))
    for i, (name, vals) in enumerate(bars):
        fig.add_trace(go.Bar(x=units, y=_f32(vals), name=name, marker_color=run_color(i), xaxis="x2", yaxis="y2"))
    fig.add_trace(go.Histogram(x=_f32(demo.unit_samples), nbinsx=40, name="train-mode samples", xaxis="x3",
                               yaxis="y3", marker_color=PALETTE[4]))
    mean = float(np.mean(demo.unit_samples))
    fig.update_layout(barmode="group", shapes=[_vline(demo.unit_eval, 3, PALETTE[0]),
                                               _vline(mean, 3, PALETTE[1], "dash")])
    fig.add_annotation(x=demo.unit_eval, y=1, xref="x3", yref="y3 domain", text="eval", showarrow=False,
                       xanchor="left", yanchor="top")
    _axis(fig, "x", 1, title_text="unit")
    _axis(fig, "y", 1, title_text="sample")
    _axis(fig, "x", 2, title_text="unit")
    _axis(fig, "x", 3, title_text="output (dashed: mean of the samples)")
    style_figure(fig, f"Dropout with p = {demo.p:g}", height=400, uirevision="dropout")
    fig.update_layout(legend={"y": -0.25})  # below the panels' own axis titles
    return fig


def penalty_figure(weights: Mapping[str, Sequence[float]], tol: float) -> go.Figure:
    """Histograms of trained first-layer weights per penalty; log counts show the spike at zero."""
    fig = go.Figure()
    lim = max(float(np.abs(np.asarray(ws)).max()) for ws in weights.values())
    for i, (name, ws) in enumerate(weights.items()):
        a = np.asarray(ws)
        counts, edges = np.histogram(a, bins=81, range=(-lim, lim))  # odd: one bin centred on zero
        fig.add_trace(go.Scatter(x=_f32((edges[:-1] + edges[1:]) / 2), y=counts, mode="lines", line_shape="hvh",
                                 name=f"{name}: {np.mean(np.abs(a) < tol):.0%} with |w| < {tol:g}",
                                 line={"color": run_color(i), "width": 2}))
    fig.update_yaxes(type="log")
    return style_figure(fig, "First-layer weights after training", "weight value", "count (log scale)", height=360,
                        uirevision="penalty")


def batchnorm_figure(demo) -> go.Figure:
    """Running mean and std approaching the true statistics, and output statistics in both modes."""
    fig = _panels(["running mean (thick) and std (thin); dashed: true mean", "output per feature: train vs eval"],
                  gap=0.1)
    steps = np.arange(1, len(demo.running_mean) + 1)
    rm, rs = np.asarray(demo.running_mean, dtype=np.float32), np.asarray(demo.running_std, dtype=np.float32)
    shapes = []
    for f in range(len(demo.true_mean)):
        color = run_color(f)
        fig.add_trace(go.Scatter(x=steps, y=rm[:, f], mode="lines", name=f"feature {f}", legendgroup=str(f),
                                 line={"color": color, "width": 2.5}))
        fig.add_trace(go.Scatter(x=steps, y=rs[:, f], mode="lines", showlegend=False, legendgroup=str(f),
                                 line={"color": color, "width": 1}))
        shapes.append(_hline(demo.true_mean[f], 1, color))
    feats = [f"feature {f}" for f in range(len(demo.true_mean))]
    for i, (name, vals) in enumerate((("train-mode mean", demo.train_out_mean), ("train-mode std", demo.train_out_std),
                                      ("eval-mode mean", demo.eval_out_mean), ("eval-mode std", demo.eval_out_std))):
        fig.add_trace(go.Bar(x=feats, y=_f32(vals), name=name, xaxis="x2", yaxis="y2",
                             # colour says mean or std, hatching says eval mode
                             marker={"color": PALETTE[i % 2], "pattern": {"shape": "" if i < 2 else "/"}}))
    fig.update_layout(barmode="group", shapes=shapes)
    _axis(fig, "x", 1, title_text="training step")
    style_figure(fig, "Batch norm: statistics in training vs evaluation mode", height=400, uirevision="batchnorm")
    fig.update_layout(legend={"y": -0.25})  # below the panels' own axis titles
    return fig
