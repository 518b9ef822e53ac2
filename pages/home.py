"""Home page: what Training Lab is, where to start, and the lessons."""

import streamlit as st

from lab.ui.controls import lessons


def render() -> None:
    """Welcome text, the way in, and one link per lesson."""
    st.title("Training Lab")
    st.markdown(
        "Training Lab lets you train small neural networks and watch, in your browser, what happens "
        "inside them while they learn. Choose a dataset, a model and the training settings, press Start, "
        "and follow the loss curves, the layer statistics and the hints as they update. "
        "Every experiment runs in seconds on an ordinary laptop CPU, so you can change one thing and try again."
    )
    st.page_link("pages/train.py", label="Open the live lab", icon=":material/science:")
    st.subheader("Lessons")
    st.caption("Each lesson sets up a scenario in the live lab and says what to look for.")
    for lesson_id, lesson in lessons().items():
        st.page_link(
            "pages/train.py",
            label=lesson["title"],
            query_params={
                "lesson": lesson_id,
                **{k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in lesson["config"].items()},
            },
        )
    st.subheader("Around the lab")
    st.markdown(
        "- **Concepts**: one knob at a time on activations, initialization, optimizers, schedules, "
        "preprocessing and regularization.\n"
        "- **Workflows**: the babysitting recipe, hyperparameter search, comparing runs, ensembles, "
        "transfer learning and large-batch training."
    )


render()
