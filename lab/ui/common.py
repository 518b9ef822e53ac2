"""Shared resources and page chrome: job manager, store, session identity, presenter mode."""

from __future__ import annotations

import streamlit as st

from lab.serving.jobs import JobManager, shared_manager
from lab.serving.owner_token import LEGACY_PARAM, OWNER_COOKIE, resolve_token
from lab.serving.settings import Settings, load_settings
from lab.serving.store import RunStore

OWNER_PARAM = LEGACY_PARAM  # old links' URL parameter for the owner token: read once, then removed from the URL


@st.cache_resource(show_spinner=False)
def get_settings() -> Settings:
    """Server settings (settings.toml + TRAINING_LAB_* environment), read once per server."""
    return load_settings()


def get_jobs() -> JobManager:
    """The server's one JobManager (lab.ui.serve starts it at launch so workers are warm before any Start)."""
    return shared_manager(get_settings())


def get_store() -> RunStore:
    """The run store the job manager writes to (a read connection shared by this server)."""
    return get_jobs().store


def owner_token() -> str:
    """This browser's secret owner token: from its cookie (lab/ui/identity.py writes it), never the URL.

    An old link's `tok` still wins once, so such a link keeps working for its owner; the page then
    writes it to the cookie and drops it from the address bar.
    """
    tok = st.session_state.get("_owner")
    if tok is None:
        tok = resolve_token(st.context.cookies.get(OWNER_COOKIE), st.query_params.get(OWNER_PARAM))
        st.session_state["_owner"] = tok
    return tok


def presenter_mode() -> bool:
    """True when presenter mode (large fonts, hidden controls) is on for this session."""
    if "_present" not in st.session_state:
        st.session_state["_present"] = st.query_params.get("present", "") in ("1", "true")
    return bool(st.session_state["_present"])


PRESENTER_CSS = """
<style>
section[data-testid="stSidebar"] {display: none;}
[data-testid="stAppViewContainer"] .block-container {max-width: 100%; padding: 5rem 2rem 2rem;}
html, body, [data-testid="stMarkdownContainer"] p, [data-testid="stMarkdownContainer"] li {font-size: 1.35rem;}
h1 {font-size: 3rem !important;} h2, h3 {font-size: 2.1rem !important;}
.presenter-hide {display: none;}
</style>
"""


def apply_presenter_css() -> None:
    """Large fonts and no sidebar, for a projector."""
    if presenter_mode():
        st.html(PRESENTER_CSS)


def chart(fig, key: str) -> None:
    """Draw a Plotly figure with a stable key (tests and the browser find it by `st-key-<key>`)."""
    st.plotly_chart(fig, key=key, width="stretch", config={"displaylogo": False})
