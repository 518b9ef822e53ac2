"""Activations: every engine activation as f(x) and f'(x), where gradients vanish, and why zero-centring matters."""

import streamlit as st

from lab import registry
from lab.charts import concepts as charts
from lab.concepts import activations as act
from lab.ui.common import chart

LABELS = {k: o.label for k, o in registry.ACTIVATIONS.items()}


@st.cache_data(show_spinner=False, max_entries=256)
def curve(name: str, params: tuple) -> act.Curve:
    """f and f' of one activation (params: only the ones it reads, as sorted pairs)."""
    return act.curve(name, **dict(params))


@st.cache_data(show_spinner=False, max_entries=256)
def props(name: str, params: tuple) -> act.Properties:
    """Measured properties of one activation, its cost timed against ReLU."""
    return act.properties(name, **dict(params))


@st.cache_data(show_spinner=False, max_entries=64)
def signs(source: str, params: tuple) -> act.SignPattern:
    """Per-example weight-gradient signs of a neuron fed by `source` outputs."""
    return act.weight_grad_signs(source, **dict(params))


# Figures are memoized as resources (the same object is handed out again, never pickled): rebuilding a Plotly
# figure costs far more than the maths here, and a cache_data copy of a figure would cost even more.
@st.cache_resource(show_spinner=False, max_entries=64)
def curves_fig(names: tuple, keys: tuple, threshold: float):
    """The f / f' figure for the chosen activations and their parameters."""
    curves = [curve(n, k) for n, k in zip(names, keys, strict=True)]
    vanishing = {c.name: act.vanishing_intervals(c.x, c.dy, threshold) for c in curves}
    return charts.activation_figure(curves, vanishing, LABELS, threshold)


@st.cache_resource(show_spinner=False, max_entries=32)
def signs_fig(source: str, key: tuple):
    """The gradient-sign heatmaps: N(0, 1) inputs against `source` outputs."""
    patterns = {"N(0,1) inputs": signs("none", ()), f"{LABELS[source]} outputs": signs(source, key)}
    return charts.grad_sign_figure(patterns)


def _key(name: str, params: dict) -> tuple:
    return tuple(sorted(act.used_params(name, params).items()))


def render() -> None:
    """Controls, the curves, the gradient-sign experiment and the measured properties table."""
    st.title("Activation functions")
    st.markdown(
        "Each curve on the left is what a unit passes on; the one on the right is how much gradient it lets "
        "back through. Shaded stretches are inputs where that slope is nearly zero: a unit living there learns "
        "almost nothing. Move the parameters and watch the negative side of Leaky ReLU, ELU and Swish change."
    )
    names = st.multiselect(
        "Activations",
        list(LABELS),
        default=["sigmoid", "tanh", "relu", "elu"],
        format_func=LABELS.get,
        key="act_pick",
        help="Overlay several to compare them.",
    )
    c1, c2, c3, c4, c5 = st.columns(5)
    params = {
        "leaky_slope": c1.slider(
            "Leaky/PReLU slope",
            0.0,
            0.5,
            0.1,
            0.01,
            key="act_slope",
            help="Slope for negative inputs (PReLU starts here and learns it).",
        ),
        "elu_alpha": c2.slider(
            "ELU alpha",
            0.1,
            3.0,
            1.0,
            0.1,
            key="act_alpha",
            help="The value ELU approaches for very negative inputs is -alpha.",
        ),
        "swish_beta": c3.slider(
            "Swish beta", 0.1, 10.0, 1.0, 0.1, key="act_beta", help="1 is SiLU; large beta bends Swish towards ReLU."
        ),
        "maxout_k": c4.slider(
            "Maxout pieces k", 2, 8, 2, key="act_k", help="Drawn as the max of k tangent lines of softplus."
        ),
    }
    threshold = c5.select_slider(
        "Vanishing below",
        [0.001, 0.01, 0.05, 0.1],
        value=0.01,
        key="act_thr",
        help="Shade inputs where |f'(x)| is below this value.",
    )
    chart(curves_fig(tuple(names), tuple(_key(n, params) for n in names), threshold), key="act_curves")

    st.subheader("All-positive inputs tie the signs of a neuron's weight gradients")
    st.markdown(
        "A weight's gradient is the unit's upstream gradient times the weight's input. If every input is "
        "positive, as after sigmoid or ReLU, all weights of one example move up together or down together, so "
        "reaching a mixed-sign target takes a zig-zag. Zero-centred inputs (raw N(0, 1) on the left) mix the "
        "signs freely."
    )
    source = st.selectbox(
        "Inputs to the neuron come from",
        ["sigmoid", "relu", "tanh", "softplus", "elu"],
        format_func=LABELS.get,
        key="act_source",
        help="The activation of the previous layer, applied to N(0, 1) values.",
    )
    chart(signs_fig(source, _key(source, params)), key="act_signs")

    st.subheader("Properties, measured")
    st.caption(
        "Range: f on a grid out to ±200 (a side that keeps moving is infinite). Zero-centred: mean output "
        f"on N(0, 1) inputs within ±{act.ZERO_CENTRED_TOL}. Cost: best-of-5 forward time on 250,000 "
        "numbers relative to ReLU, measured on this server now."
    )
    rows = [act.properties_row(props(n, _key(n, params)), LABELS[n]) for n in LABELS]
    st.dataframe(rows, hide_index=True, key="act_props")


render()
