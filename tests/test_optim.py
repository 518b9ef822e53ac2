"""Optimizers and schedules against hand-written references."""

import itertools
import math

import pytest
import torch

from lab import registry
from lab.config import RunConfig
from lab.engine.optim import BUILDERS, effective_lr, make_optimizer, preview_schedule


def test_builders_cover_the_registry():
    assert set(BUILDERS) == set(registry.OPTIMIZERS)


def _quadratic_path(cfg, steps=20):
    torch.manual_seed(0)
    w = torch.nn.Parameter(torch.tensor([1.5, -2.0]))
    opt = make_optimizer([w], cfg)
    out = []
    for _ in range(steps):
        loss = (torch.tensor([1.0, 10.0]) * w * w).sum()  # an ill-conditioned bowl
        opt.zero_grad()
        loss.backward()
        opt.step()
        out.append(w.detach().clone())
    return torch.stack(out)


def _reference_path(name, lr, steps=20, mu=0.9, b1=0.9, b2=0.999, eps=1e-8, alpha=0.99):
    """The same updates written out by hand from the textbook rules."""
    w = torch.tensor([1.5, -2.0], dtype=torch.float64)
    a = torch.tensor([1.0, 10.0], dtype=torch.float64)
    v = torch.zeros(2, dtype=torch.float64)
    m = torch.zeros(2, dtype=torch.float64)
    s = torch.zeros(2, dtype=torch.float64)
    out = []
    for t in range(1, steps + 1):
        g = 2 * a * w
        if name == "sgd":
            w = w - lr * g
        elif name == "momentum":
            v = mu * v + g if t > 1 else g
            w = w - lr * v
        elif name == "nesterov":
            v = mu * v + g if t > 1 else g
            w = w - lr * (g + mu * v)
        elif name == "adagrad":
            s = s + g * g
            w = w - lr * g / (s.sqrt() + 1e-10)
        elif name == "rmsprop":
            s = alpha * s + (1 - alpha) * g * g
            w = w - lr * g / (s.sqrt() + eps)
        elif name in ("adam", "adamw"):
            m = b1 * m + (1 - b1) * g
            s = b2 * s + (1 - b2) * g * g
            mh, sh = m / (1 - b1**t), s / (1 - b2**t)
            w = w - lr * mh / (sh.sqrt() + eps)
        out.append(w.clone())
    return torch.stack(out)


@pytest.mark.parametrize("name", list(registry.OPTIMIZERS))
def test_optimizer_paths_match_the_update_rules(name):
    lr = 0.01
    cfg = RunConfig(optimizer=name, lr=lr, eps=1e-10 if name == "adagrad" else 1e-8)
    ours = _quadratic_path(cfg).double()
    ref = _reference_path(name, lr)
    assert torch.allclose(ours, ref, rtol=1e-4, atol=1e-5), (ours[-1], ref[-1])


def test_linear_scaling_rule():
    cfg = RunConfig(lr=0.1, batch_size=256, lr_reference_batch=64, scale_lr_with_batch=True)
    assert effective_lr(cfg) == pytest.approx(0.4)
    assert effective_lr(RunConfig(lr=0.1, batch_size=256)) == 0.1


N = 100


def _lrs(**kw):
    return preview_schedule(RunConfig(optimizer="sgd", lr=0.1, **kw), N)


def test_constant():
    assert _lrs() == pytest.approx([0.1] * N)


def test_step_decay():
    lrs = _lrs(schedule="step", step_size=30, gamma=0.5)
    assert lrs == pytest.approx([0.1 * 0.5 ** (t // 30) for t in range(N)])


def test_cosine_closed_form():
    lrs = _lrs(schedule="cosine", min_lr_ratio=0.1)
    lo = 0.01
    ref = [lo + (0.1 - lo) * (1 + math.cos(math.pi * t / N)) / 2 for t in range(N)]
    assert lrs == pytest.approx(ref, rel=1e-5)


def test_linear_closed_form():
    lrs = _lrs(schedule="linear", min_lr_ratio=0.0)
    assert lrs == pytest.approx([0.1 * (1 - t / N) for t in range(N)], abs=1e-7)


def test_inverse_sqrt():
    assert _lrs(schedule="inv_sqrt") == pytest.approx([0.1 / math.sqrt(t + 1) for t in range(N)])


def test_cyclic_triangle():
    lrs = _lrs(schedule="cyclic", step_size=10, min_lr_ratio=0.1)
    lo, hi = 0.01, 0.1
    ref = []
    for t in range(N):
        x = abs(t / 10 - 2 * math.floor(1 + t / 20) + 1)
        ref.append(lo + (hi - lo) * max(0.0, 1 - x))
    assert lrs == pytest.approx(ref, rel=1e-5)


def test_one_cycle_rises_then_falls():
    lrs = _lrs(schedule="one_cycle")
    peak = max(range(N), key=lambda t: lrs[t])
    assert 0 < peak < N - 1 and lrs[peak] == pytest.approx(0.1, rel=0.02)
    assert lrs[0] < 0.01 and lrs[-1] < 0.001


def test_warmup_then_cosine():
    lrs = _lrs(schedule="cosine", warmup_steps=10, min_lr_ratio=0.0)
    assert lrs[:10] == pytest.approx([0.1 * (1 + t * 9 / 10) / 10 for t in range(10)])
    rest = N - 10
    assert lrs[10:] == pytest.approx([0.1 * (1 + math.cos(math.pi * t / rest)) / 2 for t in range(rest)], abs=1e-7)


def test_plateau_cuts_when_validation_stalls():
    lrs = preview_schedule(
        RunConfig(optimizer="sgd", lr=0.1, schedule="plateau", gamma=0.5, plateau_patience=1),
        N,
        val_losses=lambda step: 1.0,
        eval_every=10,
    )
    assert lrs[0] == 0.1 and lrs[-1] < 0.1 and all(b <= a for a, b in itertools.pairwise(lrs))


def test_warmup_then_plateau():
    lrs = preview_schedule(RunConfig(optimizer="sgd", lr=0.1, schedule="plateau", warmup_steps=5), 20)
    assert lrs[0] == pytest.approx(0.02) and lrs[5:] == pytest.approx([0.1] * 15)
