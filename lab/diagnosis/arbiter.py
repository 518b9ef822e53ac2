"""Arbitration: the findings of every rule made into one consistent story.

A root cause explains its symptoms (units dead after a zero init are the init's doing, not a
second problem), so a finding explained by another one present is dropped. No two remaining
hints may suggest different values for the same config field: the one whose evidence appeared
first (on a tie, the deeper cause in PRIORITY) wins and the other is dropped, so the lab never says "lower the learning
rate" and "raise it" about one run. A run with no warning gets one "ok" hint saying so.
"""

from __future__ import annotations

from lab.diagnosis.hint import LEVELS, Hint

# Root causes first: a cause listed earlier wins a disagreement with one listed later.
PRIORITY = (
    "no_warmup",
    "lr_too_high",
    "zero_init",
    "init_too_large",
    "init_too_small",
    "vanishing_gradients",
    "mse_loss",
    "inputs_not_normalized",
    "too_much_regularization",
    "needs_hidden_layer",
    "dead_relu",
    "lr_too_low",
    "oscillating_loss",
    "overfitting",
    "train_longer",
)
_SYMPTOMS = ("dead_relu", "lr_too_low", "oscillating_loss", "train_longer", "vanishing_gradients", "init_too_small")
# cause -> the findings it explains when both are present
EXPLAINS: dict[str, tuple[str, ...]] = {
    "no_warmup": ("lr_too_high", *_SYMPTOMS),
    "lr_too_high": _SYMPTOMS,
    "zero_init": (*_SYMPTOMS, "needs_hidden_layer", "too_much_regularization", "mse_loss"),
    "init_too_large": (*_SYMPTOMS, "overfitting"),
    "init_too_small": ("vanishing_gradients", "lr_too_low", "train_longer", "dead_relu"),
    "vanishing_gradients": ("lr_too_low", "train_longer"),
    "mse_loss": ("lr_too_low", "train_longer", "vanishing_gradients"),
    "inputs_not_normalized": ("lr_too_low", "train_longer", "oscillating_loss"),
    "too_much_regularization": ("dead_relu", "lr_too_low", "train_longer"),
    "needs_hidden_layer": ("oscillating_loss", "lr_too_low", "train_longer"),
    # Units that died get no gradient, so more epochs cannot revive them: the dead units are the cause.
    "dead_relu": ("lr_too_low", "train_longer"),
}
PROBLEM = ("bad", "warn")


def _rank(h: Hint) -> tuple:
    level = LEVELS.index(h.level) if h.level in LEVELS else len(LEVELS)
    prio = PRIORITY.index(h.cause) if h.cause in PRIORITY else len(PRIORITY)
    return (level, prio, h.step if h.step is not None else 0)


def arbitrate(hints: list[Hint]) -> list[Hint]:
    """Drop explained and contradicting findings; order by severity, then cause depth, then time."""
    present = {h.cause for h in hints if h.level in PROBLEM}
    kept = [h for h in hints if not any(h.cause in EXPLAINS.get(c, ()) for c in present - {h.cause})]
    out, fixed = [], {}
    # Between causes that want one knob set differently, what broke first wins (then the deeper cause).
    for h in sorted(kept, key=lambda h: (h.step if h.step is not None else 0, _rank(h)[1])):
        clash = h.fix and any(k in fixed and fixed[k] != v for k, v in h.fix.items())
        if clash:
            continue
        for k, v in (h.fix or {}).items():
            fixed.setdefault(k, v)
        out.append(h)
    return sorted(out, key=_rank)
