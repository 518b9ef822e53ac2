"""Regularization and augmentation: the gallery of transforms, dropout, L1 vs L2 and batch norm's two modes."""

import streamlit as st

from lab import registry
from lab.charts import concepts_data as charts
from lab.concepts import regularization as reg
from lab.ui.common import chart

# knob widgets: name -> (label, min, max, default, step)
KNOBS = {
    "crop": ("Crop padding (px)", 0, 4, 2, 1),
    "flip": ("Flip (on/off)", 0, 1, 1, 1),
    "rotate": ("Rotation (°)", 0.0, 180.0, 30.0, 5.0),
    "translate": ("Translation", 0.0, 0.5, 0.2, 0.05),
    "scale": ("Scale", 0.0, 0.5, 0.3, 0.05),
    "shear": ("Shear (°)", 0.0, 45.0, 20.0, 5.0),
    "jitter": ("Colour jitter", 0.0, 1.0, 0.6, 0.1),
    "noise": ("Noise std", 0.0, 1.0, 0.15, 0.05),
    "cutout": ("Cutout side", 0.0, 0.9, 0.4, 0.05),
    "mixup": ("Mixup alpha", 0.0, 5.0, 1.0, 0.1),
    "cutmix": ("CutMix alpha", 0.0, 5.0, 1.0, 0.1),
}
LABELS = {
    "crop": "Crop",
    "flip": "Flip",
    "rotate": "Rotate",
    "translate": "Shift",
    "scale": "Scale",
    "shear": "Shear",
    "jitter": "Jitter",
    "noise": "Noise",
    "cutout": "Cutout",
    "mixup": "Mixup",
    "cutmix": "CutMix",
}
NEAR_ZERO = 1e-3  # |w| below this counts as "switched off" in the L1/L2 comparison


@st.cache_resource(show_spinner=False, max_entries=32)
def gallery_fig(dataset: str, knobs: tuple, n: int, seed: int):
    """The augmentation mosaic (memoized figure)."""
    return charts.gallery_figure(reg.gallery(dataset, dict(knobs), n, seed), LABELS)


@st.cache_resource(show_spinner=False, max_entries=32)
def dropout_fig(p: float, seed: int):
    """Dropout masks and train/eval expectations (memoized figure)."""
    return charts.dropout_figure(reg.dropout_demo(p, seed=seed))


@st.cache_data(show_spinner="Training three small networks...", max_entries=16)
def penalty(l1: float, l2: float, steps: int) -> dict:
    """Trained first-layer weights without penalty, with L1 and with L2 (Trainer runs, so cached)."""
    return reg.penalty_weights(l1, l2, steps)


@st.cache_resource(show_spinner=False, max_entries=16)
def penalty_fig(l1: float, l2: float, steps: int):
    """The L1/L2 weight histograms."""
    return charts.penalty_figure(penalty(l1, l2, steps), NEAR_ZERO)


@st.cache_resource(show_spinner=False, max_entries=32)
def batchnorm_fig(steps: int, batch: int, momentum: float) -> tuple:
    """Running statistics and train/eval outputs of a batch-norm layer (memoized figure), and the demo itself."""
    demo = reg.batchnorm_demo(steps, batch, momentum)
    return charts.batchnorm_figure(demo), demo


def render() -> None:
    """Gallery, dropout, penalties, batch norm."""
    st.title("Regularization and augmentation")
    st.markdown(
        "Each row applies one augmentation, exactly as the trainer does, to the same training images; set a knob "
        "to 0 to hide its row. Mixup and CutMix also change the label: the text under those images is the "
        "blend of classes the loss is computed against."
    )
    g1, g2, g3 = st.columns(3)
    dataset = g1.radio(
        "Images",
        ["shapes", "digits"],
        format_func=lambda k: registry.DATASETS[k].label,
        key="reg_dataset",
        horizontal=True,
    )
    n = g2.slider("Images per row", 3, 8, 6, key="reg_n")
    seed = g3.number_input("Seed", 0, 10_000, 0, key="reg_seed", help="A new seed draws new random parameters.")
    cols = st.columns(6)
    knobs = tuple(
        (name, cols[i % 6].slider(label, lo, hi, default, step, key=f"reg_aug_{name}", help=reg.AUGMENTATIONS[name][1]))
        for i, (name, (label, lo, hi, default, step)) in enumerate(KNOBS.items())
    )
    if dict(knobs)["mixup"] and dict(knobs)["cutmix"]:
        st.caption("The trainer allows Mixup or CutMix in one run, not both; here each has its own row.")
    chart(gallery_fig(dataset, knobs, n, int(seed)), key="reg_gallery")

    st.subheader("Dropout")
    st.markdown(
        "While training, each unit is zeroed with probability p and the survivors are multiplied by 1/(1-p). "
        "That scaling keeps every unit's average output equal to what evaluation mode, which drops nothing, "
        "passes on: compare the bars, and see the spread a single forward pass has around that average."
    )
    p = st.slider("Drop probability p", 0.05, 0.9, 0.5, 0.05, key="reg_dropout_p")
    chart(dropout_fig(p, 0), key="reg_dropout")

    st.subheader("L1 vs L2 penalties")
    st.markdown(
        "Both penalties pull weights towards zero, but differently: L2's pull shrinks with the weight, so small "
        "weights become smaller without ever reaching zero, while L1 pulls with the same force at any size and "
        "drives many weights to zero or within a hair of it. The histograms are the first layer of the same network "
        "trained three times."
    )
    with st.form("reg_penalty_form"):
        f1, f2, f3 = st.columns(3)
        l1 = f1.select_slider("L1 strength", [1e-4, 3e-4, 1e-3, 3e-3], value=1e-3, key="reg_l1")
        l2 = f2.select_slider("L2 strength", [1e-3, 3e-3, 1e-2, 3e-2], value=1e-2, key="reg_l2")
        psteps = f3.select_slider("Steps", [100, 200, 400], value=200, key="reg_psteps")
        st.form_submit_button("Train the networks", key="reg_penalty_go")
    chart(penalty_fig(l1, l2, psteps), key="reg_penalty")

    st.subheader("Batch norm: training vs evaluation mode")
    st.markdown(
        "In training mode batch norm uses the current batch's own mean and std, so its output is centred and "
        "scaled exactly, and it nudges running averages towards them. In evaluation mode it uses those running "
        "averages instead, so one example's output no longer depends on the rest of its batch."
    )
    b1, b2, b3 = st.columns(3)
    bsteps = b1.slider("Training steps", 1, 200, 50, key="reg_bn_steps")
    bbatch = b2.select_slider("Batch size", [2, 4, 8, 16, 32, 128], value=32, key="reg_bn_batch")
    momentum = b3.slider(
        "Momentum",
        0.01,
        1.0,
        0.1,
        0.01,
        key="reg_bn_momentum",
        help="How far the running averages move towards each batch's statistics.",
    )
    fig, demo = batchnorm_fig(bsteps, bbatch, momentum)
    chart(fig, key="reg_batchnorm")
    seen = ", ".join(f"{v:+.2f}" for v in demo.example_train)
    st.caption(
        f"One example's first feature, normalized in training mode inside six different batches: {seen}. "
        f"In evaluation mode it is always {demo.example_eval:+.2f}."
    )


render()
