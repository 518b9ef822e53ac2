"""Run handling for pages: start, compare, pause, step, stop, reattach, and incremental reads.

A page holds only run ids (in session state and in the URL). Everything else comes
from the store, read incrementally: each poll fetches only rows newer than the last
one it saw, so a refresh costs milliseconds however long the run is.
"""

from __future__ import annotations

import streamlit as st

from lab.config import ConfigError, RunConfig
from lab.serving.jobs import CapacityError
from lab.serving.run_history import RunHistory
from lab.ui import identity
from lab.ui.common import get_jobs, get_store, owner_token


class RunView(RunHistory):
    """What a page knows about one run (lab.serving.run_history.RunHistory), plus whether this session owns it."""

    @property
    def mine(self) -> bool:
        """True when this browser session owns (and may control) the run."""
        return self.row.get("owner") == owner_token()


def refresh(view: RunView) -> RunView:
    """Fetch the run row and any rows newer than those already held."""
    return view.fetch_new(get_store())


def view_for(slot: str) -> RunView | None:
    """The cached RunView of a slot ('run' = A, 'cmp' = B), refreshed; None when the slot is empty."""
    run_id = st.session_state.get(slot)
    if not run_id:
        return None
    cache = st.session_state.setdefault("_views", {})
    view = cache.get(run_id)
    if view is None:
        view = cache[run_id] = RunView(run_id)
    return refresh(view)


def attach_from_url() -> None:
    """After a refresh, pick the run ids back up from the URL (if they exist in the store)."""
    if st.session_state.get("_attached"):
        return
    st.session_state["_attached"] = True
    store = get_store()
    for slot in ("run", "cmp"):
        run_id = st.query_params.get(slot, "")
        if run_id and len(run_id) <= 64 and store.get_run(run_id) is not None:
            st.session_state[slot] = run_id
        elif run_id:
            st.session_state.setdefault("url_errors", []).append(
                f"{slot}={run_id[:40]!r} is invalid: no such run on this server (it may have been deleted)"
            )


def start(cfg: RunConfig, slot: str = "run", paused: bool = False, label: str = "") -> str | None:
    """Submit a run for this session into a slot; returns None when refused.

    The reason for a refusal goes to `st.session_state["run_error"]`, which the page shows
    next to its buttons: this is called from button callbacks, where anything drawn would
    land at the top of the page instead.
    """
    try:
        run_id = get_jobs().submit(cfg, owner=owner_token(), label=label, paused=paused)
    except (ConfigError, CapacityError) as e:
        st.session_state["run_error"] = str(e)
        return None
    identity.tag_run(run_id)  # on the class board when this browser joined a room
    st.session_state[slot] = run_id
    st.session_state.setdefault("_views", {}).pop(run_id, None)
    return run_id


def control(view: RunView | None, op: str, arg=None) -> None:
    """Pause, resume, step, change the speed of or stop a run this session owns (read-only viewers are ignored)."""
    if view is None or not view.mine:
        return
    jobs = get_jobs()
    if op in ("step", "speed"):
        getattr(jobs, op)(view.run_id, arg)
    else:
        getattr(jobs, op)(view.run_id)


def forget(slot: str) -> None:
    """Drop a slot's run from the page (stopping it first if it is this session's and active)."""
    run_id = st.session_state.pop(slot, None)
    if run_id:
        view = st.session_state.get("_views", {}).pop(run_id, None)
        if view is not None and view.mine and view.active:
            get_jobs().stop(run_id)
