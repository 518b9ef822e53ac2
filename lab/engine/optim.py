"""Optimizers and learning-rate schedules, built from torch.optim's own classes.

`LRSchedule` wraps the torch schedulers so the trainer, the schedule preview page
and the tests all step the learning rate through the same code: once per optimizer
step, plus `on_eval(val_loss)` for reduce-on-plateau.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import torch
from torch.optim import lr_scheduler as lrs

from lab.config import RunConfig


def effective_lr(cfg: RunConfig) -> float:
    """The base rate after the linear scaling rule (lr x batch / reference batch) when it is on."""
    if cfg.scale_lr_with_batch:
        return cfg.lr * cfg.batch_size / cfg.lr_reference_batch
    return cfg.lr


def _sgd(params, cfg, lr):
    return torch.optim.SGD(params, lr=lr, weight_decay=cfg.weight_decay)


def _momentum(params, cfg, lr):
    return torch.optim.SGD(params, lr=lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)


def _nesterov(params, cfg, lr):
    return torch.optim.SGD(params, lr=lr, momentum=cfg.momentum, nesterov=True, weight_decay=cfg.weight_decay)


def _adagrad(params, cfg, lr):
    return torch.optim.Adagrad(params, lr=lr, eps=cfg.eps, weight_decay=cfg.weight_decay)


def _rmsprop(params, cfg, lr):
    return torch.optim.RMSprop(params, lr=lr, alpha=cfg.rms_alpha, eps=cfg.eps, weight_decay=cfg.weight_decay)


def _adam(params, cfg, lr):
    return torch.optim.Adam(params, lr=lr, betas=(cfg.beta1, cfg.beta2), eps=cfg.eps, weight_decay=cfg.weight_decay)


def _adamw(params, cfg, lr):
    return torch.optim.AdamW(params, lr=lr, betas=(cfg.beta1, cfg.beta2), eps=cfg.eps, weight_decay=cfg.weight_decay)


BUILDERS: dict[str, Callable[..., torch.optim.Optimizer]] = {
    "sgd": _sgd,
    "momentum": _momentum,
    "nesterov": _nesterov,
    "adagrad": _adagrad,
    "rmsprop": _rmsprop,
    "adam": _adam,
    "adamw": _adamw,
}


def make_optimizer(params: Iterable[torch.Tensor], cfg: RunConfig) -> torch.optim.Optimizer:
    """The torch optimizer named by cfg.optimizer with the config's knobs."""
    return BUILDERS[cfg.optimizer](params, cfg, effective_lr(cfg))


def _main_schedule(opt: torch.optim.Optimizer, cfg: RunConfig, steps: int, lr: float):
    """The post-warmup scheduler stepped once per optimizer step (None for plateau)."""
    steps = max(1, steps)
    name = cfg.schedule
    if name == "constant":
        return lrs.LambdaLR(opt, lambda s: 1.0)
    if name == "step":
        return lrs.StepLR(opt, step_size=cfg.step_size, gamma=cfg.gamma)
    if name == "cosine":
        return lrs.CosineAnnealingLR(opt, T_max=steps, eta_min=lr * cfg.min_lr_ratio)
    if name == "linear":
        return lrs.LinearLR(opt, start_factor=1.0, end_factor=max(cfg.min_lr_ratio, 1e-8), total_iters=steps)
    if name == "inv_sqrt":
        # lr / sqrt(t), counting steps from 1 so the first step uses the full rate.
        return lrs.LambdaLR(opt, lambda s: 1.0 / math.sqrt(s + 1))
    if name == "cyclic":
        # cycle_momentum=False: Adam-family optimizers have no 'momentum' to cycle.
        return lrs.CyclicLR(
            opt,
            base_lr=lr * cfg.min_lr_ratio,
            max_lr=lr,
            step_size_up=cfg.step_size,
            mode="triangular",
            cycle_momentum=False,
        )
    if name == "one_cycle":
        return lrs.OneCycleLR(opt, max_lr=lr, total_steps=steps + 1, cycle_momentum=False)
    if name == "plateau":
        return None
    raise KeyError(name)


class LRSchedule:
    """Warmup followed by the configured schedule; step() once per optimizer step."""

    def __init__(self, opt: torch.optim.Optimizer, cfg: RunConfig, total_steps: int):
        self.opt = opt
        self.cfg = cfg
        base = opt.param_groups[0]["lr"]
        warm = min(cfg.warmup_steps, max(0, total_steps - 1))
        main = _main_schedule(opt, cfg, total_steps - warm, base)
        self.plateau = None
        if cfg.schedule == "plateau":
            self.plateau = lrs.ReduceLROnPlateau(
                opt, factor=cfg.gamma if cfg.gamma > 0 else 0.1, patience=cfg.plateau_patience
            )
        if warm > 0:
            # Start at 1/warm of the rate and reach the full rate after `warm` steps.
            warmup = lrs.LinearLR(opt, start_factor=1.0 / warm, end_factor=1.0, total_iters=warm)
            if main is None:
                self.sched = warmup
            else:
                self.sched = lrs.SequentialLR(opt, [warmup, main], milestones=[warm])
        else:
            self.sched = main
        self.warmup_steps = warm

    @property
    def lr(self) -> float:
        """The learning rate the next optimizer step will use."""
        return float(self.opt.param_groups[0]["lr"])

    def step(self) -> None:
        """Advance one optimizer step."""
        if self.sched is not None:
            if self.plateau is not None and self.sched.last_epoch >= self.warmup_steps:
                return  # warmup is over; only plateau decides from here
            self.sched.step()

    def on_eval(self, val_loss: float) -> None:
        """Feed a validation loss to reduce-on-plateau (no-op for the other schedules)."""
        if self.plateau is not None and math.isfinite(val_loss):
            self.plateau.step(val_loss)

    def state_dict(self) -> dict:
        """Scheduler state for checkpoints."""
        return {
            "sched": self.sched.state_dict() if self.sched else None,
            "plateau": self.plateau.state_dict() if self.plateau else None,
        }


def preview_schedule(
    cfg: RunConfig, total_steps: int, val_losses: Callable[[int], float] | None = None, eval_every: int = 0
) -> list[float]:
    """The learning rate at every step of a run, computed by the trainer's own LRSchedule.

    For reduce-on-plateau, `val_losses(step)` supplies a validation loss every
    `eval_every` steps (a flat curve shows the cuts); other schedules ignore it.
    """
    param = torch.nn.Parameter(torch.zeros(1))
    opt = make_optimizer([param], cfg)
    sched = LRSchedule(opt, cfg, total_steps)
    out = []
    for step in range(total_steps):
        out.append(sched.lr)
        opt.step()  # keeps torch from warning that the scheduler stepped before the optimizer
        sched.step()
        if val_losses is not None and eval_every and (step + 1) % eval_every == 0:
            sched.on_eval(val_losses(step + 1))
    return out
