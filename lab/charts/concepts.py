"""Figures of the concept pages: activations, initialization, optimizer paths, schedules, preprocessing, regularizers.

Builders are pure: they take the plain results of `lab.concepts.*` (dataclasses, lists, dicts) and return a
`go.Figure` styled by `lab.charts.style`, so the look matches the live pages. Numbers are rounded with `sigs`
and long series downsampled, which keeps each rerun's JSON small.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from lab.charts.style import (
    HEATMAP_SCALE,
    NEUTRAL,
    PALETTE,
    downsample,
    even_indices,
    rgba,
    run_color,
    sig,
    sigs,
    style_figure,
)

SIGN_SCALE = [[0.0, PALETTE[1]], [0.5, "#FFFFFF"], [1.0, PALETTE[0]]]  # -1 orange, 0 white, +1 blue
DIVERGING = "RdBu"  # signed images (weights, centred pixels): white at zero


def _vrects(fig: go.Figure, intervals: Sequence[tuple[float, float]], color: str, row: int | None = None,
            col: int | None = None) -> None:
    for a, b in intervals:
        fig.add_vrect(x0=a, x1=b, fillcolor=rgba(color, 0.12), line_width=0, layer="below", row=row, col=col)


# ---- activations --------------------------------------------------------------------------------------------


def activation_figure(curves: Sequence, vanishing: Mapping[str, Sequence[tuple[float, float]]],
                      labels: Mapping[str, str], threshold: float) -> go.Figure:
    """f(x) and f'(x) side by side for several activations; shaded where |f'| < threshold."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("f(x)", "f'(x) by autograd"), horizontal_spacing=0.08)
    for i, c in enumerate(curves):
        color = run_color(i)
        name = labels.get(c.name, c.name)
        x = sigs(c.x)
        fig.add_trace(go.Scatter(x=x, y=sigs(c.y), mode="lines", name=name, legendgroup=c.name,
                                 line={"color": color, "width": 2}), row=1, col=1)
        fig.add_trace(go.Scatter(x=x, y=sigs(c.dy), mode="lines", name=name, legendgroup=c.name, showlegend=False,
                                 line={"color": color, "width": 2}), row=1, col=2)
        _vrects(fig, vanishing.get(c.name, ()), color, row=1, col=2)
    fig.add_hline(y=threshold, line={"color": NEUTRAL, "dash": "dot", "width": 1}, row=1, col=2)
    style_figure(fig, f"Activations and their slopes (shaded: |f'(x)| < {threshold:g}, the gradient vanishes)",
                 height=380, uirevision="activations")
    fig.update_xaxes(title_text="input x")
    return fig


def grad_sign_figure(patterns: Mapping[str, object]) -> go.Figure:
    """One heatmap per input source: sign of dL/dw_i (columns) for each example (rows)."""
    names = list(patterns)
    titles = [f"{n}: {patterns[n].one_sign_fraction:.0%} one-sign" for n in names]
    fig = make_subplots(rows=1, cols=len(names), subplot_titles=titles, horizontal_spacing=0.06)
    for j, n in enumerate(names, start=1):
        fig.add_trace(go.Heatmap(z=patterns[n].signs, zmin=-1, zmax=1, colorscale=SIGN_SCALE, showscale=j == 1,
                                 colorbar={"title": "sign", "tickvals": [-1, 0, 1]}, xgap=1, ygap=1,
                                 hovertemplate="example %{y}, weight %{x}: %{z}<extra></extra>"), row=1, col=j)
        fig.update_xaxes(title_text="weight i", row=1, col=j)
    fig.update_yaxes(title_text="example", row=1, col=1)
    return style_figure(fig, "Sign of each example's weight gradient dL/dw_i", height=340, uirevision="signs")


# ---- initialization ------------------------------------------------------------------------------------------


def init_hist_figure(stats) -> go.Figure:
    """Per-layer activation histograms as a heatmap: layer (rows) x value (columns), colour = share of values."""
    edges = np.asarray(stats.edges)
    centres = (edges[:-1] + edges[1:]) / 2
    z = []
    for layer in stats.layers:
        h = np.asarray(layer.hist, dtype=float)
        z.append(sigs(h / max(h.sum(), 1.0), 3))
    fig = go.Figure(go.Heatmap(x=sigs(centres), y=[s.index for s in stats.layers], z=z, colorscale=HEATMAP_SCALE,
                               zmin=0, colorbar={"title": "share"},
                               hovertemplate="layer %{y}, value %{x}: %{z:.1%}<extra></extra>"))
    fig.update_yaxes(autorange="reversed", dtick=1)
    return style_figure(fig, "Activation histogram per layer (0 = the input)", "activation value", "layer",
                        height=360, uirevision="init-hist")


def init_stats_figure(stats) -> go.Figure:
    """Mean and std of each layer's activations going forward, and the gradient std coming back (log scale)."""
    idx = [s.index for s in stats.layers]
    fig = make_subplots(rows=1, cols=2, subplot_titles=("forward: activations", "backward: gradient std"),
                        horizontal_spacing=0.1)
    fig.add_trace(go.Scatter(x=idx, y=sigs([s.mean for s in stats.layers]), mode="lines+markers", name="mean",
                             line={"color": PALETTE[0]}), row=1, col=1)
    fig.add_trace(go.Scatter(x=idx, y=sigs([s.std for s in stats.layers]), mode="lines+markers", name="std",
                             line={"color": PALETTE[1]}), row=1, col=1)
    grads = [max(s.grad_std, 1e-30) for s in stats.layers]
    fig.add_trace(go.Scatter(x=idx, y=sigs(grads), mode="lines+markers", name="gradient std (at layer output)",
                             line={"color": PALETTE[2]}), row=1, col=2)
    fig.update_xaxes(title_text="layer", dtick=1)
    fig.update_yaxes(type="log", row=1, col=2)
    return style_figure(fig, "Signal through the layers", height=340, uirevision="init-stats")


def symmetry_figure(runs: Sequence) -> go.Figure:
    """Final first-layer weights (units x inputs) of each run side by side: identical rows = identical units."""
    fig = make_subplots(rows=1, cols=len(runs), horizontal_spacing=0.06,
                        subplot_titles=[f"{r.init}: {r.distinct[-1]} different unit(s)" for r in runs])
    for j, r in enumerate(runs, start=1):
        w = np.asarray(r.final_weights)
        m = float(np.abs(w).max()) or 1.0
        fig.add_trace(go.Heatmap(z=[sigs(row, 3) for row in w], zmin=-m, zmax=m, colorscale=DIVERGING,
                                 showscale=False, hovertemplate="unit %{y}, input %{x}: %{z}<extra></extra>"),
                      row=1, col=j)
        fig.update_xaxes(title_text="input pixel", row=1, col=j)
    fig.update_yaxes(title_text="hidden unit", row=1, col=1)
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


MAX_FRAMES = 30  # animation frames; each holds every path so far, so frames x points is what the JSON carries
FRAME_POINTS = 120  # points per path inside frames (the static full path keeps up to MAX_POINTS)


def optimizer_paths_figure(xs: Sequence[float], ys: Sequence[float], z: Sequence[Sequence[float]],
                           paths: Sequence, labels: Mapping[str, str], minimum: tuple[tuple[float, float], float],
                           start: tuple[float, float], title: str) -> go.Figure:
    """Contour of log10(f - min) with every optimizer's path; a play button and slider replay the paths."""
    (mx, my), fmin = minimum
    zz = np.log10(np.maximum(np.asarray(z) - fmin, 0.0) + 1e-3)  # log spreads out the deep, flat valleys
    fig = go.Figure(go.Contour(x=sigs(xs), y=sigs(ys), z=[sigs(r, 3) for r in zz], colorscale=HEATMAP_SCALE,
                               ncontours=25, showscale=True, colorbar={"title": "log10(loss - min)"},
                               contours={"coloring": "heatmap"}, line={"width": 0.5}, hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=[mx], y=[my], mode="markers", name="global minimum",
                             marker={"symbol": "star", "size": 14, "color": "white", "line": {"width": 1}}))
    fig.add_trace(go.Scatter(x=[start[0]], y=[start[1]], mode="markers", name="start",
                             marker={"symbol": "circle-open", "size": 12, "color": "white", "line": {"width": 2}}))
    longest = max((len(p.xy) for p in paths), default=1)
    frame_steps = even_indices(longest, MAX_FRAMES)
    first_path = len(fig.data)
    sub = []
    for i, p in enumerate(paths):
        color = run_color(i)
        keep = even_indices(len(p.xy), 500)
        px, py = [sig(p.xy[k][0]) for k in keep], [sig(p.xy[k][1]) for k in keep]
        name = labels.get(p.optimizer, p.optimizer) + (" (diverged)" if p.diverged else "")
        fig.add_trace(go.Scatter(x=px, y=py, mode="lines", name=name, legendgroup=str(i),
                                 line={"color": color, "width": 2}))
        fig.add_trace(go.Scatter(x=[px[-1]], y=[py[-1]], mode="markers", showlegend=False, legendgroup=str(i),
                                 marker={"color": color, "size": 9, "line": {"color": "white", "width": 1}}))
        sub.append(even_indices(len(p.xy), FRAME_POINTS))
    frames = []
    for s in frame_steps:
        data = []
        for p, keep in zip(paths, sub, strict=True):
            upto = [k for k in keep if k <= s] or [0]
            last = min(s, len(p.xy) - 1)
            data.append(go.Scatter(x=[sig(p.xy[k][0]) for k in upto] + [sig(p.xy[last][0])],
                                   y=[sig(p.xy[k][1]) for k in upto] + [sig(p.xy[last][1])]))
            data.append(go.Scatter(x=[sig(p.xy[last][0])], y=[sig(p.xy[last][1])]))
        frames.append(go.Frame(data=data, traces=list(range(first_path, first_path + 2 * len(paths))),
                               name=str(s)))
    fig.frames = frames
    play = {"frame": {"duration": 80, "redraw": False}, "fromcurrent": False, "transition": {"duration": 0}}
    fig.update_layout(
        updatemenus=[{"type": "buttons", "showactive": False, "x": 0, "y": -0.12, "xanchor": "left",
                      "yanchor": "top", "direction": "left", "buttons": [
                          {"label": "▶ play", "method": "animate", "args": [None, play]},
                          {"label": "❚❚ pause", "method": "animate",
                           "args": [[None], {"frame": {"duration": 0, "redraw": False}, "mode": "immediate"}]}]}],
        sliders=[{"active": len(frames) - 1, "x": 0.2, "len": 0.8, "y": -0.08, "yanchor": "top",
                  "currentvalue": {"prefix": "step "}, "steps": [
                      {"label": str(s), "method": "animate",
                       "args": [[str(s)], {"frame": {"duration": 0, "redraw": False}, "mode": "immediate"}]}
                      for s in frame_steps]}],
    )
    fig.update_xaxes(range=[xs[0], xs[-1]])
    fig.update_yaxes(range=[ys[0], ys[-1]])
    style_figure(fig, title, "x (parameter 1)", "y (parameter 2)", height=520, uirevision="paths")
    fig.update_layout(margin={"l": 60, "r": 16, "t": 44, "b": 150}, legend={"y": -0.32})
    return fig


def optimizer_loss_figure(paths: Sequence, labels: Mapping[str, str], fmin: float) -> go.Figure:
    """loss - global minimum against step, log scale (0 would be the minimum itself)."""
    fig = go.Figure()
    for i, p in enumerate(paths):
        gap = [max(v - fmin, 1e-16) if math.isfinite(v) else None for v in p.loss]
        x, y = downsample(list(range(len(gap))), gap)
        fig.add_trace(go.Scatter(x=x, y=sigs(y), mode="lines", name=labels.get(p.optimizer, p.optimizer),
                                 line={"color": run_color(i), "width": 2}))
    fig.update_yaxes(type="log", exponentformat="power")
    return style_figure(fig, "Distance to the minimum value", "step", "loss − minimum", height=360,
                        uirevision="paths-loss")


# ---- schedules -----------------------------------------------------------------------------------------------


def schedules_figure(curves: Mapping[str, Sequence[float]], log_y: bool = False,
                     title: str = "Learning rate over the run", markers: Mapping[str, float] | None = None
                     ) -> go.Figure:
    """One line per schedule (name -> rate at every step); optional vertical markers (label -> step)."""
    fig = go.Figure()
    for i, (name, lrs) in enumerate(curves.items()):
        x, y = downsample(list(range(len(lrs))), list(lrs))
        fig.add_trace(go.Scatter(x=x, y=sigs(y), mode="lines", name=name, line={"color": run_color(i), "width": 2}))
    for label, step in (markers or {}).items():
        fig.add_vline(x=step, line={"color": NEUTRAL, "dash": "dot"}, annotation_text=label,
                      annotation_position="top left")
    if log_y:
        fig.update_yaxes(type="log", exponentformat="power")
    return style_figure(fig, title, "optimizer step", "learning rate", height=360, uirevision=title)


# ---- preprocessing -------------------------------------------------------------------------------------------


def cloud_figure(views: Sequence, labels: Mapping[str, str]) -> go.Figure:
    """The same point cloud after each transform, one panel each, equal axis scales, origin marked."""
    n = len(views)
    titles = []
    for v in views:
        c = v.cov
        titles.append(f"{labels.get(v.kind, v.kind)}<br><sub>cov [[{c[0][0]:.2f}, {c[0][1]:.2f}], "
                      f"[{c[1][0]:.2f}, {c[1][1]:.2f}]]</sub>")
    fig = make_subplots(rows=1, cols=n, subplot_titles=titles, horizontal_spacing=0.04)
    for j, v in enumerate(views, start=1):
        pts = np.asarray(v.points)
        fig.add_trace(go.Scatter(x=sigs(pts[:, 0], 3), y=sigs(pts[:, 1], 3), mode="markers", showlegend=False,
                                 marker={"size": 4, "color": PALETTE[0], "opacity": 0.6}), row=1, col=j)
        fig.add_trace(go.Scatter(x=[0], y=[0], mode="markers", showlegend=False, hoverinfo="skip",
                                 marker={"symbol": "cross-thin", "size": 14, "line": {"width": 2, "color": PALETTE[1]}}),
                      row=1, col=j)
        # Equal scales per panel, so a round cloud looks round and a stretched one stretched.
        lim = float(np.abs(pts).max()) * 1.05 + 1e-9
        fig.update_xaxes(range=[-lim, lim], row=1, col=j, zeroline=True)
        fig.update_yaxes(range=[-lim, lim], row=1, col=j, zeroline=True, scaleanchor=f"x{j if j > 1 else ''}")
    style_figure(fig, "One cloud, five preprocessings (orange cross: the origin)", height=330,
                 uirevision="cloud")
    fig.update_annotations(font_size=12)
    return fig


def _to_rgb(img: np.ndarray) -> np.ndarray:
    """(C, H, W) floats in [0, 1] -> (H, W, 3) uint8; grey images are repeated over the three channels."""
    img = np.clip(np.asarray(img, dtype=float), 0.0, 1.0)
    if img.shape[0] == 1:
        img = np.repeat(img, 3, axis=0)
    return (img.transpose(1, 2, 0) * 255).round().astype(np.uint8)


def image_stats_figure(stats) -> go.Figure:
    """Mean image, one example, and the example centred by the mean image and by the channel means."""
    titles = ("mean image", f"example ({stats.label})", "example − mean image", "example − channel means")
    fig = make_subplots(rows=1, cols=4, subplot_titles=titles, horizontal_spacing=0.03)
    fig.add_trace(go.Image(z=_to_rgb(stats.mean_image), hoverinfo="skip"), row=1, col=1)
    fig.add_trace(go.Image(z=_to_rgb(stats.example), hoverinfo="skip"), row=1, col=2)
    for j, key in ((3, "minus_mean_image"), (4, "minus_channel_means")):
        # Centred images are signed: show their mean over channels on a diverging scale, white = 0.
        z = np.asarray(getattr(stats, key)).mean(0)
        fig.add_trace(go.Heatmap(z=[sigs(r, 3) for r in z], zmid=0, colorscale=DIVERGING, showscale=j == 4,
                                 zmin=-1, zmax=1, hovertemplate="%{z}<extra></extra>"), row=1, col=j)
        fig.update_yaxes(autorange="reversed", row=1, col=j)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    for j in range(1, 5):
        fig.update_yaxes(scaleanchor=f"x{j if j > 1 else ''}", row=1, col=j)
    return style_figure(fig, f"{stats.dataset}: what zero-centring removes", height=300, uirevision="images")


def channel_means_figure(stats) -> go.Figure:
    """Per-channel mean (bars) and std (error bars) of the raw training pixels."""
    n = len(stats.channel_means)
    names = ["grey"] if n == 1 else ["red", "green", "blue"][:n]
    colors = [NEUTRAL] if n == 1 else ["#D55E00", "#009E73", "#0072B2"][:n]
    fig = go.Figure(go.Bar(x=names, y=sigs(stats.channel_means), marker_color=colors,
                           error_y={"type": "data", "array": sigs(stats.channel_stds), "visible": True}))
    fig.update_yaxes(range=[0, 1])
    return style_figure(fig, "Per-channel mean ± std", "channel", "pixel value", height=300,
                        uirevision="channels")


def race_figure(losses: Mapping[str, Sequence[float]], labels: Mapping[str, str], smooth_fn) -> go.Figure:
    """Smoothed training loss per preprocessing, same model and seed."""
    fig = go.Figure()
    for i, (kind, ls) in enumerate(losses.items()):
        x, y = downsample(list(range(1, len(ls) + 1)), smooth_fn(list(ls)))
        fig.add_trace(go.Scatter(x=x, y=sigs(y), mode="lines", name=labels.get(kind, kind),
                                 line={"color": run_color(i), "width": 2}))
    return style_figure(fig, "Training loss (moving average of 10 steps)", "step", "loss", height=340,
                        uirevision="race")


# ---- regularization and augmentation ------------------------------------------------------------------------


def gallery_figure(gallery, labels: Mapping[str, str]) -> go.Figure:
    """All images in one mosaic: originals on top, one row per augmentation; mixed labels written under tiles."""
    rows = [("original", gallery.originals, gallery.labels)] + [(r.name, r.images, r.captions) for r in gallery.rows]
    tiles = [[_to_rgb(img) for img in imgs] for _, imgs, _ in rows]
    h, w = tiles[0][0].shape[:2]
    pad = max(1, w // 8)
    cap = h  # room under each tile for a two-line caption
    n_cols = len(tiles[0])
    cell_h, cell_w = h + pad + cap, w + pad
    canvas = np.full((len(rows) * cell_h, n_cols * cell_w, 3), 255, dtype=np.uint8)
    for r, row in enumerate(tiles):
        for c, t in enumerate(row):
            canvas[r * cell_h:r * cell_h + h, c * cell_w:c * cell_w + w] = t
    fig = go.Figure(go.Image(z=canvas, zsmooth=False, hoverinfo="skip"))
    for r, (_, _, caps) in enumerate(rows):
        for c, text in enumerate(caps):
            # "0.62 x 3 + 0.38 x 8" -> two short lines so it fits under a tile
            fig.add_annotation(x=c * cell_w + w / 2, y=r * cell_h + h + pad / 2, text=text.replace(" + ", "<br>"),
                               showarrow=False, yanchor="top", font={"size": 9})
    fig.update_xaxes(visible=False)
    fig.update_yaxes(tickvals=[r * cell_h + h / 2 for r in range(len(rows))],
                     ticktext=[labels.get(name, name) for name, _, _ in rows], showgrid=False)
    height = max(300, 95 * len(rows))
    return style_figure(fig, "Augmentation gallery (labels under each image are the training targets)",
                        height=height, uirevision="gallery")


def dropout_figure(demo) -> go.Figure:
    """Sampled masks, per-unit expectations train vs eval, and one downstream unit's spread of outputs."""
    fig = make_subplots(rows=1, cols=3, horizontal_spacing=0.08, subplot_titles=(
        "sampled masks (0 or 1/(1-p))", "per unit: train mean vs eval", "a unit after dropout: w · drop(h)"))
    fig.add_trace(go.Heatmap(z=[sigs(m, 3) for m in demo.masks], colorscale=HEATMAP_SCALE, zmin=0, showscale=False,
                             xgap=1, ygap=1, hovertemplate="sample %{y}, unit %{x}: ×%{z}<extra></extra>"),
                  row=1, col=1)
    units = list(range(len(demo.h)))
    for i, (name, vals) in enumerate((("eval output", demo.eval_out), ("train mean, inverted dropout",
                                                                        demo.train_mean),
                                      ("train mean, no 1/(1-p)", demo.plain_mean))):
        fig.add_trace(go.Bar(x=units, y=sigs(vals), name=name, marker_color=run_color(i)), row=1, col=2)
    fig.add_trace(go.Histogram(x=sigs(demo.unit_samples, 3), nbinsx=40, name="train-mode samples",
                               marker_color=PALETTE[4]), row=1, col=3)
    mean = float(np.mean(demo.unit_samples))
    fig.add_vline(x=demo.unit_eval, line={"color": PALETTE[1], "width": 2}, row=1, col=3,
                  annotation_text="eval", annotation_position="top right")
    fig.add_vline(x=mean, line={"color": PALETTE[0], "dash": "dash", "width": 2}, row=1, col=3,
                  annotation_text="train mean", annotation_position="top left")
    fig.update_xaxes(title_text="unit", row=1, col=1)
    fig.update_xaxes(title_text="unit", row=1, col=2)
    fig.update_xaxes(title_text="output", row=1, col=3)
    fig.update_layout(barmode="group")
    return style_figure(fig, f"Dropout with p = {demo.p:g}", height=360, uirevision="dropout")


def penalty_figure(weights: Mapping[str, Sequence[float]], tol: float) -> go.Figure:
    """Overlaid histograms of trained first-layer weights per penalty (log counts show the spike at zero)."""
    fig = go.Figure()
    lim = max(max(abs(v) for v in ws) for ws in weights.values())
    for i, (name, ws) in enumerate(weights.items()):
        share = float(np.mean(np.abs(np.asarray(ws)) < tol))
        counts, edges = np.histogram(ws, bins=80, range=(-lim, lim))
        centres = (edges[:-1] + edges[1:]) / 2
        fig.add_trace(go.Scatter(x=sigs(centres), y=counts.tolist(), mode="lines", line_shape="hvh",
                                 name=f"{name} ({share:.0%} with |w| < {tol:g})",
                                 line={"color": run_color(i), "width": 2}))
    fig.update_yaxes(type="log")
    return style_figure(fig, "First-layer weights after training", "weight value", "count (log)", height=360,
                        uirevision="penalty")


def batchnorm_figure(demo) -> go.Figure:
    """Running mean and std converging on the true statistics, and output statistics in both modes."""
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.1, subplot_titles=(
        "running estimates (dashed: true values)", "output per feature: train vs eval"))
    steps = list(range(1, len(demo.running_mean) + 1))
    for f in range(len(demo.true_mean)):
        color = run_color(f)
        fig.add_trace(go.Scatter(x=steps, y=sigs([r[f] for r in demo.running_mean]), mode="lines",
                                 name=f"feature {f} mean", line={"color": color, "width": 2}), row=1, col=1)
        fig.add_trace(go.Scatter(x=steps, y=sigs([r[f] for r in demo.running_std]), mode="lines",
                                 name=f"feature {f} std", line={"color": color, "width": 1}), row=1, col=1)
        fig.add_hline(y=demo.true_mean[f], line={"color": color, "dash": "dash", "width": 1}, row=1, col=1)
    feats = [f"f{f}" for f in range(len(demo.true_mean))]
    for i, (name, vals) in enumerate((("train mean", demo.train_out_mean), ("train std", demo.train_out_std),
                                      ("eval mean", demo.eval_out_mean), ("eval std", demo.eval_out_std))):
        fig.add_trace(go.Bar(x=feats, y=sigs(vals), name=name, marker_color=run_color(i)), row=1, col=2)
    fig.update_xaxes(title_text="training step", row=1, col=1)
    fig.update_layout(barmode="group")
    return style_figure(fig, "Batch norm: statistics in training vs evaluation mode", height=380,
                        uirevision="batchnorm")
