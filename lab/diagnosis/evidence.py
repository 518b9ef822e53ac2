"""Evidence: a run's recorded history read once into plain figures the rules reason over.

Everything here is pure Python over JSON-ready rows, so a live trainer, a run loaded from the
store and a hand-made test history are read the same way. Train rows are only read through
step-window means (`window_losses`), which do not depend on how the rows were bucketed: the
store keeps every row it was sent while the in-memory history merges rows pairwise past 1,000,
and both give the same windows to within the merge's rounding. Evaluation rows and snapshots
are the same records wherever they are read.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from statistics import median

from lab.config import FIELDS, RunConfig
from lab.lifecycle import FINAL

EARLY_FRACTION = 0.2  # "the first steps": snapshots within the first fifth of the run (at least EARLY_MIN_STEPS)
EARLY_MIN_STEPS = 30
WINDOWS = 10  # train-loss windows over the run


@dataclass(frozen=True)
class Snap:
    """One snapshot reduced to what the rules read: update ratios, weight spreads, per-layer figures."""

    step: int
    ratios: dict  # weight parameter -> update/weight ratio
    w_std: dict  # weight parameter -> std of its entries
    w_mean: dict
    layers: dict  # hidden layer -> {"std", "grad_std", "dead", "sat"} (missing figures are None)

    @property
    def ratio_max(self) -> float | None:
        """The largest update/weight ratio of any weight matrix at this step."""
        return max(self.ratios.values()) if self.ratios else None

    @property
    def ratio_median(self) -> float | None:
        """The median update/weight ratio over the weight matrices."""
        return median(self.ratios.values()) if self.ratios else None


@dataclass
class Evidence:
    """A run as the rules see it: config (defaults filled in), outcome, curves and snapshots in time order."""

    cfg: dict
    n_classes: int
    status: str
    reason: str
    initial_loss: float | None
    total_steps: int
    train: list = field(default_factory=list)  # raw train rows (read through window_losses)
    val: list = field(default_factory=list)  # evaluation rows in step order
    snaps: list = field(default_factory=list)  # Snap, in step order
    kinds: dict = field(default_factory=dict)  # hidden layer -> activation key
    input_mean: float | None = None
    input_std: float | None = None

    @property
    def ended(self) -> bool:
        """True when the run has finished for any reason (the end-of-run rules only judge those)."""
        return self.status in FINAL

    @property
    def last_step(self) -> int:
        """The latest step the history knows of."""
        steps = [r["step"] for r in self.val[-1:]] + [r["step"] for r in self.train[-1:]]
        steps += [s.step for s in self.snaps[-1:]]
        return max(steps, default=0)

    @property
    def chance(self) -> float:
        """Accuracy of guessing one class: 1/C."""
        return 1.0 / max(self.n_classes, 1)

    @property
    def final(self) -> dict:
        """The last evaluation row ({} before the first)."""
        return self.val[-1] if self.val else {}

    def early_snaps(self) -> list[Snap]:
        """Snapshots of the first steps (the first fifth of the run, at least the first 30 steps)."""
        horizon = max(EARLY_MIN_STEPS, EARLY_FRACTION * self.last_step)
        return [s for s in self.snaps if s.step <= horizon] or self.snaps[:1]

    def lr_effective(self) -> float:
        """The learning rate the optimizer used (after the linear scaling rule, when it is on)."""
        lr = self.cfg["lr"]
        if self.cfg["scale_lr_with_batch"]:
            lr *= self.cfg["batch_size"] / self.cfg["lr_reference_batch"]
        return lr

    def window_losses(self, n: int = WINDOWS) -> list[float]:
        """Mean training loss in n equal step windows, each row weighted by the steps it covers."""
        rows = [r for r in self.train if _finite(r.get("train_loss"))]
        if not rows:
            return []
        end = rows[-1]["step"]
        sums, weights = [0.0] * n, [0.0] * n
        prev = 0
        for r in rows:
            span = max(r["step"] - prev, 1)
            mid = (prev + r["step"]) / 2
            k = min(int(n * mid / max(end, 1)), n - 1)
            sums[k] += r["train_loss"] * span
            weights[k] += span
            prev = r["step"]
        return [s / w for s, w in zip(sums, weights, strict=True) if w > 0]


def _finite(x) -> bool:
    return isinstance(x, int | float) and math.isfinite(x)


def _is_weight(name: str) -> bool:
    # Weight matrices and filters; norm-layer scales start at 1 and move differently.
    return name.endswith("weight") and ".bn." not in name and "norm" not in name


def _snap(raw: dict) -> Snap:
    params = raw.get("params", {}) or {}
    ratios, w_std, w_mean = {}, {}, {}
    for name, p in params.items():
        if not _is_weight(name):
            continue
        if _finite(p.get("ratio")):
            ratios[name] = p["ratio"]
        if _finite(p.get("w_std")):
            w_std[name] = p["w_std"]
        if _finite(p.get("w_mean")):
            w_mean[name] = p["w_mean"]
    layers = {
        name: {k: row.get(k) if _finite(row.get(k)) else None for k in ("std", "grad_std", "dead", "sat")}
        for name, row in (raw.get("layers", {}) or {}).items()
    }
    return Snap(raw.get("step", 0), ratios, w_std, w_mean, layers)


def full_config(config: dict) -> dict:
    """The run's config with every field present: the stored values over RunConfig's defaults."""
    cfg = RunConfig().to_dict()
    cfg.update({k: v for k, v in (config or {}).items() if k in FIELDS})
    return cfg


def gather(train: list, val: list, snapshots: list, meta: dict, config: dict, summary: dict) -> Evidence:
    """Read a run's rows, meta, config and summary into Evidence."""
    meta = meta or {}
    summary = summary or {}
    n_classes = meta.get("n_classes") or summary.get("n_classes") or 0
    initial = summary.get("initial_loss")
    if initial is None and train:
        initial = train[0].get("train_loss")
    return Evidence(
        cfg=full_config(config),
        n_classes=int(n_classes),
        status=str(summary.get("status", "")),
        reason=str(summary.get("reason", "")),
        initial_loss=initial if initial is None or isinstance(initial, int | float) else None,
        # The planned length: a run trained "until paused" has a cap far beyond it as total_steps.
        total_steps=int(meta.get("planned_steps") or meta.get("total_steps") or summary.get("total_steps") or 0),
        train=list(train or []),
        val=[r for r in (val or []) if _finite(r.get("val_loss")) or _finite(r.get("val_acc"))],
        snaps=[_snap(s) for s in sorted(snapshots or [], key=lambda s: s.get("step", 0))],
        kinds=dict(meta.get("kinds", {}) or {}),
        input_mean=meta.get("input_mean"),
        input_std=meta.get("input_std"),
    )
