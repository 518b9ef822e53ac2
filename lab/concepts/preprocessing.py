"""Preprocessing seen on data: a 2D cloud under each transform, image mean statistics, and a training race.

Every transform is `lab.engine.preprocess.fit_preprocessor`, the one the data layer applies before training, and the
race trains with `lab.engine.trainer.Trainer`, so nothing here is a re-implementation for the page.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from lab.config import RunConfig
from lab.engine.callbacks import Callback
from lab.engine.data import load_data
from lab.engine.preprocess import fit_preprocessor
from lab.engine.trainer import Trainer

CLOUD_KINDS = ("none", "zero_center", "standardize", "pca", "whiten")


def point_cloud(
    n: int = 300, seed: int = 0, angle: float = 30.0, stretch: float = 3.0, offset: tuple[float, float] = (3.0, 2.0)
) -> torch.Tensor:
    """n correlated 2D points (float64): a Gaussian stretched along x, rotated by `angle` degrees, shifted."""
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, 2, generator=g, dtype=torch.float64) * torch.tensor([stretch, 1.0], dtype=torch.float64)
    a = math.radians(angle)
    rot = torch.tensor([[math.cos(a), math.sin(a)], [-math.sin(a), math.cos(a)]], dtype=torch.float64)
    return z @ rot + torch.tensor(offset, dtype=torch.float64)


@dataclass(frozen=True)
class CloudView:
    """The cloud after one transform, with its mean and (population) covariance."""

    kind: str
    points: list[list[float]]
    mean: list[float]
    cov: list[list[float]]


def covariance(x: torch.Tensor) -> torch.Tensor:
    """Population covariance (divide by N) of rows of x, the convention lab.engine.preprocess uses."""
    c = x - x.mean(0, keepdim=True)
    return c.T @ c / len(x)


def cloud_views(x: torch.Tensor, kinds: tuple[str, ...] = CLOUD_KINDS) -> list[CloudView]:
    """Fit and apply each preprocessing kind to the cloud x (N, 2)."""
    out = []
    for kind in kinds:
        z = fit_preprocessor(kind, x).apply(x).double()
        out.append(CloudView(kind, z.tolist(), z.mean(0).tolist(), covariance(z).tolist()))
    return out


@dataclass(frozen=True)
class ImageStats:
    """Mean statistics of a dataset's raw training images (pixels in [0, 1])."""

    dataset: str
    mean_image: list  # (C, H, W) nested lists
    channel_means: list[float]
    channel_stds: list[float]
    example: list  # one raw training image (C, H, W)
    minus_mean_image: list  # the example minus the mean image (AlexNet-style centring)
    minus_channel_means: list  # the example minus the per-channel means (VGG-style centring)
    label: str


def image_stats(dataset: str, index: int = 0, seed: int = 0) -> ImageStats:
    """Mean image and per-channel mean/std of `dataset`'s raw training split, and one example centred both ways."""
    d = load_data(RunConfig(dataset=dataset, preprocess="none", seed=seed))
    x = d.raw_train.double()
    mean_img = x.mean(0)
    ch_mean = x.mean(dim=(0, 2, 3))
    ch_std = x.std(dim=(0, 2, 3), correction=0)
    ex = x[index % len(x)]
    return ImageStats(
        dataset,
        mean_img.tolist(),
        ch_mean.tolist(),
        ch_std.tolist(),
        ex.tolist(),
        (ex - mean_img).tolist(),
        (ex - ch_mean[:, None, None]).tolist(),
        d.class_names[int(d.y_train[index % len(x)])],
    )


class _LossLog(Callback):
    """Keeps every step's training loss."""

    def __init__(self) -> None:
        self.losses: list[float] = []

    def on_batch_end(self, trainer: Trainer) -> None:
        """Store this step's loss."""
        self.losses.append(trainer.loss)


def smooth(values: list[float], window: int = 10) -> list[float]:
    """Trailing moving average (the first points average what exists so far)."""
    out, total = [], 0.0
    for i, v in enumerate(values):
        total += v
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out


def race(
    dataset: str, kinds: tuple[str, ...], steps: int = 200, optimizer: str = "sgd", lr: float = 0.05, seed: int = 0
) -> dict[str, list[float]]:
    """Per-step training loss of the same small MLP and seed trained on data preprocessed each way."""
    out = {}
    for kind in kinds:
        cfg = RunConfig.from_dict(
            {
                "dataset": dataset,
                "preprocess": kind,
                "optimizer": optimizer,
                "lr": lr,
                "model": "mlp",
                "depth": 2,
                "width": 64,
                "batch_size": 64,
                "epochs": 1000,
                "max_steps": steps,
                "eval_every": steps,
                "seed": seed,
                "device": "cpu",
            }
        )
        log = _LossLog()
        Trainer(cfg, callbacks=[log], record=False).fit()
        out[kind] = log.losses
    return out


def view_rows(views: list[CloudView], labels: dict[str, str]) -> list[dict]:
    """One table row per view: mean and covariance entries, rounded for reading."""
    return [
        {
            "transform": labels.get(v.kind, v.kind),
            "mean x": round(v.mean[0], 3),
            "mean y": round(v.mean[1], 3),
            "var x": round(v.cov[0][0], 3),
            "cov xy": round(v.cov[0][1], 3),
            "var y": round(v.cov[1][1], 3),
        }
        for v in views
    ]
