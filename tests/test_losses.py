"""task_loss (lab/engine/losses.py) against the same figures computed by hand."""

import torch
import torch.nn.functional as F

from lab.engine.losses import task_loss


def test_squared_error_against_one_hot_targets():
    logits, y = torch.randn(6, 4, generator=torch.Generator().manual_seed(0)), torch.tensor([0, 1, 2, 3, 0, 1])
    onehot = F.one_hot(y, 4).float()
    assert torch.isclose(task_loss("mse", logits, y), ((logits - onehot) ** 2).mean())
    per_example = ((logits - onehot) ** 2).mean(1)  # 'sum' adds one figure per example, as cross-entropy does
    assert torch.isclose(task_loss("mse", logits, y, reduction="sum"), per_example.sum())
    smooth = onehot * 0.9 + 0.1 / 4
    assert torch.isclose(task_loss("mse", logits, y, label_smoothing=0.1), ((logits - smooth) ** 2).mean())
    soft = torch.softmax(torch.randn(6, 4), 1)  # MixUp targets are probabilities already
    assert torch.isclose(task_loss("mse", logits, soft), ((logits - soft) ** 2).mean())


def test_cross_entropy_is_torchs():
    logits, y = torch.randn(5, 3), torch.tensor([0, 2, 1, 1, 0])
    assert torch.isclose(task_loss("cross_entropy", logits, y, 0.1), F.cross_entropy(logits, y, label_smoothing=0.1))
    assert torch.isclose(task_loss("cross_entropy", logits, y, reduction="sum"), F.cross_entropy(logits, y) * 5)
