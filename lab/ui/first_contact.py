"""First contact: the landing page's one-click demo, a spiral learnt by a small MLP, running on the Train page."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from lab.config import FIELDS, RunConfig
from lab.ui import controls, runs
from lab.ui.common import get_settings

ROOT = Path(__file__).resolve().parents[2]
PREVIEW = ROOT / "assets" / "train-live.png"  # made by scripts/screenshot.py: the Train page during a run
TRAIN_PAGE = "pages/train.py"


def demo_config() -> RunConfig:
    """The demo: two spiral arms and a 3x32 MLP (TensorFlow Playground's classic), paced so the boundary forms."""
    cfg = RunConfig(dataset="spiral", depth=3, width=32)
    if "speed" in FIELDS:  # watch: about 20 s for the run, so a newcomer sees it learn rather than the end
        cfg = cfg.replace(speed="watch")
    return cfg


def start_demo() -> bool:
    """Load the demo's settings and start it in this session (the Train page then follows it); False if refused."""
    cfg = demo_config()
    controls.set_config(cfg)
    st.session_state["lesson"] = ""
    runs.forget("run")
    runs.forget("cmp")
    st.session_state["_attached"] = True  # the run is this session's; no URL to read it back from
    return runs.start(RunConfig.from_dict(cfg.to_dict(), get_settings().limits)) is not None


def start_box() -> None:
    """One big Start that opens the Train page with the demo already training, beside a picture of it."""
    left, right = st.columns([1, 1.6], vertical_alignment="center")
    with left:
        st.markdown(
            "**Watch a network learn, in one click.** Start trains a small network to separate two "
            "interleaved spirals: the loss falls, the decision boundary takes shape and every layer's "
            "health shows live. Change any setting on the next page and train again."
        )
        if st.button("Start the demo", icon=":material/play_arrow:", type="primary", key="home_start", width="stretch"):
            if start_demo():
                st.switch_page(TRAIN_PAGE)
            st.error(st.session_state.pop("run_error", "The demo could not start."), icon="⚠️")
        st.page_link(TRAIN_PAGE, label="or open the lab with your own settings", icon=":material/tune:")
    with right:
        if PREVIEW.exists():
            st.image(str(PREVIEW), caption="The Train page during a run", width="stretch")
