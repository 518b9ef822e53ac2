"""Home page: what Training Lab is and how to start."""

import streamlit as st


def render() -> None:
    """Draw the welcome text."""
    st.title("Training Lab")
    st.markdown(
        "Training Lab lets you train small neural networks and watch, in your browser, what happens "
        "inside them while they learn. Choose a dataset, a model and the training settings, press Start, "
        "and follow the loss curves, the layer statistics and the hints as they update. "
        "Every experiment runs in seconds on an ordinary laptop CPU, so you can change one thing and try again."
    )


render()
