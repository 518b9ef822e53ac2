"""Activation functions by registry key, as nn.Modules.

PyTorch's own modules wherever they exist; only Swish with a free beta and Maxout are ours.
All of them also work on a plain tensor, so a concept page can plot f(x) and, through
autograd, f'(x). Maxout is the exception in shape: it reduces k features to one, so to plot
it as a curve stack k linear pieces on the last dim, e.g. Maxout(2)(torch.stack([a1*x+b1, a2*x+b2], -1)).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from lab import registry
from lab.config import RunConfig
from lab.engine.layers import Maxout


class Swish(nn.Module):
    """x * sigmoid(beta * x); beta is fixed (not learned). beta = 1 is SiLU, large beta approaches ReLU."""

    def __init__(self, beta: float = 1.0):
        super().__init__()
        self.beta = beta

    def forward(self, x: Tensor) -> Tensor:
        """Apply x * sigmoid(beta * x) elementwise."""
        return x * torch.sigmoid(self.beta * x)

    def extra_repr(self) -> str:
        return f"beta={self.beta}"


def _swish(swish_beta: float, **_) -> nn.Module:
    # Exactly SiLU at beta = 1: use PyTorch's fused module there.
    return nn.SiLU() if swish_beta == 1.0 else Swish(swish_beta)


# name -> builder(leaky_slope=..., elu_alpha=..., swish_beta=..., maxout_k=...); each takes what it needs.
BUILDERS: dict[str, Callable[..., nn.Module]] = {
    "sigmoid": lambda **_: nn.Sigmoid(),
    "tanh": lambda **_: nn.Tanh(),
    "relu": lambda **_: nn.ReLU(),
    "leaky_relu": lambda leaky_slope, **_: nn.LeakyReLU(leaky_slope),
    # One slope shared by the whole layer, starting at leaky_slope and then learned.
    "prelu": lambda leaky_slope, **_: nn.PReLU(num_parameters=1, init=leaky_slope),
    "elu": lambda elu_alpha, **_: nn.ELU(alpha=elu_alpha),
    "selu": lambda **_: nn.SELU(),
    "gelu": lambda **_: nn.GELU(),
    "silu": _swish,
    "softplus": lambda **_: nn.Softplus(),
    "maxout": lambda maxout_k, **_: Maxout(maxout_k),
}


def make_activation(name: str, *, leaky_slope: float = 0.01, elu_alpha: float = 1.0, swish_beta: float = 1.0,
                    maxout_k: int = 2) -> nn.Module:
    """A fresh activation module for a registry key (a new instance each call, so hooks stay per layer)."""
    if name not in BUILDERS:
        raise ValueError(f"unknown activation {name!r}; choose one of: {', '.join(registry.ACTIVATIONS)}")
    return BUILDERS[name](leaky_slope=leaky_slope, elu_alpha=elu_alpha, swish_beta=swish_beta, maxout_k=maxout_k)


def activation_from_config(cfg: RunConfig) -> nn.Module:
    """The activation a config asks for, with its slope/alpha/beta/k."""
    return make_activation(cfg.activation, leaky_slope=cfg.leaky_slope, elu_alpha=cfg.elu_alpha,
                           swish_beta=cfg.swish_beta, maxout_k=cfg.maxout_k)


def width_multiplier(name: str, maxout_k: int) -> int:
    """How many times wider the layer before the activation must be: k for maxout, else 1."""
    return maxout_k if name == "maxout" else 1
