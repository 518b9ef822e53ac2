"""StoreWriter: a callback that streams a run's history into the RunStore.

Writes are batched (at most every `interval` seconds, plus the first step and the
end) so a fast run costs one small transaction per interval, and a reader in
another process sees fresh points within that interval.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from lab.engine.callbacks import Callback
from lab.lifecycle import RunStatus
from lab.serving.store import RunStore

if TYPE_CHECKING:  # pragma: no cover
    from lab.engine.trainer import Trainer


class StoreWriter(Callback):
    """Appends new metric rows and snapshots of the trainer's recorder to the store."""

    def __init__(self, store: RunStore, run_id: str, interval: float = 0.4):
        self.store = store
        self.run_id = run_id
        self.interval = interval
        self._last_flush = 0.0
        self._train_step = -1
        self._val_step = -1
        self._snap_step = -1
        self._dropped = 0

    def on_fit_start(self, trainer: Trainer) -> None:
        """Mark the run as running."""
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
        )
        self.store.append(self.run_id, train=train, val=val, snapshots=snaps, dropped=dropped, meta=meta, status=status)
        if train:
            self._train_step = train[-1]["step"]
        if val:
            self._val_step = val[-1]["step"]
        if snaps:
            self._snap_step = snaps[-1]["step"]
        self._dropped = len(hist.dropped)

    def on_fit_end(self, trainer: Trainer) -> None:
        """Final flush, then the final status, reason and summary."""
        self.flush(trainer)
        self.store.set_status(self.run_id, trainer.status, trainer.reason, trainer.summary())
