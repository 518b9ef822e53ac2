"""Fix suggestions: one or two config changes, computed from the run and validated by RunConfig.

A suggestion that RunConfig rejects (out of range, an option that does not exist, a
combination it forbids) is dropped, so no hint can offer a change the lab cannot run.
"""

from __future__ import annotations

import math

from lab import registry
from lab.config import ConfigError, RunConfig

LR_STEP = 10.0  # default factor for an lr that is off when no update ratio says by how much


def nice(x: float) -> float:
    """x rounded to one significant digit (0.2, 0.003, 30.0), the way a person would type it."""
    if x <= 0 or not math.isfinite(x):
        return x
    exp = math.floor(math.log10(x))
    return round(round(x / 10**exp) * 10**exp, max(0, -exp))


def validated(cfg: dict, changes: dict) -> dict | None:
    """`changes` if the run's config with them applied is a valid RunConfig, else None."""
    if not changes:
        return None
    try:
        RunConfig.from_dict({**cfg, **changes})
    except (ConfigError, TypeError, ValueError):
        return None
    return dict(changes)


def good_init(cfg: dict) -> str:
    """The init matched to the activation: Kaiming for the ReLU family, Xavier for the rest."""
    return "kaiming_normal" if cfg["activation"] in registry.RELU_FAMILY else "xavier_normal"


def lr_fix(cfg: dict, factor: float) -> dict | None:
    """The lr set, scaled by `factor` and rounded; None when that is the lr already set."""
    lr = nice(cfg["lr"] * factor)
    return None if lr == cfg["lr"] else validated(cfg, {"lr": lr})


def longer(cfg: dict, factor: int = 4) -> dict | None:
    """Train `factor` times as long: more epochs, or a larger max_steps when that is what ends the run."""
    if cfg["max_steps"]:
        return validated(cfg, {"max_steps": cfg["max_steps"] * factor})
    return validated(cfg, {"epochs": cfg["epochs"] * factor})
