"""Train: pick settings or a lesson, press Start, and watch the network learn layer by layer."""

import streamlit as st

from lab.ui import common, controls, dashboard, identity, pace, runs, share


def render() -> None:
    """Controls in the sidebar, run buttons, then the live dashboard."""
    settings = common.get_settings()
    common.get_jobs()  # first view starts the workers warming up
    controls.init_state(settings.limits)
    pace.current()  # Speed and Run until paused from the URL, its problems reported with the others'
    runs.attach_from_url()
    identity.keep()  # the owner token in a cookie, never in the address bar
    common.apply_presenter_css()
    with st.sidebar:
        dashboard.lesson_picker()
        cfg = controls.draw_controls(settings.limits, skip=pace.FIELDS)  # Speed sits by the run buttons
        identity.class_box()
        st.toggle(
            "Presenter mode",
            key="_present",
            help="Large fonts and no sidebar, for a projector. "
            "Turn it off again with ?present=0 in the URL or the toggle at the bottom of the page.",
        )
    st.title("Train")
    for message in st.session_state.pop("url_errors", []):
        st.warning(f"Ignored a link parameter: {message}", icon="🔗")
    dashboard.lesson_card()
    runs_part(cfg)
    if common.presenter_mode():
        st.toggle(
            "Presenter mode",
            key="_present_bottom",
            value=True,
            on_change=lambda: st.session_state.update(_present=False),
        )


@st.fragment
def runs_part(cfg) -> None:
    """Run buttons, Share and the live dashboard: a press on any of their widgets reruns only this part.

    A full rerun draws the sidebar's ~70 widgets too, which is what made 30 Starts pressed at
    once slow; nothing in the sidebar depends on the runs. `cfg` is the last full run's (any
    control change reruns the whole page); Fork and Load lesson, which change the controls, ask
    for a full rerun. The URL is written here, so a fragment rerun still puts the run id in it.
    """
    if not share.viewer_bar():  # someone else's run: read-only, with Fork instead of the controls
        dashboard.run_buttons(cfg)
        share.share_row(cfg)
    dashboard.live()
    controls.sync_url(
        cfg,
        run=st.session_state.get("run", ""),
        cmp=st.session_state.get("cmp", ""),
        lesson=st.session_state.get("lesson", ""),
        present="1" if common.presenter_mode() else "",
        **pace.query(),
    )


render()
