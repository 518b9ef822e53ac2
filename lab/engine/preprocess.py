"""Input preprocessing: statistics fitted on the training set, then applied unchanged to every split.

Kinds (keys of `registry.PREPROCESS`):

- ``none``: a copy of the input.
- ``zero_center``: subtract the mean (per channel for images (N, C, H, W), per feature for flat (N, D)).
- ``standardize``: zero_center, then divide by the std (same grouping).
- ``pca``: flatten, center, rotate onto the eigenvectors of the covariance (largest variance first).
  The output is decorrelated: its covariance is diagonal and holds the eigenvalues.
- ``whiten``: pca, then divide each axis by sqrt(eigenvalue + eps): covariance becomes the identity.

Means, stds and covariances are population statistics (divide by N), so "std 1" means ``x.std(correction=0) == 1``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from lab import registry
from lab.config import ConfigError

# Below this many input numbers the covariance is computed in float64 (exact enough for reference tests);
# above it float32 keeps the fit on MNIST/CIFAR-sized data to seconds instead of minutes.
_FLOAT64_LIMIT = 20_000_000
_MIN_STD = 1e-8  # a feature that never varies (a digits border pixel) is centred but not divided


@dataclass
class Preprocessor:
    """A fitted transform: ``apply`` maps any split with the training statistics, ``invert`` maps back."""

    kind: str
    input_shape: tuple[int, ...]  # shape of one example it was fitted on: (C, H, W) or (D,)
    mean: torch.Tensor | None = None  # (1, C, 1, 1) or (1, D); flattened (1, D) for pca/whiten
    std: torch.Tensor | None = None  # same shape as mean; standardize only
    components: torch.Tensor | None = None  # (D, D) eigenvectors as columns, largest eigenvalue first
    eigenvalues: torch.Tensor | None = None  # (D,) variances along the components, descending
    eps: float = 1e-5  # whiten: added to each eigenvalue so near-constant directions are not blown up

    @property
    def output_shape(self) -> tuple[int, ...]:
        """Shape of one example after ``apply``: flat (D,) for pca/whiten, unchanged otherwise."""
        if self.kind in ("pca", "whiten"):
            return (_numel(self.input_shape),)
        return self.input_shape

    def apply(self, x: torch.Tensor) -> torch.Tensor:
        """Transform a batch (N, *input_shape) with the fitted statistics; always returns a new float32 tensor."""
        x = self._check(x, self.input_shape)
        if self.kind == "none":
            return x.clone()
        if self.kind == "zero_center":
            return x - self.mean
        if self.kind == "standardize":
            return (x - self.mean) / self.std
        z = (x.flatten(1) - self.mean) @ self.components
        if self.kind == "whiten":
            z = z / self._whiten_scale()
        return z

    def invert(self, z: torch.Tensor) -> torch.Tensor:
        """Map transformed data back to the input space (exact up to float error; used for colour jitter and views)."""
        z = self._check(z, self.output_shape)
        if self.kind == "none":
            return z.clone()
        if self.kind == "zero_center":
            return z + self.mean
        if self.kind == "standardize":
            return z * self.std + self.mean
        if self.kind == "whiten":
            z = z * self._whiten_scale()
        x = z @ self.components.T + self.mean  # components are orthonormal, so the transpose is the inverse
        return x.reshape(len(x), *self.input_shape)

    def _whiten_scale(self) -> torch.Tensor:
        return torch.sqrt(self.eigenvalues + self.eps)

    def _check(self, x: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
        if tuple(x.shape[1:]) != tuple(shape):
            raise ValueError(f"{self.kind} preprocessor expects examples of shape {shape}, got {tuple(x.shape[1:])}")
        return x.float()


def fit_preprocessor(kind: str, x_train: torch.Tensor, *, eps: float = 1e-5) -> Preprocessor:
    """Fit `kind` on training data (N, C, H, W) or (N, D) and return the Preprocessor holding its statistics."""
    if kind not in registry.PREPROCESS:
        raise ConfigError("preprocess", kind, f"choose one of: {', '.join(registry.PREPROCESS)}")
    if x_train.ndim not in (2, 4):
        raise ValueError(f"preprocessing needs (N, D) or (N, C, H, W) data, got shape {tuple(x_train.shape)}")
    x = x_train.float()
    shape = tuple(x.shape[1:])
    if kind == "none":
        return Preprocessor(kind, shape)
    if kind in ("zero_center", "standardize"):
        dims = (0, 2, 3) if x.ndim == 4 else (0,)  # images: one statistic per channel; flat: per feature
        mean = x.mean(dim=dims, keepdim=True)
        if kind == "zero_center":
            return Preprocessor(kind, shape, mean=mean)
        std = x.std(dim=dims, keepdim=True, correction=0)
        std = torch.where(std < _MIN_STD, torch.ones_like(std), std)
        return Preprocessor(kind, shape, mean=mean, std=std)
    return _fit_pca(kind, x, shape, eps)


def _fit_pca(kind: str, x: torch.Tensor, shape: tuple[int, ...], eps: float) -> Preprocessor:
    flat = x.flatten(1)
    work = flat.double() if flat.numel() <= _FLOAT64_LIMIT else flat
    mean = work.mean(dim=0, keepdim=True)
    centered = work - mean
    cov = (centered.T @ centered).double() / len(centered)
    evals, evecs = torch.linalg.eigh(cov)  # ascending; we want the largest-variance axis first
    evals, evecs = evals.flip(0), evecs.flip(1)
    # eigh may return either sign per vector; pin it (largest entry positive) so a fit is reproducible everywhere
    pivot = evecs.abs().argmax(dim=0)
    signs = torch.sign(evecs[pivot, torch.arange(evecs.shape[1])])
    evecs = evecs * torch.where(signs == 0, torch.ones_like(signs), signs)
    evals = evals.clamp_min(0.0)  # round-off can make a zero variance slightly negative
    return Preprocessor(kind, shape, mean=mean.float(), components=evecs.float(), eigenvalues=evals.float(), eps=eps)


def _numel(shape: tuple[int, ...]) -> int:
    n = 1
    for s in shape:
        n *= s
    return n
