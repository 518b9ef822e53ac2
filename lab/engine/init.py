"""Weight initialization schemes by registry key, applied with torch.nn.init.

Every nn.Linear / nn.Conv2d weight (DropConnect layers included, they subclass those) gets the
scheme and every bias is zeroed, except for 'default', which leaves PyTorch's own init alone.

Which gain goes where (a decision, kept in one place):
- Xavier always uses gain 1, the form of Glorot & Bengio's paper. That is on purpose: the
  classic experiment shows Xavier working under tanh and shrinking the signal under ReLU,
  which a ReLU-corrected gain would hide.
- Kaiming (fan_in mode) and orthogonal use the activation's gain (see `gain`), so that the
  variance of the signal is kept from layer to layer.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from lab.config import RunConfig


def _maxout_gain(k: int) -> float:
    """1 / sqrt(E[max of k standard normals ^2]): keeps the second moment through a maxout layer."""
    # E[M^2] = integral of x^2 * k * phi(x) * Phi(x)^(k-1); a fine trapezoid grid is exact to ~1e-9.
    x = torch.linspace(-12.0, 12.0, 24001, dtype=torch.float64)
    normal = torch.distributions.Normal(torch.tensor(0.0, dtype=torch.float64), torch.tensor(1.0, dtype=torch.float64))
    density = k * normal.log_prob(x).exp() * normal.cdf(x) ** (k - 1)
    return float(1.0 / torch.trapezoid(x**2 * density, x).sqrt())


def gain(activation: str | None, leaky_slope: float = 0.01, maxout_k: int = 2) -> float:
    """The init gain for an activation (the factor that keeps signal variance steady through it)."""
    if activation in (None, "linear"):
        return 1.0
    if activation in ("sigmoid", "tanh", "relu"):
        return nn.init.calculate_gain(activation)
    if activation in ("leaky_relu", "prelu"):
        # PReLU starts as a leaky ReLU with slope leaky_slope; that is the function the init sees.
        return nn.init.calculate_gain("leaky_relu", leaky_slope)
    if activation == "selu":
        # calculate_gain('selu') is 3/4, but SELU only self-normalizes with variance 1/fan_in
        # (LeCun init), as PyTorch's own docs advise: so gain 1.
        return 1.0
    if activation in ("elu", "gelu", "silu", "softplus"):
        # These are ReLU-like: near 0 for negative inputs, near x for positive ones, so they pass on
        # about half the variance, as ReLU does. sqrt(2) is the usual choice (no exact gain exists).
        return nn.init.calculate_gain("relu")
    if activation == "maxout":
        # The max of k pre-activations has a larger second moment than one of them (exactly the same
        # for k = 2, by symmetry), so ReLU's sqrt(2) would make the signal grow layer by layer.
        return _maxout_gain(maxout_k)
    raise ValueError(f"unknown activation {activation!r}")


def _kaiming_normal(w: Tensor, g: float, c: float) -> None:
    nn.init.kaiming_normal_(w, mode="fan_in", nonlinearity="linear")  # std 1/sqrt(fan_in)
    w.mul_(g)  # any gain, also those calculate_gain does not know (maxout, elu, ...)


def _kaiming_uniform(w: Tensor, g: float, c: float) -> None:
    nn.init.kaiming_uniform_(w, mode="fan_in", nonlinearity="linear")  # bound sqrt(3/fan_in)
    w.mul_(g)


# scheme -> fill(weight, gain, constant). 'default' is a no-op: PyTorch already initialized the layer.
SCHEMES: dict[str, Callable[[Tensor, float, float], None]] = {
    "default": lambda w, g, c: None,
    "zeros": lambda w, g, c: nn.init.zeros_(w),
    "constant": lambda w, g, c: nn.init.constant_(w, c),
    "small_normal": lambda w, g, c: nn.init.normal_(w, 0.0, 0.01),
    "large_normal": lambda w, g, c: nn.init.normal_(w, 0.0, 1.0),
    "xavier_uniform": lambda w, g, c: nn.init.xavier_uniform_(w, gain=1.0),
    "xavier_normal": lambda w, g, c: nn.init.xavier_normal_(w, gain=1.0),
    "kaiming_uniform": _kaiming_uniform,
    "kaiming_normal": _kaiming_normal,
    "orthogonal": lambda w, g, c: nn.init.orthogonal_(w, gain=g),
}


def init_weights(model: nn.Module, cfg_or_scheme: RunConfig | str, activation: str | None = None,
                 constant: float | None = None, *, leaky_slope: float | None = None,
                 maxout_k: int | None = None) -> None:
    """Initialize every Linear/Conv2d weight of `model` by scheme and zero its bias (not for 'default').

    Given a RunConfig, the scheme, activation, constant, leaky slope and maxout k come from it
    (explicit arguments win). Given a scheme name, unset values default to activation 'linear'
    (gain 1), constant 0.1, slope 0.01 and k 2.
    """
    if isinstance(cfg_or_scheme, RunConfig):
        cfg = cfg_or_scheme
        scheme = cfg.init
        activation = activation or cfg.activation
        constant = cfg.init_constant if constant is None else constant
        leaky_slope = cfg.leaky_slope if leaky_slope is None else leaky_slope
        maxout_k = cfg.maxout_k if maxout_k is None else maxout_k
    else:
        scheme = cfg_or_scheme
    if scheme not in SCHEMES:
        raise ValueError(f"unknown init {scheme!r}; choose one of: {', '.join(SCHEMES)}")
    if scheme == "default":
        return
    g = gain(activation, 0.01 if leaky_slope is None else leaky_slope, 2 if maxout_k is None else maxout_k)
    c = 0.1 if constant is None else constant
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Linear, nn.Conv2d)):
                SCHEMES[scheme](m.weight, g, c)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

