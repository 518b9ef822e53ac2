"""Activation functions as curves: f(x), f'(x) by autograd, where the gradient vanishes, and measured properties.

Everything is computed from the engine's own modules (`lab.engine.activations.make_activation`), so the page shows
the functions training uses. Maxout is a max over k linear pieces rather than a function of one number; to
draw it as a curve we give it k fixed pieces, the tangents of softplus at k points spread over [-3, 3]: with
k = 2 the result is close to ReLU, and with more pieces it approaches softplus (a convex curve built from lines).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch

from lab.engine.activations import make_activation

MAXOUT_SPAN = 3.0  # tangent points of the Maxout pieces lie in [-MAXOUT_SPAN, MAXOUT_SPAN]

# Which of make_activation's keywords each activation reads (the others ignore theirs).
PARAMS_USED: dict[str, tuple[str, ...]] = {
    "leaky_relu": ("leaky_slope",),
    "prelu": ("leaky_slope",),
    "elu": ("elu_alpha",),
    "silu": ("swish_beta",),
    "maxout": ("maxout_k",),
}


def used_params(name: str, params: dict) -> dict:
    """The subset of `params` that activation `name` actually reads (a cache key that ignores the rest)."""
    return {k: params[k] for k in PARAMS_USED.get(name, ()) if k in params}


@dataclass(frozen=True)
class Curve:
    """An activation sampled on a grid: values and autograd derivatives."""

    name: str
    x: list[float]
    y: list[float]
    dy: list[float]


@dataclass(frozen=True)
class Properties:
    """Measured properties of one activation (nothing here is typed in by hand)."""

    name: str
    low: float  # smallest output on a wide grid; -inf when it keeps falling as the grid widens
    high: float  # largest output; +inf when it keeps growing
    mean_out: float  # mean output for N(0, 1) inputs
    zero_centred: bool  # |mean_out| below ZERO_CENTRED_TOL
    slope_neg: float  # |f'(-SAT_X)|
    slope_pos: float  # |f'(+SAT_X)|
    saturates: str  # "both sides", "negative side", "positive side" or "no"
    cost: float  # forward time relative to ReLU on the same tensor (1.0 = as cheap as ReLU)


ZERO_CENTRED_TOL = 0.05  # a mean output this close to 0 on N(0, 1) inputs counts as zero-centred
SAT_X = 20.0  # "large |x|" where we read the slope to decide saturation
SAT_SLOPE = 1e-3  # a slope below this at |x| = SAT_X counts as saturated


def maxout_pieces(k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Slopes and intercepts (float64, shape (k,)) of the k lines the Maxout curve is the max of."""
    t = torch.linspace(-MAXOUT_SPAN, MAXOUT_SPAN, k, dtype=torch.float64)
    slope = torch.sigmoid(t)  # softplus'(t)
    return slope, torch.nn.functional.softplus(t) - slope * t  # tangent line of softplus at t


def apply(name: str, x: torch.Tensor, **params) -> torch.Tensor:
    """f(x) elementwise for any activation key; `params` are make_activation's keywords."""
    f = make_activation(name, **params).to(x.dtype)
    if name == "maxout":
        slope, icpt = (v.to(x.dtype) for v in maxout_pieces(int(params.get("maxout_k", 2))))
        pieces = x.reshape(-1, 1) * slope + icpt  # (numel, k): one row of k pieces per input number
        return f(pieces).reshape(x.shape)  # Maxout keeps the largest piece of each row
    return f(x)


def curve(name: str, lo: float = -5.0, hi: float = 5.0, n: int = 401, **params) -> Curve:
    """f and f' on n points of [lo, hi], f' from autograd (so it is the derivative backprop uses)."""
    x = torch.linspace(lo, hi, n, dtype=torch.float64, requires_grad=True)
    y = apply(name, x, **params)
    (dy,) = torch.autograd.grad(y.sum(), x)  # elementwise f, so d(sum f)/dx_i = f'(x_i)
    return Curve(name, x.detach().tolist(), y.detach().tolist(), dy.tolist())


def vanishing_intervals(x: list[float], dy: list[float], threshold: float) -> list[tuple[float, float]]:
    """Maximal [a, b] stretches of the grid where |f'(x)| < threshold."""
    out: list[tuple[float, float]] = []
    start = None
    for xi, di in zip(x, dy, strict=True):
        if abs(di) < threshold:
            start = xi if start is None else start
            end = xi
        elif start is not None:
            out.append((start, end))
            start = None
    if start is not None:
        out.append((start, end))
    return out


def _extreme(name: str, reach: float, **params) -> tuple[float, float]:
    x = torch.linspace(-reach, reach, 20001, dtype=torch.float64)
    with torch.no_grad():
        y = apply(name, x, **params)
    return float(y.min()), float(y.max())


def output_range(name: str, reach: float = 100.0, **params) -> tuple[float, float]:
    """(low, high) of f on a wide grid; a side that still moves when the grid doubles is reported as infinite."""
    lo1, hi1 = _extreme(name, reach, **params)
    lo2, hi2 = _extreme(name, 2 * reach, **params)
    # A bounded side converges (sigmoid's 1, ELU's -alpha); an unbounded one grows with the grid (ReLU's x).
    lo = -math.inf if lo2 < lo1 - 1e-6 * max(1.0, abs(lo1)) else lo1
    hi = math.inf if hi2 > hi1 + 1e-6 * max(1.0, abs(hi1)) else hi1
    return lo, hi


def slope_at(name: str, x0: float, **params) -> float:
    """|f'(x0)| by autograd."""
    x = torch.tensor([x0], dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(apply(name, x, **params).sum(), x)
    return abs(float(g))


def mean_output(name: str, n: int = 200_000, seed: int = 0, **params) -> float:
    """Mean of f(z) for z ~ N(0, 1): near 0 means the next layer sees zero-centred inputs."""
    z = torch.randn(n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    with torch.no_grad():
        return float(apply(name, z, **params).mean())


def forward_costs(names: list[str], n: int = 250_000, repeats: int = 5, **params) -> dict[str, float]:
    """Forward time of each engine module on n float32 numbers, relative to ReLU (best of `repeats`)."""
    names = list(dict.fromkeys([*names, "relu"]))
    mods = {name: make_activation(name, **params) for name in names}
    k = int(params.get("maxout_k", 2))
    x1 = torch.randn(n // 1000, 1000)
    xk = torch.randn(n // 1000, 1000 * k)  # Maxout gets k inputs per output, as in a real layer
    best = dict.fromkeys(names, math.inf)
    with torch.no_grad():
        for name in names:
            mods[name](xk if name == "maxout" else x1)  # warm-up: the first call allocates
        # Rounds interleave the activations, so a burst of other work on the machine hits all of them alike;
        # the minimum over rounds is the least disturbed measurement.
        for _ in range(repeats):
            for name in names:
                x = xk if name == "maxout" else x1
                t = time.perf_counter()
                mods[name](x)
                best[name] = min(best[name], time.perf_counter() - t)
    return {name: best[name] / best["relu"] for name in names}


def saturation(slope_neg: float, slope_pos: float, tol: float = SAT_SLOPE) -> str:
    """Which side(s) have a vanishing slope far from zero."""
    neg, pos = slope_neg < tol, slope_pos < tol
    return {(True, True): "both sides", (True, False): "negative side", (False, True): "positive side"}.get(
        (neg, pos), "no"
    )


def properties(name: str, *, cost: bool = True, **params) -> Properties:
    """Measure range, zero-centring, saturation and (optionally) relative cost of one activation.

    Timing one activation at a time is noisy; for a table, pass cost=False and use `forward_costs` on all.
    """
    lo, hi = output_range(name, **params)
    m = mean_output(name, **params)
    neg, pos = slope_at(name, -SAT_X, **params), slope_at(name, SAT_X, **params)
    c = forward_costs([name], **params)[name] if cost else math.nan
    return Properties(name, lo, hi, m, abs(m) < ZERO_CENTRED_TOL, neg, pos, saturation(neg, pos), c)


@dataclass(frozen=True)
class SignPattern:
    """Signs of one neuron's per-example weight gradients (rows: examples, columns: inputs)."""

    signs: list[list[int]]  # -1, 0 or +1
    one_sign_fraction: float  # share of examples whose non-zero gradient entries all have the same sign
    input_mean: float


def weight_grad_signs(source: str, n_examples: int = 24, n_inputs: int = 16, seed: int = 0, **params) -> SignPattern:
    """Per-example dL/dw of one tanh neuron whose inputs are `source`(z), z ~ N(0, 1); 'none' feeds z itself.

    dL/dw_i = dL/dz * x_i: when every x_i > 0 (outputs of sigmoid or ReLU), all entries of one example's weight
    gradient share the sign of dL/dz, so an update can only raise all weights or lower all weights at once.
    """
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n_examples, n_inputs, generator=g, dtype=torch.float64)
    with torch.no_grad():
        x = z if source == "none" else apply(source, z.flatten(), **params).reshape(z.shape)
    w0 = torch.randn(n_inputs, generator=g, dtype=torch.float64) / math.sqrt(n_inputs)
    target = torch.randn(n_examples, generator=g, dtype=torch.float64)

    def loss(w: torch.Tensor, xi: torch.Tensor, ti: torch.Tensor) -> torch.Tensor:
        return (torch.tanh(xi @ w) - ti) ** 2

    per_example = torch.func.vmap(torch.func.grad(loss), in_dims=(None, 0, 0))(w0, x, target)
    s = torch.sign(per_example).to(torch.int64)
    pos, neg = (s > 0).any(1), (s < 0).any(1)
    one_sign = ~(pos & neg)
    return SignPattern(s.tolist(), float(one_sign.double().mean()), float(x.mean()))


def _fmt_bound(v: float) -> str:
    return "∞" if v == math.inf else "−∞" if v == -math.inf else f"{v:.3g}"


def properties_row(p: Properties, label: str) -> dict:
    """One table row of measured properties, formatted for reading."""
    return {
        "activation": label,
        "range": f"{_fmt_bound(p.low)} to {_fmt_bound(p.high)}",
        "mean on N(0,1)": round(p.mean_out, 3),
        "zero-centred": "yes" if p.zero_centred else "no",
        f"saturates (|f'(±{SAT_X:g})| < {SAT_SLOPE:g})": p.saturates,
        "cost vs ReLU": round(p.cost, 1),
    }
