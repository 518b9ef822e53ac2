"""Recorder: per-layer and per-parameter statistics every k steps, at almost no cost.

Forward hooks sit on each tap of the model (the module whose output is a hidden
layer's post-activation). On a recording step they reduce the output to a few
floats and a fixed-bin histogram under `torch.no_grad()` and attach a tensor hook
that reduces the gradient arriving at that output to its std. Parameter gradients
are read from `p.grad` after backward; the update/weight ratio compares the
weights before and after the optimizer step. Each figure is reduced to a small tensor
where it arises and all of them reach Python in one `.tolist()` at the end of the
step; nothing keeps a tensor beyond the step.

Which steps record is the `Cadence`'s call (lab/engine/recording/cadence.py): a fixed
`every`, or adaptive within a budget that a paced run raises to use its idle time.
History stays bounded: train rows are bucketed by `lab.engine.recording.history.TrainRows`, and
snapshots are thinned (every other one dropped, the cadence doubled) when they exceed
`max_snapshots`. The reductions themselves live in `lab.engine.recording.tensor_stats`.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import torch

from lab import registry
from lab.engine.callbacks import Callback
from lab.engine.recording.cadence import MIN_SNAPSHOTS, Cadence
from lab.engine.recording.history import History, TrainRows
from lab.engine.recording.tensor_stats import ACT_HEAD, FlatPack, ParamTable, act_range, act_stats, out_grad_std
from lab.engine.recording.thinning import thin

if TYPE_CHECKING:  # pragma: no cover
    from lab.engine.trainer import Trainer

__all__ = ["MIN_SNAPSHOTS", "Recorder"]


class Recorder(Callback):
    """Captures layer and parameter statistics every `every` steps (0 = adaptive, within an overhead budget)."""

    order = -20  # after the stop checks, before the probe that decorates its snapshot and the writers that save it

    def __init__(
        self, every: int = 0, bins: int = 40, max_snapshots: int = 300, max_points: int = 1000, budget: float = 0.005
    ):
        self.bins = bins
        self.max_snapshots = max_snapshots
        self.cadence = Cadence(every, budget, max_snapshots)
        self.history = History()
        self._rows = TrainRows(self.history, max_points)
        self._handles: list = []
        self._taps: list = []  # (module, hook) pairs, attached only while a step records
        self._active = False
        self._acts: dict[str, torch.Tensor] = {}  # layer -> act_stats vector, until the step ends
        self._grad_std: dict[str, torch.Tensor] = {}  # layer -> std of the gradient at its output
        self._kinds: dict[str, str] = {}
        self._w0: torch.Tensor | None = None  # flattened weights before the optimizer step
        self._g: torch.Tensor | None = None  # flattened gradients as backward left them (before clipping)
        self._table: ParamTable | None = None  # parameter sizes and histogram edges, fixed at the first record
        self._t0 = 0.0
        self._trained0 = 0.0  # the trainer's train_seconds when this step started
        self._last_record: tuple[int, float] | None = None  # (step, _trained0) of a record awaiting its full cost

    # ---- lifecycle -------------------------------------------------------------

    def on_fit_start(self, trainer: Trainer) -> None:
        """Register one forward hook per tap; describe layers and parameters in meta."""
        model = trainer.model
        self.cadence.planned_steps = getattr(trainer, "planned_steps", trainer.total_steps)
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
        self._rows.close()
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
                self._grad_std[name] = out_grad_std(g)

    # ---- events ------------------------------------------------------------------

    def on_batch_start(self, trainer: Trainer) -> None:
        """Switch the hooks on for recording steps only."""
        if self._last_record is not None:
            self._settle_record_cost(trainer)
        self._trained0 = trainer.train_seconds
        self.cadence.set_period(getattr(trainer, "step_period", 0.0))
        self._active = trainer.model.training and self.cadence.due(trainer.step)
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
        self._rows.add(trainer)
        step_time = time.perf_counter() - self._t0
        if not self._active:
            self.cadence.plain_step(step_time)
            return
        t_rec = time.perf_counter()
        self.remove_hooks()
        pack = FlatPack()  # float32 parts; cat promotes them to the param table's float64
        for name, t in self._acts.items():
            pack.add(("act", name), t)
        with_grad = [n for n in self._acts if n in self._grad_std]
        if with_grad:
            pack.add("grad_std", torch.stack([self._grad_std[n] for n in with_grad]))
        table = None
        if self._params and self._w0 is not None:
            with torch.no_grad():
                sizes = [p.numel() for p in self._params.values()]
                w = torch.cat([p.detach().reshape(-1) for p in self._params.values()])
                table = self._param_table(w, self._g, sizes)
                pack.add("params", table.reduce(w, self._g, self._w0))
        got = pack.read()  # one device->host transfer for every figure of the step
        layers = {}
        for name in self._acts:
            v = got[("act", name)]
            # below/above: values outside the histogram's range (also counted in its end bins)
            row = {"mean": v[0], "std": v[1], "hist": v[ACT_HEAD:], "below": v[3], "above": v[4], "grad_std": None}
            kind = self._kinds.get(name, "")
            if kind in registry.RELU_FAMILY:
                row["dead"] = v[2]
            elif kind in registry.SATURATING:
                row["sat"] = v[2]
            layers[name] = row
        for name, g in zip(with_grad, got.get("grad_std", []), strict=True):
            layers[name]["grad_std"] = g
        rows = table.rows(got["params"]) if table is not None else []
        params = dict(zip(self._names.values(), rows, strict=False))
        self._w0 = self._g = None
        self._acts, self._grad_std = {}, {}
        snap = {"step": trainer.step, "epoch": trainer.epoch_float, "layers": layers, "params": params}
        self._active = False
        self.history.snapshots.append(snap)
        self._thin_snapshots()
        cost = (time.perf_counter() - t_rec) + max(0.0, step_time - self.cadence.step_cost)
        self._last_record = (trainer.step, self._trained0)
        self.cadence.recorded(trainer.step, cost)

    def _settle_record_cost(self, trainer: Trainer) -> None:
        """At the step after a record: its whole cost, callbacks after the recorder (the model probe) included.

        The estimate taken inside on_batch_end misses what runs after it, which made the adaptive
        cadence record about 1.7x as often as its budget allows on the default CNN. A step that
        also evaluated is left out: evaluation is not recording. Measured in the trainer's own
        training time, so the wait of a paced run, or other runs' turns on the same worker, between
        the two steps never counts as recording.
        """
        step, trained0 = self._last_record
        self._last_record = None
        if trainer.last_eval.get("step") != step:
            self.cadence.settle(step, trainer.train_seconds - trained0 - self.cadence.step_cost)

    def _thin_snapshots(self) -> None:
        snaps = self.history.snapshots
        if len(snaps) <= self.max_snapshots:
            return
        keep = thin(snaps)
        kept_steps = {s["step"] for s in keep}
        self.history.dropped.extend(s["step"] for s in snaps if s["step"] not in kept_steps)
        self.history.snapshots = keep
        self.cadence.thinned()  # future snapshots at the thinned density

    def on_eval_end(self, trainer: Trainer) -> None:
        """Append the evaluation row."""
        self.history.val.append(dict(trainer.last_eval))
