"""Init schemes: empirical weight statistics against their formulas, gains, biases, and the symmetry problem.

Tolerances come from the sample size. For n i.i.d. normal weights the sample std has relative
standard error 1/sqrt(2n); for uniform ones about 0.45/sqrt(n). A 600x400 layer has n = 240,000,
so the relative error is ~0.0014 (normal) and ~0.0009 (uniform): a 1% tolerance is 7-10 standard
errors, tight enough that a wrong formula (e.g. fan_out for fan_in, or a missing gain) fails.
"""

import math

import pytest
import torch
from torch import nn

from lab import registry
from lab.config import RunConfig
from lab.engine.init import SCHEMES, gain, init_weights
from lab.engine.models import build_model

FAN_IN, FAN_OUT = 400, 600
N = FAN_IN * FAN_OUT


def _layer(scheme: str, activation: str | None = "relu", **kw) -> nn.Linear:
    torch.manual_seed(0)
    lin = nn.Linear(FAN_IN, FAN_OUT)
    init_weights(lin, scheme, activation, **kw)
    return lin


def _std(w: torch.Tensor) -> float:
    return float(w.detach().double().std())


def test_schemes_cover_exactly_the_registry() -> None:
    """The scheme table and the registry name the same inits."""
    assert set(SCHEMES) == set(registry.INITS)


@pytest.mark.parametrize("scheme, activation, want", [
    ("small_normal", "tanh", 0.01),
    ("large_normal", "tanh", 1.0),
    # Xavier keeps gain 1 whatever the activation (the paper's form): same std under tanh and ReLU.
    ("xavier_normal", "tanh", math.sqrt(2 / (FAN_IN + FAN_OUT))),
    ("xavier_normal", "relu", math.sqrt(2 / (FAN_IN + FAN_OUT))),
    ("kaiming_normal", "relu", math.sqrt(2 / FAN_IN)),
    ("kaiming_normal", "tanh", 5 / 3 / math.sqrt(FAN_IN)),
    ("kaiming_normal", "selu", 1 / math.sqrt(FAN_IN)),  # LeCun normal: what SELU needs
])
def test_normal_schemes_std_matches_formula(scheme: str, activation: str, want: float) -> None:
    """Gaussian schemes: sample std within 1% (about 7 standard errors), mean within 5 standard errors of 0."""
    w = _layer(scheme, activation).weight.detach()
    assert _std(w) == pytest.approx(want, rel=0.01)
    assert abs(float(w.detach().double().mean())) < 5 * want / math.sqrt(N)


@pytest.mark.parametrize("scheme, activation, bound", [
    ("xavier_uniform", "relu", math.sqrt(6 / (FAN_IN + FAN_OUT))),
    ("kaiming_uniform", "relu", math.sqrt(2) * math.sqrt(3 / FAN_IN)),
    ("kaiming_uniform", "leaky_relu", math.sqrt(2 / (1 + 0.01**2)) * math.sqrt(3 / FAN_IN)),
])
def test_uniform_schemes_bound_and_std(scheme: str, activation: str, bound: float) -> None:
    """Uniform schemes: all weights inside +-bound, the extremes reach it, std = bound/sqrt(3) within 1%."""
    w = _layer(scheme, activation).weight.detach()
    assert float(w.abs().max()) <= bound
    assert float(w.abs().max()) > bound * (1 - 1e-3)  # P(all 240k draws below 0.999 bound) ~ e^-240
    assert _std(w) == pytest.approx(bound / math.sqrt(3), rel=0.01)


def test_kaiming_conv_uses_in_channels_times_kernel_area() -> None:
    """For a conv, fan_in = in_channels * 3 * 3; n = 4608 weights, so 5% is ~5 standard errors."""
    torch.manual_seed(0)
    conv = nn.Conv2d(16, 32, 3)
    init_weights(conv, "kaiming_normal", "relu")
    assert _std(conv.weight) == pytest.approx(math.sqrt(2 / (16 * 9)), rel=0.05)


def test_zeros_and_constant_are_exact() -> None:
    """zeros and constant fill every weight with one value."""
    assert torch.count_nonzero(_layer("zeros").weight) == 0
    assert torch.all(_layer("constant", constant=0.37).weight == torch.tensor(0.37))


@pytest.mark.parametrize("activation, g", [("tanh", 5 / 3), ("relu", math.sqrt(2)), ("sigmoid", 1.0)])
def test_orthogonal_rows_are_orthonormal_times_gain(activation: str, g: float) -> None:
    """W W^T = gain^2 I for a wide weight (rows fewer than columns); float32 round-off only."""
    torch.manual_seed(0)
    lin = nn.Linear(500, 300)
    init_weights(lin, "orthogonal", activation)
    w = lin.weight.double()
    torch.testing.assert_close(w @ w.T, g**2 * torch.eye(300, dtype=torch.float64), atol=1e-5, rtol=0)


def test_gains() -> None:
    """Torch's gains where it has them; documented choices elsewhere; maxout from E[max of k normals^2]."""
    assert gain("relu") == pytest.approx(math.sqrt(2))
    assert gain("tanh") == pytest.approx(5 / 3)
    assert gain("sigmoid") == 1.0
    assert gain("leaky_relu", 0.2) == pytest.approx(math.sqrt(2 / 1.04))
    assert gain("prelu", 0.2) == gain("leaky_relu", 0.2)
    assert gain("selu") == 1.0
    assert all(gain(a) == pytest.approx(math.sqrt(2)) for a in ("elu", "gelu", "silu", "softplus"))
    # max(a, b)^2 and min(a, b)^2 have the same law and sum to a^2 + b^2, so E[max^2] = 1 for k = 2;
    # for k = 3 the known closed form is 1 + sqrt(3) / (2 pi).
    assert gain("maxout", maxout_k=2) == pytest.approx(1.0, abs=1e-6)
    assert gain("maxout", maxout_k=3) == pytest.approx((1 + math.sqrt(3) / (2 * math.pi)) ** -0.5, abs=1e-6)
    assert gain(None) == 1.0
    with pytest.raises(ValueError):
        gain("nope")


def test_biases_zeroed_except_default_which_changes_nothing() -> None:
    """Every scheme but 'default' zeroes biases; 'default' leaves weights and biases as PyTorch made them."""
    torch.manual_seed(0)
    lin = nn.Linear(20, 30)
    before = {k: v.clone() for k, v in lin.state_dict().items()}
    init_weights(lin, "default", "relu")
    assert all(torch.equal(before[k], v) for k, v in lin.state_dict().items())
    assert torch.count_nonzero(lin.bias) > 0
    init_weights(lin, "xavier_normal", "relu")
    assert torch.count_nonzero(lin.bias) == 0 and not torch.equal(before["weight"], lin.weight)


def test_config_supplies_scheme_constant_and_slope() -> None:
    """From a RunConfig: the scheme, constant and leaky slope all come from the config."""
    cfg = RunConfig.from_dict(dict(init="constant", init_constant=-0.5))
    lin = nn.Linear(4, 3)
    init_weights(lin, cfg)
    assert torch.all(lin.weight == -0.5)
    cfg = cfg.replace(init="kaiming_normal", activation="leaky_relu", leaky_slope=0.5)
    torch.manual_seed(0)
    lin = nn.Linear(FAN_IN, FAN_OUT)
    init_weights(lin, cfg)
    assert _std(lin.weight) == pytest.approx(math.sqrt(2 / 1.25) / math.sqrt(FAN_IN), rel=0.01)


def test_batch_norm_is_left_alone() -> None:
    """Only linear/conv weights are initialised; batch norm keeps gamma = 1, beta = 0."""
    model = nn.Sequential(nn.Linear(5, 5), nn.BatchNorm1d(5))
    init_weights(model, "zeros", "relu")
    assert torch.all(model[1].weight == 1) and torch.all(model[1].bias == 0)


def test_unknown_scheme_raises() -> None:
    """A typo names the known schemes."""
    with pytest.raises(ValueError, match="xavier_normal"):
        init_weights(nn.Linear(2, 2), "xavier", "relu")


@pytest.mark.parametrize("scheme", ["zeros", "constant"])
def test_symmetric_init_never_breaks_symmetry(scheme: str) -> None:
    """With equal weights all units of a hidden layer compute the same output and get the same gradient,
    so after a gradient step they are still identical."""
    cfg = RunConfig.from_dict(dict(model="mlp", depth=2, width=8, activation="tanh", init=scheme))
    torch.manual_seed(0)
    model = build_model(cfg, (6,), 3)
    x, g = torch.randn(16, 6), torch.randn(16, 3)
    outs = {}
    for name, tap in model.taps.items():
        tap.register_forward_hook(lambda m, i, o, name=name: outs.__setitem__(name, o))
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    for _ in range(2):
        opt.zero_grad()
        (model(x) * g).sum().backward()  # a random upstream gradient: cross-entropy's sums to zero per row
        for name in ("fc1", "fc2"):
            out, grad = outs[name], getattr(model, name).lin.weight.grad
            assert torch.allclose(out, out[:, :1].expand_as(out))  # every unit equals unit 0
            assert torch.allclose(grad, grad[:1].expand_as(grad))  # every unit's weight gradient equals unit 0's
        opt.step()
    if scheme == "constant":  # the gradients were not trivially zero: the weights did move
        assert not torch.allclose(model.fc1.lin.weight, torch.tensor(0.1))
