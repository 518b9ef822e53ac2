"""Figures of the Ensembles page: members against their ensemble, snapshots of a cyclic run, averaged weights.

Builders take the plain dicts of `lab.workflows.ensemble_stats` and the rows the
workers return, and give back a `go.Figure` (an empty-state figure when there is
nothing to draw yet). Accuracies are fractions, shown as percentages.
"""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

from lab.charts.style import NEUTRAL, downsample, empty_figure, run_color, sig, sigs, style_figure

ENSEMBLE_COLOR = run_color(1)  # the combined model stands out from its members
MEMBER_COLOR = run_color(0)
WAITING = "Press Start: results appear as each model finishes"


def members_figure(summary: dict | None, height: int | None = None) -> go.Figure:
    """Validation accuracy of each member, of the average member and of the ensemble, as bars."""
    title = "Members and their ensemble"
    if not summary or not summary.get("members"):
        return empty_figure(title, WAITING, height, "ens_members")
    if not summary.get("n_used"):
        return empty_figure(title, "No usable member: every one diverged (see the table)", height, "ens_members")
    names = [f"seed {m['seed']}" for m in summary["members"]]
    values = [m["val_acc"] if m["used"] else None for m in summary["members"]]
    names += ["mean of members", "ensemble"]
    values += [summary["mean_acc"], summary["ensemble_acc"]]
    colors = [MEMBER_COLOR] * len(summary["members"]) + [NEUTRAL, ENSEMBLE_COLOR]
    fig = go.Figure(
        go.Bar(
            x=names,
            y=sigs(values),
            marker_color=colors,
            text=[_pct(v) for v in values],
            textposition="outside",
            hovertemplate="%{x}: %{y:.1%}<extra></extra>",
            showlegend=False,
        )
    )
    style_figure(fig, title, None, "validation accuracy", height, "ens_members")
    known = [v for v in values if v is not None]
    # Zoom on the top of the bars: the differences are a few points, invisible on a 0-100% axis.
    return fig.update_yaxes(tickformat=".0%", range=[max(0.0, min(known) - 0.1), min(1.0, max(known)) + 0.05])


def ensemble_size_figure(summary: dict | None, height: int | None = None) -> go.Figure:
    """Ensemble accuracy as members are added one by one, against the mean member's accuracy."""
    title = "Accuracy by ensemble size"
    by_size = (summary or {}).get("by_size") or []
    if not by_size:
        return empty_figure(title, WAITING, height, "ens_size")
    ks = list(range(1, len(by_size) + 1))
    fig = go.Figure(
        go.Scatter(
            x=ks,
            y=sigs(by_size),
            mode="lines+markers",
            name="ensemble of the first k",
            line={"color": ENSEMBLE_COLOR, "width": 2},
        )
    )
    fig.add_hline(
        y=sig(summary["mean_acc"]),
        line={"color": NEUTRAL, "dash": "dash", "width": 1},
        annotation_text="mean member",
        annotation_position="bottom right",
        annotation_font_color=NEUTRAL,
    )
    style_figure(fig, title, "members in the ensemble", "validation accuracy", height, "ens_size")
    fig.update_xaxes(dtick=1)
    return fig.update_yaxes(tickformat=".1%")


def snapshot_figure(
    lrs: Sequence[float] | None, snapshots: Sequence[dict] | None, kept: int = 0, height: int | None = None
) -> go.Figure:
    """The cyclic learning rate over the run, with each snapshot's own accuracy at the low points (kept ones filled)."""
    title = "Cyclic learning rate and its snapshots"
    if not lrs:
        return empty_figure(title, WAITING, height, "ens_snap")
    xs, ys = downsample(list(range(len(lrs))), list(lrs))
    fig = go.Figure(
        go.Scatter(x=xs, y=sigs(ys), mode="lines", name="learning rate", line={"color": NEUTRAL, "width": 1.5})
    )
    snaps = list(snapshots or [])
    if snaps:
        n = len(snaps)
        fig.add_trace(
            go.Scatter(
                x=[s["step"] for s in snaps],
                y=sigs([s["val_acc"] for s in snaps]),
                yaxis="y2",
                mode="markers+lines",
                name="snapshot val accuracy",
                line={"color": MEMBER_COLOR, "width": 1, "dash": "dot"},
                marker={
                    "size": 10,
                    "color": [MEMBER_COLOR if i >= n - kept else "rgba(0,0,0,0)" for i in range(n)],
                    "line": {"color": MEMBER_COLOR, "width": 2},
                },
                hovertemplate="step %{x}: %{y:.1%}<extra></extra>",
            )
        )
    style_figure(fig, title, "step", "learning rate", height, "ens_snap", hovermode="x")
    return fig.update_layout(
        yaxis2={
            "title": "validation accuracy",
            "overlaying": "y",
            "side": "right",
            "tickformat": ".0%",
            "showgrid": False,
        }
    )


def averaging_figure(
    rows: Sequence[dict] | None, metric: str = "acc", label: str = "EMA", height: int | None = None
) -> go.Figure:
    """Validation accuracy (or loss) of the raw weights and of their average at each evaluation."""
    title = f"Raw weights against their {label}"
    key = "uirev_avg_" + metric
    if not rows:
        return empty_figure(title, WAITING, height, key)
    fig = go.Figure()
    for name, field, color, dash in (
        ("raw weights", f"raw_val_{metric}", MEMBER_COLOR, "solid"),
        (label, f"avg_val_{metric}", ENSEMBLE_COLOR, "dash"),
    ):
        pts = [(r["epoch"], r[field]) for r in rows if r.get(field) is not None]
        if pts:
            fig.add_trace(
                go.Scatter(
                    x=[sig(p[0]) for p in pts],
                    y=sigs([p[1] for p in pts]),
                    mode="lines+markers",
                    name=name,
                    line={"color": color, "width": 2, "dash": dash},
                    marker={"size": 5},
                )
            )
    y_title = "validation accuracy" if metric == "acc" else "validation loss (cross-entropy)"
    style_figure(fig, title, "epoch", y_title, height, key, hovermode="x")
    if metric == "acc":
        fig.update_yaxes(tickformat=".0%")
    return fig


def _pct(v: float | None) -> str:
    return "" if v is None else f"{v:.1%}"
