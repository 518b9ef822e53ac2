"""The task loss, one definition for training, evaluation and the babysitting page's initial-loss check."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def task_loss(
    kind: str, logits: torch.Tensor, target: torch.Tensor, label_smoothing: float = 0.0, reduction: str = "mean"
) -> torch.Tensor:
    """Cross-entropy, or squared error against one-hot (smoothed) targets ('mse'); per example for 'sum'.

    `target` is class indices, or class probabilities (MixUp/CutMix). The squared error is averaged
    over the classes, so with reduction='sum' it adds one per-example figure, like cross-entropy.
    """
    if kind != "mse":
        return F.cross_entropy(logits, target, label_smoothing=label_smoothing, reduction=reduction)
    n_classes = logits.shape[1]
    probs = target if target.dtype.is_floating_point else F.one_hot(target, n_classes).float()
    if label_smoothing:
        probs = probs * (1 - label_smoothing) + label_smoothing / n_classes
    loss = F.mse_loss(logits, probs, reduction=reduction)
    return loss / n_classes if reduction == "sum" else loss
