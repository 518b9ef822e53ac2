"""Config controls generated from RunConfig's field metadata, synced with the URL, plus lessons.

The source of truth is a plain dict in `st.session_state["cfg"]`, not the widgets:
widgets that are hidden (e.g. CNN settings while the MLP is selected) lose their
state in Streamlit, the dict does not. Each run copies dict -> widget before the
widget is drawn and widget -> dict after.
"""

from __future__ import annotations

import json
import math
from dataclasses import fields
from functools import lru_cache
from pathlib import Path

import streamlit as st

from lab import registry
from lab.config import FIELDS, GROUPS, ConfigError, Limits, RunConfig, field_type

LESSONS_DIR = Path(__file__).resolve().parents[2] / "assets" / "lessons"
# URL keys the controls do not read: not config fields, or (speed, until_paused) the Train page's own
# pace settings, which lab/ui/pace.py reads so that the workflow pages keep full speed.
RESERVED_PARAMS = ("run", "cmp", "tok", "present", "lesson", "speed", "until_paused")


def _key(name: str) -> str:
    return f"w_{name}"


def init_state(limits: Limits | None = None) -> None:
    """On a session's first run: config from the URL (bad parameters reported, not fatal)."""
    if "cfg" in st.session_state:
        return
    errors: list[str] = []  # a bad link parameter is dropped and named, never fatal
    cfg = RunConfig.from_query(st.query_params.to_dict(), limits, ignore=RESERVED_PARAMS, errors=errors)
    st.session_state["cfg"] = cfg.to_dict()
    st.session_state["url_errors"] = errors
    lesson = st.query_params.get("lesson", "")
    st.session_state["lesson"] = lesson if lesson in lessons() else ""


def set_config(cfg: RunConfig) -> None:
    """Replace the whole config (lessons, reset); widgets pick it up on this run."""
    st.session_state["cfg"] = cfg.to_dict()
    for name in FIELDS:
        st.session_state.pop(_key(name), None)


def _step_for(value: float) -> float:
    """Arrow step of a float input: one unit of the value's leading digit (0.003 -> 0.001)."""
    if value == 0 or not math.isfinite(value):
        return 0.01
    return float(10 ** math.floor(math.log10(abs(value))))


def _widget(name: str, cfg: dict) -> None:
    f = FIELDS[name]
    meta = f.metadata
    key = _key(name)
    if key not in st.session_state:
        st.session_state[key] = cfg[name]
    label = name.replace("_", " ")
    kind = field_type(name)
    if name in registry.CHOICES:
        options = registry.CHOICES[name]
        st.selectbox(label, list(options), key=key, help=meta["help"], format_func=lambda k: options[k].label)
    elif kind is bool:
        st.toggle(label, key=key, help=meta["help"])
    elif kind is int:
        st.number_input(label, min_value=int(meta["lo"]), max_value=int(meta["hi"]), step=1, key=key, help=meta["help"])
    else:
        st.number_input(
            label,
            min_value=float(meta["lo"]),
            max_value=float(meta["hi"]),
            step=_step_for(f.default),
            format="%g",
            key=key,
            help=meta["help"],
        )
    cfg[name] = st.session_state[key]


def draw_controls(
    limits: Limits | None = None,
    groups: tuple[str, ...] = GROUPS,
    expanded: tuple[str, ...] = ("Data", "Model"),
    skip: tuple[str, ...] = (),
) -> RunConfig | None:
    """Config widgets (all but `skip`) in expanders by group; the valid config or None (errors shown in place)."""
    cfg: dict = st.session_state["cfg"]
    slots = {}
    for group in groups:
        with st.expander(group, expanded=group in expanded):
            for f in fields(RunConfig):
                if f.metadata["group"] != group or f.name in skip:
                    continue
                when = f.metadata["when"]  # fields that matter only for some setups are hidden otherwise
                if when is None or when(cfg):
                    _widget(f.name, cfg)
            slots[group] = st.empty()
    try:
        return RunConfig.from_dict(cfg, limits)
    except ConfigError as e:
        group = FIELDS[e.field].metadata["group"] if e.field in FIELDS else groups[-1]
        slots.get(group, slots[groups[-1]]).error(str(e), icon="⚠️")
        st.session_state["cfg_error"] = str(e)
        return None


def sync_url(cfg: RunConfig | None, **extra: str) -> None:
    """Write the config (changed fields + seed) and extra keys (run, cmp, tok, ...) to the URL."""
    base = (
        cfg.to_query()
        if cfg is not None
        else {k: v for k, v in st.query_params.to_dict().items() if k not in RESERVED_PARAMS}
    )
    wanted = {**base, **{k: v for k, v in extra.items() if v}}
    if st.query_params.to_dict() != wanted:
        st.query_params.from_dict(wanted)


@lru_cache(maxsize=1)
def lessons() -> dict[str, dict]:
    """The lesson presets shipped in assets/lessons/*.json, by id, in file-name order."""
    out = {}
    for path in sorted(LESSONS_DIR.glob("*.json")):
        data = json.loads(path.read_text())
        RunConfig.from_dict(data["config"])  # a broken preset must fail loudly in tests, not in class
        out[data["id"]] = data
    return out


def lesson_config(lesson_id: str) -> RunConfig:
    """The full config of a lesson: defaults plus the lesson's settings."""
    return RunConfig.from_dict(lessons()[lesson_id]["config"])
