"""The classic initialization experiment: push unit-Gaussian data through a deep, untrained MLP.

`depth` fully connected layers of `width` units with zero biases, weights from `lab.engine.init`, no
training. Per layer we report the activation mean and std, a fixed-bin histogram, and the
gradient on the way back. The backward pass starts from a unit-Gaussian upstream gradient at the
last layer (the gradient of sum(g * output) for a random g), not from a loss: a loss would
depend on labels and an output layer, which the experiment does not have.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from lab.engine.activations import make_activation, width_multiplier
from lab.engine.init import init_weights

# Histogram ranges: a bounded activation's own range, otherwise +-3 (the input's spread).
BOUNDED = {"sigmoid": (0.0, 1.0), "tanh": (-1.0, 1.0)}
DEFAULT_RANGE = (-3.0, 3.0)


@dataclass(frozen=True)
class LayerStats:
    """What one layer's output looks like at init (index 0 is the input itself)."""

    index: int
    mean: float
    std: float
    hist: list[int]  # counts per bin of InitStats.edges; values outside the range land in the end bins
    grad_std: float  # std of the upstream gradient arriving at this layer's output
    weight_grad_std: float | None  # std of this layer's weight gradient (None for the input)


@dataclass(frozen=True)
class InitStats:
    """The result of one init experiment: settings, histogram edges and per-layer statistics."""

    depth: int
    width: int
    activation: str
    init: str
    batch: int
    seed: int
    edges: list[float]
    layers: list[LayerStats]  # input first, then hidden layers 1..depth

    def rows(self) -> list[dict]:
        """One plain dict per layer (for a table or JSON), input first."""
        return [{"layer": s.index, "mean": s.mean, "std": s.std, "grad_std": s.grad_std,
                 "weight_grad_std": s.weight_grad_std} for s in self.layers]

    def format(self) -> str:
        """A text table, one line per layer, for the CLI."""
        lines = [f"{self.depth} layers x {self.width} units, {self.activation}, init {self.init}"]
        for s in self.layers:
            name = "input  " if s.index == 0 else f"layer {s.index:2d}"
            lines.append(f"{name}  mean {s.mean:+.6f}  std {s.std:.6f}  grad std {s.grad_std:.3e}")
        return "\n".join(lines)


def _hist(a: torch.Tensor, lo: float, hi: float, bins: int) -> list[int]:
    """Counts in `bins` equal bins over [lo, hi], out-of-range values clamped into the end bins."""
    return [int(c) for c in torch.histc(a.float().clamp(lo, hi), bins=bins, min=lo, max=hi).tolist()]


def init_stats(depth: int, width: int, activation: str, init: str, batch: int = 1000, seed: int = 0,
               device: str | torch.device = "cpu", *, constant: float = 0.1, bins: int = 50,
               hist_range: tuple[float, float] | None = None, scale: float = 1.0, **act_kwargs) -> InitStats:
    """Run the experiment; `act_kwargs` (leaky_slope, elu_alpha, swish_beta, maxout_k) shape the activation.

    `scale` multiplies every weight after the scheme has drawn it, to explore between schemes.
    Deterministic for a seed: everything random is drawn on the CPU from a seeded, forked RNG,
    so the caller's global RNG is left as it was.
    """
    k = width_multiplier(activation, act_kwargs.get("maxout_k", 2))
    lo, hi = hist_range or BOUNDED.get(activation, DEFAULT_RANGE)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        lins = [nn.Linear(width, width * k) for _ in range(depth)]
        acts = [make_activation(activation, **act_kwargs) for _ in range(depth)]
        model = nn.ModuleList(lins + acts)
        init_weights(model, init, activation, constant, leaky_slope=act_kwargs.get("leaky_slope"),
                     maxout_k=act_kwargs.get("maxout_k"))
        with torch.no_grad():
            for lin in lins:
                lin.bias.zero_()  # also for 'default', which would keep PyTorch's random biases
                lin.weight.mul_(scale)  # a free multiplier on top of the scheme (1 = the scheme as is)
        x = torch.randn(batch, width)
        upstream = torch.randn(batch, width)
    model.to(device)
    x = x.to(device).requires_grad_(True)
    outs = [x]
    for lin, act in zip(lins, acts, strict=True):
        outs.append(act(lin(outs[-1])))
        outs[-1].retain_grad()
    outs[-1].backward(upstream.to(device))

    layers = []
    for i, a in enumerate(outs):
        var, mean = torch.var_mean(a.detach(), correction=0)  # population std, as in the classic printout
        wg = None if i == 0 else float(lins[i - 1].weight.grad.std())
        layers.append(LayerStats(index=i, mean=float(mean), std=float(var.sqrt()), hist=_hist(a.detach(), lo, hi, bins),
                                 grad_std=float(a.grad.std(correction=0)), weight_grad_std=wg))
    edges = torch.linspace(lo, hi, bins + 1, dtype=torch.float64).tolist()
    return InitStats(depth, width, activation, init, batch, seed, edges, layers)
