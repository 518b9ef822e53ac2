"""lab.engine.augment: batched kernels equal torchvision's per-image functionals; Augment is per-sample and seeded."""

from __future__ import annotations

import pytest
import torch
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF

from lab.config import RunConfig
from lab.engine.augment import Augment, affine_batch, crop_batch, erase_batch, flip_batch, jitter_batch, make_augment
from lab.engine.preprocess import fit_preprocessor

N, SHAPE = 16, (3, 16, 16)


@pytest.fixture
def xb() -> torch.Tensor:
    return torch.rand(N, *SHAPE, generator=torch.Generator().manual_seed(0))


@pytest.fixture
def yb() -> torch.Tensor:
    return torch.arange(N) % 8


def augment(**kw) -> Augment:
    aug = make_augment(RunConfig(**kw), SHAPE, 8)
    assert aug is not None
    return aug


# ---- kernels against torchvision, one image at a time --------------------------------------------------------


def test_crop_matches_pad_then_crop(xb):
    top, left = torch.randint(0, 7, (N,)), torch.randint(0, 7, (N,))
    out = crop_batch(xb, 3, top, left)
    for i in range(N):
        ref = TF.crop(TF.pad(xb[i], [3]), int(top[i]), int(left[i]), 16, 16)
        torch.testing.assert_close(out[i], ref, rtol=0, atol=0)


def test_flip_mirrors_only_masked_images(xb):
    mask = torch.arange(N) % 3 == 0
    out = flip_batch(xb, mask)
    for i in range(N):
        assert torch.equal(out[i], TF.horizontal_flip(xb[i]) if mask[i] else xb[i])


def test_affine_matches_torchvision_affine_per_image(xb):
    g = torch.Generator().manual_seed(1)
    angle = torch.rand(N, generator=g) * 60 - 30
    translate = torch.rand(N, 2, generator=g) * 6 - 3
    scale = torch.rand(N, generator=g) * 0.6 + 0.7
    shear = torch.rand(N, 2, generator=g) * 30 - 15
    out = affine_batch(xb, angle, translate, scale, shear)
    for i in range(N):
        ref = TF.affine(xb[i], angle=float(angle[i]), translate=translate[i].tolist(), scale=float(scale[i]),
                        shear=shear[i].tolist(), interpolation=v2.InterpolationMode.BILINEAR)
        torch.testing.assert_close(out[i], ref, rtol=0, atol=1e-5)


@pytest.mark.parametrize("channels", [1, 3])
def test_jitter_matches_torchvision_adjustments_in_order(channels):
    x = torch.rand(N, channels, 8, 8, generator=torch.Generator().manual_seed(2))
    g = torch.Generator().manual_seed(3)
    b, c, s = (torch.rand(N, generator=g) + 0.5 for _ in range(3))
    order = (2, 0, 1)
    out = jitter_batch(x, b, c, s, order)
    for i in range(N):
        ref = x[i]
        for op in order:
            if op == 0:
                ref = TF.adjust_brightness(ref, float(b[i]))
            elif op == 1:
                ref = TF.adjust_contrast(ref, float(c[i]))
            elif channels == 3:
                ref = TF.adjust_saturation(ref, float(s[i]))
        torch.testing.assert_close(out[i], ref, rtol=0, atol=1e-6)


def test_erase_matches_torchvision_erase(xb):
    top, left = torch.randint(0, 11, (N,)), torch.randint(0, 11, (N,))
    out = erase_batch(xb, top, left, 6)
    for i in range(N):
        torch.testing.assert_close(out[i], TF.erase(xb[i], int(top[i]), int(left[i]), 6, 6, torch.tensor(0.0)))


# ---- Augment -------------------------------------------------------------------------------------------------


def test_nothing_on_gives_none():
    assert make_augment(RunConfig(), SHAPE, 8) is None
    assert make_augment(RunConfig(aug_flip=True, cutout=0.5, mixup=1.0), (2,), 2) is None  # image-only on 2D points


def test_flat_inputs_get_noise_only_and_report_ignored_settings():
    aug = make_augment(RunConfig(aug_noise=0.5, aug_flip=True, mixup=0.2), (2,), 2)
    assert aug.active == ("noise",) and set(aug.ignored) == {"flip", "mixup"}
    x, y = torch.zeros(4000, 2), torch.zeros(4000, dtype=torch.int64)
    torch.manual_seed(0)
    out, targets = aug(x, y)
    assert targets is y and abs(out.std().item() - 0.5) < 0.02


ALL_ON = {"aug_crop": 2, "aug_flip": True, "aug_rotate": 20.0, "aug_translate": 0.1, "aug_scale": 0.1,
          "aug_shear": 5.0, "aug_jitter": 0.4, "cutout": 0.3, "aug_noise": 0.05}


@pytest.mark.parametrize("shape", [(3, 16, 16), (1, 8, 8)])
@pytest.mark.parametrize("mix", [{}, {"mixup": 0.4}, {"cutmix": 1.0}])
def test_shapes_kept_and_targets_typed(shape, mix):
    aug = make_augment(RunConfig(**ALL_ON, **mix), shape, 8)
    x, y = torch.rand(N, *shape), torch.arange(N) % 8
    before = x.clone()
    out, targets = aug(x, y)
    assert out.shape == x.shape and out.dtype == torch.float32
    assert torch.equal(x, before)  # the input batch is not modified
    if mix:
        assert targets.shape == (N, 8) and targets.dtype == torch.float32
        torch.testing.assert_close(targets.sum(1), torch.ones(N))
        assert (targets >= 0).all()
    else:
        assert targets.dtype == torch.int64 and torch.equal(targets, y)


def test_mixup_blends_two_examples_with_the_label_weights(xb, yb):
    torch.manual_seed(0)
    out, targets = augment(mixup=1.0)(xb, yb)
    lam = targets[0, yb[0]].item()  # classes of example 0 and its partner differ here, so this is lambda
    partner = torch.roll(xb, 1, 0)  # torchvision mixes each example with the previous one in the batch
    torch.testing.assert_close(out, lam * xb + (1 - lam) * partner)


def test_flip_is_drawn_per_sample(xb, yb):
    torch.manual_seed(0)
    out, _ = augment(aug_flip=True)(xb, yb)
    flipped = [torch.equal(o, x.flip(-1)) for o, x in zip(out, xb, strict=True)]
    kept = [torch.equal(o, x) for o, x in zip(out, xb, strict=True)]
    assert all(f or k for f, k in zip(flipped, kept, strict=True))
    assert any(flipped) and any(kept)


def test_rotation_is_drawn_per_sample():
    x = torch.rand(1, *SHAPE).expand(N, *SHAPE).contiguous()  # the same image N times
    torch.manual_seed(0)
    out, _ = augment(aug_rotate=45.0)(x, torch.zeros(N, dtype=torch.int64))
    distinct = {tuple(o.flatten()[:40].tolist()) for o in out}
    assert len(distinct) == N


@pytest.mark.parametrize(("cutout", "side"), [(0.25, 4), (0.5, 8), (0.4, 6)])
def test_cutout_zeroes_one_square_of_the_requested_side(cutout, side):
    x = torch.ones(N, *SHAPE)
    torch.manual_seed(0)
    out, _ = augment(cutout=cutout)(x, torch.zeros(N, dtype=torch.int64))
    for o in out:
        zero = (o == 0).all(0)  # erased pixels are zero in every channel
        assert (o[:, ~zero] == 1).all()
        rows, cols = zero.nonzero(as_tuple=True)
        assert zero.sum() == side * side
        assert rows.max() - rows.min() + 1 == side and cols.max() - cols.min() + 1 == side
    positions = {tuple((o == 0).all(0).nonzero()[0].tolist()) for o in out}
    assert len(positions) > 1  # one square per sample, not one for the batch


def test_same_seed_same_batch_other_seed_other_batch(xb, yb):
    aug = augment(**ALL_ON, mixup=0.4)
    torch.manual_seed(5)
    a = aug(xb, yb)
    torch.manual_seed(5)
    b = aug(xb, yb)
    torch.manual_seed(6)
    c = aug(xb, yb)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], c[0])


def test_jitter_on_standardized_batches_happens_in_pixel_space(xb, yb):
    pre = fit_preprocessor("standardize", xb)
    on_raw = make_augment(RunConfig(aug_jitter=0.5), SHAPE, 8)
    on_standardized = make_augment(RunConfig(aug_jitter=0.5), SHAPE, 8, preprocessor=pre)
    torch.manual_seed(0)
    raw_out, _ = on_raw(xb, yb)
    torch.manual_seed(0)
    std_out, _ = on_standardized(pre.apply(xb), yb)
    torch.testing.assert_close(std_out, pre.apply(raw_out), rtol=0, atol=1e-5)
    assert not torch.allclose(raw_out, xb)


def test_jitter_without_preprocessor_never_clamps_standardized_values(xb, yb):
    z = fit_preprocessor("standardize", xb).apply(xb)  # about half the values are negative
    torch.manual_seed(0)
    out, _ = make_augment(RunConfig(aug_jitter=0.3), SHAPE, 8)(z, yb)
    assert (out < 0).float().mean() > 0.3 and out.max() > 1
