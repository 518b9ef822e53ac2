"""Learning-rate schedules seen ahead of time, and the large-batch rule (scale the rate, warm it up).

Curves come from `lab.engine.optim.preview_schedule`, i.e. from the trainer's own LRSchedule; the scaled rate
comes from `lab.engine.optim.effective_lr`. This module only adds what the trainer does not need: a stand-in
validation curve for reduce-on-plateau, and the arithmetic and advice of the large-batch calculator.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass

from lab.config import RunConfig
from lab.engine.optim import effective_lr, preview_schedule

# The config fields each schedule reads besides lr and warmup_steps (see lab.engine.optim._main_schedule). A preview
# keyed on these alone is not recomputed when a knob that the schedule ignores moves.
SCHEDULE_KNOBS: dict[str, tuple[str, ...]] = {
    "constant": (),
    "step": ("step_size", "gamma"),
    "cosine": ("min_lr_ratio",),
    "linear": ("min_lr_ratio",),
    "inv_sqrt": (),
    "cyclic": ("step_size", "min_lr_ratio"),
    "one_cycle": (),
    "plateau": ("gamma", "plateau_patience"),
}


def schedule_config(schedule: str, lr: float, warmup_steps: int = 0, **knobs) -> RunConfig:
    """A config for previewing `schedule`: the knobs it reads are taken from `knobs`, the others keep defaults."""
    used = {k: v for k, v in knobs.items() if k in SCHEDULE_KNOBS[schedule]}
    return RunConfig(schedule=schedule, lr=lr, warmup_steps=warmup_steps, optimizer="sgd", **used)


def plateau_val_loss(total_steps: int, floor_at: float = 0.4) -> Callable[[int], float]:
    """A made-up validation loss that falls until `floor_at` of the run and is flat afterwards.

    Reduce-on-plateau reacts to validation losses, which a preview does not have; this curve gives it
    something to react to, so the preview shows cuts starting once the loss stops improving.
    """
    knee = max(1, int(total_steps * floor_at))
    return lambda step: 1.0 / (1.0 + 5.0 * min(step, knee) / knee)


def schedule_curve(cfg: RunConfig, total_steps: int, eval_every: int = 0) -> list[float]:
    """The rate at every step for cfg's schedule and warmup (plateau reacts to `plateau_val_loss`)."""
    if cfg.schedule == "plateau":
        every = eval_every or max(1, total_steps // 20)  # the trainer's default: about 20 evaluations per run
        return preview_schedule(cfg, total_steps, plateau_val_loss(total_steps), every)
    return preview_schedule(cfg, total_steps)


@dataclass(frozen=True)
class BatchPlan:
    """What changes when the batch grows from the reference batch to a new one."""

    k: float  # new batch / reference batch
    lr_linear: float  # the engine's linear scaling rule (effective_lr)
    lr_sqrt: float  # the gentler square-root rule, for comparison
    steps_per_epoch: int
    total_steps: int
    warmup_epochs: float
    warmup_steps: int
    advice: str


MAX_WARMUP_EPOCHS = 5.0  # Goyal et al. (2017) warmed up over 5 epochs for a 32x larger batch (8k images)


def warmup_epochs_for(k: float) -> float:
    """Suggested warmup length in epochs for a batch k times the reference: none up to 1x, then log2(k), at most 5.

    The danger of a scaled rate is the first steps, when the weights are random and gradients large and
    changing fast; the bigger the jump in rate, the longer it should be approached. log2 grows that length
    slowly and reaches the 5 epochs that Goyal et al. used at k = 32.
    """
    return 0.0 if k <= 1 else min(MAX_WARMUP_EPOCHS, math.log2(k))


def large_batch_plan(cfg: RunConfig, new_batch: int, n_train: int, epochs: int) -> BatchPlan:
    """Scale cfg.lr from cfg.lr_reference_batch to `new_batch` and suggest a warmup for a run of `epochs`."""
    k = new_batch / cfg.lr_reference_batch
    # dataclasses.replace skips validation on purpose: the calculator may look past this server's batch cap.
    lr_linear = effective_lr(dataclasses.replace(cfg, batch_size=new_batch, scale_lr_with_batch=True))
    steps_per_epoch = max(1, n_train // new_batch)  # the trainer drops the last partial batch
    total = steps_per_epoch * epochs
    w_epochs = warmup_epochs_for(k)
    w_steps = min(total - 1, math.ceil(w_epochs * steps_per_epoch)) if w_epochs > 0 else 0
    if k <= 1:
        advice = "The batch is not larger than the reference, so the rate is not raised and no warmup is needed."
    else:
        advice = (
            f"The batch is {k:g}x the reference, so the rate goes from {cfg.lr:g} to {lr_linear:g}. "
            f"Warm it up over about {w_epochs:.1f} epochs ({w_steps} steps) so the first, noisy steps "
            "do not blow the weights up."
        )
        if w_steps > 0.3 * total:
            advice += (
                f" That is {w_steps / total:.0%} of this short run: train longer or scale the rate by "
                f"sqrt(k) instead ({cfg.lr * math.sqrt(k):g})."
            )
        if steps_per_epoch < 10:
            advice += (
                f" Only {steps_per_epoch} step{'s' if steps_per_epoch > 1 else ''} per epoch "
                "remain: the run takes few, large steps."
            )
    return BatchPlan(k, lr_linear, cfg.lr * math.sqrt(k), steps_per_epoch, total, w_epochs, w_steps, advice)
