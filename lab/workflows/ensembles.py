"""Ensembles, trained in a worker: members with different seeds, snapshots of one cyclic run, weight averaging.

- Seed ensemble: the same config trained several times, only the seed of the weights'
  init, the shuffling and dropout changing. The data split stays the one of the base
  config, so every member is scored on the same validation examples.
- Snapshot ensemble: one run with a cyclic learning rate; each time the rate reaches its
  low point the weights sit in a (different) minimum, and `SnapshotSaver` keeps a copy.
  Averaging their predictions costs one run instead of N.
- Weight averaging: `WeightAverager` keeps a running average of the weights themselves
  (an exponential moving average, or SWA's equal average) with `torch.optim.swa_utils`;
  one model at test time, often better than the last raw weights.

Functions named `*_run` / `train_member` take a config dict and return plain arrays and
floats (picklable, no tensors) for `lab.workflows.ensemble_stats` and the page.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn, update_bn

from lab.config import ConfigError, RunConfig
from lab.engine.callbacks import Callback
from lab.engine.data import DataBundle, load_data
from lab.engine.optim import preview_schedule
from lab.engine.trainer import Trainer
from lab.lifecycle import RunStatus

MAX_SNAPSHOTS = 20  # weight copies kept by a SnapshotSaver (the oldest are dropped first)
BN_CHUNK = 256  # batch size of the forward passes that re-estimate batch-norm statistics


@torch.no_grad()
def predict_proba(model: nn.Module, x: torch.Tensor, chunk: int = 1024) -> torch.Tensor:
    """Softmax probabilities (N, C) of a model in eval mode (dropout off, batch norm on running stats)."""
    was_training = model.training
    model.eval()
    try:
        return torch.cat([F.softmax(model(x[i : i + chunk]), dim=1) for i in range(0, len(x), chunk)])
    finally:
        model.train(was_training)


def _state_copy(model: nn.Module) -> dict[str, torch.Tensor]:
    """A CPU copy of the weights: a plain state_dict holds references the next step would overwrite."""
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


def _scores(probs: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """(accuracy, negative log-likelihood) of probabilities against labels."""
    acc = float((probs.argmax(1) == y).float().mean())
    loss = float(-torch.log(probs[torch.arange(len(y)), y].clamp_min(1e-12)).mean())
    return acc, loss


# ---- seed ensemble -------------------------------------------------------------------------------------------


def fit_member(base: RunConfig, data: DataBundle, seed: int) -> Trainer:
    """Train one member: `base` with only the seed changed, on the given (shared) data split."""
    return Trainer(base.replace(seed=seed), data=data, record=False).fit()


def train_member(config: dict, seed: int) -> dict:
    """Train one ensemble member and return its validation probabilities and scores.

    The data comes from `config` (its own seed decides the split); `seed` decides the
    init, the shuffling and dropout. Keys: seed, probs (N, C float32), y (N,), val_acc,
    val_loss, status, reason, steps, seconds.
    """
    base = RunConfig.from_dict(config)
    data = load_data(base)
    tr = fit_member(base, data, seed)
    probs = predict_proba(tr.model, tr.x_val)
    acc, loss = _scores(probs, tr.y_val)
    return {
        "seed": seed,
        "probs": probs.cpu().numpy().astype(np.float32),
        "y": data.y_val.numpy(),
        "val_acc": acc,
        "val_loss": loss,
        "status": tr.status,
        "reason": tr.reason,
        "steps": tr.step,
        "seconds": tr.train_seconds,
    }


# ---- snapshot ensemble ---------------------------------------------------------------------------------------


class SnapshotSaver(Callback):
    """Keeps a CPU copy of the weights each time the learning rate reaches a low point (a cyclic schedule's minimum).

    A low point is a step whose rate is no higher than the previous step's while the next
    step's rate is higher. The very first step never counts (the weights are untrained),
    and a run that ends while its rate is still falling is saved at its last step.
    """

    def __init__(self, max_keep: int = MAX_SNAPSHOTS):
        self.max_keep = max_keep
        self.snapshots: list[tuple[int, float, dict[str, torch.Tensor]]] = []  # (step, lr used, weights)
        self._lr_now: float | None = None  # rate of the step in progress
        self._lr_prev: float | None = None  # rate of the step before it
        self._falling = False

    def on_batch_start(self, trainer: Trainer) -> None:
        """Note the rate this step uses (the schedule moves it after the optimizer step)."""
        self._lr_now = trainer.lr

    def on_batch_end(self, trainer: Trainer) -> None:
        """Save when this step's rate was a local minimum of the schedule."""
        now, prev = self._lr_now, self._lr_prev
        if now is not None and prev is not None and now <= prev and trainer.lr > now:
            self._save(trainer, now)
        self._falling = prev is not None and now is not None and now < prev
        self._lr_prev = now

    def on_fit_end(self, trainer: Trainer) -> None:
        """A completed run whose rate was still falling ends at a low point too."""
        saved_here = bool(self.snapshots) and self.snapshots[-1][0] == trainer.step
        if trainer.status == RunStatus.COMPLETED and self._falling and not saved_here:
            self._save(trainer, self._lr_prev or trainer.lr)

    def _save(self, trainer: Trainer, lr: float) -> None:
        self.snapshots.append((trainer.step, float(lr), _state_copy(trainer.model)))
        del self.snapshots[: -self.max_keep]


def snapshot_config(base: RunConfig, n_train: int, cycles: int, epochs_per_cycle: int) -> RunConfig:
    """`base` with a triangular cyclic schedule of `cycles` cycles, and one extra step so the run ends at a minimum."""
    if not 1 <= cycles <= MAX_SNAPSHOTS:
        raise ConfigError("cycles", cycles, f"a whole number from 1 to {MAX_SNAPSHOTS}")
    if not 1 <= epochs_per_cycle <= 100:
        raise ConfigError("epochs_per_cycle", epochs_per_cycle, "a whole number from 1 to 100")
    steps_per_epoch = max(1, n_train // max(1, min(base.batch_size, n_train)))
    half = max(1, epochs_per_cycle * steps_per_epoch // 2)  # CyclicLR's step_size: half a cycle
    total = cycles * 2 * half + 1  # step k*2*half (0-based) runs at the lowest rate; +1 includes the last one
    return base.replace(
        schedule="cyclic",
        step_size=half,
        warmup_steps=0,
        max_steps=total,
        epochs=math.ceil(total / steps_per_epoch),
        early_stopping=0,
    )


def snapshot_run(config: dict, cycles: int, epochs_per_cycle: int) -> dict:
    """One cyclic run; returns each snapshot's validation probabilities, the schedule and the last model's scores."""
    base = RunConfig.from_dict(config)
    data = load_data(base)
    cfg = snapshot_config(base, len(data.x_train), cycles, epochs_per_cycle)
    saver = SnapshotSaver()
    tr = Trainer(cfg, data=data, record=False, callbacks=[saver]).fit()
    model = copy.deepcopy(tr.model)
    snaps = []
    for step, lr, state in saver.snapshots:
        model.load_state_dict(state)
        snaps.append({"step": step, "lr": lr, "probs": predict_proba(model, tr.x_val).cpu().numpy().astype(np.float32)})
    return {
        "config": cfg.to_dict(),
        "y": data.y_val.numpy(),
        "snapshots": snaps,
        "lr": preview_schedule(cfg, tr.total_steps),
        "final_val_acc": tr.last_eval.get("val_acc", math.nan),
        "status": tr.status,
        "reason": tr.reason,
        "steps": tr.step,
        "seconds": tr.train_seconds,
    }


# ---- weight averaging ------------------------------------------------------------------------------------------


def has_batch_norm(model: nn.Module) -> bool:
    """True when the model has batch-norm layers (averaged weights need their running statistics re-estimated)."""
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())


class WeightAverager(Callback):
    """Keeps an average of the trainer's weights and scores it next to the raw weights at every evaluation.

    mode 'ema': after every step, avg = decay * avg + (1 - decay) * weights (the first step copies).
    mode 'swa': the equal average of the weights at the end of each epoch after the first `swa_start` epochs.
    Only parameters are averaged (use_buffers=False); with batch norm, the averaged model's running
    statistics are recomputed on the training data (`update_bn`) before it is scored, because the
    statistics of the raw network belong to its raw weights.
    """

    def __init__(self, mode: str = "ema", decay: float = 0.99, swa_start: int = 0):
        if mode not in ("ema", "swa"):
            raise ConfigError("mode", mode, "ema or swa")
        if mode == "ema" and not 0.0 < decay < 1.0:
            raise ConfigError("decay", decay, "a number strictly between 0 and 1, e.g. 0.99")
        if swa_start < 0:
            raise ConfigError("swa_start", swa_start, "an epoch number >= 0")
        self.mode, self.decay, self.swa_start = mode, decay, swa_start
        self.avg: AveragedModel | None = None
        self.rows: list[dict] = []  # one per evaluation: step, epoch, raw/avg val loss and accuracy

    def on_fit_start(self, trainer: Trainer) -> None:
        """Wrap a copy of the model; the first update copies the weights, later ones average."""
        fn = get_ema_multi_avg_fn(self.decay) if self.mode == "ema" else None  # None: SWA's running equal mean
        self.avg = AveragedModel(trainer.model, multi_avg_fn=fn, use_buffers=False)

    def on_batch_end(self, trainer: Trainer) -> None:
        """EMA: fold in the weights after every step; SWA: after the last step of each epoch past `swa_start`."""
        if self.mode == "ema":
            self.avg.update_parameters(trainer.model)
        # Here rather than on_epoch_end: the trainer evaluates between the two, and the epoch's
        # weights must already be in the average when the last evaluation scores it.
        elif trainer.batch_in_epoch >= trainer.steps_per_epoch and trainer.epoch + 1 > self.swa_start:
            self.avg.update_parameters(trainer.model)

    def on_eval_end(self, trainer: Trainer) -> None:
        """Score the averaged weights on the validation set next to the raw ones."""
        ev = trainer.last_eval
        row = {
            "step": ev["step"],
            "epoch": ev["epoch"],
            "raw_val_acc": ev["val_acc"],
            "raw_val_loss": ev["val_loss"],
            "avg_val_acc": None,
            "avg_val_loss": None,
        }
        if self.avg is not None and int(self.avg.n_averaged) > 0:
            probs = self.averaged_proba(trainer, trainer.x_val)
            row["avg_val_acc"], row["avg_val_loss"] = _scores(probs, trainer.y_val)
        self.rows.append(row)

    def averaged_proba(self, trainer: Trainer, x: torch.Tensor) -> torch.Tensor:
        """Probabilities of the averaged weights (batch-norm statistics refreshed first when the model has BN)."""
        if has_batch_norm(self.avg.module):
            xs = trainer.x_train
            update_bn([xs[i : i + BN_CHUNK] for i in range(0, len(xs), BN_CHUNK)], self.avg)
        return predict_proba(self.avg, x)


def averaging_run(config: dict, mode: str = "ema", decay: float = 0.99, swa_start: int = 0) -> dict:
    """Train once while averaging the weights; returns both curves and the final scores of raw and averaged weights."""
    cfg = RunConfig.from_dict(config)
    avg = WeightAverager(mode, decay, swa_start)
    tr = Trainer(cfg, record=False, callbacks=[avg]).fit()
    last = avg.rows[-1] if avg.rows else {}
    return {
        "config": cfg.to_dict(),
        "mode": mode,
        "decay": decay,
        "swa_start": swa_start,
        "rows": avg.rows,
        "raw_val_acc": last.get("raw_val_acc"),
        "avg_val_acc": last.get("avg_val_acc"),
        "raw_val_loss": last.get("raw_val_loss"),
        "avg_val_loss": last.get("avg_val_loss"),
        "batch_norm": has_batch_norm(tr.model),
        "status": tr.status,
        "reason": tr.reason,
        "steps": tr.step,
        "seconds": tr.train_seconds,
    }
