"""Figures of the concept pages on data: preprocessing views, image statistics, augmentation, regularizers.

Pure builders like those in `concepts`: plain results of `lab.concepts.*` in, a styled `go.Figure` out.
Image mosaics travel as one PNG (`panels.png`), which is small and drawn pixel-sharp.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from lab.charts.panels import DIVERGING, ax, axis, f32, hline, panels, png, to_rgb, vline
from lab.charts.style import HEATMAP_SCALE, NEUTRAL, PALETTE, run_color, style_figure

# ---- preprocessing -------------------------------------------------------------------------------------------


def cloud_figure(views: Sequence, labels: Mapping[str, str]) -> go.Figure:
    """The same point cloud after each transform, one panel each, equal axis scales, origin marked."""
    fig = panels([labels.get(v.kind, v.kind) for v in views], gap=0.03)
    for i, v in enumerate(views, start=1):
        pts = np.asarray(v.points, dtype=np.float32)
        fig.add_trace(
            go.Scatter(
                x=pts[:, 0],
                y=pts[:, 1],
                mode="markers",
                showlegend=False,
                xaxis=ax("x", i),
                yaxis=ax("y", i),
                marker={"size": 4, "color": PALETTE[0], "opacity": 0.6},
            )
        )
        fig.add_trace(
            go.Scatter(
                x=[0],
                y=[0],
                mode="markers",
                showlegend=False,
                hoverinfo="skip",
                xaxis=ax("x", i),
                yaxis=ax("y", i),
                marker={"symbol": "cross-thin", "size": 14, "line": {"width": 2, "color": PALETTE[1]}},
            )
        )
        # The same range on both axes of a panel, so a round cloud looks round and a stretched one stretched.
        lim = float(np.abs(pts).max()) * 1.05 + 1e-9
        axis(fig, "x", i, range=[-lim, lim])
        axis(fig, "y", i, range=[-lim, lim], scaleanchor=ax("x", i))
    return style_figure(
        fig, "One cloud, five preprocessings (orange cross: the origin)", height=340, uirevision="cloud"
    )


def image_stats_figure(stats) -> go.Figure:
    """Mean image, one example, and the example centred by the mean image and by the channel means."""
    fig = panels(["mean image", f"example: {stats.label}", "− mean image", "− channel means"], gap=0.04)
    for i, img in ((1, stats.mean_image), (2, stats.example)):
        fig.add_trace(
            go.Image(source=png(to_rgb(img)), zsmooth=False, hoverinfo="skip", xaxis=ax("x", i), yaxis=ax("y", i))
        )
    for i, key in ((3, "minus_mean_image"), (4, "minus_channel_means")):
        # Centred images are signed: show their mean over channels on a diverging scale, white = 0.
        z = np.asarray(getattr(stats, key), dtype=np.float32).mean(0)
        fig.add_trace(
            go.Heatmap(
                z=z,
                zmin=-1,
                zmax=1,
                colorscale=DIVERGING,
                showscale=i == 4,
                xaxis=ax("x", i),
                yaxis=ax("y", i),
                hovertemplate="%{z:.2f}<extra></extra>",
            )
        )
        axis(fig, "y", i, autorange="reversed")
    for i in range(1, 5):
        axis(fig, "x", i, visible=False)
        axis(fig, "y", i, visible=False, scaleanchor=ax("x", i))
    return style_figure(fig, f"{stats.dataset}: an example, centred two ways", height=320, uirevision="images")


def channel_means_figure(stats) -> go.Figure:
    """Per-channel mean (bars) and std (error bars) of the raw training pixels."""
    n = len(stats.channel_means)
    names = ["grey"] if n == 1 else ["red", "green", "blue"][:n]
    colors = [NEUTRAL] if n == 1 else ["#D55E00", "#009E73", "#0072B2"][:n]
    fig = go.Figure(
        go.Bar(
            x=names,
            y=f32(stats.channel_means),
            marker_color=colors,
            error_y={"type": "data", "array": f32(stats.channel_stds), "visible": True},
        )
    )
    fig.update_yaxes(range=[0, 1])
    return style_figure(fig, "Per-channel mean ± std", "channel", "pixel value", height=300, uirevision="channels")


def race_figure(losses: Mapping[str, Sequence[float]], labels: Mapping[str, str]) -> go.Figure:
    """Training loss per preprocessing (already smoothed by the caller), same model and seed."""
    fig = go.Figure()
    for i, (kind, ls) in enumerate(losses.items()):
        fig.add_trace(
            go.Scatter(
                x=np.arange(1, len(ls) + 1),
                y=f32(ls),
                mode="lines",
                name=labels.get(kind, kind),
                line={"color": run_color(i), "width": 2},
            )
        )
    return style_figure(
        fig, "Training loss (moving average of 10 steps)", "step", "loss", height=340, uirevision="race"
    )


# ---- regularization and augmentation ------------------------------------------------------------------------


def gallery_figure(gallery, labels: Mapping[str, str]) -> go.Figure:
    """All images in one mosaic: a column per augmentation (originals first), training targets under each tile."""
    cols = [("original", gallery.originals, gallery.labels)] + [(r.name, r.images, r.captions) for r in gallery.rows]
    tiles = [[to_rgb(img) for img in imgs] for _, imgs, _ in cols]
    h, w = tiles[0][0].shape[:2]
    pad, cap = max(1, w // 6), h  # cap: room under each tile for a caption of up to two lines
    cell_h, cell_w = h + pad + cap, w + 2 * pad
    n_rows = len(tiles[0])
    canvas = np.full((n_rows * cell_h, len(cols) * cell_w, 3), 255, dtype=np.uint8)
    for c, column in enumerate(tiles):
        for r, t in enumerate(column):
            canvas[r * cell_h : r * cell_h + h, c * cell_w + pad : c * cell_w + pad + w] = t
    fig = go.Figure(go.Image(source=png(canvas), zsmooth=False, hoverinfo="skip"))
    notes = []
    for c, (_, _, caps) in enumerate(cols):
        for r, text in enumerate(caps):
            # "62% 3 + 38% 8" becomes two short lines so it fits under its tile
            notes.append(
                {
                    "x": c * cell_w + cell_w / 2,
                    "y": r * cell_h + h + pad / 2,
                    "showarrow": False,
                    "text": text.replace(" + ", "<br>"),
                    "yanchor": "top",
                    "font": {"size": 9},
                }
            )
    fig.update_layout(annotations=notes)
    fig.update_xaxes(
        side="top",
        tickangle=0,
        tickvals=[c * cell_w + cell_w / 2 for c in range(len(cols))],
        ticktext=[labels.get(name, name) for name, _, _ in cols],
        showgrid=False,
        zeroline=False,
    )
    fig.update_yaxes(visible=False)
    # The image keeps its aspect ratio, so size the figure for a wide page rather than a fixed height.
    height = int(min(1000, max(320, 800 * canvas.shape[0] / canvas.shape[1] + 110)))
    style_figure(
        fig, "Augmentation gallery (under each image: the label training sees)", height=height, uirevision="gallery"
    )
    fig.update_layout(margin={"l": 16, "r": 16, "t": 70, "b": 16})
    return fig


def dropout_figure(demo) -> go.Figure:
    """Sampled masks, per-unit expectations in train vs eval mode, and one downstream unit's spread of outputs."""
    fig = panels(
        ["sampled masks: 0 or 1/(1-p)", "per unit: train-mode mean vs eval", "w · dropout(h) of one unit"], gap=0.08
    )
    fig.add_trace(
        go.Heatmap(
            z=f32(demo.masks),
            colorscale=HEATMAP_SCALE,
            zmin=0,
            showscale=False,
            xgap=1,
            ygap=1,
            hovertemplate="sample %{y}, unit %{x}: ×%{z:.3g}<extra></extra>",
        )
    )
    units = np.arange(len(demo.h))
    bars = (
        ("eval output", demo.eval_out),
        ("train mean (inverted dropout)", demo.train_mean),
        ("train mean without the 1/(1-p)", demo.plain_mean),
    )
    for i, (name, vals) in enumerate(bars):
        fig.add_trace(go.Bar(x=units, y=f32(vals), name=name, marker_color=run_color(i), xaxis="x2", yaxis="y2"))
    fig.add_trace(
        go.Histogram(
            x=f32(demo.unit_samples),
            nbinsx=40,
            name="train-mode samples",
            xaxis="x3",
            yaxis="y3",
            marker_color=PALETTE[4],
        )
    )
    mean = float(np.mean(demo.unit_samples))
    fig.update_layout(
        barmode="group", shapes=[vline(demo.unit_eval, 3, PALETTE[0]), vline(mean, 3, PALETTE[1], "dash")]
    )
    fig.add_annotation(
        x=demo.unit_eval, y=1, xref="x3", yref="y3 domain", text="eval", showarrow=False, xanchor="left", yanchor="top"
    )
    axis(fig, "x", 1, title_text="unit")
    axis(fig, "y", 1, title_text="sample")
    axis(fig, "x", 2, title_text="unit")
    axis(fig, "x", 3, title_text="output (dashed: mean of the samples)")
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
        fig.add_trace(
            go.Scatter(
                x=f32((edges[:-1] + edges[1:]) / 2),
                y=counts,
                mode="lines",
                line_shape="hvh",
                name=f"{name}: {np.mean(np.abs(a) < tol):.0%} with |w| < {tol:g}",
                line={"color": run_color(i), "width": 2},
            )
        )
    fig.update_yaxes(type="log")
    return style_figure(
        fig, "First-layer weights after training", "weight value", "count (log scale)", height=360, uirevision="penalty"
    )


def batchnorm_figure(demo) -> go.Figure:
    """Running mean and std approaching the true statistics, and output statistics in both modes."""
    fig = panels(
        ["running mean (thick) and std (thin); dashed: true mean", "output per feature: train vs eval"], gap=0.1
    )
    steps = np.arange(1, len(demo.running_mean) + 1)
    rm, rs = np.asarray(demo.running_mean, dtype=np.float32), np.asarray(demo.running_std, dtype=np.float32)
    shapes = []
    for f in range(len(demo.true_mean)):
        color = run_color(f)
        fig.add_trace(
            go.Scatter(
                x=steps,
                y=rm[:, f],
                mode="lines",
                name=f"feature {f}",
                legendgroup=str(f),
                line={"color": color, "width": 2.5},
            )
        )
        fig.add_trace(
            go.Scatter(
                x=steps,
                y=rs[:, f],
                mode="lines",
                showlegend=False,
                legendgroup=str(f),
                line={"color": color, "width": 1},
            )
        )
        shapes.append(hline(demo.true_mean[f], 1, color))
    feats = [f"feature {f}" for f in range(len(demo.true_mean))]
    for i, (name, vals) in enumerate(
        (
            ("train-mode mean", demo.train_out_mean),
            ("train-mode std", demo.train_out_std),
            ("eval-mode mean", demo.eval_out_mean),
            ("eval-mode std", demo.eval_out_std),
        )
    ):
        fig.add_trace(
            go.Bar(
                x=feats,
                y=f32(vals),
                name=name,
                xaxis="x2",
                yaxis="y2",
                # colour says mean or std, hatching says eval mode
                marker={"color": PALETTE[i % 2], "pattern": {"shape": "" if i < 2 else "/"}},
            )
        )
    fig.update_layout(barmode="group", shapes=shapes)
    axis(fig, "x", 1, title_text="training step")
    style_figure(fig, "Batch norm: statistics in training vs evaluation mode", height=400, uirevision="batchnorm")
    fig.update_layout(legend={"y": -0.25})  # below the panels' own axis titles
    return fig
