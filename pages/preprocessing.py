"""Preprocessing: what centring, scaling, PCA and whitening do to data, and how much faster training gets."""

import streamlit as st

from lab import registry
from lab.charts import concepts_data as charts
from lab.concepts import preprocessing as pre
from lab.ui.common import chart

KINDS = {k: o.label for k, o in registry.PREPROCESS.items()}
KINDS["none"] = "Raw"


@st.cache_resource(show_spinner=False, max_entries=64)
def cloud_fig(n: int, seed: int, angle: float, stretch: float, dx: float, dy: float) -> tuple:
    """The five views of one point cloud (memoized figure: building it costs more than the maths) and their table."""
    views = pre.cloud_views(pre.point_cloud(n, seed, angle, stretch, (dx, dy)))
    return charts.cloud_figure(views, KINDS), pre.view_rows(views, KINDS)


@st.cache_resource(show_spinner=False, max_entries=16)
def image_figs(dataset: str, index: int) -> tuple:
    """Mean-image and channel-mean figures of a dataset's raw training images."""
    stats = pre.image_stats(dataset, index)
    return charts.image_stats_figure(stats), charts.channel_means_figure(stats)


@st.cache_data(show_spinner="Training the small networks...", max_entries=32)
def race(dataset: str, kinds: tuple, steps: int, optimizer: str, lr: float) -> dict:
    """Smoothed per-step loss of the same model trained on each preprocessing (Trainer runs, so cached)."""
    return {k: pre.smooth(v) for k, v in pre.race(dataset, kinds, steps, optimizer, lr).items()}


@st.cache_resource(show_spinner=False, max_entries=32)
def race_fig(*args):
    """The race's loss curves."""
    return charts.race_figure(race(*args), KINDS)


def render() -> None:
    """The point cloud, the image statistics and the training race."""
    st.title("Data preprocessing")
    st.markdown(
        "The same 2D cloud under each transform. Zero-centring moves it onto the origin; standardizing also "
        "gives every axis unit spread; PCA turns it so the axes follow its directions of largest variance, which "
        "removes the correlation; whitening then scales those axes too, so the covariance becomes the identity."
    )
    c1, c2, c3, c4, c5 = st.columns(5)
    angle = c1.slider("Tilt (degrees)", -90, 90, 30, 5, key="pre_angle", help="Rotation of the raw cloud.")
    stretch = c2.slider("Stretch", 1.0, 6.0, 3.0, 0.5, key="pre_stretch", help="Long axis / short axis.")
    dx = c3.slider("Offset x", -5.0, 5.0, 3.0, 0.5, key="pre_dx", help="Where the raw cloud's centre sits.")
    dy = c4.slider("Offset y", -5.0, 5.0, 2.0, 0.5, key="pre_dy")
    n = c5.select_slider("Points", [50, 100, 300, 1000], value=300, key="pre_n")
    fig, rows = cloud_fig(n, 0, float(angle), stretch, dx, dy)
    chart(fig, key="pre_cloud")
    st.dataframe(rows, hide_index=True, key="pre_cov")

    st.subheader("Images: the mean image and the channel means")
    st.markdown(
        "For images one usually subtracts either the mean image (one value per pixel and channel) or just one "
        "mean per colour channel. What is left after centring is what makes this image different from the "
        "average one."
    )
    i1, i2 = st.columns(2)
    dataset = i1.radio(
        "Dataset",
        ["digits", "shapes"],
        format_func=lambda k: registry.DATASETS[k].label,
        key="pre_dataset",
        horizontal=True,
    )
    index = i2.number_input("Example", 0, 999, 0, key="pre_index", help="Which training image to centre.")
    images_fig, channels_fig = image_figs(dataset, int(index))
    left, right = st.columns([3, 1])
    with left:
        chart(images_fig, key="pre_images")
    with right:
        chart(channels_fig, key="pre_channels")

    st.subheader("Does it make training faster?")
    st.markdown(
        "The same small network, seed and optimizer, trained once on each kind of input. With plain SGD, "
        "inputs that are off-centre or unevenly scaled make some weights need much smaller steps than others, "
        "so one learning rate fits none of them well."
    )
    with st.form("pre_race_form"):
        r1, r2, r3, r4, r5 = st.columns(5)
        rdata = r1.selectbox(
            "Data", ["digits", "shapes"], format_func=lambda k: registry.DATASETS[k].label, key="pre_race_data"
        )
        kinds = r2.multiselect(
            "Preprocessings", list(KINDS), default=["none", "standardize"], format_func=KINDS.get, key="pre_race_kinds"
        )
        opt = r3.selectbox(
            "Optimizer",
            ["sgd", "momentum", "adam"],
            format_func=lambda k: registry.OPTIMIZERS[k].label,
            key="pre_race_opt",
        )
        lr = r4.select_slider("Learning rate", [0.001, 0.003, 0.01, 0.03, 0.05, 0.1], value=0.05, key="pre_race_lr")
        steps = r5.select_slider("Steps", [100, 200, 300, 500], value=200, key="pre_race_steps")
        st.form_submit_button("Train the networks", key="pre_race_go")
    if kinds:
        chart(race_fig(rdata, tuple(kinds), steps, opt, lr), key="pre_race")


render()
