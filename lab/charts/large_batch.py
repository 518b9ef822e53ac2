"""Figures of the Large batches page: curves of the four arms against epochs, and data-parallel costs.

Curves are drawn against epochs, not steps: the arms take different numbers of steps for
the same data, and "after the same number of examples" is the fair comparison.
"""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

from lab.charts.style import NEUTRAL, downsample, empty_figure, run_color, sigs, style_figure

WAITING = "Press Start: the four runs train two at a time"


def epoch_curves_figure(
    series: Sequence[tuple[str, list, list]],
    title: str,
    y_title: str,
    key: str,
    log_y: bool = False,
    percent: bool = False,
    height: int | None = None,
) -> go.Figure:
    """One line per arm: (label, epochs, values), in the arms' fixed order (colours match across charts)."""
    fig = go.Figure()
    for i, (label, xs, ys) in enumerate(series):
        if xs:
            x, y = downsample(list(xs), list(ys))
            fig.add_trace(
                go.Scatter(x=sigs(x), y=sigs(y), mode="lines", name=label, line={"color": run_color(i), "width": 2})
            )
    if not fig.data:
        return empty_figure(title, WAITING, height, key)
    style_figure(fig, title, "epoch (examples seen / training-set size)", y_title, height, key, hovermode="x")
    if log_y:
        fig.update_yaxes(type="log")
    if percent:
        fig.update_yaxes(tickformat=".0%")
    return fig


def step_cost_figure(result: dict | None, height: int | None = None) -> go.Figure:
    """Time of one step: one process on the full batch against each of two processes on half plus the all-reduce."""
    title = "Where a data-parallel step's time goes"
    if not result:
        return empty_figure(title, "Press Run to time the two-process group", height, "dp_cost")
    rows = ["1 process, full batch", f"{result['world']} processes, half batch each"]
    fig = go.Figure()
    fig.add_trace(
        go.Bar(
            y=rows,
            x=sigs([result["compute_full_ms"], result["compute_half_ms"]]),
            orientation="h",
            name="forward + backward",
            marker_color=run_color(0),
        )
    )
    fig.add_trace(
        go.Bar(
            y=rows,
            x=sigs([0.0, result["allreduce_ms"]]),
            orientation="h",
            name="all-reduce of the gradient",
            marker_color=run_color(1),
        )
    )
    style_figure(fig, title, "milliseconds per step (median)", None, height, "dp_cost")
    return fig.update_layout(barmode="stack")


def ddp_loss_figure(result: dict | None, height: int | None = None) -> go.Figure:
    """The loss of each step with DistributedDataParallel against one process on the full batch (they coincide)."""
    title = "Same steps, two ways"
    if not result:
        return empty_figure(title, "Press Run to train a few steps both ways", height, "dp_loss")
    steps = list(range(1, len(result["single_losses"]) + 1))
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=steps,
            y=sigs(result["single_losses"], 6),
            mode="lines+markers",
            name="1 process",
            line={"color": NEUTRAL, "width": 4},
            marker={"size": 10},
        )
    )
    # Markers over a thick line: if the two sides disagreed, the crosses would leave the line.
    fig.add_trace(
        go.Scatter(
            x=steps,
            y=sigs(result["ddp_losses"], 6),
            mode="markers",
            name=f"{result['world']} processes (DDP), mean of the halves",
            marker={"size": 8, "color": run_color(1), "symbol": "x"},
        )
    )
    style_figure(fig, title, "step", "training loss on the batch", height, "dp_loss", hovermode="x")
    return fig.update_xaxes(dtick=1)
