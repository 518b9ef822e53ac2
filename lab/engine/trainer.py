"""Trainer: THE training loop. It advances a given number of steps or runs to the end.

Everything else is a callback (see `lab.engine.callbacks.EVENTS`). The loop keeps its
position between calls, so a job worker can interleave several runs a slice at a
time, and a page can step one batch or one epoch. A diverging run ends with status
`diverged` and a reason, never an exception.
"""

from __future__ import annotations

import math
import time
from collections.abc import Collection, Sequence
from dataclasses import fields, replace

import torch

from lab.config import Limits, RunConfig
from lab.engine.augment import make_augment
from lab.engine.callbacks import BUILTINS, Callback, DivergenceGuard, EarlyStopping, check_event
from lab.engine.data import DataBundle, load_data
from lab.engine.losses import task_loss
from lab.engine.models import build_model
from lab.engine.optim import LRSchedule, make_optimizer
from lab.engine.pace import Pacer, steps_per_second
from lab.engine.recording.history import count_correct
from lab.engine.recording.probes import ModelProbe
from lab.engine.recording.recorder import Recorder
from lab.lifecycle import FINAL, RunStatus


def pick_device(name: str = "auto") -> torch.device:
    """`cuda` when asked for or available (auto), else `cpu`."""
    if name == "cuda" or (name == "auto" and torch.cuda.is_available()):
        return torch.device("cuda")
    return torch.device("cpu")


def overfit_config(cfg: RunConfig) -> RunConfig:
    """The same config with every regularizer off (used with overfit_batches): the fields whose metadata
    marks them `regularizer` go back to their defaults, which are off."""
    return replace(cfg, **{f.name: f.default for f in fields(cfg) if f.metadata["regularizer"]})


def auto_eval_every(steps_per_epoch: int, total_steps: int) -> int:
    """About 20 evaluations per run, and at least one per epoch."""
    return max(1, min(steps_per_epoch, math.ceil(total_steps / 20)))


class Trainer:
    """Builds data, model, optimizer and schedule from a config and trains them with callbacks.

    `data_dir` is the torchvision download cache; the serving side and the CLI pass the
    `data_dir` setting here (the engine reads no settings), None keeps `default_cache_dir()`.
    `builtins` names the built-in callbacks to add (`lab.engine.callbacks.BUILTINS`, all by
    default); `callbacks` join them and all run in ascending `order`.
    """

    def __init__(
        self,
        cfg: RunConfig,
        callbacks: Sequence[Callback] = (),
        data: DataBundle | None = None,
        limits: Limits | None = None,
        record: bool | Recorder = True,
        device: str | None = None,
        data_dir: str | None = None,
        builtins: Collection[str] = BUILTINS,
    ):
        if unknown := set(builtins) - set(BUILTINS):
            raise ValueError(f"builtins={sorted(unknown)} is invalid: choose from {', '.join(BUILTINS)}")
        limits = limits or Limits()
        cfg.validate(limits)
        self.cfg = overfit_config(cfg) if cfg.overfit_batches else cfg
        cfg = self.cfg
        self.device = pick_device(device or cfg.device)
        torch.manual_seed(cfg.seed)
        self.data = data or load_data(cfg, cache_dir=data_dir or None, limits=limits)
        d = self.data
        self.x_train, self.y_train = d.x_train.to(self.device), d.y_train.to(self.device)
        if cfg.overfit_batches:
            n = min(len(self.x_train), cfg.overfit_batches * cfg.batch_size)
            self.x_train, self.y_train = self.x_train[:n], self.y_train[:n]
        self.x_val, self.y_val = d.x_val.to(self.device), d.y_val.to(self.device)
        self.n_train = len(self.x_train)
        self.batch_size = min(cfg.batch_size, self.n_train)
        # drop_last: every step sees a full batch, so batch-norm statistics and step sizes stay comparable.
        self.steps_per_epoch = max(1, self.n_train // self.batch_size)
        total = cfg.epochs * self.steps_per_epoch
        # The planned length sets the pace, the evaluations and the recording; a run until paused
        # trains on past it, epoch after epoch, until Pause or Stop or the server's step limit.
        self.planned_steps = min(total, cfg.max_steps) if cfg.max_steps else total
        limits.check_steps(self.planned_steps)
        self.total_steps = max(limits.max_steps, self.planned_steps) if cfg.until_paused else self.planned_steps
        self.set_speed(cfg.speed)

        torch.manual_seed(cfg.seed)
        self.model = build_model(cfg, d.input_shape, d.n_classes)  # initialized (cfg.init) by build_model
        self.n_params = sum(p.numel() for p in self.model.parameters())
        limits.check_params(self.n_params)
        # Penalties apply to weights only (not biases or norm scales), the usual convention.
        self._penalized = [p for p in self.model.parameters() if p.dim() > 1]
        self.model.to(self.device)
        self.opt = make_optimizer(self.model.parameters(), cfg)
        self.sched = LRSchedule(self.opt, cfg, self.total_steps)
        self.augment = make_augment(cfg, d.input_shape, d.n_classes, preprocessor=d.preprocessor)
        self.eval_every = cfg.eval_every or auto_eval_every(self.steps_per_epoch, self.planned_steps)
        self.gen = torch.Generator().manual_seed(cfg.seed)  # shuffling, independent of model RNG use

        if isinstance(record, Recorder):
            self.recorder: Recorder | None = record
        else:
            self.recorder = Recorder(every=cfg.record_every) if record and "recorder" in builtins else None
        base: list[Callback] = [DivergenceGuard()] if "divergence_guard" in builtins else []
        if cfg.early_stopping and "early_stopping" in builtins:
            base.append(EarlyStopping(cfg.early_stopping, cfg.restore_best))
        if self.recorder:
            base.append(self.recorder)
            if "model_probe" in builtins:
                base.append(ModelProbe())  # the probe decorates the snapshot the recorder just made
        # sorted() is stable: callbacks of equal order keep the order they were given in.
        self.callbacks: list[Callback] = sorted(base + list(callbacks), key=lambda cb: getattr(cb, "order", 0))
        self._handlers: dict[str, list] = {}  # event -> bound methods, built on first emit

        self.step = 0  # optimizer steps done
        self.epoch = 0  # completed epochs
        self.batch_in_epoch = 0
        self.loss = math.nan
        self.logits: torch.Tensor | None = None  # this step's outputs (detached) and targets, for callbacks
        self.target: torch.Tensor | None = None
        self.batch_size_seen = 0
        self.initial_loss: float | None = None
        self.last_eval: dict = {}
        self.best_val_acc = 0.0
        self.images_per_s = 0.0
        self.status = RunStatus.QUEUED  # built, not started (lab/lifecycle.py)
        self.reason = ""
        self.notes: list[str] = []
        self._perm: torch.Tensor | None = None
        self._stop: tuple[str, str] | None = None
        self._started = False
        self.train_seconds = 0.0  # wall time spent inside advance(): the run's own training time
        self._ips_t = time.perf_counter()
        self._ips_n = 0

    # ---- public API ----------------------------------------------------------------

    @property
    def lr(self) -> float:
        """The current learning rate."""
        return self.sched.lr

    @property
    def epoch_float(self) -> float:
        """Progress in epochs, fractional."""
        return self.step / self.steps_per_epoch

    @property
    def batch_acc(self) -> float:
        """Accuracy on this step's batch (computed on each read; the recorder scores steps in batches instead)."""
        if self.logits is None:
            return 0.0
        return count_correct([self.logits], [self.target])[0] / max(len(self.logits), 1)

    def set_speed(self, speed: str) -> None:
        """Set the pace, also while the run trains (the recorder follows at its next step).

        The rate and period are worked out here, once, rather than on every step that reads them:
        `steps_per_second` is what this Speed allows (lab/engine/pace.py, 0.0 when unpaced) and
        `step_period` the wall seconds per step (0.0 when unpaced), whose idle part the recorder fills.
        """
        rate = steps_per_second(speed, self.planned_steps)  # raises ValueError for an unknown name
        self.speed, self.steps_per_second = speed, rate
        self.step_period = 1.0 / rate if rate > 0 else 0.0

    @property
    def done(self) -> bool:
        """True once the run has ended for any reason."""
        return self.status in FINAL

    @property
    def history(self):
        """The recorder's history (None when recording is off)."""
        return self.recorder.history if self.recorder else None

    def request_stop(self, status: str = RunStatus.STOPPED, reason: str = "stopped on request") -> None:
        """Ask the loop to end after the current step (thread-safe enough: one assignment)."""
        if self._stop is None or status == RunStatus.DIVERGED:
            self._stop = (status, reason)

    def stop_now(self, status: str = RunStatus.STOPPED, reason: str = "stopped on request") -> None:
        """End the run immediately, even between advance() calls (e.g. while paused)."""
        if self.done:
            return
        self.request_stop(status, reason)
        if not self._started:  # open and close the fit so every callback sees a complete lifecycle
            self._started = True
            self._emit("on_fit_start")
        self._finish()

    def fit(self) -> Trainer:
        """Train until the end, a stop request, early stopping or divergence (sleeping between steps when paced)."""
        pacer = Pacer(self.steps_per_second, time.monotonic())
        while not self.done:
            time.sleep(pacer.wait(time.monotonic()))
            now = time.monotonic()
            pacer.set_rate(self.steps_per_second, now)
            pacer.took(self.advance(min(pacer.owed(now), self.total_steps)), time.monotonic())
        return self

    def advance(self, n: int = 1, max_seconds: float | None = None) -> int:
        """Run up to `n` optimizer steps (or until `max_seconds` pass); returns the steps done."""
        if self.done:
            return 0
        if not self._started:
            self._started = True
            self.status = RunStatus.RUNNING
            self._emit("on_fit_start")
        t_start = time.perf_counter()
        t_end = t_start + max_seconds if max_seconds else None
        base_seconds = self.train_seconds
        done = 0
        while done < n and not self.done:
            self._one_step()
            done += 1
            self.train_seconds = base_seconds + time.perf_counter() - t_start
            if self._stop is None and self.step >= self.total_steps:
                done_why = "reached the server's step limit" if self.cfg.until_paused else "finished"
                self._stop = (RunStatus.COMPLETED, f"{done_why} {self.total_steps} steps")
            if self._stop is not None:
                self._finish()
            elif t_end is not None and time.perf_counter() >= t_end:
                break
        return done

    def advance_epoch(self) -> int:
        """Run until the end of the current epoch."""
        return self.advance(self.steps_per_epoch - self.batch_in_epoch)

    def evaluate(self) -> dict:
        """Validation loss and accuracy (and train metrics on the same-size slice) right now."""
        self._emit("on_eval_start")
        was_training = self.model.training
        self.model.eval()  # once for both passes: each switch walks every module
        try:
            val_loss, val_acc = self._eval_on(self.x_val, self.y_val)
            # Train metrics measured the same way (eval mode, no augmentation) make the gap honest.
            k = min(len(self.x_train), max(len(self.x_val), 256))
            tr_loss, tr_acc = self._eval_on(self.x_train[:k], self.y_train[:k])
        finally:
            self.model.train(was_training)
        self.best_val_acc = max(self.best_val_acc, val_acc)
        self.last_eval = {
            "step": self.step,
            "epoch": self.epoch_float,
            "val_loss": val_loss,
            "val_acc": val_acc,
            "train_loss": tr_loss,
            "train_acc": tr_acc,
        }
        self.sched.on_eval(val_loss)
        self._emit("on_eval_end")
        return self.last_eval

    def summary(self) -> dict:
        """The final figures of the run; the StoreWriter adds the hints, diagnosed from the stored rows."""
        ev = self.last_eval or {}
        out = {
            "status": self.status,
            "reason": self.reason,
            "steps": self.step,
            "total_steps": self.total_steps,
            "initial_loss": self.initial_loss,
            "train_loss": ev.get("train_loss"),
            "val_loss": ev.get("val_loss"),
            "train_acc": ev.get("train_acc"),
            "val_acc": ev.get("val_acc"),
            "best_val_acc": self.best_val_acc,
            "n_classes": self.data.n_classes,
            "device": str(self.device),
            "notes": list(self.notes),
            "train_seconds": self.train_seconds,
            "batch_size": self.batch_size,
        }
        return out

    # ---- the loop ----------------------------------------------------------------

    def _emit(self, event: str) -> None:
        handlers = self._handlers.get(event)
        if handlers is None:
            check_event(event)
            # Only callbacks that override the event: the base class's no-op methods are skipped,
            # which matters for the three events of every step.
            base = getattr(Callback, event)
            bound = [getattr(cb, event) for cb in self.callbacks]
            handlers = self._handlers[event] = [h for h in bound if getattr(h, "__func__", h) is not base]
        for handler in handlers:
            handler(self)

    def _next_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self.batch_in_epoch == 0:
            self._perm = torch.randperm(self.n_train, generator=self.gen).to(self.device)
            self._emit("on_epoch_start")
        i = self.batch_in_epoch * self.batch_size
        idx = self._perm[i : i + self.batch_size]
        return self.x_train[idx], self.y_train[idx]

    def _penalty(self) -> torch.Tensor | float:
        cfg = self.cfg
        if not (cfg.l1 or cfg.l2):
            return 0.0
        weights = self._penalized
        pen = 0.0
        if cfg.l1:
            pen = pen + cfg.l1 * sum(w.abs().sum() for w in weights)
        if cfg.l2:
            pen = pen + cfg.l2 * sum((w * w).sum() for w in weights)
        return pen

    def _one_step(self) -> None:
        if not self.model.training:  # evaluation and probes switch back; train() walks every module
            self.model.train()
        xb, yb = self._next_batch()
        target = yb
        if self.augment is not None:
            xb, target = self.augment(xb, yb)
        self._emit("on_batch_start")
        logits = self.model(xb)
        data_loss = task_loss(self.cfg.loss, logits, target, self.cfg.label_smoothing)
        loss = data_loss + self._penalty() if (self.cfg.l1 or self.cfg.l2) else data_loss
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self._emit("on_after_backward")
        if self.cfg.clip_value:
            torch.nn.utils.clip_grad_value_(self.model.parameters(), self.cfg.clip_value)
        if self.cfg.clip_norm:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.clip_norm)
        self.opt.step()
        self.sched.step()
        # The loss is read every step (the divergence guard needs it); accuracy is left to whoever
        # wants it, from these references: computed here it cost 2-3% of a small CNN's step.
        self.loss = data_loss.item()
        self.logits, self.target = logits.detach(), target
        self.batch_size_seen = len(xb)
        if self.initial_loss is None:
            self.initial_loss = self.loss
        self.step += 1
        self._ips_n += len(xb)
        now = time.perf_counter()
        if now - self._ips_t >= 0.5:
            self.images_per_s = self._ips_n / (now - self._ips_t)
            self._ips_t, self._ips_n = now, 0
        elif self.images_per_s == 0.0 and now > self._ips_t:
            self.images_per_s = self._ips_n / (now - self._ips_t)
        self.batch_in_epoch += 1
        self._emit("on_batch_end")
        end_of_epoch = self.batch_in_epoch >= self.steps_per_epoch
        if end_of_epoch:
            self.batch_in_epoch = 0
            self.epoch += 1
        if self._stop is None and (self.step % self.eval_every == 0 or self.step >= self.total_steps):
            self.evaluate()
        if end_of_epoch:
            self._emit("on_epoch_end")

    @torch.no_grad()
    def _eval_on(self, x: torch.Tensor, y: torch.Tensor, chunk: int = 1024) -> tuple[float, float]:
        """Mean loss and accuracy on (x, y) in the model's current mode (evaluate() sets eval mode)."""
        sums = []
        for i in range(0, len(x), chunk):
            logits = self.model(x[i : i + chunk])
            yb = y[i : i + chunk]
            loss = task_loss(self.cfg.loss, logits, yb, reduction="sum")  # no smoothing: the honest loss
            sums.append(torch.stack([loss.double(), (logits.argmax(1) == yb).sum().double()]))
        loss_sum, correct = torch.stack(sums).sum(0).tolist() if sums else (0.0, 0.0)  # one host read
        n = max(len(x), 1)
        return loss_sum / n, correct / n

    def _finish(self) -> None:
        status, reason = self._stop or (RunStatus.COMPLETED, "")
        if status != RunStatus.DIVERGED and not self.last_eval.get("step") == self.step:
            try:
                self.evaluate()
            except RuntimeError as e:  # e.g. NaN weights producing errors in exotic layers
                self.notes.append(f"final evaluation failed: {e}")
        self.status, self.reason = RunStatus(status), reason
        self._emit("on_fit_end")
