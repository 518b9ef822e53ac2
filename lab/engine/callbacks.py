"""The closed list of training events and the callbacks that react to them.

Every concern outside the bare optimization step (recording, early stopping,
divergence, persistence, progress bars) is a `Callback`. The trainer passes itself
to each hook, but what a callback may use is `TrainerView`: a few read-only figures,
the model and data to look at, and `request_stop` / `notes` to act. Callbacks run in
ascending `order` (ties keep the order given); the built-ins (`BUILTINS`) sit before
the default 0, so a writer or progress bar sees a step after the recorder and the probe
have finished with it, and each built-in can be left out (`Trainer(builtins=...)`).
"""

from __future__ import annotations

import copy
import math
from typing import TYPE_CHECKING, Protocol

from lab.lifecycle import RunStatus

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from torch import nn

    from lab.config import RunConfig
    from lab.engine.data import DataBundle

# The built-in callbacks a Trainer adds by name (all by default; pass a subset to `Trainer(builtins=...)`).
BUILTINS = ("divergence_guard", "early_stopping", "recorder", "model_probe")


class TrainerView(Protocol):
    """What a callback may read from the trainer, and the two ways it may act on the run.

    The concrete Trainer satisfies it; a callback that stays within it can be tested with a
    small fake, and the Trainer's other attributes can change without breaking callbacks.
    """

    cfg: RunConfig
    model: nn.Module  # to look at (hooks, weights); a callback that changes weights says so (EarlyStopping)
    data: DataBundle
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    step: int  # optimizer steps done
    epoch: int
    steps_per_epoch: int
    total_steps: int
    n_params: int
    loss: float  # this step's loss
    logits: torch.Tensor | None  # this step's outputs and targets (detached)
    target: torch.Tensor | None
    batch_size_seen: int
    images_per_s: float
    last_eval: dict  # the latest evaluation's metrics
    status: RunStatus
    reason: str
    notes: list[str]  # lines a callback adds to the run's summary

    @property
    def lr(self) -> float:
        """The learning rate of this step."""

    @property
    def epoch_float(self) -> float:
        """Epochs done, fractional."""

    @property
    def history(self):
        """The recorder's history (None when recording is off)."""

    def request_stop(self, status: str = RunStatus.STOPPED, reason: str = "stopped on request") -> None:
        """End the run after the current step with this final status."""

    def summary(self) -> dict:
        """The run's final figures."""


EVENTS: tuple[str, ...] = (
    "on_fit_start",
    "on_fit_end",
    "on_epoch_start",
    "on_epoch_end",
    "on_batch_start",
    "on_after_backward",
    "on_batch_end",
    "on_eval_start",
    "on_eval_end",
)


class Callback:
    """Base class: typed no-op hooks, one per event. Subclasses override what they need."""

    order: int = 0  # callbacks run in ascending order; the built-ins use negative numbers

    def on_fit_start(self, trainer: TrainerView) -> None:
        """Before the first step: register hooks, open resources."""

    def on_fit_end(self, trainer: TrainerView) -> None:
        """After the last step (completed, stopped or diverged): release resources."""

    def on_epoch_start(self, trainer: TrainerView) -> None:
        """Before the first batch of an epoch."""

    def on_epoch_end(self, trainer: TrainerView) -> None:
        """After the last batch of an epoch."""

    def on_batch_start(self, trainer: TrainerView) -> None:
        """Before the forward pass of a step."""

    def on_after_backward(self, trainer: TrainerView) -> None:
        """Gradients are in p.grad; the optimizer has not stepped yet."""

    def on_batch_end(self, trainer: TrainerView) -> None:
        """After the optimizer and schedule stepped; trainer.loss holds this step's loss."""

    def on_eval_start(self, trainer: TrainerView) -> None:
        """Before a validation pass."""

    def on_eval_end(self, trainer: TrainerView) -> None:
        """After a validation pass; trainer.last_eval holds its metrics."""


def check_event(name: str) -> None:
    """Raise for an event that is not on the closed list (catches typos at call time)."""
    if name not in EVENTS:
        raise ValueError(f"unknown event {name!r}; events are: {', '.join(EVENTS)}")


class DivergenceGuard(Callback):
    """Ends the run as `diverged` when the loss is NaN/Inf or far above where it started."""

    order = -40  # first: a diverged step should stop the run before anything records it as normal

    def __init__(self, factor: float = 10.0, grace_steps: int = 5):
        self.factor = factor  # "far above": this many times the starting loss
        self.grace_steps = grace_steps  # ignore spikes in the very first steps
        self.start: float | None = None

    def on_batch_end(self, trainer: TrainerView) -> None:
        """Compare this step's loss with the first one."""
        loss = trainer.loss
        if not math.isfinite(loss):
            trainer.request_stop(RunStatus.DIVERGED, f"loss became {loss} at step {trainer.step}")
            return
        if self.start is None:
            self.start = max(loss, 1e-3)
            return
        if trainer.step > self.grace_steps and loss > self.factor * self.start:
            trainer.request_stop(
                RunStatus.DIVERGED,
                f"loss {loss:.3g} at step {trainer.step} is over {self.factor:g}x the starting loss {self.start:.3g}",
            )


class EarlyStopping(Callback):
    """Stops after `patience` evaluations without a better validation loss; optionally restores the best weights."""

    order = -30

    def __init__(self, patience: int, restore_best: bool = True, min_delta: float = 0.0):
        self.patience = patience
        self.restore_best = restore_best
        self.min_delta = min_delta
        self.best = math.inf
        self.best_step = 0
        self.bad = 0
        self.best_state: dict | None = None

    def on_eval_end(self, trainer: TrainerView) -> None:
        """Track the best validation loss and count evaluations without improvement."""
        loss = trainer.last_eval["val_loss"]
        if loss < self.best - self.min_delta:
            self.best, self.best_step, self.bad = loss, trainer.step, 0
            if self.restore_best:
                # A CPU copy: a reference would be overwritten by the next optimizer step.
                self.best_state = {k: v.detach().to("cpu", copy=True) for k, v in trainer.model.state_dict().items()}
        else:
            self.bad += 1
            if self.bad >= self.patience:
                trainer.request_stop(
                    RunStatus.COMPLETED,
                    f"early stopping: no better validation loss for {self.bad} evaluations "
                    f"(best {self.best:.4f} at step {self.best_step})",
                )

    def on_fit_end(self, trainer: TrainerView) -> None:
        """Put the best weights back when asked to."""
        if self.restore_best and self.best_state is not None and trainer.status == RunStatus.COMPLETED:
            trainer.model.load_state_dict(copy.deepcopy(self.best_state))
            trainer.notes.append(f"restored the weights of step {self.best_step}")
