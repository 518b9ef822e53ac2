"""Regularizers seen up close: the augmentation gallery, dropout's masks, L1 vs L2 weights, batch norm's two modes.

Augmentations are `lab.engine.augment.Augment` (the trainer's own), penalties are trained with
`lab.engine.trainer.Trainer`, dropout and batch norm are PyTorch's modules, exactly as
`lab.engine.layers.Layer` uses them.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn

from lab.config import RunConfig
from lab.engine.augment import Augment
from lab.engine.data import load_data
from lab.engine.trainer import Trainer

# gallery row -> (Augment keyword, what the knob means); the knob value is passed to Augment unchanged
AUGMENTATIONS: dict[str, tuple[str, str]] = {
    "crop": ("crop", "pad by this many pixels, then cut a random window of the original size"),
    "flip": ("flip", "mirror left-right with probability 1/2"),
    "rotate": ("rotate", "rotate by a random angle up to +- this many degrees"),
    "translate": ("translate", "shift by up to this fraction of the image size"),
    "scale": ("scale", "zoom in or out by up to this fraction"),
    "shear": ("shear", "slant by up to +- this many degrees"),
    "jitter": ("jitter", "random brightness, contrast and saturation of this strength"),
    "noise": ("noise", "add Gaussian noise of this std"),
    "cutout": ("cutout", "erase a square whose side is this fraction of the image"),
    "mixup": ("mixup", "alpha of the Beta distribution of the blend weight (blends each image with its neighbour)"),
    "cutmix": ("cutmix", "alpha of the Beta distribution of the patch area (pastes a patch of its neighbour)"),
}


@dataclass(frozen=True)
class GalleryRow:
    """One augmentation applied to the gallery's images, with the resulting labels as text."""

    name: str
    images: list  # (n, C, H, W) nested lists
    captions: list[str]


@dataclass(frozen=True)
class Gallery:
    """The original images and one row per augmentation."""

    dataset: str
    originals: list
    labels: list[str]
    rows: list[GalleryRow]


def mixed_label(target: torch.Tensor, class_names: list[str]) -> str:
    """A soft target as text, largest share first, e.g. '62% 3 + 38% 8'."""
    share, idx = target.sort(descending=True)
    parts = [f"{float(s):.0%} {class_names[int(i)]}" for s, i in zip(share, idx, strict=True) if s > 0.005]
    return " + ".join(parts)


def gallery(dataset: str, knobs: dict[str, float], n: int = 6, seed: int = 0) -> Gallery:
    """Apply each augmentation in `knobs` (name -> knob value; 0 = off) to the same n raw training images.

    Images are the raw [0, 1] pixels, so colour jitter is torchvision's exact formula. Each row gets its
    own seeded draw, so changing one knob leaves the other rows as they were.
    """
    d = load_data(RunConfig(dataset=dataset, preprocess="none", seed=seed))
    # The training split is in stratified order, so its first n images already cover several classes.
    x, y = d.raw_train[:n], d.y_train[:n]
    names = d.class_names
    rows = []
    for i, (name, value) in enumerate(knobs.items()):
        if not value:
            continue
        kw = AUGMENTATIONS[name][0]
        aug = Augment(tuple(x.shape[1:]), d.n_classes, **{kw: int(value) if kw == "crop" else value})
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed * 1000 + i)
            out, targets = aug(x, y)
        if targets.dtype.is_floating_point:
            caps = [mixed_label(t, names) for t in targets]
        else:
            caps = [names[int(t)] for t in targets]
        rows.append(GalleryRow(name, out.tolist(), caps))
    return Gallery(dataset, x.tolist(), [names[int(t)] for t in y], rows)


# ---- dropout ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DropoutDemo:
    """Dropout on a fixed vector of activations h: sampled masks and train vs eval outputs."""

    p: float
    h: list[float]  # the activations going in (what eval mode passes on unchanged)
    masks: list[list[float]]  # a few train-mode multipliers: 0 (dropped) or 1/(1-p) (kept and scaled up)
    train_mean: list[float]  # per unit, mean of many train-mode outputs (inverted dropout)
    plain_mean: list[float]  # the same without the 1/(1-p) scaling
    eval_out: list[float]
    unit_samples: list[float]  # w . dropout(h) of one downstream unit over many samples (train mode)
    unit_eval: float  # w . h: the same unit in eval mode


def dropout_demo(p: float, n_units: int = 16, n_masks: int = 8, n_samples: int = 4000, seed: int = 0) -> DropoutDemo:
    """Sample nn.Dropout(p) in training mode many times and compare with evaluation mode."""
    g = torch.Generator().manual_seed(seed)
    h = torch.rand(n_units, generator=g, dtype=torch.float64) + 0.5  # positive, like post-ReLU activations
    w = torch.randn(n_units, generator=g, dtype=torch.float64) / n_units**0.5
    drop = nn.Dropout(p)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        drop.train()
        samples = drop(h.expand(n_samples, n_units))  # each row is an independent mask
    drop.eval()
    eval_out = drop(h)
    kept = (samples != 0).double()
    return DropoutDemo(
        p,
        h.tolist(),
        (samples[:n_masks] / h).tolist(),
        samples.mean(0).tolist(),
        (kept * h).mean(0).tolist(),
        eval_out.tolist(),
        (samples @ w).tolist(),
        float(eval_out @ w),
    )


# ---- L1 vs L2 --------------------------------------------------------------------------------------------------


def penalty_weights(
    l1: float, l2: float, steps: int = 200, seed: int = 0, dataset: str = "digits"
) -> dict[str, list[float]]:
    """First-layer weights of the same MLP trained with no penalty, with L1 only and with L2 only (Trainer)."""
    out = {}
    for name, pen in (("none", {}), ("L1", {"l1": l1}), ("L2", {"l2": l2})):
        cfg = RunConfig.from_dict(
            {
                "dataset": dataset,
                "model": "mlp",
                "depth": 1,
                "width": 64,
                "optimizer": "adam",
                "lr": 1e-3,
                "epochs": 1000,
                "max_steps": steps,
                "eval_every": steps,
                "seed": seed,
                "device": "cpu",
                **pen,
            }
        )
        model = Trainer(cfg, record=False).fit().model
        out[name] = model.fc1.op.weight.detach().flatten().tolist()
    return out


def near_zero_fraction(weights: list[float], tol: float = 1e-3) -> float:
    """Share of weights with |w| < tol."""
    w = torch.tensor(weights)
    return float((w.abs() < tol).double().mean())


# ---- batch norm ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchNormDemo:
    """nn.BatchNorm1d fed batches of shifted, scaled features: running estimates and both modes' outputs."""

    true_mean: list[float]
    true_std: list[float]
    running_mean: list[list[float]]  # after each training step, per feature
    running_std: list[list[float]]  # sqrt(running_var) after each training step
    train_out_mean: list[float]  # per feature, on the last batch in training mode (batch statistics)
    train_out_std: list[float]
    eval_out_mean: list[float]  # the same batch in eval mode (running statistics)
    eval_out_std: list[float]
    example_train: list[float]  # one example's first feature in training mode, in each of several batches
    example_eval: float  # the same example in eval mode (always the same)


def feature_batches(steps: int, batch: int, means: torch.Tensor, stds: torch.Tensor, seed: int) -> torch.Tensor:
    """(steps, batch, F) float64 draws of independent Gaussian features with the given means and stds."""
    g = torch.Generator().manual_seed(seed)
    return torch.randn(steps, batch, len(means), generator=g, dtype=torch.float64) * stds + means


BN_MEANS = (3.0, -1.0, 0.5, 8.0)  # true per-feature means of the batch-norm demo's input
BN_STDS = (2.0, 0.5, 1.0, 4.0)  # and their stds: every feature off-centre and differently scaled


def batchnorm_demo(steps: int = 50, batch: int = 32, momentum: float = 0.1, seed: int = 0) -> BatchNormDemo:
    """Train-mode batches update the running statistics; eval mode then normalizes with them instead."""
    means = torch.tensor(BN_MEANS, dtype=torch.float64)
    stds = torch.tensor(BN_STDS, dtype=torch.float64)
    xs = feature_batches(steps, batch, means, stds, seed)
    bn = nn.BatchNorm1d(len(means), momentum=momentum).double()
    r_mean, r_std = [], []
    bn.train()
    with torch.no_grad():
        for xb in xs:
            out_train = bn(xb)
            r_mean.append(bn.running_mean.tolist())
            r_std.append(bn.running_var.sqrt().tolist())
        bn.eval()
        out_eval = bn(xs[-1])
        # One example (row 0 of the last batch) with different batch companions: training mode depends on them.
        others = feature_batches(6, batch - 1, means, stds, seed + 1)
        probe = copy.deepcopy(bn).train()  # a copy, so these extra batches do not move the running statistics
        ex_train = [float(probe(torch.cat([xs[-1][:1], o]))[0, 0]) for o in others]
        ex_eval = float(out_eval[0, 0])
    return BatchNormDemo(
        means.tolist(),
        stds.tolist(),
        r_mean,
        r_std,
        out_train.mean(0).tolist(),
        out_train.std(0, correction=0).tolist(),
        out_eval.mean(0).tolist(),
        out_eval.std(0, correction=0).tolist(),
        ex_train,
        ex_eval,
    )
