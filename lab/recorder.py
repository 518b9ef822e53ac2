"""Recorder: per-layer and per-parameter statistics every k steps, at almost no cost.

Forward hooks sit on each tap of the model (the module whose output is a hidden
layer's post-activation). On a recording step they reduce the output to a few
floats and a fixed-bin histogram under `torch.no_grad()` and attach a tensor hook
that reduces the gradient arriving at that output to its std. Parameter gradients
are read from `p.grad` after backward; the update/weight ratio compares the
weights before and after the optimizer step. Nothing keeps a tensor beyond the step.

History stays bounded: train metrics are averaged into buckets whose width doubles
when there are too many, and snapshots are thinned (every other one dropped, the
cadence doubled) when they exceed `max_snapshots`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch

from lab import registry
from lab.callbacks import Callback

if TYPE_CHECKING:  # pragma: no cover
    from lab.trainer import Trainer

SAT_TANH = 0.97  # |tanh| above this: the unit's local gradient is below 1 - 0.97^2 = 0.06
MIN_SNAPSHOTS = 30  # adaptive cadence never spaces records so far apart that a run gets fewer
SAT_SIGMOID = 0.03  # sigmoid below 0.03 or above 0.97: local gradient below 0.03


@dataclass
class History:
    """Everything recorded for one run, as plain JSON-ready Python values."""

    train: list[dict] = field(default_factory=list)  # bucketed rows: step, train_loss, train_acc, lr, images_per_s
    val: list[dict] = field(
        default_factory=list
    )  # one row per evaluation: step, val_loss, val_acc, train_loss, train_acc
    snapshots: list[dict] = field(default_factory=list)  # per-layer/per-parameter stats at recorded steps
    meta: dict = field(default_factory=dict)  # layer names, kinds, histogram edges
    dropped: list[int] = field(default_factory=list)  # snapshot steps thinned away (the store deletes them too)


def _edges(lo: float, hi: float) -> tuple[float, float]:
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return -1.0, 1.0
    if hi - lo < 1e-6:
        mid = (lo + hi) / 2
        return mid - 1e-3, mid + 1e-3
    return lo, hi


def _hist(t: torch.Tensor, lo: float, hi: float, bins: int) -> torch.Tensor:
    """Counts in `bins` equal bins over [lo, hi]; values outside land in the end bins so counts add up.

    Bin index arithmetic plus one `bincount` gives the same counts as `torch.histc` on clamped
    values at a quarter of the cost on the CPU (0.22 ms against 0.96 ms for a 64x16x8x8 batch).
    """
    pos = ((t.float() - lo) * (bins / (hi - lo))).nan_to_num_(0.0).clamp_(0, bins - 1).long()
    return torch.bincount(pos.reshape(-1), minlength=bins).float()


def act_range(kind: str, a: torch.Tensor) -> tuple[float, float]:
    """Fixed histogram range for a layer: the activation's own range when bounded, else room to grow.

    Unbounded activations usually spread out as training goes on, so the range is four
    times the first batch's spread on the high side (and 1.5x on the low side).
    """
    if kind == "sigmoid":
        return 0.0, 1.0
    if kind == "tanh":
        return -1.0, 1.0
    lo, hi = float(a.min()), float(a.max())
    span = max(hi - lo, 1e-3)
    return _edges(lo - 0.5 * span if lo < 0 else lo, hi + 3 * span)


class Recorder(Callback):
    """Captures layer and parameter statistics every `every` steps (0 = adaptive, within an overhead budget)."""

    def __init__(
        self, every: int = 0, bins: int = 40, max_snapshots: int = 300, max_points: int = 1000, budget: float = 0.01
    ):
        self.fixed_every = every
        self.every = every or 1
        self.bins = bins
        self.max_snapshots = max_snapshots
        self.max_points = max_points
        self.budget = budget  # adaptive mode: recording may cost this share of training time (1%: the
        # whole lab loop must stay within 5% of a plain loop, and MIN_SNAPSHOTS keeps short runs detailed)
        self.probe_gap = 10  # adaptive mode: steps between the first records, before costs are known
        self._total_steps = 0
        self.history = History()
        self._handles: list = []
        self._taps: list = []  # (module, hook) pairs, attached only while a step records
        self._active = False
        self._layer: dict[str, dict] = {}
        self._acc_bucket: list[tuple[float, float, int]] = []
        self._stride = 1
        self._prev_flat: torch.Tensor | None = None
        self._gstats: dict | None = None
        self._seg: torch.Tensor | None = None
        self._next_record = 0
        self._record_cost = 0.0
        self._step_cost = 0.0
        self._t0 = 0.0

    # ---- lifecycle -------------------------------------------------------------

    def on_fit_start(self, trainer: Trainer) -> None:
        """Register one forward hook per tap; describe layers and parameters in meta."""
        model = trainer.model
        self._total_steps = trainer.total_steps
        taps = getattr(model, "taps", {})
        kinds = getattr(model, "tap_kinds", {})
        readable = model.param_groups_readable() if hasattr(model, "param_groups_readable") else {}
        self._names = {n: readable.get(n, n) for n, p in model.named_parameters() if p.requires_grad}
        self._params = {n: p for n, p in model.named_parameters() if p.requires_grad}
        meta = self.history.meta
        meta.update(
            layers=list(taps),
            kinds=dict(kinds),
            params=list(self._names.values()),
            bins=self.bins,
            act_edges={},
            w_edges={},
            g_edges={},
        )
        self._taps = [(module, self._make_hook(name, kinds.get(name, ""))) for name, module in taps.items()]

    def on_fit_end(self, trainer: Trainer) -> None:
        """Remove every hook and drop references to the model's tensors."""
        self.remove_hooks()
        self._flush_bucket(trainer, force=True)
        self._prev_flat = None
        self._params = {}

    def _attach_hooks(self) -> None:
        # Hooks live only for the steps that record: a module with a forward hook takes PyTorch's
        # slower call path on every forward, which cost ~1% of a small CNN's step when left on.
        if not self._handles:
            self._handles = [module.register_forward_hook(hook) for module, hook in self._taps]

    def remove_hooks(self) -> None:
        """Detach all hooks (idempotent)."""
        for h in self._handles:
            h.remove()
        self._handles.clear()

    # ---- hooks -------------------------------------------------------------------

    def _make_hook(self, name: str, kind: str):
        def hook(module, inputs, out):
            if not self._active or not torch.is_tensor(out):
                return
            with torch.no_grad():
                a = out.detach()
                edges = self.history.meta["act_edges"]
                if name not in edges:
                    edges[name] = list(act_range(kind, a))
                lo, hi = edges[name]
                # Reduce everything to one small tensor so there is a single device->host copy.
                std, mean = torch.std_mean(a) if a.numel() > 1 else (a.new_zeros(()), a.mean())
                parts = [mean, std]
                if kind in registry.RELU_FAMILY:
                    # A unit (feature or channel) is dead on this batch when it never fires anywhere.
                    other = [d for d in range(a.dim()) if d != 1]
                    parts.append((a.amax(dim=other) <= 0).float().mean())
                elif kind == "tanh":
                    parts.append((a.abs() > SAT_TANH).float().mean())
                elif kind == "sigmoid":
                    parts.append(((a < SAT_SIGMOID) | (a > 1 - SAT_SIGMOID)).float().mean())
                else:
                    parts.append(a.new_zeros(()))
                vals = torch.cat([torch.stack(parts), _hist(a, lo, hi, self.bins)]).tolist()
                hist = vals[3:]
            row = {"mean": vals[0], "std": vals[1], "hist": hist, "grad_std": None}
            if kind in registry.RELU_FAMILY:
                row["dead"] = vals[2]
            elif kind in registry.SATURATING:
                row["sat"] = vals[2]
            self._layer[name] = row
            if out.requires_grad:
                out.register_hook(lambda g, name=name: self._on_out_grad(name, g))

        return hook

    def _on_out_grad(self, name: str, g: torch.Tensor) -> None:
        row = self._layer.get(name)
        if row is not None:
            row["grad_std"] = float(g.detach().float().std()) if g.numel() > 1 else 0.0

    # ---- events ------------------------------------------------------------------

    def on_batch_start(self, trainer: Trainer) -> None:
        """Switch the hooks on for recording steps only."""
        self._active = trainer.model.training and trainer.step >= self._next_record
        if self._active:
            self._layer = {}
            self._attach_hooks()
        self._t0 = time.perf_counter()

    def on_after_backward(self, trainer: Trainer) -> None:
        """Read gradients from p.grad and keep the pre-step weights for the update ratio."""
        if not self._active:
            return
        with torch.no_grad():
            params = list(self._params.values())
            grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
            self._gstats = self._segment_stats(torch.cat([g.reshape(-1) for g in grads]), "g_edges", 3.0)
            self._prev_flat = torch.cat([p.detach().reshape(-1) for p in params])

    def _segments(self, device: torch.device) -> torch.Tensor:
        """Parameter index of every element of the flattened parameter vector (cached)."""
        if getattr(self, "_seg", None) is None or self._seg.device != device:
            sizes = torch.tensor([p.numel() for p in self._params.values()], device=device)
            self._seg = torch.repeat_interleave(torch.arange(len(sizes), device=device), sizes)
            self._sizes = sizes.to(torch.float32)
        return self._seg

    def _segment_stats(self, flat: torch.Tensor, edges_key: str, widen: float) -> dict[str, torch.Tensor]:
        """Per-parameter mean, std, norm and fixed-bin histogram of a flattened vector, in a handful of ops.

        One `index_add_` per moment and one `bincount` for all histograms keeps the cost
        independent of how many parameter tensors the model has.
        """
        seg = self._segments(flat.device)
        n_par, bins = len(self._sizes), self.bins
        flat = flat.float()
        sums = torch.zeros(n_par, device=flat.device).index_add_(0, seg, flat)
        sq = torch.zeros(n_par, device=flat.device).index_add_(0, seg, flat * flat)
        n = self._sizes
        mean = sums / n
        var = ((sq - sums * mean) / (n - 1).clamp(min=1)).clamp(min=0)
        meta = self.history.meta[edges_key]
        if not meta:
            amax = torch.zeros(n_par, device=flat.device).scatter_reduce_(0, seg, flat.abs(), reduce="amax")
            m = torch.where(torch.isfinite(amax) & (amax > 0), amax * widen, torch.full_like(amax, 1e-3))
            for key, v in zip(self._names.values(), m.tolist(), strict=True):
                meta[key] = [-v, v]
        lo = torch.tensor([meta[k][0] for k in self._names.values()], device=flat.device)
        hi = torch.tensor([meta[k][1] for k in self._names.values()], device=flat.device)
        pos = ((flat - lo[seg]) / (hi - lo)[seg] * bins).nan_to_num(0.0).clamp(0, bins - 1).long()
        hist = torch.bincount(pos + seg * bins, minlength=n_par * bins).reshape(n_par, bins)
        return {"mean": mean, "std": var.sqrt(), "norm": sq.sqrt(), "hist": hist}

    def on_batch_end(self, trainer: Trainer) -> None:
        """Bucket the train metrics; on recording steps, finish and store the snapshot."""
        self._bucket(trainer)
        step_time = time.perf_counter() - self._t0
        if not self._active:
            self._step_cost = step_time if self._step_cost == 0 else 0.9 * self._step_cost + 0.1 * step_time
            return
        t_rec = time.perf_counter()
        self.remove_hooks()
        params = {}
        if self._params and getattr(self, "_prev_flat", None) is not None:
            with torch.no_grad():
                flat = torch.cat([p.detach().reshape(-1) for p in self._params.values()])
                w = self._segment_stats(flat, "w_edges", 2.0)
                seg = self._segments(flat.device)
                diff = flat.float() - self._prev_flat.float()
                dnorm = torch.zeros(len(self._sizes), device=flat.device).index_add_(0, seg, diff * diff).sqrt()
                pnorm = (
                    torch.zeros(len(self._sizes), device=flat.device)
                    .index_add_(0, seg, self._prev_flat.float() ** 2)
                    .sqrt()
                )
                g = self._gstats
                # One device->host transfer for every figure of every parameter.
                table = torch.stack([w["mean"], w["std"], g["norm"], g["std"], dnorm, pnorm]).T.tolist()
                w_hist, g_hist = w["hist"].tolist(), g["hist"].tolist()
            for i, key in enumerate(self._names.values()):
                w_mean, w_std, g_norm, g_std, d, pn = table[i]
                # Ratio relative to the weights the update was applied to: ||W_after - W_before|| / ||W_before||.
                params[key] = {
                    "w_mean": w_mean,
                    "w_std": w_std,
                    "w_hist": w_hist[i],
                    "g_norm": g_norm,
                    "g_std": g_std,
                    "g_hist": g_hist[i],
                    "ratio": d / pn if pn > 0 else None,
                }
            self._prev_flat = None
            self._gstats = None
        snap = {"step": trainer.step, "epoch": trainer.epoch_float, "layers": self._layer, "params": params}
        self._layer = {}
        self._active = False
        self.history.snapshots.append(snap)
        self._thin_snapshots()
        self._record_cost = (time.perf_counter() - t_rec) + max(0.0, step_time - self._step_cost)
        self._schedule_next(trainer.step)

    def _schedule_next(self, step: int) -> None:
        if self.fixed_every:
            self._next_record = step - 1 + self.every  # steps 1, 1+k, 1+2k, ... (step counts from 1)
            return
        # Adaptive: the steps between two records must pay for one record within the budget.
        # The first record carries one-time costs (edges, lazy init), so it only sets a probe gap.
        self._n_records = getattr(self, "_n_records", 0) + 1
        if self._n_records == 1 or self._step_cost <= 0:
            gap = self.probe_gap
        else:
            gap = math.ceil(self._record_cost / (self.budget * self._step_cost))
        # ...but never so sparse that a run shows fewer than about 30 snapshots.
        gap = min(gap, max(self.probe_gap, self._total_steps // MIN_SNAPSHOTS))
        self._next_record = step - 1 + max(gap, self.every)

    def _thin_snapshots(self) -> None:
        snaps = self.history.snapshots
        if len(snaps) <= self.max_snapshots:
            return
        keep = snaps[::2]
        if keep[-1] is not snaps[-1]:
            keep.append(snaps[-1])
        kept_steps = {s["step"] for s in keep}
        self.history.dropped.extend(s["step"] for s in snaps if s["step"] not in kept_steps)
        self.history.snapshots = keep
        self.every *= 2  # future snapshots at the thinned density

    def _bucket(self, trainer: Trainer) -> None:
        self._acc_bucket.append((trainer.loss, trainer.batch_acc, trainer.batch_size_seen))
        if len(self._acc_bucket) >= self._stride:
            self._flush_bucket(trainer)

    def _flush_bucket(self, trainer: Trainer, force: bool = False) -> None:
        if not self._acc_bucket:
            return
        n = sum(b[2] for b in self._acc_bucket)
        loss = sum(b[0] * b[2] for b in self._acc_bucket) / max(n, 1)
        acc = sum(b[1] * b[2] for b in self._acc_bucket) / max(n, 1)
        self._acc_bucket.clear()
        rows = self.history.train
        rows.append(
            {
                "step": trainer.step,
                "epoch": trainer.epoch_float,
                "train_loss": loss,
                "train_acc": acc,
                "lr": trainer.lr,
                "images_per_s": trainer.images_per_s,
            }
        )
        if len(rows) > self.max_points and not force:
            # Merge neighbours: the curve keeps its shape, memory stays bounded.
            merged = []
            for a, b in zip(rows[0::2], rows[1::2], strict=False):  # an odd last row is kept below
                merged.append(
                    {
                        **b,
                        "train_loss": (a["train_loss"] + b["train_loss"]) / 2,
                        "train_acc": (a["train_acc"] + b["train_acc"]) / 2,
                    }
                )
            if len(rows) % 2:
                merged.append(rows[-1])
            self.history.train = merged
            self._stride *= 2

    def on_eval_end(self, trainer: Trainer) -> None:
        """Append the evaluation row."""
        self.history.val.append(dict(trainer.last_eval))
