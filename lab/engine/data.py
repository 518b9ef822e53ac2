"""Datasets: build raw arrays, split train/val (stratified, seeded), subset, preprocess -> DataBundle.

Every dataset is first produced as a `RawData` (read-only numpy arrays, cached per process, so a second
load with the same parameters costs only the split and the preprocessing). `load_data` then:

1. holds out ``val_fraction`` of the examples for validation (stratified by class, seeded by ``cfg.seed``);
2. keeps the first ``subset`` training examples of a stratified order (so a smaller subset is contained in a
   larger one with the same seed; the validation set does not depend on ``subset``, which keeps curves comparable);
3. fits the preprocessor on those training examples only and applies it to both splits.

For the torchvision sets the official training split is the pool that gets divided into train and val;
the official test split is never read, so it stays an untouched hold-out.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from lab import registry
from lab.config import ConfigError, Limits, RunConfig
from lab.engine.preprocess import Preprocessor, fit_preprocessor

SHAPE_NAMES = ("circle", "square", "triangle", "cross", "horizontal bar", "vertical bar", "ring", "diamond")
SHAPES_COUNT = 2000  # generated images (train + val)
SHAPES_SIZE = 16  # pixels per side

# dataset key -> (torchvision class name, embedded stand-in suggested when it cannot be loaded)
TORCHVISION_SETS = {
    "mnist": ("MNIST", "digits"),
    "fashion_mnist": ("FashionMNIST", "digits"),
    "cifar10": ("CIFAR10", "shapes"),
}

# Separate random streams per purpose, so e.g. changing the split code never changes the generated data.
_SPLIT_STREAM, _SHAPES_STREAM, _TOY_STREAM = 0, 1, 2


@dataclass
class DataBundle:
    """Tensors ready for training, already preprocessed (fit on train only)."""

    x_train: torch.Tensor  # float32, (N, C, H, W) for images, (N, 2) for 2D toys; (N, D) after pca/whiten
    y_train: torch.Tensor  # int64 class ids
    x_val: torch.Tensor
    y_val: torch.Tensor
    n_classes: int
    input_shape: tuple[int, ...]  # one example after preprocessing
    class_names: list[str]
    name: str  # the dataset key
    raw_train: torch.Tensor  # the training examples before preprocessing; images in [0, 1]
    preprocessor: Preprocessor | None = None  # the fitted transform (invert it to view or jitter in raw space)


@dataclass(frozen=True)
class RawData:
    """One whole dataset before splitting: read-only arrays (images float32 in [0, 1] or uint8 0..255)."""

    x: np.ndarray  # (N, C, H, W) images or (N, 2) points
    y: np.ndarray  # (N,) int64 class ids
    class_names: tuple[str, ...]


class DatasetUnavailable(RuntimeError):
    """A torchvision dataset is neither on disk nor downloadable; the message names an embedded alternative."""


def default_cache_dir() -> Path:
    """Where torchvision data lives: $TRAINING_LAB_DATA_DIR, else ~/.cache/training_lab/data."""
    env = os.environ.get("TRAINING_LAB_DATA_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "training_lab" / "data"


def load_data(cfg: RunConfig, cache_dir: str | Path | None = None, limits: Limits | None = None) -> DataBundle:
    """Build the dataset named by ``cfg.dataset``, split, subset and preprocess it; deterministic in cfg.seed."""
    _check_config(cfg)
    raw = BUILDERS[cfg.dataset](cfg, Path(cache_dir) if cache_dir is not None else default_cache_dir())
    train_idx, val_idx = split_indices(raw.y, cfg.val_fraction, cfg.seed)
    if 0 < cfg.subset < len(train_idx):
        train_idx = train_idx[: cfg.subset]
    (limits or Limits()).check_samples(len(train_idx))

    raw_train, raw_val = _to_tensor(raw.x[train_idx]), _to_tensor(raw.x[val_idx])
    pre = fit_preprocessor(cfg.preprocess, raw_train)
    x_train = pre.apply(raw_train)
    return DataBundle(
        x_train=x_train,
        y_train=torch.from_numpy(raw.y[train_idx].astype(np.int64)),
        x_val=pre.apply(raw_val),
        y_val=torch.from_numpy(raw.y[val_idx].astype(np.int64)),
        n_classes=len(raw.class_names),
        input_shape=tuple(x_train.shape[1:]),
        class_names=list(raw.class_names),
        name=cfg.dataset,
        raw_train=raw_train,
        preprocessor=pre,
    )


def _check_config(cfg: RunConfig) -> None:
    """Reject unknown names and combinations the data layer cannot serve (RunConfig() itself does not validate)."""
    if cfg.dataset not in BUILDERS:
        raise ConfigError("dataset", cfg.dataset, f"choose one of: {', '.join(registry.DATASETS)}")
    if cfg.preprocess not in registry.PREPROCESS:
        raise ConfigError("preprocess", cfg.preprocess, f"choose one of: {', '.join(registry.PREPROCESS)}")
    if not 0 < cfg.val_fraction < 1:
        raise ConfigError("val_fraction", cfg.val_fraction, "a fraction between 0 and 1")
    if cfg.subset < 0:
        raise ConfigError("subset", cfg.subset, "0 (all) or a positive number of training examples")
    if cfg.model == "cnn" and cfg.preprocess in ("pca", "whiten"):
        raise ConfigError("preprocess", cfg.preprocess, "pca and whiten flatten images into vectors, so they need "
                          "model=mlp; with a CNN use none, zero_center or standardize")
    if cfg.model == "cnn" and cfg.dataset in registry.TOY_2D_DATASETS:
        raise ConfigError("model", cfg.model, "2D toy datasets are points, not images; use model=mlp")
    if cfg.dataset in registry.TOY_2D_DATASETS:
        if cfg.toy_samples < 4:
            raise ConfigError("toy_samples", cfg.toy_samples, "at least 4 points")
        if not (math.isfinite(cfg.noise) and cfg.noise >= 0):
            raise ConfigError("noise", cfg.noise, "a finite number >= 0")


def _to_tensor(x: np.ndarray) -> torch.Tensor:
    """A fresh float32 tensor (uint8 images scaled to [0, 1]); never a view of a cached array."""
    if x.dtype == np.uint8:
        return torch.from_numpy(x.astype(np.float32) / 255.0)
    return torch.from_numpy(np.array(x, dtype=np.float32, copy=True))


# ---- splitting ---------------------------------------------------------------------------------------------


def stratified_order(y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random order of indices in which every prefix (and every window) holds the classes in their proportions."""
    n = len(y)
    perm = rng.permutation(n)
    yp = y[perm]
    counts = np.bincount(yp)
    # rank of each example among its class (in the shuffled order), spread evenly over [0, 1) per class
    by_class = np.argsort(yp, kind="stable")
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.empty(n)
    rank[by_class] = np.arange(n) - np.repeat(starts, counts)
    offset = rng.random(len(counts))  # random phase per class so ties between classes break randomly
    key = (rank + offset[yp]) / np.maximum(counts[yp], 1)
    return perm[np.argsort(key, kind="stable")]


def split_indices(y: np.ndarray, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Stratified, seeded (train, val) index arrays; both non-empty; train in stratified order for subsetting."""
    order = stratified_order(np.asarray(y), np.random.default_rng([seed, _SPLIT_STREAM]))
    n_val = min(max(1, round(val_fraction * len(order))), len(order) - 1)
    return order[n_val:], order[:n_val]


# ---- embedded datasets -------------------------------------------------------------------------------------


def _frozen(x: np.ndarray, y: np.ndarray, names: tuple[str, ...]) -> RawData:
    """Make arrays read-only before they enter a cache, so no caller can change what the next one gets."""
    x, y = np.ascontiguousarray(x), np.ascontiguousarray(y, dtype=np.int64)
    x.setflags(write=False)
    y.setflags(write=False)
    return RawData(x, y, names)


@functools.lru_cache(maxsize=1)
def digits_raw() -> RawData:
    """scikit-learn's 8x8 handwritten digits as (1797, 1, 8, 8) in [0, 1] (pixel values 0..16 divided by 16)."""
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (d.images.astype(np.float32) / 16.0)[:, None]
    return _frozen(x, d.target, tuple(str(c) for c in d.target_names))


@functools.lru_cache(maxsize=8)
def shapes_raw(seed: int, n: int = SHAPES_COUNT, size: int = SHAPES_SIZE) -> RawData:
    """Generated RGB shapes (n, 3, size, size) in [0, 1], classes balanced; deterministic in seed.

    Position, size and colours are random; the shapes are drawn upright so that flips (the right triangle)
    and rotations (horizontal vs vertical bar) visibly change them.
    """
    rng = np.random.default_rng([seed, _SHAPES_STREAM])
    k = len(SHAPE_NAMES)
    y = rng.permutation(np.arange(n) % k)
    r = rng.uniform(0.22, 0.38, n) * size  # half-extent in pixels
    cx = rng.uniform(r, size - 1 - r)
    cy = rng.uniform(r, size - 1 - r)
    grid = np.arange(size, dtype=np.float64)
    dx = grid[None, None, :] - cx[:, None, None]
    dy = grid[None, :, None] - cy[:, None, None]
    rr = r[:, None, None]
    t = np.maximum(0.8, 0.3 * rr)  # half-thickness of bars and cross arms
    dist = np.hypot(dx, dy)
    ax, ay = np.abs(dx), np.abs(dy)
    masks = np.stack([
        dist <= rr,  # circle
        np.maximum(ax, ay) <= 0.8 * rr,  # square
        (dx >= -rr) & (dy <= rr) & (dx <= dy),  # right triangle, right angle bottom-left: flips change it
        ((ax <= t) & (ay <= rr)) | ((ay <= t) & (ax <= rr)),  # cross
        (ax <= rr) & (ay <= t),  # horizontal bar
        (ay <= rr) & (ax <= t),  # vertical bar
        (dist <= rr) & (dist >= rr - np.maximum(1.5, 0.35 * rr)),  # ring
        ax + ay <= 1.1 * rr,  # diamond
    ])
    mask = masks[y, np.arange(n)][:, None].astype(np.float32)  # (n, 1, size, size)
    # dark shape on light ground or the reverse, random hues; brightness contrast keeps every image readable
    dark, light = rng.uniform(0.0, 0.35, (n, 3)), rng.uniform(0.6, 1.0, (n, 3))
    swap = rng.random(n) < 0.5
    fg = np.where(swap[:, None], dark, light)[:, :, None, None]
    bg = np.where(swap[:, None], light, dark)[:, :, None, None]
    img = mask * fg + (1 - mask) * bg + rng.normal(0.0, 0.06, (n, 3, size, size))
    return _frozen(np.clip(img, 0.0, 1.0).astype(np.float32), y, SHAPE_NAMES)


# ---- 2D toys -----------------------------------------------------------------------------------------------
# Each toy spans roughly [-1.5, 1.5]; `noise` is the std of Gaussian jitter added to every point in those units.


def _spiral(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    k = 3
    y = np.arange(n) % k
    t = rng.uniform(0.05, 1.0, n)  # distance along the arm
    angle = 2 * np.pi * y / k + 4.0 * t
    return 1.2 * t[:, None] * np.stack([np.cos(angle), np.sin(angle)], 1), y, ("arm 1", "arm 2", "arm 3")


def _circles(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    y = np.arange(n) % 2
    angle = rng.uniform(0, 2 * np.pi, n)
    radius = np.where(y == 0, 1.0, 0.5)
    return radius[:, None] * np.stack([np.cos(angle), np.sin(angle)], 1), y, ("outer ring", "inner ring")


def _xor(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    pts = rng.uniform(-1, 1, (n, 2))
    pts += np.sign(pts) * 0.1  # a small gap around the axes so the noiseless set is cleanly separable
    y = (pts[:, 0] * pts[:, 1] < 0).astype(np.int64)
    return pts, y, ("same signs", "opposite signs")


def _moons(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    y = np.arange(n) % 2
    a = rng.uniform(0, np.pi, n)
    upper = np.stack([np.cos(a), np.sin(a)], 1)
    lower = np.stack([1 - np.cos(a), 0.5 - np.sin(a)], 1)
    pts = np.where(y[:, None] == 0, upper, lower) - np.array([0.5, 0.25])  # centre the pair on the origin
    return pts, y, ("upper moon", "lower moon")


def _gaussians(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    k = 4
    y = np.arange(n) % k
    centres = np.stack([np.cos(np.pi / 2 * np.arange(k)), np.sin(np.pi / 2 * np.arange(k))], 1)
    return centres[y] + rng.normal(0, 0.25, (n, 2)), y, tuple(f"blob {i + 1}" for i in range(k))


# toy key -> generator(rng, n) -> (clean points, labels, class names); noise is added by toy_raw
TOYS: dict[str, Callable[[np.random.Generator, int], tuple[np.ndarray, np.ndarray, tuple[str, ...]]]] = {
    "spiral": _spiral,
    "circles": _circles,
    "xor": _xor,
    "moons": _moons,
    "gaussians": _gaussians,
}


@functools.lru_cache(maxsize=32)
def toy_raw(name: str, n: int, noise: float, seed: int) -> RawData:
    """`n` points of the 2D toy `name` with Gaussian jitter of std `noise`; deterministic in seed."""
    rng = np.random.default_rng([seed, _TOY_STREAM, list(TOYS).index(name)])
    pts, y, names = TOYS[name](rng, n)
    pts = pts + rng.normal(0.0, 1.0, pts.shape) * noise
    return _frozen(pts.astype(np.float32), y, names)


# ---- torchvision datasets ----------------------------------------------------------------------------------


@functools.lru_cache(maxsize=3)
def torchvision_raw(name: str, root: str) -> RawData:
    """The official training split of a torchvision dataset under `root` (downloaded if missing), as uint8.

    Any failure to find, verify or download the files becomes DatasetUnavailable. torchvision verifies the
    md5 of the CIFAR-10 files (and of MNIST archives while downloading), so a truncated download is refused.
    """
    import torchvision.datasets

    cls_name, alternative = TORCHVISION_SETS[name]
    try:
        ds = getattr(torchvision.datasets, cls_name)(root, train=True, download=True)
        data = np.asarray(ds.data)
        targets = np.asarray(ds.targets, dtype=np.int64)
        classes = tuple(str(c) for c in ds.classes)
    except Exception as e:  # network, disk, format: the caller only needs to know it is not usable
        reason = " ".join(str(e).split()) or type(e).__name__  # one line: torchvision's messages span several
        reason = reason if len(reason) <= 200 else reason[:197] + "..."
        raise DatasetUnavailable(
            f"{name} is not available: no usable copy in {root} and the download failed ({reason}); "
            f"use the embedded '{alternative}' dataset instead, which works offline"
        ) from e
    x = data[:, None] if data.ndim == 3 else data.transpose(0, 3, 1, 2)  # MNIST (N, H, W); CIFAR (N, H, W, C)
    return _frozen(x.astype(np.uint8), targets, classes)


def _embedded(fn: Callable[[RunConfig], RawData]) -> Callable[[RunConfig, Path], RawData]:
    return lambda cfg, cache_dir: fn(cfg)


def _toy_builder(name: str) -> Callable[[RunConfig, Path], RawData]:
    return lambda cfg, cache_dir: toy_raw(name, cfg.toy_samples, float(cfg.noise), cfg.seed)


def _torchvision_builder(name: str) -> Callable[[RunConfig, Path], RawData]:
    return lambda cfg, cache_dir: torchvision_raw(name, str(Path(cache_dir).expanduser().resolve()))


# dataset key -> builder(cfg, cache_dir) -> RawData; keys equal registry.DATASETS (tests check)
BUILDERS: dict[str, Callable[[RunConfig, Path], RawData]] = {
    "digits": _embedded(lambda cfg: digits_raw()),
    "shapes": _embedded(lambda cfg: shapes_raw(cfg.seed)),
    **{name: _toy_builder(name) for name in TOYS},
    **{name: _torchvision_builder(name) for name in TORCHVISION_SETS},
}
