"""Figures of the concept pages on networks: activations, initialization, optimizer paths, schedules.

Builders are pure: they take the plain results of `lab.concepts.*` (dataclasses, lists, dicts) and return a
`go.Figure` styled by `lab.charts.style`, so the look matches the live pages. The data pages (preprocessing,
regularization) have theirs in `concepts_data`.

Speed matters here because every control change rebuilds the page's figures: data goes in as float32 numpy
arrays, panels come from `lab.charts.panels`, and shapes are added in one layout update rather than one
`add_vrect` at a time (each of those re-validates every shape so far).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from lab.charts.panels import DIVERGING, ax, axis, f32, hline, panels
from lab.charts.style import HEATMAP_SCALE, NEUTRAL, PALETTE, even_indices, rgba, run_color, style_figure

SIGN_SCALE = [[0.0, PALETTE[1]], [0.5, "#FFFFFF"], [1.0, PALETTE[0]]]  # -1 orange, 0 white, +1 blue
MAX_FRAMES = 25  # animation frames; each holds every path so far, so frames x points is what the JSON carries
FRAME_POINTS = 60  # points per path inside animation frames
PATH_POINTS = 500  # points per path in the static figure


# ---- activations --------------------------------------------------------------------------------------------


def activation_figure(
    curves: Sequence,
    vanishing: Mapping[str, Sequence[tuple[float, float]]],
    labels: Mapping[str, str],
    threshold: float,
) -> go.Figure:
    """f(x) and f'(x) side by side for several activations; f' shaded where |f'| < threshold."""
    fig = panels(["f(x)", "f'(x), by autograd"])
    shapes = [hline(threshold, 2, NEUTRAL, "dot")]
    for i, c in enumerate(curves):
        color, name = run_color(i), labels.get(c.name, c.name)
        x = f32(c.x)
        fig.add_trace(
            go.Scatter(x=x, y=f32(c.y), mode="lines", name=name, legendgroup=c.name, line={"color": color, "width": 2})
        )
        fig.add_trace(
            go.Scatter(
                x=x,
                y=f32(c.dy),
                mode="lines",
                name=name,
                legendgroup=c.name,
                showlegend=False,
                xaxis="x2",
                yaxis="y2",
                line={"color": color, "width": 2},
            )
        )
        shapes += [
            {
                "type": "rect",
                "x0": a,
                "x1": b,
                "y0": 0,
                "y1": 1,
                "xref": "x2",
                "yref": "y2 domain",
                "fillcolor": rgba(color, 0.12),
                "line": {"width": 0},
                "layer": "below",
            }
            for a, b in vanishing.get(c.name, ())
        ]
    fig.update_layout(shapes=shapes)
    fig.update_xaxes(title_text="input x")
    return style_figure(
        fig,
        f"Activations and their slopes (shaded: |f'(x)| < {threshold:g}, the gradient vanishes)",
        height=380,
        uirevision="activations",
    )


def grad_sign_figure(patterns: Mapping[str, object]) -> go.Figure:
    """One heatmap per input source: the sign of dL/dw_i (columns) for each example (rows)."""
    names = list(patterns)
    fig = panels([f"{n}: {patterns[n].one_sign_fraction:.0%} of examples one-signed" for n in names], gap=0.06)
    for i, n in enumerate(names, start=1):
        fig.add_trace(
            go.Heatmap(
                z=np.asarray(patterns[n].signs, dtype=np.int8),
                zmin=-1,
                zmax=1,
                colorscale=SIGN_SCALE,
                showscale=i == 1,
                xgap=1,
                ygap=1,
                xaxis=ax("x", i),
                yaxis=ax("y", i),
                colorbar={"title": {"text": "sign"}, "tickvals": [-1, 0, 1]},
                hovertemplate="example %{y}, weight %{x}: %{z}<extra></extra>",
            )
        )
        axis(fig, "x", i, title_text="weight i")
    axis(fig, "y", 1, title_text="example")
    return style_figure(fig, "Sign of each example's weight gradient dL/dw_i", height=340, uirevision="signs")


# ---- initialization ------------------------------------------------------------------------------------------


def init_hist_figure(stats) -> go.Figure:
    """Per-layer activation histograms as a heatmap: layer (rows) x value (columns), colour = share of values."""
    edges = np.asarray(stats.edges)
    h = np.asarray([layer.hist for layer in stats.layers], dtype=np.float64)
    share = h / np.maximum(h.sum(1, keepdims=True), 1.0)
    fig = go.Figure(
        go.Heatmap(
            x=f32((edges[:-1] + edges[1:]) / 2),
            y=[s.index for s in stats.layers],
            z=share.astype(np.float32),
            colorscale=HEATMAP_SCALE,
            zmin=0,
            colorbar={"title": {"text": "share"}},
            hovertemplate="layer %{y}, value %{x:.3g}: %{z:.1%}<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed", dtick=1)
    return style_figure(
        fig,
        "Activation histogram per layer (0 = the input)",
        "activation value",
        "layer",
        height=360,
        uirevision="init-hist",
    )


def init_stats_figure(stats) -> go.Figure:
    """Mean and std of each layer's activations going forward, and the gradient std coming back (log scale)."""
    idx = [s.index for s in stats.layers]
    fig = panels(["forward: activations", "backward: gradient std at each layer's output"], gap=0.1)
    fig.add_trace(
        go.Scatter(
            x=idx, y=f32([s.mean for s in stats.layers]), mode="lines+markers", name="mean", line={"color": PALETTE[0]}
        )
    )
    fig.add_trace(
        go.Scatter(
            x=idx, y=f32([s.std for s in stats.layers]), mode="lines+markers", name="std", line={"color": PALETTE[1]}
        )
    )
    # A gradient of exactly 0 has no log; draw it at the bottom of float32's range instead of leaving a hole.
    grads = f32([max(s.grad_std, 1e-38) for s in stats.layers])
    fig.add_trace(
        go.Scatter(
            x=idx,
            y=grads,
            mode="lines+markers",
            name="gradient std",
            xaxis="x2",
            yaxis="y2",
            line={"color": PALETTE[2]},
        )
    )
    for i in (1, 2):
        axis(fig, "x", i, title_text="layer", dtick=1)
    axis(fig, "y", 2, type="log", exponentformat="power")
    return style_figure(fig, "Signal through the layers", height=340, uirevision="init-stats")


def symmetry_figure(runs: Sequence) -> go.Figure:
    """Final first-layer weights (units x inputs) of each run side by side: identical rows = identical units."""
    fig = panels([f"{r.init}: {r.distinct[-1]} different unit(s) of {len(r.final_weights)}" for r in runs], gap=0.05)
    for i, r in enumerate(runs, start=1):
        w = np.asarray(r.final_weights, dtype=np.float32)
        m = float(np.abs(w).max()) or 1.0
        fig.add_trace(
            go.Heatmap(
                z=w,
                zmin=-m,
                zmax=m,
                colorscale=DIVERGING,
                showscale=False,
                xaxis=ax("x", i),
                yaxis=ax("y", i),
                hovertemplate="unit %{y}, input %{x}: %{z:.4g}<extra></extra>",
            )
        )
        axis(fig, "x", i, title_text="input pixel")
    axis(fig, "y", 1, title_text="hidden unit")
    return style_figure(
        fig, "First-layer weights after training: one row per hidden unit", height=320, uirevision="symmetry"
    )


def distinct_units_figure(runs: Sequence) -> go.Figure:
    """How many different units the first layer has after each training step."""
    fig = go.Figure()
    for i, r in enumerate(runs):
        fig.add_trace(
            go.Scatter(
                x=list(range(len(r.distinct))),
                y=r.distinct,
                mode="lines",
                name=r.init,
                line={"color": run_color(i), "width": 2},
            )
        )
    return style_figure(
        fig, "Different hidden units while training", "step", "distinct units", height=300, uirevision="distinct"
    )


# ---- optimizers on 2D surfaces -------------------------------------------------------------------------------


def optimizer_paths_figure(
    xs: Sequence[float],
    ys: Sequence[float],
    z: Sequence[Sequence[float]],
    paths: Sequence,
    labels: Mapping[str, str],
    minimum: tuple[tuple[float, float], float],
    start: tuple[float, float],
    title: str,
) -> go.Figure:
    """Contour of log10(loss - min) with every optimizer's path; a play button and a slider replay the paths.

    The full paths are drawn as lines; the animation moves one marker trace holding every optimizer's points
    so far (coloured per optimizer, the current point larger). One trace per frame keeps building the figure
    fast: a frame per optimizer would multiply the number of Plotly objects to validate.
    """
    (mx, my), fmin = minimum
    zz = np.log10(np.maximum(np.asarray(z) - fmin, 0.0) + 1e-3)  # log spreads out the deep, flat valleys
    fig = go.Figure(
        go.Contour(
            x=f32(xs),
            y=f32(ys),
            z=zz.astype(np.float32),
            colorscale=HEATMAP_SCALE,
            ncontours=25,
            colorbar={"title": {"text": "log10(loss − min)"}},
            contours={"coloring": "heatmap"},
            line={"width": 0.5},
            hoverinfo="skip",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=[mx],
            y=[my],
            mode="markers",
            name="global minimum",
            marker={"symbol": "star", "size": 14, "color": "white", "line": {"width": 1}},
        )
    )
    fig.add_trace(
        go.Scatter(
            x=[start[0]],
            y=[start[1]],
            mode="markers",
            name="start",
            marker={"symbol": "circle-open", "size": 12, "color": "white", "line": {"width": 2}},
        )
    )
    pts = [np.asarray(p.xy, dtype=np.float32) for p in paths]
    for i, (p, a) in enumerate(zip(paths, pts, strict=True)):
        keep = even_indices(len(a), PATH_POINTS)
        name = labels.get(p.optimizer, p.optimizer) + (" (diverged)" if p.diverged else "")
        fig.add_trace(
            go.Scatter(
                x=a[keep, 0],
                y=a[keep, 1],
                mode="lines",
                name=name,
                line={"color": run_color(i), "width": 1.5},
                opacity=0.7,
            )
        )
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
        return {
            "x": f32(x),
            "y": f32(y),
            "marker": {"color": np.asarray(color, dtype=np.uint8), "size": np.asarray(size, dtype=np.uint8)},
        }

    dots_trace = go.Scatter(mode="markers", showlegend=False, hoverinfo="skip", **progress(frame_steps[-1]))
    dots_trace.marker.update(colorscale=scale, cmin=0, cmax=n - 1)  # once here; frames only change the data
    fig.add_trace(dots_trace)
    dots = len(fig.data) - 1
    # Frame data as plain dicts: Plotly validates them once on assignment, several times faster than go.Scatter.
    fig.frames = [go.Frame(data=[{"type": "scatter", **progress(s)}], traces=[dots], name=str(s)) for s in frame_steps]
    still = {"frame": {"duration": 0, "redraw": False}, "mode": "immediate", "transition": {"duration": 0}}
    fig.update_layout(
        updatemenus=[
            {
                "type": "buttons",
                "direction": "left",
                "showactive": False,
                "x": 0,
                "y": -0.1,
                "xanchor": "left",
                "yanchor": "top",
                "buttons": [
                    {
                        "label": "▶ play",
                        "method": "animate",
                        "args": [
                            None,
                            {
                                "frame": {"duration": 80, "redraw": False},
                                "fromcurrent": False,
                                "transition": {"duration": 0},
                            },
                        ],
                    },
                    {"label": "❚❚ pause", "method": "animate", "args": [[None], still]},
                ],
            }
        ],
        sliders=[
            {
                "active": len(frame_steps) - 1,
                "x": 0.18,
                "len": 0.82,
                "y": -0.06,
                "yanchor": "top",
                "currentvalue": {"prefix": "step "},
                "steps": [{"label": str(s), "method": "animate", "args": [[str(s)], still]} for s in frame_steps],
            }
        ],
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
        fig.add_trace(
            go.Scatter(
                x=keep,
                y=f32([gap[k] for k in keep]),
                mode="lines",
                name=labels.get(p.optimizer, p.optimizer),
                line={"color": run_color(i), "width": 2},
            )
        )
    fig.update_yaxes(type="log", exponentformat="power")
    return style_figure(
        fig, "Distance to the minimum value", "step", "loss − minimum", height=360, uirevision="paths-loss"
    )


# ---- schedules -----------------------------------------------------------------------------------------------


def schedules_figure(
    curves: Mapping[str, Sequence[float]],
    log_y: bool = False,
    title: str = "Learning rate over the run",
    x_scale: float = 1.0,
    x_title: str = "optimizer step",
    ref_lines: Mapping[str, float] | None = None,
) -> go.Figure:
    """One line per schedule (name -> rate at every step); x is step x x_scale; optional horizontal references."""
    fig = go.Figure()
    for i, (name, lrs) in enumerate(curves.items()):
        keep = even_indices(len(lrs), PATH_POINTS)
        fig.add_trace(
            go.Scatter(
                x=f32([k * x_scale for k in keep]),
                y=f32([lrs[k] for k in keep]),
                mode="lines",
                name=name,
                line={"color": run_color(i), "width": 2},
            )
        )
    shapes = []
    for label, y in (ref_lines or {}).items():
        shapes.append(hline(y, 1, NEUTRAL))
        fig.add_annotation(
            x=0,
            xref="x domain",
            y=y,
            text=label,
            showarrow=False,
            xanchor="left",
            yanchor="bottom",
            font={"color": NEUTRAL},
        )
    fig.update_layout(shapes=shapes)
    if log_y:
        fig.update_yaxes(type="log", exponentformat="power")
    return style_figure(fig, title, x_title, "learning rate", height=360, uirevision=title)
