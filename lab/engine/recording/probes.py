"""ModelProbe: extra views of the model attached to the recorder's snapshots.

For 2D toy data it stores the decision boundary (predicted class and confidence on
a fixed grid) and, once, a sample of training points; for CNNs it stores the
first-layer filters. Runs only on recording steps, in eval mode, under no_grad.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from lab.engine.callbacks import Callback

if TYPE_CHECKING:  # pragma: no cover
    from lab.engine.trainer import Trainer

GRID = 60  # boundary resolution: 60 x 60 cells
MAX_POINTS = 500  # training points kept for the scatter over the boundary


def first_conv(model: torch.nn.Module) -> torch.nn.Conv2d | None:
    """The first Conv2d of a model, or None for MLPs."""
    return next((m for m in model.modules() if isinstance(m, torch.nn.Conv2d)), None)


class ModelProbe(Callback):
    """Adds `boundary` (2D data) and `filters` (CNN) to each recorded snapshot."""

    order = -10  # right after the recorder, whose snapshot it decorates

    def __init__(self, grid: int = GRID):
        self.grid_n = grid
        self._grid: torch.Tensor | None = None
        self._conv = None

    def on_fit_start(self, trainer: Trainer) -> None:
        """Fix the grid from the training data's range and store a sample of points in meta."""
        meta = trainer.history.meta
        x, y = trainer.x_train, trainer.y_train
        self._conv = first_conv(trainer.model)
        if x.dim() == 2 and x.shape[1] == 2:
            lo, hi = x.min(0).values, x.max(0).values
            pad = 0.1 * (hi - lo)
            lo, hi = (lo - pad).tolist(), (hi + pad).tolist()
            xs = torch.linspace(lo[0], hi[0], self.grid_n)
            ys = torch.linspace(lo[1], hi[1], self.grid_n)
            gy, gx = torch.meshgrid(ys, xs, indexing="ij")
            self._grid = torch.stack([gx.reshape(-1), gy.reshape(-1)], 1).to(x.device)
            g = torch.Generator().manual_seed(0)
            idx = torch.randperm(len(x), generator=g)[:MAX_POINTS].to(x.device)
            meta["grid"] = {"x": xs.tolist(), "y": ys.tolist()}
            meta["points"] = {"x": x[idx, 0].tolist(), "y": x[idx, 1].tolist(), "label": y[idx].tolist()}

    def on_batch_end(self, trainer: Trainer) -> None:
        """On a step the recorder just recorded, attach the boundary and filters."""
        snaps = trainer.history.snapshots if trainer.history else []
        if not snaps or snaps[-1]["step"] != trainer.step or "probe" in snaps[-1]:
            return
        snap = snaps[-1]
        snap["probe"] = True
        with torch.no_grad():
            if self._grid is not None:
                was_training = trainer.model.training
                trainer.model.eval()
                probs = torch.softmax(trainer.model(self._grid).float(), 1)
                trainer.model.train(was_training)
                conf, cls = probs.max(1)
                n = self.grid_n
                snap["boundary"] = {
                    "cls": cls.reshape(n, n).tolist(),
                    "conf": (conf.reshape(n, n) * 100).round().div(100).tolist(),
                }
            if self._conv is not None:
                w = self._conv.weight.detach().float().cpu()
                snap["filters"] = w[:32].round(decimals=4).tolist()  # at most 32 filters: enough to see
