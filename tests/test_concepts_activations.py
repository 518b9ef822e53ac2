"""lab.concepts.activations: curves, slopes, vanishing stretches and measured properties against hand references."""

import math

import pytest
import torch

from lab import registry
from lab.concepts import activations as act


def _sig(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _softplus(x: float) -> float:
    return math.log1p(math.exp(x))


# f'(x) written out by hand (calculus, not autograd), with non-default parameters where there are any.
DERIVATIVES = {
    "sigmoid": ({}, lambda x: _sig(x) * (1 - _sig(x))),
    "tanh": ({}, lambda x: 1 - math.tanh(x) ** 2),
    "relu": ({}, lambda x: 1.0 if x > 0 else 0.0),
    "leaky_relu": ({"leaky_slope": 0.2}, lambda x: 1.0 if x > 0 else 0.2),
    "elu": ({"elu_alpha": 0.5}, lambda x: 1.0 if x > 0 else 0.5 * math.exp(x)),
    "softplus": ({}, _sig),
    "silu": ({"swish_beta": 3.0}, lambda x: _sig(3 * x) + 3 * x * _sig(3 * x) * (1 - _sig(3 * x))),
    "gelu": ({}, lambda x: 0.5 * (1 + math.erf(x / math.sqrt(2))) + x * math.exp(-x * x / 2) / math.sqrt(2 * math.pi)),
}


@pytest.mark.parametrize("name", sorted(DERIVATIVES))
def test_autograd_slope_matches_calculus(name: str) -> None:
    """The curve's f' (autograd through the engine's module) equals the derivative worked out by hand."""
    params, df = DERIVATIVES[name]
    c = act.curve(name, -4.0, 4.0, 17, **params)  # grid step 0.5, so x = 0 (the ReLU kink) is one of the points
    for x, d in zip(c.x, c.dy, strict=True):
        if x == 0.0 and name in ("relu", "leaky_relu", "elu"):
            continue  # kink: any subgradient is fine
        assert d == pytest.approx(df(x), abs=1e-9), x


def test_maxout_is_the_max_of_softplus_tangents() -> None:
    """k = 2: max of the tangent lines of softplus at -3 and 3; large k: close to softplus itself."""
    c = act.curve("maxout", -5.0, 5.0, 21, maxout_k=2)
    for x, y in zip(c.x, c.y, strict=True):
        lines = [_softplus(t) + _sig(t) * (x - t) for t in (-3.0, 3.0)]
        assert y == pytest.approx(max(lines), abs=1e-9)
    fine = act.curve("maxout", -3.0, 3.0, 61, maxout_k=64)
    # tangents of a convex curve lie below it; 64 of them over [-3, 3] leave a gap under 1e-3
    assert max(_softplus(x) - y for x, y in zip(fine.x, fine.y, strict=True)) < 1e-3
    assert min(_softplus(x) - y for x, y in zip(fine.x, fine.y, strict=True)) > -1e-12


def test_vanishing_intervals_on_a_hand_made_slope() -> None:
    """Maximal runs of |f'| < threshold, including runs touching either end."""
    x = [0, 1, 2, 3, 4, 5, 6]
    dy = [0.0, 0.001, 0.5, -0.002, 0.0, 0.9, 0.0]
    assert act.vanishing_intervals(x, dy, 0.01) == [(0, 1), (3, 4), (6, 6)]
    assert act.vanishing_intervals(x, dy, 1e-9) == [(0, 0), (4, 4), (6, 6)]


def test_sigmoid_vanishes_beyond_known_points() -> None:
    """sigma'(x) < 0.01 exactly where |x| > 4.5951 (sigma(1 - sigma) = 0.01 solved by hand)."""
    c = act.curve("sigmoid", -10, 10, 2001)
    (a1, b1), (a2, b2) = act.vanishing_intervals(c.x, c.dy, 0.01)
    edge = math.log((1 + math.sqrt(1 - 0.04)) / (1 - math.sqrt(1 - 0.04)))  # where s(1-s) = 0.01
    assert a1 == -10 and a2 == pytest.approx(edge, abs=0.011) and b1 == pytest.approx(-edge, abs=0.011) and b2 == 10


SELU_SCALE, SELU_ALPHA = 1.0507009873554805, 1.6732632423543772

RANGES = {
    "sigmoid": ({}, 0.0, 1.0),
    "tanh": ({}, -1.0, 1.0),
    "relu": ({}, 0.0, math.inf),
    "leaky_relu": ({"leaky_slope": 0.1}, -math.inf, math.inf),
    "elu": ({"elu_alpha": 2.0}, -2.0, math.inf),
    "selu": ({}, -SELU_SCALE * SELU_ALPHA, math.inf),
    "gelu": ({}, -0.169971, math.inf),  # GELU's minimum, at x = -0.75179
    "softplus": ({}, 0.0, math.inf),
}


@pytest.mark.parametrize("name", sorted(RANGES))
def test_measured_range(name: str) -> None:
    """Bounded sides converge to the known bound, unbounded ones are reported infinite."""
    params, lo, hi = RANGES[name]
    got_lo, got_hi = act.output_range(name, **params)
    for got, want in ((got_lo, lo), (got_hi, hi)):
        assert got == want if math.isinf(want) else got == pytest.approx(want, abs=2e-4)


def test_mean_output_on_unit_gaussian() -> None:
    """E[f(z)], z ~ N(0, 1), from closed forms: ReLU 1/sqrt(2 pi), sigmoid 1/2, tanh 0, ELU(1) as integrated by hand."""
    phi0 = 1 / math.sqrt(2 * math.pi)
    cdf_m1 = 0.5 * (1 + math.erf(-1 / math.sqrt(2)))
    refs = {"relu": phi0, "sigmoid": 0.5, "tanh": 0.0, "elu": phi0 + math.exp(0.5) * cdf_m1 - 0.5}
    for name, want in refs.items():
        # 200k samples: the standard error is below 0.0025 for all four
        assert act.mean_output(name) == pytest.approx(want, abs=0.01), name


def test_saturation_and_zero_centring() -> None:
    """Sigmoid and tanh flatten on both sides, the ReLU family on the negative side, Leaky ReLU nowhere."""
    p = {n: act.properties(n, cost=False, leaky_slope=0.1) for n in ("sigmoid", "tanh", "relu", "leaky_relu", "selu")}
    assert p["sigmoid"].saturates == p["tanh"].saturates == "both sides"
    assert p["relu"].saturates == "negative side" and p["leaky_relu"].saturates == "no"
    assert p["tanh"].zero_centred and p["selu"].zero_centred
    assert not p["sigmoid"].zero_centred and not p["relu"].zero_centred
    assert act.saturation(1.0, 0.0) == "positive side"


def test_costs_are_relative_to_relu() -> None:
    """ReLU is the unit; every other cost is a positive finite ratio."""
    costs = act.forward_costs(["tanh", "maxout"], n=20_000, repeats=2)
    assert costs["relu"] == 1.0 and set(costs) == {"tanh", "maxout", "relu"}
    assert all(0 < v < math.inf for v in costs.values())


def test_properties_row_covers_every_activation() -> None:
    """The table has one formatted row per registry activation, infinite bounds written as symbols."""
    rows = [act.properties_row(act.properties(n, cost=False), n) for n in registry.ACTIVATIONS]
    assert len(rows) == len(registry.ACTIVATIONS)
    assert rows[list(registry.ACTIVATIONS).index("relu")]["range"] == "0 to ∞"


def test_positive_inputs_give_one_signed_gradients() -> None:
    """Sigmoid outputs (all > 0): every example's dL/dw has one sign. N(0,1) inputs: almost never."""
    pos = act.weight_grad_signs("sigmoid", n_examples=40, n_inputs=16)
    raw = act.weight_grad_signs("none", n_examples=40, n_inputs=16)
    assert pos.one_sign_fraction == 1.0 and pos.input_mean > 0.3
    assert raw.one_sign_fraction < 0.1  # chance for 16 random signs to agree: 2 / 2^16


def test_gradient_signs_match_the_chain_rule() -> None:
    """Signs equal those of dL/dw = 2 (tanh(x.w) - t)(1 - tanh^2(x.w)) x, recomputed here with the same draws."""
    n, d, seed = 12, 6, 3
    got = act.weight_grad_signs("none", n_examples=n, n_inputs=d, seed=seed)
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g, dtype=torch.float64)
    w = torch.randn(d, generator=g, dtype=torch.float64) / math.sqrt(d)
    t = torch.randn(n, generator=g, dtype=torch.float64)
    a = torch.tanh(x @ w)
    grad = (2 * (a - t) * (1 - a**2))[:, None] * x
    assert got.signs == torch.sign(grad).to(torch.int64).tolist()
