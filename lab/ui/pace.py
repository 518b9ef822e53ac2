"""The Train page's Speed control and its Run until paused toggle: page settings applied to the runs it starts.

`speed` and `until_paused` are RunConfig fields (validated, in the URL and the CLI), whose
defaults keep full speed for the CLI and the workflow pages. The Train page asks for `watch`
unless its URL says otherwise. Both live in this page's session state rather than in the
config dict the workflow pages share (lab/ui/controls.py), so a workflow started after a visit
to the Train page still trains at full speed. A Speed change while a run trains reaches its
worker at once: lab.ui.runs.control -> JobManager.speed -> the worker's `speed` command.
"""

from __future__ import annotations

import streamlit as st

from lab import registry
from lab.config import ConfigError, RunConfig, parse_text
from lab.ui import runs

FIELDS = ("speed", "until_paused")
PAGE_DEFAULTS = {"speed": "watch", "until_paused": False}  # what the Train page asks for by default
STATE = "_pace"
SPEED_KEY, UNTIL_KEY = "pace_speed", "pace_until"  # widget keys (tests press them)


def current() -> dict:
    """This session's Speed and Run until paused; on its first call, from the URL or the page defaults."""
    if STATE not in st.session_state:
        pace = dict(PAGE_DEFAULTS)
        for name in FIELDS:
            raw = st.query_params.get(name)
            if raw is None:
                continue
            try:
                value = parse_text(name, raw)
                RunConfig().replace(**{name: value})  # validated like every field
                pace[name] = value
            except ConfigError as e:
                st.session_state.setdefault("url_errors", []).append(str(e))
        st.session_state[STATE] = pace
    return st.session_state[STATE]


def apply(cfg: RunConfig | None) -> RunConfig | None:
    """The config with this page's Speed and Run until paused (None stays None)."""
    return None if cfg is None else cfg.replace(**current())


def query() -> dict[str, str]:
    """URL parameters for the settings that differ from the page's defaults (a link keeps the pace)."""
    pace = current()
    out = {}
    for name in FIELDS:
        if pace[name] != PAGE_DEFAULTS[name]:
            value = pace[name]
            out[name] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return out


def _on_speed() -> None:
    speed = st.session_state[SPEED_KEY]
    current()["speed"] = speed
    for slot in ("run", "cmp"):  # a run that trains now follows the new Speed at its next step
        view = runs.view_for(slot)
        if view is not None and view.active:
            runs.control(view, "speed", speed)


def _on_until() -> None:
    current()["until_paused"] = bool(st.session_state[UNTIL_KEY])


def bar() -> None:
    """Speed (watch, fast, max) and Run until paused, beside the run buttons."""
    pace = current()
    st.session_state.setdefault(SPEED_KEY, pace["speed"])
    st.session_state.setdefault(UNTIL_KEY, pace["until_paused"])
    c1, c2, _ = st.columns([2, 2, 3], vertical_alignment="bottom")
    c1.segmented_control(
        "Speed",
        list(registry.SPEEDS),
        required=True,
        key=SPEED_KEY,
        format_func=lambda k: registry.SPEEDS[k].label,
        help="Watch paces training so you can follow it (a run of the default size takes about 20 s); "
        "Fast is four times that; Max trains as fast as the server can. Changes apply at once.",
        on_change=_on_speed,
    )
    c2.toggle(
        "Run until paused",
        key=UNTIL_KEY,
        help="Keep training epoch after epoch until Pause or Stop (up to the server's step limit). "
        "Applies from the next Start.",
        on_change=_on_until,
    )
