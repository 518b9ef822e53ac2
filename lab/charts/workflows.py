"""Figures of the workflow pages: LR range test, overfitting check, search scatter and progress.

Builders take plain data (dicts, lists, a pandas DataFrame of trials) and return a
`go.Figure`, an empty-state figure when there is nothing to draw yet.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import plotly.graph_objects as go

from lab.charts.style import (
    HEATMAP_SCALE,
    NEUTRAL,
    PALETTE,
    downsample,
    empty_figure,
    rgba,
    sig,
    sigs,
    style_figure,
)

__all__ = ["lr_finder_figure", "overfit_figure", "search_scatter", "search_progress_figure"]


def _vline(fig: go.Figure, x: float, text: str, color: str, dash: str, position: str = "top left") -> None:
    # On a log x axis, shapes take data values; add_vline handles that and places the label.
    fig.add_vline(
        x=x,
        line={"color": color, "dash": dash, "width": 1.5},
        annotation_text=text,
        annotation_position=position,
        annotation_font_color=color,
    )


def lr_finder_figure(result: dict | None, height: int | None = None) -> go.Figure:
    """Loss against learning rate (log x): raw and smoothed, the suggested rate, the minimum and the blow-up."""
    title = "Learning-rate range test"
    if not result or not result.get("lrs"):
        return empty_figure(title, "Run the range test to see the loss against the learning rate", height, "lr_test")
    lrs, losses, smooth = result["lrs"], result["losses"], result["smoothed"]
    fig = go.Figure()
    x, y = downsample(lrs, losses)
    fig.add_trace(
        go.Scatter(
            x=sigs(x), y=sigs(y), mode="lines", name="loss per step", line={"color": rgba(PALETTE[0], 0.35), "width": 1}
        )
    )
    x, y = downsample(lrs, smooth)
    fig.add_trace(
        go.Scatter(x=sigs(x), y=sigs(y), mode="lines", name="smoothed loss", line={"color": PALETTE[0], "width": 2.5})
    )
    finite = [v for v in smooth if math.isfinite(v)]
    if finite:
        i_min = smooth.index(min(finite))
        fig.add_trace(
            go.Scatter(
                x=[sig(lrs[i_min])],
                y=[sig(smooth[i_min])],
                mode="markers",
                name="lowest loss",
                marker={"color": PALETTE[3], "size": 10, "symbol": "diamond"},
            )
        )
    suggested = result.get("suggested_lr")
    if suggested and math.isfinite(suggested):
        _vline(fig, suggested, f"suggested {suggested:.2g}", PALETTE[2], "solid")
    if result.get("steepest_lr"):
        _vline(fig, result["steepest_lr"], f"steepest {result['steepest_lr']:.2g}", NEUTRAL, "dot", "bottom left")
    if result.get("diverged_lr"):
        _vline(fig, result["diverged_lr"], "blows up", PALETTE[1], "dash", "top right")
    style_figure(fig, title, "learning rate (log scale)", "training loss", height, "lr_test", hovermode="x")
    fig.update_xaxes(type="log", exponentformat="power")
    # The last points shoot up; cap the axis so the useful dip stays readable.
    if finite:
        fig.update_yaxes(range=[0, min(max(finite), 2.5 * smooth[0]) * 1.05])
    return fig


def overfit_figure(train: Sequence[dict], val: Sequence[dict], batches: int, height: int | None = None) -> go.Figure:
    """Accuracy on the few memorized batches over steps, with the 100% target line."""
    title = f"Overfitting {batches} batch{'es' if batches != 1 else ''}"
    if not train and not val:
        return empty_figure(title, "Waiting for the first training steps", height, "overfit")
    fig = go.Figure()
    if train:
        x, y = downsample([r["step"] for r in train], [r.get("train_acc") for r in train])
        fig.add_trace(
            go.Scatter(
                x=x,
                y=sigs(y),
                mode="lines",
                name="batch accuracy (while training)",
                line={"color": rgba(PALETTE[0], 0.5), "width": 1.5},
            )
        )
    if val:
        x, y = downsample([r["step"] for r in val], [r.get("train_acc") for r in val])
        fig.add_trace(
            go.Scatter(
                x=x,
                y=sigs(y),
                mode="lines+markers",
                name="accuracy on the sample (eval mode)",
                line={"color": PALETTE[0], "width": 2.5},
                marker={"size": 5},
            )
        )
    fig.add_hline(
        y=1.0,
        line={"color": PALETTE[2], "dash": "dash", "width": 1.5},
        annotation_text="target: 100%",
        annotation_position="bottom right",
        annotation_font_color=PALETTE[2],
    )
    style_figure(fig, title, "step", "training accuracy (% correct)", height, "overfit", hovermode="x")
    return fig.update_yaxes(tickformat=".0%", range=[0, 1.05])


def _fmt(v) -> str:
    return f"{v:.3g}" if isinstance(v, float) else str(v)


def search_scatter(
    df,
    x: str,
    color: str | None = None,
    log_x: bool = True,
    log_color: bool = True,
    y: str = "val_acc",
    title: str | None = None,
    height: int | None = None,
) -> go.Figure:
    """One point per trial: a searched setting against validation accuracy, coloured by a second setting."""
    title = title or f"{x} against validation accuracy" + (f", colour = {color}" if color else "")
    if df is None or len(df) == 0 or x not in df.columns:
        return empty_figure(title, "Trials appear here as they finish", height, "search_scatter")
    done = df[(df["state"] == "complete") & df[y].notna()]
    failed = df[df["state"] == "fail"]
    fig = go.Figure()
    if len(done):
        marker: dict = {"size": 11, "line": {"width": 1, "color": "white"}, "color": PALETTE[0]}
        if color and color in done.columns:
            values = [float(v) for v in done[color]]
            use_log = log_color and all(v > 0 for v in values)
            marker.update(
                color=[math.log10(v) if use_log else v for v in values],
                colorscale=HEATMAP_SCALE,
                showscale=True,
                colorbar={"title": {"text": f"log10 {color}" if use_log else color}, "thickness": 12},
            )
        text = [
            ", ".join(f"{c}={_fmt(r[c])}" for c in (x, color) if c) + f" (trial {r['trial']})"
            for _, r in done.iterrows()
        ]
        hover = "%{text}<br>" + y + " %{y:.1%}<extra></extra>"
        fig.add_trace(
            go.Scatter(
                x=sigs(list(done[x])),
                y=sigs(list(done[y])),
                mode="markers",
                name="trials",
                marker=marker,
                text=text,
                hovertemplate=hover,
            )
        )
        best = done.loc[done[y].idxmax()]
        fig.add_trace(
            go.Scatter(
                x=[sig(best[x])],
                y=[sig(best[y])],
                mode="markers",
                name="best",
                marker={"size": 20, "symbol": "star-open", "color": PALETTE[1], "line": {"width": 2}},
                hoverinfo="skip",
            )
        )
    if len(failed):
        fy = [0.0 if v is None or (isinstance(v, float) and math.isnan(v)) else v for v in failed[y]]
        fig.add_trace(
            go.Scatter(
                x=sigs(list(failed[x])),
                y=sigs(fy),
                mode="markers",
                name="failed or diverged",
                marker={"size": 10, "symbol": "x", "color": NEUTRAL},
            )
        )
    if not fig.data:
        return empty_figure(title, "Trials appear here as they finish", height, "search_scatter")
    style_figure(
        fig, title, f"{x}{' (log scale)' if log_x else ''}", "validation accuracy (% correct)", height, "search_scatter"
    )
    if log_x:
        fig.update_xaxes(type="log", exponentformat="power")
    return fig.update_yaxes(tickformat=".0%")


def search_progress_figure(df, y: str = "val_acc", height: int | None = None) -> go.Figure:
    """Validation accuracy of each trial in order, the best so far as a staircase, rounds shaded by colour."""
    title = "Trials in order"
    if df is None or len(df) == 0:
        return empty_figure(title, "Trials appear here as they finish", height, "search_progress")
    done = df[(df["state"] == "complete") & df[y].notna()].sort_values("trial")
    if not len(done):
        return empty_figure(title, "Trials appear here as they finish", height, "search_progress")
    fig = go.Figure()
    for i, (rnd, part) in enumerate(done.groupby("round")):
        fig.add_trace(
            go.Scatter(
                x=list(part["trial"]),
                y=sigs(list(part[y])),
                mode="markers",
                name=f"round {rnd}",
                marker={"size": 9, "color": PALETTE[i % len(PALETTE)]},
            )
        )
    best = done[y].cummax()
    fig.add_trace(
        go.Scatter(
            x=list(done["trial"]),
            y=sigs(list(best)),
            mode="lines",
            line_shape="hv",
            name="best so far",
            line={"color": NEUTRAL, "width": 2},
        )
    )
    style_figure(fig, title, "trial", "validation accuracy (% correct)", height, "search_progress")
    return fig.update_yaxes(tickformat=".0%")
