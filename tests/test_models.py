"""Models: shapes for every architecture switch, taps, DropConnect, residual zero-init, parameter counts."""

import copy
import itertools

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lab.config import ConfigError, RunConfig
from lab.engine.layers import DropConnectConv2d, DropConnectLinear, FractionalPool
from lab.engine.models import Net, build_model

DIGITS = (1, 8, 8)  # the embedded 8x8 digits


def _cfg(**kw) -> RunConfig:
    return RunConfig.from_dict(kw)


def _model(seed: int = 0, shape=DIGITS, n_classes: int = 10, **kw) -> Net:
    torch.manual_seed(seed)
    return build_model(_cfg(**kw), shape, n_classes)


def _capture(model: Net) -> dict[str, torch.Tensor]:
    """Forward hooks on every tap, recording the output (as the recorder does)."""
    seen: dict[str, torch.Tensor] = {}
    for name, tap in model.taps.items():
        tap.register_forward_hook(lambda m, i, o, name=name: seen.__setitem__(name, o.detach()))
    return seen


ARCH = dict(mlp=dict(depth=4, width=16), cnn=dict(cnn_stages=2, convs_per_stage=3, base_channels=4, fc_layers=2,
                                                    fc_width=16))
ACTS = ["relu", "tanh", "maxout", "prelu"]
COMBOS = [c for c in itertools.product(["mlp", "cnn"], [False, True], [False, True], ACTS)
          if not (c[0] == "cnn" and c[2] and c[3] == "maxout")]  # the config forbids maxout in residual CNNs


@pytest.mark.parametrize("model, bn, residual, act", COMBOS)
def test_every_combination_forwards_and_backwards(model: str, bn: bool, residual: bool, act: str) -> None:
    """Logits are (N, n_classes) and finite in train and eval mode, and every parameter gets a gradient."""
    net = _model(model=model, batch_norm=bn, residual=residual, activation=act, init="kaiming_normal",
                 dropout=0.1, **ARCH[model])
    x = torch.randn(5, *DIGITS)
    out = net(x)
    assert out.shape == (5, 10) and torch.isfinite(out).all()
    out.logsumexp(1).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.eval()
    assert net(x).shape == (5, 10)


def test_tap_names_are_the_hidden_layers_in_order() -> None:
    """MLP taps fc1..fcD; CNN taps conv1..convN then the hidden fc layers; kinds are the activation key."""
    mlp = _model(depth=3, activation="tanh")
    assert list(mlp.taps) == ["fc1", "fc2", "fc3"]
    assert mlp.tap_kinds == {"fc1": "tanh", "fc2": "tanh", "fc3": "tanh"}
    cnn = _model(model="cnn", cnn_stages=2, convs_per_stage=2, fc_layers=3)
    assert list(cnn.taps) == ["conv1", "conv2", "conv3", "conv4", "fc1", "fc2"]
    res = _model(depth=4, residual=True)
    assert list(res.taps) == ["fc1", "fc2", "fc3", "fc4"]
    assert res.residual_blocks() == [("fc2", "fc3"), ("fc4",)]


@pytest.mark.parametrize("kw", [dict(depth=3), dict(depth=3, batch_norm=True, residual=True),
                                dict(model="cnn", convs_per_stage=2, fc_layers=2, batch_norm=True),
                                dict(model="cnn", convs_per_stage=3, residual=True)])
def test_tap_outputs_are_post_activation_and_feed_the_next_layer(kw) -> None:
    """A hook on a ReLU tap sees values >= 0 with the layer's width, and (without residual) that exact
    tensor is what the next layer receives."""
    net = _model(init="kaiming_normal", **kw)
    seen = _capture(net)
    inputs = {}
    for name in net.taps:
        getattr(net, name).register_forward_pre_hook(lambda m, a, name=name: inputs.__setitem__(name, a[0].detach()))
    net(torch.randn(6, *DIGITS))
    assert list(seen) == list(net.taps)
    for name, a in seen.items():
        assert (a >= 0).all() and (a > 0).any()
        layer = getattr(net, name)
        assert a.shape[1] == (layer.op.out_channels if name.startswith("conv") else layer.op.out_features)
    if not kw.get("residual"):
        children = [n for n, _ in net.named_children()]
        pairs = [(a, b) for a, b in itertools.pairwise(children) if a in seen and b in seen]  # nothing in between
        assert pairs
        for prev, nxt in pairs:
            assert torch.equal(seen[prev], inputs[nxt])


def test_maxout_taps_see_the_reduced_width() -> None:
    """With maxout the op is k times wider, the tapped output is back to width."""
    net = _model(depth=2, width=12, activation="maxout", maxout_k=3)
    assert net.fc1.lin.out_features == 36
    seen = _capture(net)
    net(torch.randn(4, *DIGITS))
    assert seen["fc1"].shape == (4, 12) and seen["fc2"].shape == (4, 12)


def test_depth_zero_is_a_linear_classifier() -> None:
    """No hidden layers, no taps: logits are exactly x W^T + b."""
    net = _model(depth=0)
    assert net.taps == {} and net.tap_kinds == {}
    assert [type(m) for m in net.modules() if list(m.parameters(recurse=False))] == [nn.Linear]
    x = torch.randn(7, *DIGITS)
    torch.testing.assert_close(net(x), x.flatten(1) @ net.out.weight.T + net.out.bias)


def test_param_count_matches_hand_formula() -> None:
    """Weights plus biases per layer; with BN the layer drops its bias and gains gamma and beta."""
    def count(net: nn.Module) -> int:
        return sum(p.numel() for p in net.parameters())

    n_in, w, c = 64, 32, 10
    assert count(_model(depth=2, width=w)) == (n_in * w + w) + (w * w + w) + (w * c + c)
    assert count(_model(depth=2, width=w, batch_norm=True)) == (n_in * w + 2 * w) + (w * w + 2 * w) + (w * c + c)
    k = 3
    assert count(_model(depth=2, width=w, activation="maxout", maxout_k=k)) == (
        (n_in * k * w + k * w) + (w * k * w + k * w) + (w * c + c))
    # CNN on 3x8x8: conv 3->4, pool to 4x4, conv 4->8, pool to 2x2, flatten 32, fc 16, out 5.
    cnn = _model(model="cnn", shape=(3, 8, 8), n_classes=5, cnn_stages=2, convs_per_stage=1, base_channels=4,
                 fc_layers=2, fc_width=16)
    assert count(cnn) == (3 * 4 * 9 + 4) + (4 * 8 * 9 + 8) + (32 * 16 + 16) + (16 * 5 + 5)


def test_readable_parameter_names() -> None:
    """'fc1.lin.weight' reads 'fc1.weight', batch norm and PReLU keep their part, 'out' stays; no clashes."""
    net = _model(model="cnn", batch_norm=True, activation="prelu", fc_layers=2)
    names = net.param_groups_readable()
    assert set(names) == {n for n, _ in net.named_parameters()}
    assert names["conv1.conv.weight"] == "conv1.weight"
    assert names["conv2.bn.weight"] == "conv2.bn.weight"
    assert names["fc1.lin.weight"] == "fc1.weight"
    assert names["fc1.act.weight"] == "fc1.act.weight"
    assert names["out.weight"] == "out.weight"
    assert len(set(names.values())) == len(names)


@pytest.mark.parametrize("stages, pool, sizes", [(3, "max", [4, 2, 1]), (4, "max", [4, 2, 1]),
                                                  (4, "avg", [4, 2, 1]), (4, "fractional", [5, 3, 2, 1])])
def test_pooling_stops_at_one_pixel(stages: int, pool: str, sizes: list[int]) -> None:
    """8x8 input: each stage pools until the map is 1x1, then stages stop pooling instead of failing."""
    net = _model(model="cnn", cnn_stages=stages, pool=pool, base_channels=2)
    seen = {}
    pools = [n for n, _ in net.named_children() if n.startswith("pool")]
    assert len(pools) == len(sizes)
    for n in pools:
        getattr(net, n).register_forward_hook(lambda m, i, o, n=n: seen.__setitem__(n, o.shape[-1]))
    assert net(torch.randn(3, *DIGITS)).shape == (3, 10)
    assert [seen[n] for n in pools] == sizes


def test_fractional_pool_is_random_in_training_and_fixed_in_eval() -> None:
    """Training draws new pooling regions each call; eval uses the same regions every time."""
    pool = FractionalPool(2**-0.5)
    x = torch.randn(2, 3, 16, 16)
    torch.manual_seed(0)
    outs = [pool(x) for _ in range(5)]
    assert any(not torch.equal(outs[0], o) for o in outs[1:])
    pool.eval()
    assert torch.equal(pool(x), pool(x)) and pool(x).shape == (2, 3, 11, 11)


def test_dropconnect_linear_masks_weights_and_not_in_eval() -> None:
    """Feeding the identity reads out the used weight: each entry is 0 or w/(1-p), the mask changes
    every forward, about p of the weights are dropped, and eval uses the plain weight."""
    torch.manual_seed(0)
    p = 0.3
    lin = DropConnectLinear(50, 40, p)
    nn.init.zeros_(lin.bias)
    eye = torch.eye(50)
    w = lin.weight.detach()
    used = [lin(eye).detach().T for _ in range(2)]  # linear(I) = W_used^T
    for u in used:
        kept = u != 0
        torch.testing.assert_close(u[kept], w[kept] / (1 - p))
        # 2000 weights: the dropped share has std sqrt(p(1-p)/2000) ~ 0.01, so 0.05 is 5 standard errors.
        assert abs(1 - kept.float().mean().item() - p) < 0.05
    assert not torch.equal(used[0], used[1])
    lin.eval()
    torch.testing.assert_close(lin(eye).detach().T, w)


def test_dropconnect_conv_masks_in_training_only() -> None:
    """The conv wrapper differs between two training forwards and equals the plain conv in eval."""
    torch.manual_seed(0)
    conv = DropConnectConv2d(3, 4, 0.5, kernel_size=3, padding=1)
    x = torch.randn(2, 3, 6, 6)
    assert not torch.equal(conv(x), conv(x))
    conv.eval()
    torch.testing.assert_close(conv(x), F.conv2d(x, conv.weight, conv.bias, padding=1))


@pytest.mark.parametrize("model", ["mlp", "cnn"])
def test_dropconnect_in_models_hidden_layers_only(model: str) -> None:
    """Hidden layers get DropConnect, the output layer does not; in eval the net equals the same weights
    without DropConnect, in training two forwards differ."""
    net = _model(model=model, dropconnect=0.5, fc_layers=2)
    plain = _model(model=model, fc_layers=2)
    plain.load_state_dict(net.state_dict())  # same parameter names: the wrapper is a drop-in subclass
    for name in net.taps:
        assert isinstance(getattr(net, name).op, (DropConnectLinear, DropConnectConv2d))
    assert type(net.out) is nn.Linear
    x = torch.randn(4, *DIGITS)
    assert not torch.equal(net(x), net(x))
    net.eval()
    plain.eval()
    torch.testing.assert_close(net(x), plain(x))


@pytest.mark.parametrize("model, bn, init, act", [
    ("mlp", True, "kaiming_normal", "relu"), ("mlp", False, "default", "relu"),
    ("cnn", True, "xavier_uniform", "relu"), ("cnn", False, "default", "relu"),
    ("mlp", True, "default", "maxout"), ("mlp", False, "kaiming_uniform", "maxout"),
])
def test_zero_init_residual_makes_blocks_identity(model: str, bn: bool, init: str, act: str) -> None:
    """With zero_init_residual every block's output equals its input at init (ReLU: act(x) = x for x >= 0;
    maxout: the skip reaches all k pieces, so max(x, .., x) = x); without it, it does not."""
    kw = dict(model=model, batch_norm=bn, init=init, residual=True, depth=5, convs_per_stage=4, activation=act)
    for zero in (True, False):
        net = _model(zero_init_residual=zero, **kw)
        blocks = net.residual_blocks()
        assert len(blocks) == (2 if model == "mlp" else 4)  # mlp: (2,3),(4,5); cnn: 2 stages x 2 blocks
        ins, outs = {}, {}
        for names in blocks:
            first, last = getattr(net, names[0]), getattr(net, names[-1])
            first.register_forward_pre_hook(lambda m, a, k=names, d=ins: d.__setitem__(k, a[0].detach()))
            last.register_forward_hook(lambda m, a, o, k=names, d=outs: d.__setitem__(k, o.detach()))
        net(torch.randn(8, *DIGITS))
        same = [torch.allclose(outs[k], ins[k]) for k in blocks]
        assert all(same) if zero else not any(same)


def test_stochastic_depth_drops_blocks_in_training_only() -> None:
    """With stochastic depth the training output is random; eval is deterministic."""
    net = _model(residual=True, depth=5, stochastic_depth=0.5)
    assert sum(1 for m in net.modules() if type(m).__name__ == "StochasticDepth") == len(net.residual_blocks())
    x = torch.randn(16, *DIGITS)
    assert not torch.equal(net(x), net(x))
    net.eval()
    assert torch.equal(net(x), net(x))


def test_build_applies_init_and_is_seeded() -> None:
    """The built model is initialised by cfg.init, and the same seed gives the same weights."""
    net = _model(init="zeros")
    assert all(torch.count_nonzero(p) == 0 for n, p in net.named_parameters() if ".lin." in n)
    a, b, c = _model(seed=3), _model(seed=3), _model(seed=4)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    assert not torch.equal(a.fc1.lin.weight, c.fc1.lin.weight)


def test_cnn_needs_images() -> None:
    """A CNN on 2D points is refused with a ConfigError naming the model field."""
    with pytest.raises(ConfigError, match="model"):
        _model(model="cnn", shape=(2,), n_classes=3)


def test_deepcopy_keeps_taps_on_the_copy() -> None:
    """Copies (best-weights snapshots, ensembles) tap their own modules, not the original's."""
    net = _model(residual=True, depth=3)
    twin = copy.deepcopy(net)
    assert all(twin.taps[n] is getattr(twin, n).act for n in twin.taps)
    assert not any(twin.taps[n] is net.taps[n] for n in net.taps)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_runs_on_cuda() -> None:
    """No device-specific code: moving the net and the batch is enough (DropConnect and pools included)."""
    net = _model(model="cnn", pool="fractional", dropconnect=0.2, batch_norm=True).cuda()
    assert net(torch.randn(3, *DIGITS, device="cuda")).shape == (3, 10)
    net.eval()
    assert net(torch.randn(3, *DIGITS, device="cuda")).device.type == "cuda"
