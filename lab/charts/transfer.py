"""Figures of the Transfer learning page: each strategy's validation curve and its final accuracy.

Builders take the result dicts of `lab.workflows.transfer.run_strategy` (keys strategy,
label, curve, val_acc, trainable, ...); a strategy keeps its colour across both charts.
"""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

from lab.charts.style import empty_figure, run_color, sigs, style_figure

ORDER = ("scratch", "frozen", "finetune", "finetune_top", "resnet18")  # fixed order = fixed colours
WAITING = "Press Start: each strategy appears when it finishes"


def strategy_color(key: str) -> str:
    """The colour of a strategy, the same on every chart."""
    return run_color(ORDER.index(key) if key in ORDER else len(ORDER))


def curves_figure(results: Sequence[dict], height: int | None = None) -> go.Figure:
    """Validation accuracy against step for each finished strategy."""
    title = "Validation accuracy while training on the target"
    done = sorted(results, key=lambda r: ORDER.index(r["strategy"]) if r["strategy"] in ORDER else 99)
    if not done:
        return empty_figure(title, WAITING, height, "tr_curves")
    fig = go.Figure()
    for r in done:
        rows = r.get("curve") or []
        fig.add_trace(
            go.Scatter(
                x=[row["step"] for row in rows],
                y=sigs([row["val_acc"] for row in rows]),
                mode="lines+markers",
                name=r["label"],
                marker={"size": 5},
                line={"color": strategy_color(r["strategy"]), "width": 2},
            )
        )
    style_figure(fig, title, "step", "validation accuracy", height, "tr_curves", hovermode="x")
    return fig.update_yaxes(tickformat=".0%")


def final_figure(results: Sequence[dict], chance: float | None = None, height: int | None = None) -> go.Figure:
    """Final validation accuracy per strategy as bars, labelled with the share of parameters trained."""
    title = "Final validation accuracy by strategy"
    done = sorted(results, key=lambda r: ORDER.index(r["strategy"]) if r["strategy"] in ORDER else 99)
    if not done:
        return empty_figure(title, WAITING, height, "tr_final")
    fig = go.Figure(
        go.Bar(
            x=[r["label"] for r in done],
            y=sigs([r["val_acc"] for r in done]),
            marker_color=[strategy_color(r["strategy"]) for r in done],
            text=[f"{r['val_acc']:.1%}" for r in done],
            textposition="outside",
            showlegend=False,
            customdata=[f"{r['trainable']:,} of {r['params']:,}" for r in done],
            hovertemplate="%{x}: %{y:.1%}<br>parameters trained: %{customdata}<extra></extra>",
        )
    )
    if chance:
        fig.add_hline(
            y=chance,
            line={"color": "#7F7F7F", "dash": "dot", "width": 1},
            annotation_text="chance",
            annotation_position="bottom right",
        )
    style_figure(fig, title, None, "validation accuracy", height, "tr_final")
    return fig.update_yaxes(tickformat=".0%", range=[0, 1.08])
