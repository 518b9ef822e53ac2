"""Config controls generated from RunConfig's field metadata, synced with the URL, plus lessons.

The source of truth is a plain dict in `st.session_state["cfg"]`, not the widgets:
widgets that are hidden (e.g. CNN settings while the MLP is selected) lose their
state in Streamlit, the dict does not. Each run copies dict -> widget before the
widget is drawn and widget -> dict after.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import fields
from functools import lru_cache
from pathlib import Path
from typing import Any

import streamlit as st

from lab import registry
from lab.config import FIELDS, GROUPS, ConfigError, Limits, RunConfig, field_type, parse_text

LESSONS_DIR = Path(__file__).resolve().parents[2] / "assets" / "lessons"
# URL keys the controls do not read: not config fields, or (speed, until_paused) the Train page's own
# pace settings, which lab/ui/pace.py reads so that the workflow pages keep full speed.
RESERVED_PARAMS = ("run", "cmp", "tok", "present", "lesson", "speed", "until_paused")

# Fields that only matter for some setups; hidden otherwise (their values are kept).
ONLY_FOR: dict[str, Any] = {
    "noise": lambda c: c["dataset"] in registry.TOY_2D_DATASETS,
    "toy_samples": lambda c: c["dataset"] in registry.TOY_2D_DATASETS,
    "depth": lambda c: c["model"] == "mlp",
    "width": lambda c: c["model"] == "mlp",
    "cnn_stages": lambda c: c["model"] == "cnn",
    "convs_per_stage": lambda c: c["model"] == "cnn",
    "base_channels": lambda c: c["model"] == "cnn",
    "fc_layers": lambda c: c["model"] == "cnn",
    "fc_width": lambda c: c["model"] == "cnn" and c["fc_layers"] > 1,
    "pool": lambda c: c["model"] == "cnn",
    "zero_init_residual": lambda c: c["residual"],
    "stochastic_depth": lambda c: c["residual"],
    "leaky_slope": lambda c: c["activation"] in ("leaky_relu", "prelu"),
    "elu_alpha": lambda c: c["activation"] == "elu",
    "swish_beta": lambda c: c["activation"] == "silu",
    "maxout_k": lambda c: c["activation"] == "maxout",
    "init_constant": lambda c: c["init"] == "constant",
    "momentum": lambda c: c["optimizer"] in ("momentum", "nesterov"),
    "beta1": lambda c: c["optimizer"] in ("adam", "adamw"),
    "beta2": lambda c: c["optimizer"] in ("adam", "adamw"),
    "rms_alpha": lambda c: c["optimizer"] == "rmsprop",
    "eps": lambda c: c["optimizer"] in ("adagrad", "rmsprop", "adam", "adamw"),
    "step_size": lambda c: c["schedule"] in ("step", "cyclic"),
    "gamma": lambda c: c["schedule"] in ("step", "plateau"),
    "min_lr_ratio": lambda c: c["schedule"] in ("cosine", "linear", "cyclic"),
    "plateau_patience": lambda c: c["schedule"] == "plateau",
    "lr_reference_batch": lambda c: c["scale_lr_with_batch"],
    "restore_best": lambda c: c["early_stopping"] > 0,
    **{
        k: (lambda c: c["dataset"] not in registry.TOY_2D_DATASETS)
        for k in (
            "aug_crop",
            "aug_flip",
            "aug_rotate",
            "aug_translate",
            "aug_scale",
            "aug_shear",
            "aug_jitter",
            "cutout",
            "mixup",
            "cutmix",
        )
    },
}


def config_from_params(params: Mapping[str, str], limits: Limits | None = None) -> tuple[RunConfig, list[str]]:
    """A valid config from URL parameters, dropping bad ones; returns (config, one message per problem)."""
    errors: list[str] = []
    data: dict[str, Any] = {}
    for key, raw in params.items():
        if key in RESERVED_PARAMS:
            continue
        try:
            data[key] = parse_text(key, str(raw))
        except ConfigError as e:
            errors.append(str(e))
    for _ in range(len(data) + 1):  # drop one offending field at a time until the rest is valid
        try:
            return RunConfig.from_dict(data, limits), errors
        except ConfigError as e:
            errors.append(str(e))
            if e.field not in data:
                break
            data.pop(e.field)
    return RunConfig(), errors


def _key(name: str) -> str:
    return f"w_{name}"


def init_state(limits: Limits | None = None) -> None:
    """On a session's first run: config from the URL (bad parameters reported, not fatal)."""
    if "cfg" in st.session_state:
        return
    cfg, errors = config_from_params(st.query_params.to_dict(), limits)
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
                show = ONLY_FOR.get(f.name)
                if show is None or show(cfg):
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
