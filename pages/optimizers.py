"""Optimizers on 2D loss surfaces: torch.optim's own update rules moving two parameters across a landscape."""

import streamlit as st

from lab import registry
from lab.charts import concepts as charts
from lab.concepts import optim_paths as op
from lab.ui.common import chart

OPTS = {k: o.label for k, o in registry.OPTIMIZERS.items()}
SURFACES = {k: s.label for k, s in op.SURFACES.items()}


@st.cache_data(show_spinner=False, max_entries=128)
def paths(surface: str, settings: tuple, steps: int) -> list[op.Path]:
    """All chosen optimizers' trajectories, computed together (one forward/backward pass per step for all)."""
    return op.trajectories(surface, [op.optimizer_config(n, **dict(kw)) for n, kw in settings], steps)


@st.cache_data(show_spinner=False, max_entries=8)
def surface_grid(surface: str) -> tuple:
    """The contour grid of a surface."""
    return op.grid(surface)


# Figures are memoized as resources (handed out again, never pickled): the animated one is costly to build.
@st.cache_resource(show_spinner=False, max_entries=32)
def figures(surface: str, settings: tuple, steps: int) -> tuple:
    """Contour-with-paths and loss figures for (optimizer, knobs) pairs on a surface, plus the paths."""
    found = paths(surface, settings, steps)
    xs, ys, z = surface_grid(surface)
    minimum = op.minimum(surface)
    s = op.SURFACES[surface]
    return (
        charts.optimizer_paths_figure(xs, ys, z, found, OPTS, minimum, s.start, s.label),
        charts.optimizer_loss_figure(found, OPTS, minimum[1]),
        found,
    )


def knobs(col, name: str, surface: str) -> dict:
    """The controls of one optimizer in its column; keys carry the surface so defaults follow it."""
    k = f"opt_{surface}_{name}"
    col.markdown(f"**{OPTS[name]}**")
    out = {
        "lr": col.number_input(
            "learning rate",
            1e-5,
            10.0,
            op.SURFACES[surface].suggested_lr(name),
            format="%.4g",
            key=f"{k}_lr",
            help="Step size; try doubling it until the path oscillates.",
        )
    }
    if name in ("momentum", "nesterov"):
        out["momentum"] = col.slider(
            "momentum", 0.0, 0.99, 0.9, 0.01, key=f"{k}_mom", help="How much of the previous step carries over."
        )
    if name in ("adam", "adamw"):
        out["beta1"] = col.slider("beta1", 0.0, 0.99, 0.9, 0.01, key=f"{k}_b1", help="Decay of the gradient average.")
        out["beta2"] = col.slider(
            "beta2",
            0.9,
            0.9999,
            0.999,
            0.0001,
            format="%.4f",
            key=f"{k}_b2",
            help="Decay of the squared-gradient average.",
        )
    if name == "rmsprop":
        out["rms_alpha"] = col.slider(
            "alpha",
            0.5,
            0.999,
            0.99,
            0.001,
            format="%.3f",
            key=f"{k}_alpha",
            help="Decay of the squared-gradient average.",
        )
    if name == "adamw":
        out["weight_decay"] = col.slider(
            "weight decay",
            0.0,
            0.5,
            0.01,
            0.01,
            key=f"{k}_wd",
            help="Pulls the parameters towards 0, outside the Adam scaling.",
        )
    return out


def render() -> None:
    """Surface and optimizer controls, the animated contour plot and the loss curves."""
    st.title("Optimizers on a loss surface")
    st.markdown(
        "Every optimizer starts at the same white circle and moves two parameters with PyTorch's own update rule. "
        "In the ravine, plain SGD bounces between the steep walls while momentum and the adaptive methods run "
        "along the floor; on the saddle, watch who escapes the flat middle first. Press play to replay the paths."
    )
    c1, c2, c3 = st.columns([1, 2, 1])
    surface = c1.selectbox(
        "Surface",
        list(SURFACES),
        format_func=SURFACES.get,
        key="opt_surface",
        help="Each surface shows a different difficulty.",
    )
    c1.caption(op.SURFACES[surface].help)
    names = c2.multiselect(
        "Optimizers",
        list(OPTS),
        default=["sgd", "momentum", "rmsprop", "adam"],
        format_func=OPTS.get,
        key="opt_pick",
        help="All start from the same point.",
    )
    steps = c3.slider("Steps", 10, 300, 150, 10, key="opt_steps")
    cols = st.columns(max(len(names), 1))
    settings = {n: knobs(col, n, surface) for n, col in zip(names, cols, strict=False)}
    paths_fig, loss_fig, found = figures(
        surface, tuple((n, tuple(sorted(kw.items()))) for n, kw in settings.items()), steps
    )
    chart(paths_fig, key="opt_paths")
    chart(loss_fig, key="opt_loss")
    if any(p.diverged for p in found):
        st.warning("A path left the surface (the loss blew up): lower that optimizer's learning rate.")


render()
