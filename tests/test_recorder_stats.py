"""Recorder's fused statistics: each figure equals the same figure computed separately with plain torch ops."""

import pytest
import torch
import torch.nn.functional as F

from lab.config import RunConfig
from lab.engine.callbacks import Callback
from lab.engine.recording.tensor_stats import (
    ACT_HEAD,
    SAT_SIGMOID,
    SAT_TANH,
    ParamTable,
    _hist,
    _std,
    act_range,
    act_stats,
)
from lab.engine.trainer import Trainer

BINS = 40
ACTS = {"relu": torch.relu, "leaky_relu": F.leaky_relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid, "gelu": F.gelu}


def _reference_fraction(kind: str, a: torch.Tensor) -> float:
    """Dead or saturated fraction written the obvious way (the recorder's original formulas)."""
    if kind in ("relu", "leaky_relu"):
        other = [d for d in range(a.dim()) if d != 1]
        return float((a.amax(dim=other) <= 0).float().mean())
    if kind == "tanh":
        return float((a.abs() > SAT_TANH).float().mean())
    if kind == "sigmoid":
        return float(((a < SAT_SIGMOID) | (a > 1 - SAT_SIGMOID)).float().mean())
    return 0.0


@pytest.mark.parametrize("kind", list(ACTS))
@pytest.mark.parametrize("shape", [(64, 16, 8, 8), (64, 32, 4, 4), (32, 48), (7,)])
def test_act_stats_equal_separate_torch_statistics(kind, shape):
    g = torch.Generator().manual_seed(1)
    x = torch.randn(shape, generator=g) * 1.5 + 0.3
    if len(shape) > 1:
        x[:, :3] = -1.0 - x[:, :3].abs()  # three units that never fire: dead for the ReLU family
    a = ACTS[kind](x)
    lo, hi = act_range(kind, a)
    vals = act_stats(a, kind, lo, hi, BINS)
    std, mean = torch.std_mean(a)
    assert vals.shape == (ACT_HEAD + BINS,)
    assert float(vals[0]) == pytest.approx(float(mean), rel=1e-5, abs=1e-7)
    assert float(vals[1]) == pytest.approx(float(std), rel=1e-5)
    assert float(vals[2]) == pytest.approx(_reference_fraction(kind, a), abs=1e-7)
    assert torch.equal(vals[ACT_HEAD:], _hist(a, lo, hi, BINS))
    assert float(vals[ACT_HEAD:].sum()) == a.numel()
    assert float(vals[3]) == int((a < lo).sum()) and float(vals[4]) == int((a > hi).sum())


def test_act_stats_survive_non_finite_values():
    a = torch.tensor([[0.5, float("nan")], [float("inf"), -float("inf")]])
    vals = act_stats(a, "tanh", -1.0, 1.0, BINS)
    assert float(vals[ACT_HEAD:].sum()) == a.numel()  # NaN counted in the first bin, infinities in the end bins
    assert vals[ACT_HEAD + BINS - 1] >= 1 and vals[ACT_HEAD] >= 2
    assert float(vals[3]) == 1 and float(vals[4]) == 1  # -inf below the range, +inf above it


def test_act_stats_count_values_outside_the_range_apart():
    a = torch.tensor([-3.0, -0.5, 0.0, 0.5, 2.0, 5.0, 9.0])
    vals = act_stats(a, "relu", -1.0, 1.0, 4)
    assert vals[3:5].tolist() == [1.0, 3.0]  # -3 below; 2, 5 and 9 above
    assert vals[ACT_HEAD:].tolist() == [1.0, 1.0, 1.0, 4.0]  # the end bins still hold them, so counts add up


@pytest.mark.parametrize("n", [1, 2, 1000, 65536])
def test_two_pass_std_equals_torch_std(n):
    x = torch.randn(n, generator=torch.Generator().manual_seed(n)) * 3 + 1e3  # mean far from zero
    expected = float(torch.std(x.double())) if n > 1 else 0.0
    assert float(_std(x, x.mean())) == pytest.approx(expected, rel=1e-5, abs=1e-6)


def test_param_table_equals_per_parameter_torch_statistics():
    gen = torch.Generator().manual_seed(2)
    shapes = [(16, 1, 3, 3), (16,), (32, 16, 3, 3), (32,), (10, 128), (10,), (1,)]
    ws = [torch.randn(s, generator=gen) * 0.1 for s in shapes]
    ws[1] = 1 + 1e-3 * torch.randn(16, generator=gen)  # a norm scale: mean 1000x its spread
    w0s = [w - 1e-3 * torch.randn(w.shape, generator=gen) for w in ws]
    gs = [torch.randn(s, generator=gen) * 0.01 for s in shapes]
    # Edges narrower than some values, so the end bins must collect what falls outside.
    w_edges = [[-0.2, 0.15] for _ in shapes]
    w_edges[1] = [0.99, 1.01]
    g_edges = [[-0.02, 0.03] for _ in shapes]
    flat = lambda ts: torch.cat([t.reshape(-1) for t in ts])  # noqa: E731
    table = ParamTable([w.numel() for w in ws], w_edges, g_edges, BINS, torch.device("cpu"))
    rows = table.rows(table.reduce(flat(ws), flat(gs), flat(w0s)).tolist())
    assert len(rows) == len(shapes)
    for row, w, w0, g, we, ge in zip(rows, ws, w0s, gs, w_edges, g_edges, strict=True):
        # Float64 references: the truth, which float32 one-pass moments miss by ~10% on the norm scale.
        if w.numel() > 1:
            assert row["w_std"] == pytest.approx(float(w.double().std()), rel=1e-5)
            assert row["g_std"] == pytest.approx(float(g.double().std()), rel=1e-5)
        else:
            assert row["w_std"] == 0.0 and row["g_std"] == 0.0
        assert row["w_mean"] == pytest.approx(float(w.double().mean()), rel=1e-6, abs=1e-9)
        assert row["g_norm"] == pytest.approx(float(g.norm()), rel=1e-6)
        assert row["ratio"] == pytest.approx(float((w - w0).norm() / w0.norm()), rel=1e-5)
        assert row["w_hist"] == _hist(w, *we, BINS).tolist()
        assert row["g_hist"] == _hist(g, *ge, BINS).tolist()
        assert sum(row["w_hist"]) == sum(row["g_hist"]) == w.numel()


class ParamSpy(Callback):
    """Keeps gradients as backward left them and the weights after each step."""

    def __init__(self):
        self.grads, self.after = {}, {}

    def on_after_backward(self, trainer):
        for n, p in trainer.model.named_parameters():
            self.grads[(n, trainer.step + 1)] = p.grad.detach().clone()

    def on_batch_end(self, trainer):
        for n, p in trainer.model.named_parameters():
            self.after[(n, trainer.step)] = p.detach().clone()


def test_parameter_statistics_match_direct_computation():
    """Gradients are read before clipping changes them in place; weights after the optimizer step."""
    cfg = RunConfig(dataset="digits", subset=256, batch_size=32, eval_every=1000, max_steps=7, record_every=3)
    spy = ParamSpy()
    tr = Trainer(cfg.replace(clip_norm=0.05), callbacks=[spy])
    tr.fit()
    meta = tr.history.meta
    readable = tr.model.param_groups_readable()
    assert [s["step"] for s in tr.history.snapshots] == [1, 4, 7]
    for snap in tr.history.snapshots:
        for full, short in readable.items():
            row, w, g = snap["params"][short], spy.after[(full, snap["step"])], spy.grads[(full, snap["step"])]
            assert row["w_mean"] == pytest.approx(float(w.mean()), rel=1e-5, abs=1e-8)
            assert row["w_std"] == pytest.approx(float(w.std()), rel=1e-5)
            assert row["g_norm"] == pytest.approx(float(g.norm()), rel=1e-5)
            assert row["g_std"] == pytest.approx(float(g.std()), rel=1e-5)
            assert row["w_hist"] == _hist(w, *meta["w_edges"][short], BINS).tolist()
            assert row["g_hist"] == _hist(g, *meta["g_edges"][short], BINS).tolist()


def test_cnn_layer_statistics_match_direct_computation():
    """The bench's model: 4-D activations, dead channels over batch and positions, gradients at outputs."""
    outputs, out_grads = {}, {}

    class Taps(Callback):
        def on_fit_start(self, trainer):
            for name, mod in trainer.model.taps.items():

                def hook(m, i, out, name=name):
                    if out.requires_grad:
                        outputs[(name, trainer.step + 1)] = out.detach().clone()
                        out.register_hook(lambda g: out_grads.__setitem__((name, trainer.step + 1), g.clone()))

                mod.register_forward_hook(hook)

    cfg = RunConfig(model="cnn", dataset="digits", subset=256, batch_size=32, eval_every=1000, max_steps=4)
    tr = Trainer(cfg.replace(record_every=2), callbacks=[Taps()])
    tr.fit()
    edges = tr.history.meta["act_edges"]
    for snap in tr.history.snapshots:
        for name, row in snap["layers"].items():
            a = outputs[(name, snap["step"])]
            assert a.dim() == 4
            assert row["mean"] == pytest.approx(float(a.mean()), rel=1e-5, abs=1e-7)
            assert row["std"] == pytest.approx(float(a.std()), rel=1e-5)
            assert row["dead"] == pytest.approx(_reference_fraction("relu", a))
            assert row["hist"] == _hist(a, *edges[name], BINS).tolist()
            assert row["grad_std"] == pytest.approx(float(out_grads[(name, snap["step"])].std()), rel=1e-5)


def test_flat_pack_reads_each_part_back_by_name():
    """One transfer, named parts: every part comes back equal to its own tolist(), in any shape or dtype."""
    from lab.engine.recording.tensor_stats import FlatPack

    parts = {
        ("act", "fc1"): torch.arange(6.0).reshape(2, 3),
        "grad_std": torch.tensor([0.5, 0.25]),
        "empty": torch.zeros(0),
    }
    parts["params"] = torch.linspace(-1, 1, 5, dtype=torch.float64)
    pack = FlatPack()
    for name, t in parts.items():
        pack.add(name, t)
    got = pack.read()
    assert got == {name: t.reshape(-1).double().tolist() for name, t in parts.items()}
    assert FlatPack().read() == {}
