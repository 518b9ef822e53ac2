"""StoreWriter: a callback that streams a run's history into the RunStore.

Writes are batched (at most every `interval` seconds, plus the first step and the
end) so a fast run costs one small transaction per interval, and a reader in
another process sees fresh points within that interval.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from lab.diagnosis import Hint, diagnose_run, hints_as_dicts
from lab.engine.callbacks import Callback
from lab.lifecycle import RunStatus
from lab.serving.store import RunStore

INPUT_SAMPLE = 10_000  # training examples read once for the input mean and std the diagnosis checks

if TYPE_CHECKING:  # pragma: no cover
    from lab.engine.trainer import Trainer


class StoreWriter(Callback):
    """Appends new metric rows and snapshots of the trainer's recorder to the store."""

    def __init__(self, store: RunStore, run_id: str, interval: float = 0.4, starts_paused: bool = False):
        self.store = store
        self.run_id = run_id
        self.interval = interval
        self.starts_paused = starts_paused
        self._last_flush = 0.0
        self._train_step = -1
        self._val_step = -1
        self._snap_step = -1
        self._dropped = 0
        self._inputs: dict | None = None

    def on_fit_start(self, trainer: Trainer) -> None:
        """Mark the run as running (unless it starts paused: its first steps are a Step, and it stays paused)."""
        if not self.starts_paused:
            self.store.set_status(self.run_id, RunStatus.RUNNING)

    def on_batch_end(self, trainer: Trainer) -> None:
        """Flush when the interval has passed (and right after the first step)."""
        if trainer.step == 1:
            self.flush(trainer)
        else:
            self.flush_if_due(trainer)

    def flush_if_due(self, trainer: Trainer) -> bool:
        """Flush if the interval has passed since the last flush; True if it did.

        The worker also calls this when a run's time slice ends: on a busy server a run's
        slices are a second or more apart, and without it the steps of one slice would sit
        unwritten until the first batch of the next.
        """
        if time.monotonic() - self._last_flush < self.interval:
            return False
        self.flush(trainer)
        return True

    def flush(self, trainer: Trainer, status: str | None = None) -> None:
        """Write everything recorded since the last flush."""
        self._last_flush = time.monotonic()
        hist = trainer.history
        if hist is None:
            return
        train = [r for r in hist.train if r["step"] > self._train_step]
        val = [r for r in hist.val if r["step"] > self._val_step]
        snaps = [s for s in hist.snapshots if s["step"] > self._snap_step]
        dropped = hist.dropped[self._dropped :]
        meta = dict(
            hist.meta,
            steps_per_epoch=trainer.steps_per_epoch,
            total_steps=trainer.total_steps,
            n_classes=trainer.data.n_classes,
            class_names=trainer.data.class_names,
            input_shape=list(trainer.data.input_shape),
            step=trainer.step,
            n_params=trainer.n_params,
            **self._input_stats(trainer),
        )
        self.store.append(self.run_id, train=train, val=val, snapshots=snaps, dropped=dropped, meta=meta, status=status)
        if train:
            self._train_step = train[-1]["step"]
        if val:
            self._val_step = val[-1]["step"]
        if snaps:
            self._snap_step = snaps[-1]["step"]
        self._dropped = len(hist.dropped)

    def _input_stats(self, trainer: Trainer) -> dict:
        """Mean and std of the inputs as the network sees them (after preprocessing), read once per run."""
        if self._inputs is None:
            x = trainer.x_train[:INPUT_SAMPLE].double()
            self._inputs = {"input_mean": float(x.mean()), "input_std": float(x.std())} if x.numel() > 1 else {}
        return self._inputs

    def on_fit_end(self, trainer: Trainer) -> None:
        """Final flush, then the final status, reason and summary, with the hints of the stored rows."""
        self.flush(trainer)
        # A Ray actor's buffered store cannot be read: it forwards the call, and the manager runs
        # finish_run against the real store, so the hints come from the same stored rows either way.
        finish = getattr(self.store, "finish_run", None)
        if finish is not None:
            finish(self.run_id, trainer.status, trainer.reason, trainer.summary())
        else:
            finish_run(self.store, self.run_id, trainer.status, trainer.reason, trainer.summary())


def finish_run(store: RunStore, run_id: str, status: str, reason: str, summary: dict) -> None:
    """Write a run's final status and summary, the summary's hints diagnosed from the rows the store holds."""
    row = dict(store.get_run(run_id) or {}, status=status, reason=reason, summary=summary)
    summary["hints"] = hints_as_dicts(stored_hints(store, run_id, row))
    store.set_status(run_id, status, reason, summary)


def stored_hints(store: RunStore, run_id: str, row: dict | None = None) -> list[Hint]:
    """The diagnosis of a run from the rows the store holds: the series every page, feed and CLI reads."""
    row = row if row is not None else store.get_run(run_id) or {}
    return diagnose_run(row, store.metrics(run_id, "train"), store.metrics(run_id, "val"), store.snapshots(run_id))
