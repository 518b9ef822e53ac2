"""Hand-written building blocks that PyTorch does not ship: Maxout, DropConnect and our hidden layer.

Everything else (batch norm, dropout, pooling, stochastic depth) is PyTorch's own module.
A `Layer` is one hidden layer of the lab's networks; a residual block is two (or one)
consecutive layers whose last one adds the block's input before its activation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.ops import StochasticDepth


class Maxout(nn.Module):
    """Max over groups of k consecutive features: (N, k*width, ...) -> (N, width, ...)."""

    def __init__(self, k: int = 2, dim: int = 1):
        super().__init__()
        if k < 1:
            raise ValueError(f"maxout needs k >= 1 pieces, got {k}")
        self.k = k
        self.dim = dim  # 1 is the feature dim of (N, F) and the channel dim of (N, C, H, W)

    def forward(self, x: Tensor) -> Tensor:
        """Split the feature dim into (width, k) and keep the largest of each k pieces."""
        dim = self.dim if x.dim() > 1 else 0  # a plain 1D tensor is one example's features
        n = x.shape[dim]
        if n % self.k:
            raise ValueError(f"maxout with k={self.k} needs a multiple of {self.k} features, got {n}")
        return x.unflatten(dim, (n // self.k, self.k)).amax(dim + 1)

    def extra_repr(self) -> str:
        return f"k={self.k}"


def drop_weight(w: Tensor, p: float) -> Tensor:
    """The weight times a fresh Bernoulli(1-p) mask, scaled by 1/(1-p) so its expectation is unchanged."""
    # Inverted scaling (as nn.Dropout does) lets evaluation use the plain weight with no correction.
    mask = torch.empty_like(w).bernoulli_(1.0 - p)
    return w * mask / (1.0 - p)


class DropConnectLinear(nn.Linear):
    """nn.Linear that drops each weight with probability p on every training forward (DropConnect)."""

    def __init__(self, in_features: int, out_features: int, p: float, bias: bool = True):
        super().__init__(in_features, out_features, bias=bias)
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        """Masked weight while training, the plain weight in eval."""
        w = drop_weight(self.weight, self.p) if self.training and self.p > 0 else self.weight
        return F.linear(x, w, self.bias)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, dropconnect={self.p}"


class DropConnectConv2d(nn.Conv2d):
    """nn.Conv2d that drops each kernel weight with probability p on every training forward."""

    def __init__(self, in_channels: int, out_channels: int, p: float, bias: bool = True, **kwargs):
        super().__init__(in_channels, out_channels, bias=bias, **kwargs)
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        """Masked kernel while training, the plain kernel in eval."""
        w = drop_weight(self.weight, self.p) if self.training and self.p > 0 else self.weight
        return self._conv_forward(x, w, self.bias)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, dropconnect={self.p}"


def linear(n_in: int, n_out: int, dropconnect: float = 0.0, bias: bool = True) -> nn.Linear:
    """A linear layer, with DropConnect when dropconnect > 0 (still an nn.Linear, so init finds it)."""
    if dropconnect > 0:
        return DropConnectLinear(n_in, n_out, dropconnect, bias=bias)
    return nn.Linear(n_in, n_out, bias=bias)


def conv3x3(c_in: int, c_out: int, dropconnect: float = 0.0, bias: bool = True) -> nn.Conv2d:
    """A 3x3 'same' convolution, with DropConnect when dropconnect > 0."""
    if dropconnect > 0:
        return DropConnectConv2d(c_in, c_out, dropconnect, bias=bias, kernel_size=3, padding=1)
    return nn.Conv2d(c_in, c_out, kernel_size=3, padding=1, bias=bias)


class Layer(nn.Module):
    """One hidden layer: linear/conv -> batch norm (optional) -> [+ skip] -> activation -> dropout.

    The op is stored as `lin` or `conv` so parameters read `fc1.lin.weight`, `conv2.bn.weight`.
    `act` is the module the recorder taps: its output is this layer's post-activation tensor.
    """

    def __init__(self, op: nn.Module, act: nn.Module, *, batch_norm: bool = False, dropout: float = 0.0,
                 stochastic_depth: float = 0.0, skip_repeat: int = 1):
        super().__init__()
        conv = isinstance(op, nn.Conv2d)
        self.kind = "conv" if conv else "lin"
        self.add_module(self.kind, op)
        n_out = op.out_channels if conv else op.out_features
        self.bn = (nn.BatchNorm2d(n_out) if conv else nn.BatchNorm1d(n_out)) if batch_norm else None
        self.act = act
        # Dropout2d drops whole feature maps: neighbouring pixels are so correlated that dropping
        # single ones barely regularizes a conv layer.
        self.drop = (nn.Dropout2d(dropout) if conv else nn.Dropout(dropout)) if dropout > 0 else None
        # Only the last layer of a residual block uses these: the branch is dropped per example
        # (mode 'row'), and with Maxout the skip is repeated so every one of the k pieces gets it.
        self.sd = StochasticDepth(stochastic_depth, mode="row") if stochastic_depth > 0 else None
        self.skip_repeat = skip_repeat

    @property
    def op(self) -> nn.Module:
        """The linear or conv module of this layer."""
        return getattr(self, self.kind)

    def forward(self, x: Tensor, skip: Tensor | None = None) -> Tensor:
        """Apply the layer; with `skip`, add it to the normalized branch before the activation."""
        h = self.op(x)
        if self.bn is not None:
            h = self.bn(h)
        if skip is not None:
            if self.sd is not None:
                h = self.sd(h)
            if self.skip_repeat > 1:
                skip = skip.repeat_interleave(self.skip_repeat, dim=1)  # max(x + 0, ..., x + 0) = x
            h = skip + h
        h = self.act(h)
        return h if self.drop is None else self.drop(h)

    def zero_last(self) -> None:
        """Make this layer's branch output zero: BN gamma when there is BN, else the op's weight and bias."""
        with torch.no_grad():
            if self.bn is not None:
                self.bn.weight.zero_()  # beta already starts at zero
            else:
                self.op.weight.zero_()
                if self.op.bias is not None:
                    self.op.bias.zero_()


def residual_block(layers: Sequence[Layer], x: Tensor) -> Tensor:
    """Run a residual block: every layer in turn, the last one adding the block's input (x + f(x))."""
    skip = x
    for layer in layers[:-1]:
        x = layer(x)
    return layers[-1](x, skip=skip)


def pool_layer(kind: str, size: tuple[int, int]) -> tuple[nn.Module | None, tuple[int, int]]:
    """The 2x2 pooling of a CNN stage and the spatial size after it; None when the map is already 1 wide."""
    h, w = size
    if h < 2 or w < 2:
        return None, size  # pooling a 1-pixel map would make it empty
    if kind == "max":
        return nn.MaxPool2d(2), (h // 2, w // 2)
    if kind == "avg":
        return nn.AvgPool2d(2), (h // 2, w // 2)
    if kind == "fractional":
        ratio = 1 / math.sqrt(2)
        # FractionalMaxPool2d computes its output size as int(size * ratio); mirror it here.
        return FractionalPool(ratio), (int(h * ratio), int(w * ratio))
    raise ValueError(f"unknown pooling {kind!r}")


class FractionalPool(nn.FractionalMaxPool2d):
    """nn.FractionalMaxPool2d with random regions while training and fixed, centred ones in eval."""

    def __init__(self, ratio: float):
        super().__init__(kernel_size=2, output_ratio=ratio)

    def forward(self, x: Tensor) -> Tensor:
        """Random pooling regions in training; in eval the same regions every time, so eval is repeatable."""
        if self.training:
            return super().forward(x)
        samples = torch.full((x.shape[0], x.shape[1], 2), 0.5, dtype=x.dtype, device=x.device)
        return F.fractional_max_pool2d(x, self.kernel_size, output_ratio=self.output_ratio, _random_samples=samples)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, output_ratio={self.output_ratio[0]:.3f}"
