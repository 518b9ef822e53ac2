"""Activations: every registry key builds, values match the textbook formulas, Maxout and PReLU behave."""

import math

import pytest
import torch
from torch import nn

from lab import registry
from lab.config import RunConfig
from lab.engine.activations import BUILDERS, Swish, activation_from_config, make_activation, width_multiplier
from lab.engine.layers import Maxout

POINTS = [-3.0, -1.0, -0.25, 0.0, 0.5, 2.0]
SELU_ALPHA, SELU_SCALE = 1.6732632423543772, 1.0507009873554805  # from the SELU paper


def _sig(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


# Reference formulas written with `math`, independent of torch, with non-default parameters where there are any.
FORMULAS = {
    "sigmoid": _sig,
    "tanh": math.tanh,
    "relu": lambda x: max(0.0, x),
    "leaky_relu": lambda x: x if x > 0 else 0.2 * x,
    "prelu": lambda x: x if x > 0 else 0.2 * x,
    "elu": lambda x: x if x > 0 else 0.5 * (math.exp(x) - 1.0),
    "selu": lambda x: SELU_SCALE * (x if x > 0 else SELU_ALPHA * (math.exp(x) - 1.0)),
    "gelu": lambda x: x * 0.5 * (1.0 + math.erf(x / math.sqrt(2.0))),
    "silu": lambda x: x * _sig(3.0 * x),
    "softplus": lambda x: math.log1p(math.exp(x)),
}
PARAMS = dict(leaky_slope=0.2, elu_alpha=0.5, swish_beta=3.0, maxout_k=2)


def test_builders_cover_exactly_the_registry() -> None:
    """The builder table and the registry name the same activations."""
    assert set(BUILDERS) == set(registry.ACTIVATIONS)


@pytest.mark.parametrize("name", list(registry.ACTIVATIONS))
def test_every_key_builds_fresh_modules(name: str) -> None:
    """Each key gives an nn.Module, a new instance per call (hooks must stay per layer)."""
    a, b = make_activation(name), make_activation(name)
    assert isinstance(a, nn.Module) and a is not b


@pytest.mark.parametrize("name", sorted(FORMULAS))
def test_values_match_formula(name: str) -> None:
    """f(x) at a few points equals the formula, computed without torch."""
    f = make_activation(name, **PARAMS)
    x = torch.tensor(POINTS, dtype=torch.float64)
    got = f.double()(x)
    want = torch.tensor([FORMULAS[name](v) for v in POINTS], dtype=torch.float64)
    # float64 throughout, except PReLU's slope parameter, which is created as float32 (rel. error ~1e-8).
    torch.testing.assert_close(got, want, rtol=1e-7, atol=1e-12)


@pytest.mark.parametrize("name, deriv", [
    ("tanh", lambda x: 1 - math.tanh(x) ** 2),
    ("sigmoid", lambda x: _sig(x) * (1 - _sig(x))),
    ("leaky_relu", lambda x: 1.0 if x > 0 else 0.2),
    ("silu", lambda x: _sig(3 * x) + 3 * x * _sig(3 * x) * (1 - _sig(3 * x))),
])
def test_derivative_via_autograd_on_plain_tensors(name: str, deriv) -> None:
    """A concept page gets f'(x) from autograd on a plain tensor; it matches the hand derivative."""
    pts = [p for p in POINTS if p != 0.0]  # avoid the kink of leaky ReLU
    x = torch.tensor(pts, dtype=torch.float64, requires_grad=True)
    make_activation(name, **PARAMS).double()(x).sum().backward()
    torch.testing.assert_close(x.grad, torch.tensor([deriv(v) for v in pts], dtype=torch.float64))


def test_swish_beta_one_is_silu_and_other_betas_follow_the_formula() -> None:
    """beta = 1 uses nn.SiLU; beta = 0 is x/2 and large beta approaches ReLU."""
    assert isinstance(make_activation("silu", swish_beta=1.0), nn.SiLU)
    x = torch.linspace(-4, 4, 81, dtype=torch.float64)
    torch.testing.assert_close(Swish(0.0)(x), x / 2)
    torch.testing.assert_close(Swish(50.0)(x), torch.relu(x), atol=1e-3, rtol=0)  # worst error ~ 0.28/beta near 0
    torch.testing.assert_close(Swish(2.5)(x), x / (1 + torch.exp(-2.5 * x)))


def test_maxout_is_max_over_groups_computed_by_hand() -> None:
    """Linear layout (N, k*width): output j is the max of features j*k .. j*k+k-1."""
    torch.manual_seed(0)
    x = torch.randn(4, 12)
    out = Maxout(3)(x)
    assert out.shape == (4, 4)
    for n in range(4):
        for j in range(4):
            assert out[n, j] == max(float(x[n, j * 3 + i]) for i in range(3))


def test_maxout_reduces_channels_of_feature_maps() -> None:
    """Conv layout (N, k*C, H, W): each output channel is the pixelwise max of its k channels."""
    torch.manual_seed(1)
    x = torch.randn(2, 6, 3, 5)
    out = Maxout(2)(x)
    assert out.shape == (2, 3, 3, 5)
    for c in range(3):
        torch.testing.assert_close(out[:, c], torch.maximum(x[:, 2 * c], x[:, 2 * c + 1]), rtol=0, atol=0)


def test_maxout_as_a_curve_of_linear_pieces() -> None:
    """Stacking k pieces on the last dim plots maxout as a function: max(x, -x) = |x|, slope +-1."""
    x = torch.linspace(-2, 2, 9, requires_grad=True)
    y = Maxout(2)(torch.stack([x, -x], dim=-1)).squeeze(-1)
    torch.testing.assert_close(y, x.detach().abs())
    y.sum().backward()
    assert torch.equal(x.grad[x.detach() != 0], torch.sign(x.detach()[x.detach() != 0]))


def test_maxout_rejects_a_width_that_is_not_a_multiple_of_k() -> None:
    """A layer that forgot to multiply its width by k fails loudly."""
    with pytest.raises(ValueError, match="multiple of 3"):
        Maxout(3)(torch.randn(2, 10))


def test_prelu_is_learnable_and_starts_at_the_slope() -> None:
    """PReLU carries a trainable slope initialised from leaky_slope that receives a gradient."""
    f = make_activation("prelu", leaky_slope=0.3)
    params = list(f.parameters())
    assert len(params) == 1 and params[0].requires_grad
    assert params[0].item() == pytest.approx(0.3)
    f(torch.tensor([-2.0, 1.0])).sum().backward()
    assert float(params[0].grad) == pytest.approx(-2.0)  # d/da of a*x at x = -2
    assert not list(make_activation("leaky_relu").parameters())


def test_activation_from_config_passes_the_parameters() -> None:
    """The config's slope, alpha, beta and k reach the module."""
    cfg = RunConfig.from_dict(dict(activation="elu", elu_alpha=2.0))
    assert activation_from_config(cfg).alpha == 2.0
    cfg = cfg.replace(activation="leaky_relu", leaky_slope=0.3)
    assert activation_from_config(cfg).negative_slope == 0.3
    cfg = cfg.replace(activation="maxout", maxout_k=4)
    assert activation_from_config(cfg).k == 4
    cfg = cfg.replace(activation="silu", swish_beta=2.0)
    assert activation_from_config(cfg).beta == 2.0


def test_width_multiplier() -> None:
    """Only maxout widens the layer before it."""
    assert width_multiplier("maxout", 3) == 3
    assert all(width_multiplier(k, 3) == 1 for k in registry.ACTIVATIONS if k != "maxout")


def test_unknown_name_raises() -> None:
    """A typo names the known options."""
    with pytest.raises(ValueError, match="relu"):
        make_activation("rleu")
