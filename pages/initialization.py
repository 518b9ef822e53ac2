"""Initialization: push data through a deep untrained network, and see why equal starting weights never learn."""

import streamlit as st

from lab import registry
from lab.charts import concepts as charts
from lab.concepts import symmetry
from lab.concepts.init_stats import InitStats, init_stats
from lab.ui.common import chart

ACTS = {k: o.label for k, o in registry.ACTIVATIONS.items()}
INITS = {k: o.label for k, o in registry.INITS.items()}


@st.cache_data(show_spinner=False, max_entries=64)
def experiment(
    depth: int, width: int, activation: str, init: str, batch: int, seed: int, constant: float, leaky_slope: float,
    scale: float = 1.0,
) -> InitStats:
    """The deep-network experiment (lab.concepts.init_stats), cached on its inputs."""
    return init_stats(
        depth, width, activation, init, batch=batch, seed=seed, constant=constant, leaky_slope=leaky_slope,
        scale=scale,
    )


@st.cache_data(show_spinner=False, max_entries=32)
def sym_run(init: str, steps: int, activation: str, constant: float) -> symmetry.SymmetryRun:
    """A short training run of a small MLP from `init`, tracking how different its hidden units are."""
    return symmetry.symmetry_run(init, steps=steps, activation=activation, constant=constant)


# Figures are memoized as resources (handed out again, never pickled): building them costs more than the maths.
@st.cache_resource(show_spinner=False, max_entries=32)
def experiment_figs(*args) -> tuple:
    """Histogram and statistics figures of one experiment (args as for `experiment`)."""
    stats = experiment(*args)
    return charts.init_hist_figure(stats), charts.init_stats_figure(stats)


@st.cache_resource(show_spinner=False, max_entries=32)
def symmetry_figs(sym_init: str, steps: int, activation: str, constant: float) -> tuple:
    """Weight heatmaps and distinct-unit curves of the equal start against Xavier."""
    runs = [sym_run(sym_init, steps, activation, constant), sym_run("xavier_normal", steps, activation, 0.1)]
    return charts.symmetry_figure(runs), charts.distinct_units_figure(runs), runs


def render() -> None:
    """The experiment's controls, histograms, statistics and table; then the symmetry demonstration."""
    st.title("Weight initialization")
    st.markdown(
        "Unit-Gaussian data goes through a stack of fully connected layers that have never been trained. Too small "
        "weights shrink the signal towards zero layer after layer, too large ones push tanh and sigmoid into their "
        "flat ends; a good scheme keeps the spread of every layer about the same, forward and backward. With 10 "
        "layers of 500 units this reproduces the classic lecture tables."
    )
    c1, c2, c3, c4 = st.columns(4)
    depth = c1.slider("Layers", 1, 20, 10, key="init_depth", help="How many hidden layers the signal crosses.")
    width = c2.select_slider(
        "Units per layer",
        [10, 50, 100, 250, 500, 1000],
        value=500,
        key="init_width",
        help="Fan-in and fan-out of every layer.",
    )
    activation = c3.selectbox(
        "Activation", list(ACTS), index=list(ACTS).index("tanh"), format_func=ACTS.get, key="init_act"
    )
    init = c4.selectbox(
        "Init scheme",
        list(INITS),
        index=list(INITS).index("small_normal"),
        format_func=INITS.get,
        key="init_scheme",
        help="How each weight is drawn; the scheme sets its scale.",
    )
    c5, c6, c7, c8 = st.columns(4)
    constant = c5.number_input(
        "Constant value",
        -2.0,
        2.0,
        0.1,
        0.05,
        key="init_const",
        help="The weight value of the 'constant' scheme.",
        disabled=init != "constant",
    )
    slope = c6.slider(
        "Leaky slope",
        0.0,
        0.5,
        0.01,
        0.01,
        key="init_slope",
        help="Negative slope of Leaky ReLU / PReLU; Kaiming's gain follows it.",
    )
    batch = c7.select_slider(
        "Samples",
        [100, 250, 500, 1000],
        value=250,
        key="init_batch",
        help="Examples pushed through; the lecture used 1000, fewer is faster and nearly the same.",
    )
    seed = c8.number_input("Seed", 0, 10_000, 0, key="init_seed")
    scale = st.select_slider(
        "Scale (multiplies the scheme's weights)",
        [0.1, 0.25, 0.5, 0.75, 0.9, 1.0, 1.1, 1.25, 1.5, 2.0, 4.0, 10.0],
        value=1.0,
        key="init_scale",
        help="1 keeps the scheme; try Xavier x 1.41 under ReLU to land on Kaiming, or 0.5 to watch it decay.",
    )
    args = (depth, width, activation, init, batch, int(seed), float(constant), float(slope), float(scale))
    stats = experiment(*args)
    hist_fig, stats_fig = experiment_figs(*args)
    chart(hist_fig, key="init_hist")
    chart(stats_fig, key="init_stats")
    rows = [
        {
            "layer": r["layer"],
            "mean": f"{r['mean']:+.6f}",
            "std": f"{r['std']:.6f}",
            "gradient std": f"{r['grad_std']:.3e}",
        }
        for r in stats.rows()
    ]
    st.dataframe(rows, hide_index=True, key="init_table", height=min(420, 36 * (len(rows) + 1)))

    st.subheader("Equal starting weights: the symmetry problem")
    st.markdown(
        "If all weights of a layer start equal, every unit of that layer computes the same thing, gets the same "
        "gradient and takes the same step, so they stay copies of each other for ever. Below, a small network "
        "trains on the digits from such a start and from random Xavier weights: count the different rows."
    )
    s1, s2, s3 = st.columns(3)
    sym_init = s1.radio(
        "Equal start",
        ["constant", "zeros"],
        format_func=INITS.get,
        key="init_sym",
        horizontal=True,
        help="Zeros is the extreme case: with tanh nothing moves at all.",
    )
    steps = s2.slider("Training steps", 5, 200, 40, 5, key="init_sym_steps")
    sym_act = s3.selectbox("Activation", ["tanh", "relu", "sigmoid"], format_func=ACTS.get, key="init_sym_act")
    weights_fig, distinct_fig, runs = symmetry_figs(sym_init, steps, sym_act, float(constant) or 0.1)
    chart(weights_fig, key="init_symmetry")
    chart(distinct_fig, key="init_distinct")
    st.caption(
        f"Validation accuracy after {steps} steps: {runs[0].init} {runs[0].val_acc:.0%}, "
        f"{runs[1].init} {runs[1].val_acc:.0%}."
    )


render()
