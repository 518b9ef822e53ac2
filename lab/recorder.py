"""Recorder: per-layer and per-parameter statistics every k steps, at almost no cost.

Forward hooks sit on each tap of the model (the module whose output is a hidden
layer's post-activation). On a recording step they reduce the output to a few
floats and a fixed-bin histogram under `torch.no_grad()` and attach a tensor hook
that reduces the gradient arriving at that output to its std. Parameter gradients
are read from `p.grad` after backward; the update/weight ratio compares the
weights before and after the optimizer step. Each figure is reduced to a small tensor
where it arises and all of them reach Python in one `.tolist()` at the end of the
step; nothing keeps a tensor beyond the step.

History stays bounded: train metrics are averaged into buckets whose width doubles
when there are too many, and snapshots are thinned (every other one dropped, the
cadence doubled) when they exceed `max_snapshots`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

import torch

from lab import registry
from lab.callbacks import Callback

if TYPE_CHECKING:  # pragma: no cover
    from lab.trainer import Trainer

SAT_TANH = 0.97  # |tanh| above this: the unit's local gradient is below 1 - 0.97^2 = 0.06
MIN_SNAPSHOTS = 30  # adaptive cadence never spaces records so far apart that a run gets fewer
SAT_SIGMOID = 0.03  # sigmoid below 0.03 or above 0.97: local gradient below 0.03


SCORE_EVERY = 16  # steps whose accuracy is computed together (each torch op costs ~15 us cold in a step)


class History:
    """Everything recorded for one run, as plain JSON-ready Python values.

    Train rows wait up to `SCORE_EVERY` steps for their accuracy to be computed in one batch;
    reading `train` settles every waiting step first, so a reader never sees a stale curve.
    """

    def __init__(self) -> None:
        self._train: list[dict] = []  # bucketed rows: step, epoch, train_loss, train_acc, lr, images_per_s
        self.val: list[dict] = []  # one row per evaluation: step, val_loss, val_acc, train_loss, train_acc
        self.snapshots: list[dict] = []  # per-layer/per-parameter stats at recorded steps
        self.meta: dict = {}  # layer names, kinds, histogram edges
        self.dropped: list[int] = []  # snapshot steps thinned away (the store deletes them too)
        self.settle: Callable[[], None] | None = None  # set by the recorder: turns waiting steps into rows

    @property
    def train(self) -> list[dict]:
        """The train rows, every step done so far included."""
        if self.settle is not None:
            self.settle()
        return self._train

    @train.setter
    def train(self, rows: list[dict]) -> None:
        self._train = rows


class _Step(NamedTuple):
    """One finished step waiting for its accuracy: its figures and references to its outputs and targets."""

    step: int
    epoch: float
    loss: float
    logits: torch.Tensor
    target: torch.Tensor
    n: int
    lr: float
    images_per_s: float


def count_correct(logits: list[torch.Tensor], targets: list[torch.Tensor]) -> list[int]:
    """Correct answers per batch for several batches at once (soft targets count their largest class).

    Six tensor ops and one host transfer for any number of batches, where one batch at a time
    took four ops and a transfer each (~60 us a step on the CPU, the ops' code being cold there).
    """
    hard = [t.argmax(1) if t.dtype.is_floating_point else t for t in targets]
    sizes = [len(t) for t in hard]
    hits = torch.cat(logits).argmax(1) == torch.cat(hard)
    if len(set(sizes)) == 1:
        return hits.view(len(sizes), -1).sum(1).tolist()
    return torch.stack([h.sum() for h in hits.split(sizes)]).tolist()


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
    values at a quarter of the cost on the CPU (0.22 ms against 0.96 ms for a 64x16x8x8 batch);
    int32 indices convert 3x faster than int64 and `bincount` takes them as they are.
    """
    pos = t.float().sub(lo).mul_(bins / (hi - lo)).nan_to_num_(0.0).clamp_(0, bins - 1).to(torch.int32)
    return torch.bincount(pos.reshape(-1), minlength=bins).float()


def _std(flat: torch.Tensor, mean: torch.Tensor) -> torch.Tensor:
    """Sample standard deviation (n - 1) of a 1-D tensor around its given mean, in two passes.

    Equal to `torch.std` to float32 rounding, but 20x faster on the CPU: `torch.std_mean` runs a
    scalar Welford loop (0.46 ms for a 64x16x8x8 batch) where subtract, square and sum take 0.022 ms.
    `sum` adds in cascade (relative error 1e-7 here); `linalg.vector_norm` and `dot` accumulate
    float32 naively and were 4e-5 and 1e-5 off.
    """
    return (flat - mean).square_().sum().div_(max(flat.numel() - 1, 1)).sqrt_()


def act_stats(out: torch.Tensor, kind: str, lo: float, hi: float, bins: int) -> torch.Tensor:
    """One layer output reduced to [mean, std, dead-or-saturated fraction, *histogram counts] (float32)."""
    a = out.detach().float()
    flat = a.reshape(-1)
    n = flat.numel()
    mean = flat.mean()
    if kind in registry.RELU_FAMILY:
        # A unit (feature or channel) is dead on this batch when it never fires anywhere. Reducing the
        # batch dimension first keeps both reductions contiguous (~15 us; amax over dims (0, 2, 3) took up to 120).
        peak = a.amax(0).reshape(a.shape[1], -1).amax(1) if a.dim() >= 2 else a.amax().reshape(1)
        frac = (peak <= 0).float().mean()
    elif kind == "tanh":
        frac = torch.count_nonzero(a.abs() > SAT_TANH) / n
    elif kind == "sigmoid":
        frac = torch.count_nonzero((a < SAT_SIGMOID) | (a > 1 - SAT_SIGMOID)) / n
    else:
        frac = mean.new_zeros(())
    head = torch.stack([mean, _std(flat, mean), frac])
    return torch.cat([head, _hist(flat, lo, hi, bins)])


class ParamTable:
    """Per-parameter weight, gradient and update figures for fixed parameter sizes and histogram edges.

    `reduce` turns the flattened weights, gradients and pre-step weights into one float64 tensor of
    sums and counts in about P + 20 tensor ops for P parameters; `rows` finishes the figures in
    Python from that tensor's `.tolist()`. Per-parameter slices (`split_with_sizes`) summed in place
    and one `bincount` for every histogram replace `index_add_` scatters, which cost 20 ns an element
    on the CPU against 0.5 for a contiguous sum (0.5 ms against 0.03 for the default CNN's 6k weights).
    """

    def __init__(self, sizes: list[int], w_edges: list, g_edges: list, bins: int, device: torch.device):
        self.sizes, self.bins = list(sizes), bins
        n_par = len(self.sizes)
        lo = torch.tensor([[e[0] for e in w_edges], [e[0] for e in g_edges]], dtype=torch.float64)
        hi = torch.tensor([[e[1] for e in w_edges], [e[1] for e in g_edges]], dtype=torch.float64)
        # Where each parameter's histogram starts in the joint bincount: row 0 weights, row 1 gradients
        # (as floats: integers are exact below 2^24, and the sum needs one conversion to int).
        base = (torch.arange(2)[:, None] * n_par + torch.arange(n_par)) * bins
        # lo and scale rounded to float32 as _hist's Python-float scalars are, so both give the same counts.
        self._per_param = torch.cat([lo, bins / (hi - lo), base]).float().to(device)  # (6, P)
        self._sizes = torch.tensor(self.sizes, device=device)
        self._n = sum(self.sizes)

    def reduce(self, w: torch.Tensor, g: torch.Tensor, w0: torch.Tensor) -> torch.Tensor:
        """Flat float64 tensor: the (6, P) sums of w, g, w^2, g^2, (w - w0)^2, w0^2, then (2, P, bins) counts."""
        x = torch.stack([w, g, w - w0, w0]).float()
        # One-pass moments in float64: squares of float32 values are exact there, so sum(x^2) - n mean^2
        # keeps float32 precision even for weights whose mean is 1000x their spread (norm scales).
        x64 = x.double()
        sums = torch.stack([c.sum(1) for c in torch.cat([x64[:2], x64 * x64]).split_with_sizes(self.sizes, 1)], 1)
        # Histograms: each element's edges and offset spelled out by one repeat_interleave (a record step
        # is dominated by the number of tensor ops, ~20 us each when cold, more than by their size), bin
        # positions computed in place on rows of `x` (a fresh stack whose sums are taken), one bincount.
        lo, scale, base = torch.repeat_interleave(self._per_param, self._sizes, dim=1, output_size=self._n).chunk(3)
        pos = x[:2].sub_(lo).mul_(scale).nan_to_num_(0.0).clamp_(0, self.bins - 1)
        pos = pos.floor_().add_(base).to(torch.int32)  # floor first: 18.99999 + 80 would round up to 99.0
        counts = torch.bincount(pos.reshape(-1), minlength=2 * len(self.sizes) * self.bins)
        return torch.cat([sums.reshape(-1), counts])

    def rows(self, vals: list[float]) -> list[dict]:
        """Finish `reduce`'s values (as a list) into one dict of figures per parameter."""
        n_par, b = len(self.sizes), self.bins
        out = []
        for i, n in enumerate(self.sizes):
            sw, sg, sww, sgg, sdd, s00 = (vals[r * n_par + i] for r in range(6))
            n = max(n, 1)
            w_mean, g_mean = sw / n, sg / n
            hw, hg = 6 * n_par + i * b, 6 * n_par + (n_par + i) * b
            out.append(
                {
                    "w_mean": w_mean,
                    "w_std": math.sqrt(max(sww - sw * w_mean, 0.0) / max(n - 1, 1)),
                    "w_hist": vals[hw : hw + b],
                    "g_norm": math.sqrt(sgg),
                    "g_std": math.sqrt(max(sgg - sg * g_mean, 0.0) / max(n - 1, 1)),
                    "g_hist": vals[hg : hg + b],
                    # Relative to the weights the update was applied to: ||W_after - W_before|| / ||W_before||.
                    "ratio": math.sqrt(sdd) / math.sqrt(s00) if s00 > 0 else None,
                }
            )
        return out


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
        self, every: int = 0, bins: int = 40, max_snapshots: int = 300, max_points: int = 1000, budget: float = 0.005
    ):
        self.fixed_every = every
        self.every = every or 1
        self.bins = bins
        self.max_snapshots = max_snapshots
        self.max_points = max_points
        self.budget = budget  # adaptive mode: recording may cost this share of training time (0.5%: the
        # whole lab loop must stay within 5% of a plain loop, and MIN_SNAPSHOTS keeps short runs detailed)
        self.probe_gap = 10  # adaptive mode: steps between the first records, before costs are known
        self._total_steps = 0
        self.history = History()
        self.history.settle = self._score_waiting
        self._waiting: list[_Step] = []  # finished steps whose accuracy is not computed yet
        self._handles: list = []
        self._taps: list = []  # (module, hook) pairs, attached only while a step records
        self._active = False
        self._acts: dict[str, torch.Tensor] = {}  # layer -> act_stats vector, until the step ends
        self._grad_std: dict[str, torch.Tensor] = {}  # layer -> std of the gradient at its output
        self._kinds: dict[str, str] = {}
        self._acc_bucket: list[tuple[float, float, int]] = []  # (loss, accuracy, batch size) of the open bucket
        self._bucket_last: _Step | None = None  # the open bucket's newest step: its row takes that step's figures
        self._stride = 1
        self._w0: torch.Tensor | None = None  # flattened weights before the optimizer step
        self._g: torch.Tensor | None = None  # flattened gradients as backward left them (before clipping)
        self._table: ParamTable | None = None  # parameter sizes and histogram edges, fixed at the first record
        self._next_record = 0
        self._record_cost = 0.0
        self._step_cost = 0.0
        self._t0 = 0.0
        self._n_records = 0
        self._last_record: tuple[int, float] | None = None  # (step, start time) of a record awaiting its full cost

    # ---- lifecycle -------------------------------------------------------------

    def on_fit_start(self, trainer: Trainer) -> None:
        """Register one forward hook per tap; describe layers and parameters in meta."""
        model = trainer.model
        self._total_steps = trainer.total_steps
        taps = getattr(model, "taps", {})
        kinds = getattr(model, "tap_kinds", {})
        self._kinds = dict(kinds)
        self._table = None
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
        self._score_waiting()
        self._flush_bucket(self._bucket_last, force=True)
        self.history.settle = None  # every row is in; this also breaks the history -> recorder cycle
        self._w0 = self._g = None
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
                edges = self.history.meta["act_edges"]
                if name not in edges:
                    edges[name] = list(act_range(kind, out.detach()))
                lo, hi = edges[name]
                self._acts[name] = act_stats(out, kind, lo, hi, self.bins)
            if out.requires_grad:
                out.register_hook(lambda g, name=name: self._on_out_grad(name, g))

        return hook

    def _on_out_grad(self, name: str, g: torch.Tensor) -> None:
        if name in self._acts:
            with torch.no_grad():
                flat = g.detach().float().reshape(-1)
                self._grad_std[name] = _std(flat, flat.mean()) if flat.numel() > 1 else flat.new_zeros(())

    # ---- events ------------------------------------------------------------------

    def on_batch_start(self, trainer: Trainer) -> None:
        """Switch the hooks on for recording steps only."""
        if self._last_record is not None:
            self._settle_record_cost(trainer, time.perf_counter())
        self._active = trainer.model.training and trainer.step >= self._next_record
        if self._active:
            self._acts, self._grad_std = {}, {}
            self._attach_hooks()
        self._t0 = time.perf_counter()

    def on_after_backward(self, trainer: Trainer) -> None:
        """Copy the gradients (clipping may change them in place) and the pre-step weights for the update ratio."""
        if not self._active or not self._params:
            return
        with torch.no_grad():
            # The copy of the weights is the one exact way to get ||W_after - W_before|| for any optimizer;
            # laid end to end it is one `cat` (a few microseconds for 6k parameters).
            params = list(self._params.values())
            self._g = torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1) for p in params])
            self._w0 = torch.cat([p.detach().reshape(-1) for p in params])

    def _param_table(self, w: torch.Tensor, g: torch.Tensor, sizes: list[int]) -> ParamTable:
        """The ParamTable for this run, built on the first record with edges from that record's values.

        Symmetric fixed ranges per parameter: twice the largest weight, three times the largest gradient.
        """
        if self._table is None:
            meta = self.history.meta
            names = list(self._names.values())
            for key, flat, widen in (("w_edges", w, 2.0), ("g_edges", g, 3.0)):
                if not meta[key]:
                    amax = torch.stack([c.abs().amax() if c.numel() else c.new_zeros(()) for c in flat.split(sizes)])
                    m = torch.where(torch.isfinite(amax) & (amax > 0), amax * widen, torch.full_like(amax, 1e-3))
                    for name, v in zip(names, m.tolist(), strict=True):
                        meta[key][name] = [-v, v]
            edges = [[meta[key][k] for k in names] for key in ("w_edges", "g_edges")]
            self._table = ParamTable(sizes, edges[0], edges[1], self.bins, w.device)
        return self._table

    def on_batch_end(self, trainer: Trainer) -> None:
        """Bucket the train metrics; on recording steps, finish and store the snapshot."""
        self._bucket(trainer)
        step_time = time.perf_counter() - self._t0
        if not self._active:
            self._step_cost = step_time if self._step_cost == 0 else 0.9 * self._step_cost + 0.1 * step_time
            return
        t_rec = time.perf_counter()
        self.remove_hooks()
        bins = self.bins
        parts: list[torch.Tensor] = list(self._acts.values())  # float32; cat promotes to the table's float64
        names = list(self._acts)
        with_grad = [n for n in names if n in self._grad_std]
        if with_grad:
            parts.append(torch.stack([self._grad_std[n] for n in with_grad]))
        table = None
        if self._params and self._w0 is not None:
            with torch.no_grad():
                sizes = [p.numel() for p in self._params.values()]
                w = torch.cat([p.detach().reshape(-1) for p in self._params.values()])
                table = self._param_table(w, self._g, sizes)
                parts.append(table.reduce(w, self._g, self._w0))
        # One device->host transfer for every figure of the step.
        vals = torch.cat(parts).tolist() if parts else []
        layers, i = {}, 0
        for name in names:
            v = vals[i : i + 3 + bins]
            i += 3 + bins
            row = {"mean": v[0], "std": v[1], "hist": v[3:], "grad_std": None}
            kind = self._kinds.get(name, "")
            if kind in registry.RELU_FAMILY:
                row["dead"] = v[2]
            elif kind in registry.SATURATING:
                row["sat"] = v[2]
            layers[name] = row
        for name in with_grad:
            layers[name]["grad_std"] = vals[i]
            i += 1
        rows = table.rows(vals[i:]) if table is not None else []
        params = dict(zip(self._names.values(), rows, strict=False))
        self._w0 = self._g = None
        self._acts, self._grad_std = {}, {}
        snap = {"step": trainer.step, "epoch": trainer.epoch_float, "layers": layers, "params": params}
        self._active = False
        self.history.snapshots.append(snap)
        self._thin_snapshots()
        self._record_cost = (time.perf_counter() - t_rec) + max(0.0, step_time - self._step_cost)
        self._n_records += 1
        self._last_record = (trainer.step, self._t0)
        self._schedule_next(trainer.step)

    def _settle_record_cost(self, trainer: Trainer, now: float) -> None:
        """At the step after a record: its whole cost, callbacks after the recorder (the model probe) included.

        The estimate taken inside on_batch_end misses what runs after it, which made the adaptive
        cadence record about 1.7x as often as its budget allows on the default CNN. A step that
        also evaluated is left out: evaluation is not recording.
        """
        step, start = self._last_record
        self._last_record = None
        if self.fixed_every or self._n_records < 2 or trainer.last_eval.get("step") == step:
            return  # the first record's gap is the probe gap, whatever it cost
        self._record_cost = max(0.0, now - start - self._step_cost)
        self._schedule_next(step)

    def _schedule_next(self, step: int) -> None:
        if self.fixed_every:
            self._next_record = step - 1 + self.every  # steps 1, 1+k, 1+2k, ... (step counts from 1)
            return
        # Adaptive: the steps between two records must pay for one record within the budget.
        # The first record carries one-time costs (edges, lazy init), so it only sets a probe gap.
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
        self._waiting.append(
            _Step(
                trainer.step,
                trainer.epoch_float,
                trainer.loss,
                trainer.logits,
                trainer.target,
                trainer.batch_size_seen,
                trainer.lr,
                trainer.images_per_s,
            )
        )
        # The first step is scored at once: a live chart shows its first point right away.
        if len(self._waiting) >= SCORE_EVERY or trainer.step == 1:
            self._score_waiting()

    def _score_waiting(self) -> None:
        """Compute the waiting steps' accuracies in one batch and put them into buckets."""
        waiting, self._waiting = self._waiting, []
        if not waiting:
            return
        with torch.no_grad():
            correct = count_correct([w.logits for w in waiting], [w.target for w in waiting])
        for w, c in zip(waiting, correct, strict=True):
            self._acc_bucket.append((w.loss, c / max(w.n, 1), w.n))
            self._bucket_last = w
            if len(self._acc_bucket) >= self._stride:
                self._flush_bucket(w)

    def _flush_bucket(self, last: _Step | None, force: bool = False) -> None:
        if not self._acc_bucket or last is None:
            return
        n = sum(b[2] for b in self._acc_bucket)
        loss = sum(b[0] * b[2] for b in self._acc_bucket) / max(n, 1)
        acc = sum(b[1] * b[2] for b in self._acc_bucket) / max(n, 1)
        self._acc_bucket.clear()
        rows = self.history._train
        rows.append(
            {
                "step": last.step,
                "epoch": last.epoch,
                "train_loss": loss,
                "train_acc": acc,
                "lr": last.lr,
                "images_per_s": last.images_per_s,
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
            self.history._train = merged
            self._stride *= 2

    def on_eval_end(self, trainer: Trainer) -> None:
        """Append the evaluation row."""
        self.history.val.append(dict(trainer.last_eval))
