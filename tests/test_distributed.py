"""Data parallelism with a real two-process gloo group: all-reduced gradients and DDP steps equal one process's."""

import pytest
import torch
import torch.nn.functional as F

from lab.config import ConfigError, RunConfig
from lab.engine.data import load_data
from lab.engine.models import build_model
from lab.workflows import distributed as dd

CFG = RunConfig(dataset="digits", optimizer="momentum", lr=0.05, momentum=0.9, seed=3)
BATCH, STEPS = 64, 3


@pytest.fixture(scope="module")
def group():
    """One real group run (two spawned processes), shared by the checks below."""
    data = load_data(CFG)
    out = dd.run_group(CFG.to_dict(), data.x_train, data.y_train, data.n_classes, BATCH, STEPS, 2)
    return data, out


def _reference_model(data):
    torch.manual_seed(CFG.seed)
    return build_model(CFG, data.input_shape, data.n_classes)


def _batches(n):
    gen = torch.Generator().manual_seed(CFG.seed)
    return [torch.randperm(n, generator=gen)[:BATCH] for _ in range(STEPS)]


def test_allreduced_gradient_equals_the_full_batch_gradient(group):
    data, out = group
    model = _reference_model(data)
    idx = _batches(len(data.x_train))[0]
    F.cross_entropy(model(data.x_train[idx]), data.y_train[idx]).backward()
    full = torch.cat([p.grad.flatten() for p in model.parameters()])
    assert out["averaged"].shape == full.shape
    assert (out["averaged"] - full).abs().max() <= 1e-6
    # The check can fail: one process's half-batch gradient alone is far from it.
    assert (out["local"] - full).abs().max() > 1e-3


def test_ddp_steps_match_one_process_on_full_batches(group):
    data, out = group
    model = _reference_model(data)
    opt = torch.optim.SGD(model.parameters(), lr=CFG.lr, momentum=CFG.momentum)
    losses = []
    for idx in _batches(len(data.x_train)):
        opt.zero_grad()
        loss = F.cross_entropy(model(data.x_train[idx]), data.y_train[idx])
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    for p_ddp, p_ref in zip(out["ddp_params"], model.parameters(), strict=True):
        torch.testing.assert_close(p_ddp, p_ref.detach(), atol=1e-6, rtol=0)
    assert out["ddp_losses"] == pytest.approx(losses, abs=1e-6)
    assert out["compute_s"] > 0 and out["allreduce_s"] > 0


def test_bad_settings_name_the_field():
    with pytest.raises(ConfigError, match="batch_size"):
        dd.data_parallel_check(CFG.to_dict(), batch_size=33)
    with pytest.raises(ConfigError, match="steps"):
        dd.data_parallel_check(CFG.to_dict(), steps=0)
    with pytest.raises(ConfigError, match="batch_size"):
        dd.batch_indices(10, 64, 1, 0)
    assert dd.demo_config(CFG.replace(dropout=0.5).to_dict()).dropout == 0.0
