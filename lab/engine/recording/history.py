"""History: what one run recorded, and the train rows built from its finished steps.

Train rows are bounded: steps are averaged into buckets whose width doubles when there are
more than `max_points` rows (neighbouring rows are merged at the same time). Accuracy is not
computed per step: finished steps wait, as references to their outputs and targets, and are
scored `SCORE_EVERY` at a time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

import torch

if TYPE_CHECKING:  # pragma: no cover
    from lab.engine.trainer import Trainer

SCORE_EVERY = 16  # steps whose accuracy is computed together (each torch op costs ~15 us cold in a step)


class History:
    """Everything recorded for one run, as plain JSON-ready Python values.

    Train rows wait up to `SCORE_EVERY` steps for their accuracy to be computed in one batch;
    reading `train` settles every waiting step first, so a reader never sees a stale curve.
    """

    def __init__(self) -> None:
        self._train: list[dict] = []  # bucketed rows: step, epoch, train_loss, train_acc, lr, images_per_s
        self.val: list[dict] = []  # one row per evaluation: step, val_loss, val_acc, train_loss, train_acc
        self.snapshots: list[dict] = []  # per-layer/per-parameter stats at recorded steps
        self.meta: dict = {}  # layer names, kinds, histogram edges
        self.dropped: list[int] = []  # snapshot steps thinned away (the store deletes them too)
        self.settle: Callable[[], None] | None = None  # set by the recorder: turns waiting steps into rows

    @property
    def train(self) -> list[dict]:
        """The train rows, every step done so far included."""
        if self.settle is not None:
            self.settle()
        return self._train


class _Step(NamedTuple):
    """One finished step waiting for its accuracy: its figures and references to its outputs and targets."""

    step: int
    epoch: float
    loss: float
    logits: torch.Tensor
    target: torch.Tensor
    n: int
    lr: float
    images_per_s: float


def count_correct(logits: list[torch.Tensor], targets: list[torch.Tensor]) -> list[int]:
    """Correct answers per batch for several batches at once (soft targets count their largest class).

    Six tensor ops and one host transfer for any number of batches, where one batch at a time
    took four ops and a transfer each (~60 us a step on the CPU, the ops' code being cold there).
    """
    hard = [t.argmax(1) if t.dtype.is_floating_point else t for t in targets]
    sizes = [len(t) for t in hard]
    hits = torch.cat(logits).argmax(1) == torch.cat(hard)
    if len(set(sizes)) == 1:
        return hits.view(len(sizes), -1).sum(1).tolist()
    return torch.stack([h.sum() for h in hits.split(sizes)]).tolist()


class TrainRows:
    """Turns finished steps into the history's bucketed train rows (step, epoch, loss, accuracy, lr, images/s)."""

    def __init__(self, history: History, max_points: int = 1000):
        self.history = history
        self.max_points = max_points
        history.settle = self.settle
        self._waiting: list[_Step] = []  # finished steps whose accuracy is not computed yet
        self._bucket: list[tuple[_Step, int]] = []  # scored steps of the open bucket, with their correct counts
        self._stride = 1  # steps per bucket

    def add(self, trainer: Trainer) -> None:
        """Queue the step the trainer just finished (references only: no tensor op here)."""
        self._waiting.append(
            _Step(
                trainer.step,
                trainer.epoch_float,
                trainer.loss,
                trainer.logits,
                trainer.target,
                trainer.batch_size_seen,
                trainer.lr,
                trainer.images_per_s,
            )
        )
        # The first step is scored at once: a live chart shows its first point right away.
        if len(self._waiting) >= SCORE_EVERY or trainer.step == 1:
            self.settle()

    def settle(self) -> None:
        """Score the waiting steps in one batch and put them into buckets."""
        waiting, self._waiting = self._waiting, []
        if not waiting:
            return
        with torch.no_grad():
            correct = count_correct([w.logits for w in waiting], [w.target for w in waiting])
        for w, c in zip(waiting, correct, strict=True):
            self._bucket.append((w, c))
            if len(self._bucket) >= self._stride:
                self._flush()

    def close(self) -> None:
        """Settle, write the open bucket as it is, and detach from the history (every row is in)."""
        self.settle()
        self._flush(merge=False)
        self.history.settle = None  # this also breaks the history -> rows reference cycle

    def _flush(self, merge: bool = True) -> None:
        if not self._bucket:
            return
        last = self._bucket[-1][0]
        n = sum(s.n for s, _ in self._bucket)
        loss = sum(s.loss * s.n for s, _ in self._bucket) / max(n, 1)
        acc = sum(c for _, c in self._bucket) / max(n, 1)
        self._bucket.clear()
        rows = self.history._train
        rows.append(
            {
                "step": last.step,
                "epoch": last.epoch,
                "train_loss": loss,
                "train_acc": acc,
                "lr": last.lr,
                "images_per_s": last.images_per_s,
            }
        )
        if merge and len(rows) > self.max_points:
            # Merge neighbours: the curve keeps its shape, memory stays bounded.
            merged = []
            for a, b in zip(rows[0::2], rows[1::2], strict=False):  # an odd last row is kept below
                merged.append(
                    {
                        **b,
                        "train_loss": (a["train_loss"] + b["train_loss"]) / 2,
                        "train_acc": (a["train_acc"] + b["train_acc"]) / 2,
                    }
                )
            if len(rows) % 2:
                merged.append(rows[-1])
            self.history._train = merged
            self._stride *= 2
