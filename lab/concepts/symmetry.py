"""The symmetry problem: start every weight of a layer at the same value and its units never become different.

With equal incoming weights, every hidden unit computes the same output, receives the same gradient and takes
the same step, so after any number of steps the units are still copies of each other; the layer has the power
of a single unit. Random init breaks that tie on the first forward pass. The runs use `lab.engine.trainer.Trainer`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from lab.config import RunConfig
from lab.engine.trainer import Trainer


@dataclass(frozen=True)
class SymmetryRun:
    """How different the hidden units of a small MLP are while it trains from a given init."""

    init: str
    spread: list[float]  # per step (0 = before training), largest |w_j - w_0| over units j and inputs of fc1
    distinct: list[int]  # per step, how many different weight vectors (units) fc1 has
    weight_norm: list[float]  # per step, Frobenius norm of fc1's weights (shows the layer does change)
    final_weights: list[list[float]]  # fc1's weight matrix at the end: one row per hidden unit
    loss: list[float]
    val_acc: float


def distinct_rows(w: torch.Tensor, rtol: float = 1e-5) -> int:
    """Number of different rows of w, rows closer than rtol x (largest |w| + tiny) counting as equal."""
    tol = rtol * (float(w.abs().max()) + 1e-12)
    reps: list[torch.Tensor] = []
    for row in w:
        if not any(float((row - r).abs().max()) <= tol for r in reps):
            reps.append(row)
    return len(reps)


def _fc1(trainer: Trainer) -> torch.Tensor:
    return trainer.model.fc1.op.weight.detach().clone()


def symmetry_run(
    init: str,
    steps: int = 30,
    activation: str = "tanh",
    width: int = 8,
    constant: float = 0.1,
    lr: float = 0.1,
    seed: int = 0,
    dataset: str = "digits",
) -> SymmetryRun:
    """Train a 2-hidden-layer MLP for `steps` SGD steps from `init` and track fc1's units after every step."""
    cfg = RunConfig.from_dict(
        {
            "dataset": dataset,
            "model": "mlp",
            "depth": 2,
            "width": width,
            "activation": activation,
            "init": init,
            "init_constant": constant,
            "optimizer": "sgd",
            "lr": lr,
            "epochs": 1000,
            "max_steps": steps,
            "seed": seed,
            "eval_every": steps,
            "device": "cpu",
        }
    )  # one evaluation, at the end
    tr = Trainer(cfg, record=False)
    ws = [_fc1(tr)]
    losses = []
    while not tr.done:
        tr.advance(1)
        ws.append(_fc1(tr))
        losses.append(tr.loss)
    spread = [float((w - w[:1]).abs().max()) for w in ws]
    return SymmetryRun(
        init,
        spread,
        [distinct_rows(w) for w in ws],
        [float(w.norm()) for w in ws],
        ws[-1].tolist(),
        losses,
        float(tr.last_eval.get("val_acc", float("nan"))),
    )
