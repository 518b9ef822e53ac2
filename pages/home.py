"""Home page: one Start that opens a running demo, then the lessons and the rest of the lab."""

import streamlit as st

from lab.ui import first_contact
from lab.ui.controls import lessons


def render() -> None:
    """One Start that opens a running demo, then the lessons and the rest of the lab."""
    st.title("Training Lab")
    st.caption(
        "Train small neural networks and watch, in your browser, what happens inside them while they learn: "
        "loss curves, every layer's health and plain-language hints. Every experiment runs in seconds on a laptop CPU."
    )
    first_contact.start_box()
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
