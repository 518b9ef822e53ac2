"""Data augmentation for training batches, random per sample, reproducible from torch's global RNG.

Why batched kernels instead of calling `torchvision.transforms.v2` once per image: a v2 transform applied to a
batch draws ONE set of random parameters for the whole batch, and looping v2's Compose over 64 images of
3x16x16 costs about 50 ms per batch (RandomAffine alone ~17 ms), more than the training step itself. So the
random parameters are drawn per sample with the same distributions v2 uses, and each operation is applied to the
whole batch at once by the small kernels below (well under 1 ms each). The tests check every kernel against
torchvision's own per-image functional for the same parameters. Mixup and CutMix are v2's classes unchanged
(one mixing weight per batch is how they are defined).

Order inside `Augment`: crop -> flip -> affine -> colour jitter -> cutout -> mixup/cutmix -> Gaussian noise.
Geometry runs on whatever tensor it is given (the trainer passes preprocessed batches; the padding value 0 is
then the mean colour). Colour jitter is defined on [0, 1] pixels: give `make_augment` the fitted preprocessor
and jitter runs in raw pixel space (invert, jitter, re-apply). Without one, a batch inside [0, 1] gets exact
torchvision jitter; any other batch gets the same blends without the [0, 1] clamp (an approximation).

Image augmentations need (C, H, W) inputs. For flat inputs (2D toys, or images flattened by pca/whiten) only
Gaussian noise applies; the other settings are ignored and listed in `Augment.ignored`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torchvision.transforms import v2

from lab.config import RunConfig
from lab.engine.preprocess import Preprocessor

_GRAY = (0.2989, 0.587, 0.114)  # the luma weights torchvision's rgb_to_grayscale uses


# ---- batched kernels (one parameter set per sample) ----------------------------------------------------------


def crop_batch(x: torch.Tensor, padding: int, top: torch.Tensor, left: torch.Tensor) -> torch.Tensor:
    """Zero-pad each image by `padding`, then cut the original size at per-sample offsets (top, left) in [0, 2p]."""
    n, c, h, w = x.shape
    padded = F.pad(x, (padding, padding, padding, padding))
    pw = w + 2 * padding
    rows = top.to(x.device)[:, None] + torch.arange(h, device=x.device)  # (n, h)
    cols = left.to(x.device)[:, None] + torch.arange(w, device=x.device)  # (n, w)
    idx = (rows[:, :, None] * pw + cols[:, None, :]).reshape(n, 1, h * w).expand(n, c, h * w)
    return padded.reshape(n, c, -1).gather(2, idx).reshape(n, c, h, w)


def flip_batch(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mirror left-right the images where `mask` (n,) is True."""
    return torch.where(mask.to(x.device)[:, None, None, None], x.flip(-1), x)


def affine_batch(
    x: torch.Tensor, angle: torch.Tensor, translate: torch.Tensor, scale: torch.Tensor, shear: torch.Tensor
) -> torch.Tensor:
    """Rotate (degrees), translate (pixels, (n, 2)), scale and shear (degrees, (n, 2)) each image about its centre.

    Same conventions as torchvision's ``v2.functional.affine`` with bilinear interpolation and zero fill.
    """
    n, _, h, w = x.shape
    dt = torch.float64  # matrices in double, like torchvision's Python floats; the grid is cast to x's dtype
    rot, sx, sy = torch.deg2rad(angle.to(dt)), torch.deg2rad(shear[:, 0].to(dt)), torch.deg2rad(shear[:, 1].to(dt))
    # rotation * shear as torchvision composes it; its inverse maps output pixels back to input pixels
    a = torch.cos(rot - sy) / torch.cos(sy)
    b = -torch.cos(rot - sy) * torch.tan(sx) / torch.cos(sy) - torch.sin(rot)
    c = torch.sin(rot - sy) / torch.cos(sy)
    d = -torch.sin(rot - sy) * torch.tan(sx) / torch.cos(sy) + torch.cos(rot)
    inv = torch.stack([d, -b, -c, a], 1).reshape(n, 2, 2) / scale.to(dt)[:, None, None]
    shift = -(inv @ translate.to(dt)[:, :, None])  # undo the translation before the inverse rotation
    theta = torch.cat([inv, shift], 2)  # (n, 2, 3) acting on centred pixel coordinates
    xs = torch.linspace((1 - w) / 2, (w - 1) / 2, w, dtype=dt)
    ys = torch.linspace((1 - h) / 2, (h - 1) / 2, h, dtype=dt)
    base = torch.stack([xs.expand(h, w), ys[:, None].expand(h, w), torch.ones(h, w, dtype=dt)], -1).reshape(-1, 3)
    grid = base @ theta.transpose(1, 2) / torch.tensor([w / 2, h / 2], dtype=dt)  # to grid_sample's [-1, 1]
    grid = grid.reshape(n, h, w, 2).to(device=x.device, dtype=x.dtype)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def jitter_batch(
    x: torch.Tensor,
    brightness: torch.Tensor | None = None,
    contrast: torch.Tensor | None = None,
    saturation: torch.Tensor | None = None,
    order: tuple[int, ...] = (0, 1, 2),
    clamp: bool = True,
) -> torch.Tensor:
    """Per-sample brightness/contrast/saturation factors (n,) on [0, 1] images, in `order`; None skips one.

    Same formulas as torchvision's adjust_brightness/contrast/saturation (blend, then clamp to [0, 1] unless
    `clamp` is False); saturation needs 3 channels and is skipped for 1.
    """
    rgb = x.shape[1] == 3
    for op in order:
        if op == 0 and brightness is not None:
            x = _blend(x, torch.zeros_like(x), brightness, clamp)
        elif op == 1 and contrast is not None:
            mean = (_gray(x) if rgb else x).mean(dim=(1, 2, 3), keepdim=True)
            x = _blend(x, mean, contrast, clamp)
        elif op == 2 and saturation is not None and rgb:
            x = _blend(x, _gray(x), saturation, clamp)
    return x


def erase_batch(x: torch.Tensor, top: torch.Tensor, left: torch.Tensor, side: int, value: float = 0.0) -> torch.Tensor:
    """Set a side x side square at per-sample (top, left) to `value` in every channel (cutout)."""
    _, _, h, w = x.shape
    r = torch.arange(h, device=x.device)[None, :]
    c = torch.arange(w, device=x.device)[None, :]
    top, left = top.to(x.device)[:, None], left.to(x.device)[:, None]
    inside = ((r >= top) & (r < top + side))[:, :, None] & ((c >= left) & (c < left + side))[:, None, :]
    return x.masked_fill(inside[:, None], value)


def _gray(x: torch.Tensor) -> torch.Tensor:
    r, g, b = x.unbind(1)
    return (_GRAY[0] * r + _GRAY[1] * g + _GRAY[2] * b).unsqueeze(1)


def _blend(x: torch.Tensor, other: torch.Tensor, factor: torch.Tensor, clamp: bool = True) -> torch.Tensor:
    f = factor.to(device=x.device, dtype=x.dtype)[:, None, None, None]
    out = f * x + (1 - f) * other
    return out.clamp(0.0, 1.0) if clamp else out


def _uniform(n: int, lo: float, hi: float) -> torch.Tensor:
    """n draws from U(lo, hi) on the CPU generator, so a seed gives the same batch on any device."""
    return torch.rand(n) * (hi - lo) + lo


# ---- the augmenter -------------------------------------------------------------------------------------------


class Augment:
    """Callable ``(xb, yb) -> (xb, targets)``: targets are int64 ids, or (N, n_classes) probabilities with mixing."""

    def __init__(
        self,
        input_shape: tuple[int, ...],
        n_classes: int,
        *,
        crop: int = 0,
        flip: bool = False,
        rotate: float = 0.0,
        translate: float = 0.0,
        scale: float = 0.0,
        shear: float = 0.0,
        jitter: float = 0.0,
        cutout: float = 0.0,
        noise: float = 0.0,
        mixup: float = 0.0,
        cutmix: float = 0.0,
        preprocessor: Preprocessor | None = None,
    ):
        self.input_shape = tuple(input_shape)
        self.n_classes = n_classes
        image = len(self.input_shape) == 3
        wanted = {
            "crop": crop > 0, "flip": flip, "affine": max(rotate, translate, scale, shear) > 0,
            "jitter": jitter > 0, "cutout": cutout > 0, "mixup": mixup > 0, "cutmix": cutmix > 0,
        }
        usable = dict.fromkeys(wanted, False)
        if image:
            usable.update(wanted)
            usable["jitter"] = wanted["jitter"] and self.input_shape[0] in (1, 3)  # grey or RGB pixels only
            usable["cutmix"] = wanted["cutmix"] and not wanted["mixup"]  # the config allows one; mixup wins
        self.ignored = tuple(k for k, on in wanted.items() if on and not usable[k])
        self.active = tuple(k for k, on in usable.items() if on) + (("noise",) if noise > 0 else ())
        self.crop, self.rotate, self.translate, self.scale, self.shear = crop, rotate, translate, scale, shear
        self.jitter, self.noise, self.preprocessor = jitter, noise, preprocessor
        h, w = self.input_shape[-2:] if image else (0, 0)
        self.cutout_side = min(h, w, max(1, round(cutout * math.sqrt(h * w)))) if usable["cutout"] else 0
        self._mix = None
        if usable["mixup"]:
            self._mix = v2.MixUp(alpha=mixup, num_classes=n_classes)
        elif usable["cutmix"]:
            self._mix = v2.CutMix(alpha=cutmix, num_classes=n_classes)

    def __repr__(self) -> str:
        return f"Augment({', '.join(self.active)})"

    @torch.no_grad()
    def __call__(self, xb: torch.Tensor, yb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Augment one batch; never modifies `xb` in place."""
        n = len(xb)
        x = xb
        on = set(self.active)
        if "crop" in on:
            p = self.crop
            x = crop_batch(x, p, torch.randint(0, 2 * p + 1, (n,)), torch.randint(0, 2 * p + 1, (n,)))
        if "flip" in on:
            x = flip_batch(x, torch.rand(n) < 0.5)
        if "affine" in on:
            h, w = x.shape[-2:]
            t = torch.stack([_uniform(n, -self.translate * w, self.translate * w),
                             _uniform(n, -self.translate * h, self.translate * h)], 1)
            shear = torch.stack([_uniform(n, -self.shear, self.shear), torch.zeros(n)], 1)  # x-shear, like v2
            angle = _uniform(n, -self.rotate, self.rotate)
            x = affine_batch(x, angle, t, _uniform(n, 1 - self.scale, 1 + self.scale), shear)
        if "jitter" in on:
            x = self._jitter(x)
        if "cutout" in on:
            h, w = x.shape[-2:]
            s = self.cutout_side
            x = erase_batch(x, torch.randint(0, h - s + 1, (n,)), torch.randint(0, w - s + 1, (n,)), s)
        targets = yb
        if self._mix is not None:
            x, targets = self._mix(x, yb)
        if "noise" in on:
            x = x + self.noise * torch.randn(x.shape).to(device=x.device, dtype=x.dtype)
        if x is xb:  # nothing ran that copies; keep the promise that the input is untouched
            x = x.clone()
        return x, targets

    def _jitter(self, x: torch.Tensor) -> torch.Tensor:
        n, j = len(x), self.jitter
        lo = max(0.0, 1.0 - j)
        b, c, s = (_uniform(n, lo, 1.0 + j) for _ in range(3))
        order = tuple(torch.randperm(3).tolist())  # v2.ColorJitter also shuffles the order of its operations
        pre = self.preprocessor
        if pre is None:
            # Unknown value range: clamping standardized values to [0, 1] would wipe out half the data, so blend
            # without clamping unless the batch already is in pixel range (only an approximation of real jitter).
            in_range = bool(x.min() >= 0) and bool(x.max() <= 1)
            return jitter_batch(x, b, c, s, order, clamp=in_range)
        return pre.apply(jitter_batch(pre.invert(x), b, c, s, order))


def make_augment(
    cfg: RunConfig, input_shape: tuple[int, ...], n_classes: int, preprocessor: Preprocessor | None = None
) -> Augment | None:
    """The Augment described by cfg's aug_*/cutout/mixup/cutmix fields, or None when nothing would change a batch.

    Pass the DataBundle's `preprocessor` so colour jitter works on the real pixel colours; image-only settings
    are ignored for flat inputs (see the module docstring).
    """
    aug = Augment(
        input_shape,
        n_classes,
        crop=cfg.aug_crop,
        flip=cfg.aug_flip,
        rotate=cfg.aug_rotate,
        translate=cfg.aug_translate,
        scale=cfg.aug_scale,
        shear=cfg.aug_shear,
        jitter=cfg.aug_jitter,
        cutout=cfg.cutout,
        noise=cfg.aug_noise,
        mixup=cfg.mixup,
        cutmix=cfg.cutmix,
        preprocessor=preprocessor,
    )
    return aug if aug.active else None
