"""Large batches and the learning rate: four runs that show the linear scaling rule and why it needs warmup.

With k times the batch, an epoch has k times fewer steps. Keeping the rate leaves the
large-batch run behind after the same number of epochs; multiplying the rate by k (the
linear scaling rule) makes each step cover what k small steps did, but the first steps
from random weights are then too violent; ramping the rate up over the first steps
(warmup) lets the network settle first. The four arms:

    small            batch b,      rate lr
    large            batch k*b,    rate lr
    large_scaled     batch k*b,    rate k*lr
    large_warmup     batch k*b,    rate k*lr, linear warmup over the first steps

All four see the same number of examples (same epochs). The runs go through the job
manager (stored, visible on Compare); this module is torch-free planning and reading.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lab import registry
from lab.config import ConfigError, Limits, RunConfig
from lab.lifecycle import FINAL, RunStatus
from lab.serving.jobs import CapacityError

# Examples before the train/val split, for the datasets whose size is fixed (the 2D toys use toy_samples).
# lab.engine.data builds these; a test checks the numbers against load_data so they cannot drift apart.
DATASET_SIZES = {"digits": 1797, "shapes": 2000, "mnist": 60000, "fashion_mnist": 60000, "cifar10": 50000}
MAX_FACTOR = 64
ARMS = ("small", "large", "large_scaled", "large_warmup")
DEMO = RunConfig(
    dataset="digits", model="mlp", depth=2, width=64, optimizer="momentum", lr=0.05, epochs=15, batch_size=32
)


@dataclass(frozen=True)
class Arm:
    """One run of the comparison: a key, a legend label and its full config."""

    key: str
    label: str
    cfg: RunConfig

    def steps_per_epoch(self) -> int:
        """Optimizer steps in one epoch of this arm."""
        return steps_per_epoch(train_size(self.cfg), self.cfg.batch_size)


def train_size(cfg: RunConfig) -> int:
    """Training examples `load_data(cfg)` yields (after the validation split and `subset`), without loading them."""
    n = cfg.toy_samples if cfg.dataset in registry.TOY_2D_DATASETS else DATASET_SIZES[cfg.dataset]
    n_val = min(max(1, round(cfg.val_fraction * n)), n - 1)  # as lab.engine.data.split_indices
    n_train = n - n_val
    return min(n_train, cfg.subset) if cfg.subset else n_train


def steps_per_epoch(n_train: int, batch_size: int) -> int:
    """Steps per epoch as the Trainer counts them (full batches only, at least one)."""
    return max(1, n_train // max(1, min(batch_size, n_train)))


def plan(
    base: RunConfig, small: int = 32, factor: int = 8, warmup_epochs: float = 2.0, limits: Limits | None = None
) -> list[Arm]:
    """The four arms built from `base` (its lr is the small batch's rate); raises ConfigError naming a bad value."""
    limits = limits or Limits()
    if not 2 <= factor <= MAX_FACTOR:
        raise ConfigError("factor", factor, f"a whole number from 2 to {MAX_FACTOR} (large batch = factor x small)")
    large = small * factor
    if small < 1 or large > limits.max_batch:
        raise ConfigError(
            "batch_size",
            large,
            f"small batch x factor at most {limits.max_batch} on this server (small {small} x {factor})",
        )
    n_train = train_size(base)
    if large > n_train:
        raise ConfigError("factor", factor, f"a large batch ({large}) no bigger than the {n_train} training examples")
    if not 0 < warmup_epochs <= base.epochs:
        raise ConfigError("warmup_epochs", warmup_epochs, f"above 0 and at most the run's {base.epochs} epochs")
    lr = base.lr
    common = {"scale_lr_with_batch": False, "warmup_steps": 0, "max_steps": 0, "early_stopping": 0}
    warm = max(1, round(warmup_epochs * steps_per_epoch(n_train, large)))
    arms = [
        Arm("small", f"batch {small}, lr {lr:g}", base.replace(batch_size=small, **common)),
        Arm("large", f"batch {large}, lr {lr:g} (same rate)", base.replace(batch_size=large, **common)),
        Arm(
            "large_scaled",
            f"batch {large}, lr {lr * factor:g} (x{factor})",
            base.replace(batch_size=large, **dict(common, lr=lr * factor)),
        ),
        Arm(
            "large_warmup",
            f"batch {large}, lr {lr * factor:g} + {warm} warmup steps",
            base.replace(batch_size=large, **dict(common, lr=lr * factor, warmup_steps=warm)),
        ),
    ]
    for arm in arms:
        arm.cfg.validate(limits)
    return arms


@dataclass
class Comparison:
    """The arms of one comparison and their run ids; arms wait until the job manager has room for them."""

    arms: list[Arm]
    runs: dict[str, str | None] = field(default_factory=dict)  # arm key -> run id (None: refused, see errors)
    errors: list[str] = field(default_factory=list)

    @property
    def waiting(self) -> bool:
        """True while some arm has not been submitted yet."""
        return any(a.key not in self.runs for a in self.arms)

    def submit_waiting(self, jobs, owner: str) -> None:
        """Submit arms in order until the manager refuses for capacity (the next call tries again)."""
        for arm in self.arms:
            if arm.key in self.runs:
                continue
            try:
                self.runs[arm.key] = jobs.submit(arm.cfg, owner=owner, label=f"large batch: {arm.label}")
            except CapacityError:
                return
            except ConfigError as e:
                self.runs[arm.key] = None
                self.errors.append(f"{arm.label}: {e}")


def epoch_series(rows: list[dict], key: str) -> tuple[list[float], list[float]]:
    """(epochs, values) of `key` from stored metric rows that have both; epochs put every arm on one x-axis."""
    pairs = [(r["epoch"], r[key]) for r in rows if r.get("epoch") is not None and r.get(key) is not None]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def arm_summary(arm: Arm, row: dict | None) -> dict:
    """One line of the results table from the arm and its stored run row (None before it is submitted)."""
    row = row or {}
    s = row.get("summary") or {}
    return {
        "arm": arm.label,
        "batch": arm.cfg.batch_size,
        "lr": arm.cfg.lr,
        "warmup steps": arm.cfg.warmup_steps,
        "steps/epoch": arm.steps_per_epoch(),
        "status": row.get("status", "waiting"),
        "steps": s.get("steps"),
        "val acc": s.get("val_acc"),
        "val loss": s.get("val_loss"),
        "train s": s.get("train_seconds"),
    }


def results_table(arms: list[Arm], rows: dict[str, dict]) -> list[dict]:
    """The results table: one `arm_summary` per arm, from the stored run rows by arm key (missing = waiting)."""
    return [arm_summary(a, rows.get(a.key)) for a in arms]


def ended(table: list[dict]) -> int:
    """How many arms of a results table have finished."""
    return sum(1 for r in table if r["status"] in FINAL)  # an ended arm's row no longer changes


def results_text(table: list[dict]) -> str:
    """One line per arm: final accuracy, loss and steps, or how it ended when it did not complete."""
    return "  \n".join(
        f"**{r['arm']}**: "
        + (
            f"{r['val acc']:.1%} validation accuracy, loss {r['val loss']:.3f}, {r['steps']} steps"
            if r["val acc"] is not None
            else r["status"]
        )
        + ("" if r["status"] == RunStatus.COMPLETED else f" ({r['status']})")
        for r in table
    )


def arm_series(arms: list[Arm], rows: dict[str, list[dict]], key: str) -> list[tuple[str, list[float], list[float]]]:
    """(label, epochs, values) of `key` for every arm, from its metric rows by arm key (none yet: empty)."""
    return [(a.label, *epoch_series(rows.get(a.key, []), key)) for a in arms]
