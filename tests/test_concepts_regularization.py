"""lab.concepts.regularization: gallery, dropout expectations, L1 vs L2 sparsity and batch norm's two modes."""

import math

import numpy as np
import pytest
import torch

from lab.concepts import regularization as reg
from lab.config import RunConfig
from lab.engine.data import load_data


@pytest.mark.parametrize("p", [0.2, 0.5, 0.8])
def test_dropout_mean_equals_eval_output(p: float) -> None:
    """Inverted dropout keeps each unit's expectation: the mean of 4,000 samples is within 5 standard errors of h.

    A unit's train output is h/(1-p) with probability 1-p, else 0: its std is h sqrt(p/(1-p)).
    """
    d = reg.dropout_demo(p, n_units=16, n_samples=4000, seed=1)
    h = np.array(d.h)
    se = h * math.sqrt(p / (1 - p)) / math.sqrt(4000)
    assert np.all(np.abs(np.array(d.train_mean) - h) < 5 * se)
    np.testing.assert_allclose(d.eval_out, h, rtol=0, atol=0)  # eval mode passes h on untouched
    # without the 1/(1-p) factor the expectation would shrink to (1-p) h
    assert np.all(np.abs(np.array(d.plain_mean) - (1 - p) * h) < 5 * se * (1 - p))
    assert set(np.round(np.unique(d.masks), 9)) <= {0.0, round(1 / (1 - p), 9)}
    unit_se = np.std(d.unit_samples) / math.sqrt(4000)
    assert abs(np.mean(d.unit_samples) - d.unit_eval) < 5 * unit_se


def test_l1_leaves_more_weights_at_zero_than_l2() -> None:
    """Same network and seed: an L1 penalty zeroes many more first-layer weights than L2 or no penalty."""
    w = reg.penalty_weights(1e-3, 1e-2, steps=200)
    frac = {k: reg.near_zero_fraction(v, 1e-3) for k, v in w.items()}
    assert len(w["L1"]) == len(w["L2"]) == 64 * 64
    assert frac["L1"] > 3 * frac["L2"] and frac["L1"] > 3 * frac["none"]


def test_near_zero_fraction() -> None:
    assert reg.near_zero_fraction([0.0, 1e-4, -5e-4, 0.1], 1e-3) == 0.75


def _bn_reference(steps: int, batch: int, momentum: float, seed: int):
    """Batch norm recomputed with numpy: running EMA (unbiased batch var) and both modes' outputs on the last batch."""
    xs = reg.feature_batches(
        steps,
        batch,
        torch.tensor(reg.BN_MEANS, dtype=torch.float64),
        torch.tensor(reg.BN_STDS, dtype=torch.float64),
        seed,
    ).numpy()
    rm, rv = np.zeros(4), np.ones(4)
    for xb in xs:
        rm = (1 - momentum) * rm + momentum * xb.mean(0)
        rv = (1 - momentum) * rv + momentum * xb.var(0, ddof=1)
    last = xs[-1]
    train = (last - last.mean(0)) / np.sqrt(last.var(0) + 1e-5)
    evaluated = (last - rm) / np.sqrt(rv + 1e-5)
    return rm, rv, train, evaluated


def test_batchnorm_train_vs_eval() -> None:
    """Train mode: per-feature mean 0 and std 1 on the batch. Eval mode: the running statistics, as computed by hand."""
    d = reg.batchnorm_demo(steps=30, batch=16, momentum=0.2, seed=4)
    rm, rv, train, evaluated = _bn_reference(30, 16, 0.2, 4)
    np.testing.assert_allclose(d.train_out_mean, 0, atol=1e-9)
    np.testing.assert_allclose(d.train_out_std, 1, atol=1e-4)  # eps in the denominator: std = sqrt(v / (v + eps))
    np.testing.assert_allclose(d.running_mean[-1], rm, rtol=1e-10)
    np.testing.assert_allclose(np.square(d.running_std[-1]), rv, rtol=1e-10)
    np.testing.assert_allclose(d.train_out_std, train.std(0), rtol=1e-10)
    np.testing.assert_allclose(d.eval_out_mean, evaluated.mean(0), atol=1e-10)
    np.testing.assert_allclose(d.eval_out_std, evaluated.std(0), rtol=1e-10)
    assert d.example_eval == pytest.approx(evaluated[0, 0])
    assert len(set(round(v, 9) for v in d.example_train)) > 1  # in train mode the batch companions matter


def test_running_statistics_converge_to_the_truth() -> None:
    """After many batches the running mean and std settle near the features' true values."""
    d = reg.batchnorm_demo(steps=200, batch=64, momentum=0.1)
    # momentum 0.1 averages about the last 10 batches of 64: the mean's error is about std / sqrt(640) ~ 0.04 std
    err = np.abs(np.array(d.running_mean[-1]) - reg.BN_MEANS) / np.array(reg.BN_STDS)
    assert np.all(err < 0.2)
    np.testing.assert_allclose(d.running_std[-1], reg.BN_STDS, rtol=0.15)


def test_gallery_rows_and_labels() -> None:
    """Rows only for knobs that are on; originals are the first training images; mixed labels add up to 1."""
    knobs = {"flip": 1, "rotate": 0.0, "noise": 0.2, "mixup": 1.0, "cutmix": 0.5}
    g = reg.gallery("digits", knobs, n=5, seed=2)
    assert [r.name for r in g.rows] == ["flip", "noise", "mixup", "cutmix"]
    raw = load_data(RunConfig(dataset="digits", preprocess="none", seed=2)).raw_train[:5]  # the seed picks the split
    orig = torch.tensor(g.originals)
    assert torch.equal(orig, raw)
    flipped = torch.tensor(g.rows[0].images)
    for a, b in zip(flipped, orig, strict=True):
        assert torch.equal(a, b) or torch.equal(a, b.flip(-1))
    assert not torch.equal(torch.tensor(g.rows[1].images), orig)
    for caption in g.rows[2].captions + g.rows[3].captions:
        shares = [float(part.split("%")[0]) for part in caption.split(" + ")]
        assert sum(shares) == pytest.approx(100, abs=1.5)
    assert g.rows[1].captions == g.labels  # noise keeps the labels


def test_gallery_is_seeded() -> None:
    knobs = {"rotate": 40.0, "cutout": 0.4}
    a, b = reg.gallery("shapes", knobs, n=3, seed=7), reg.gallery("shapes", knobs, n=3, seed=7)
    assert a.rows == b.rows and a.rows != reg.gallery("shapes", knobs, n=3, seed=8).rows


def test_mixed_label_text() -> None:
    assert reg.mixed_label(torch.tensor([0.0, 0.25, 0.75]), ["a", "b", "c"]) == "75% c + 25% b"
