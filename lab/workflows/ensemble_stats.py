"""Combining the predictions of several models: the ensemble maths, in numpy so the web process can run it.

An ensemble here averages predicted class probabilities (not logits, not votes): every
member says how sure it is, and the average is a calibrated mixture. The training side
(members, snapshots, weight averaging) lives in `lab.workflows.ensembles` and runs in a
worker; it returns plain arrays that these functions reduce to tables and curves.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from lab.config import RunConfig

PROB_FLOOR = 1e-12  # log(0) guard when a member is certain and wrong
MAX_MEMBERS = 8  # members of a seed ensemble the page offers (each is a full run)
DEFAULT_DECAY = 0.95  # EMA weight of the old average: remembers about 20 steps
AVERAGE_LABELS = {"ema": "EMA", "swa": "SWA average"}

# Demo setups that make each effect visible in seconds on the embedded digits (measured, see the page text).
# Few examples and dropout make the members disagree, which is what an ensemble feeds on.
DEMO_SEEDS = RunConfig(dataset="digits", subset=300, epochs=10, dropout=0.2)
# SGD with momentum at a high peak rate: each cycle's low point lands in a different minimum.
DEMO_SNAPSHOT = RunConfig(dataset="digits", subset=500, optimizer="momentum", lr=0.2, min_lr_ratio=0.001)
# A high constant rate keeps the raw weights bouncing around the minimum; their average sits nearer its centre.
DEMO_AVERAGING = RunConfig(dataset="digits", subset=500, epochs=20, optimizer="momentum", lr=0.2)


def ensemble_proba(member_probs: Sequence[np.ndarray]) -> np.ndarray:
    """The ensemble's probabilities: the mean over members of their (N, C) probability arrays."""
    if not member_probs:
        raise ValueError("members=[] is invalid: an ensemble needs at least one member's probabilities")
    shapes = {np.shape(p) for p in member_probs}
    if len(shapes) != 1:
        raise ValueError(f"member shapes={sorted(shapes)} are invalid: every member must predict the same (N, C) array")
    return np.mean(np.stack([np.asarray(p, dtype=np.float64) for p in member_probs]), axis=0)


def accuracy(probs: np.ndarray, y: np.ndarray) -> float:
    """Share of rows whose most probable class is the label."""
    return float(np.mean(np.argmax(probs, axis=1) == np.asarray(y)))


def nll(probs: np.ndarray, y: np.ndarray) -> float:
    """Mean negative log-probability of the true class (the validation cross-entropy)."""
    p = np.asarray(probs, dtype=np.float64)[np.arange(len(y)), np.asarray(y)]
    return float(-np.mean(np.log(np.maximum(p, PROB_FLOOR))))


def usable(probs: np.ndarray) -> bool:
    """True when an array of probabilities is finite (a diverged member is left out of the ensemble)."""
    return bool(np.all(np.isfinite(probs)))


def ensemble_summary(members: Sequence[dict]) -> dict:
    """Each member's accuracy and loss, their mean, the ensemble's, and the ensemble's accuracy by size.

    `members` are the dicts returned by `lab.workflows.ensembles.train_member` (keys seed,
    probs, y, ...). `by_size[k-1]` is the accuracy of the ensemble of the first k usable members.
    """
    good = [m for m in members if usable(m["probs"])]
    rows = [
        {
            "seed": m["seed"],
            "val_acc": accuracy(m["probs"], m["y"]),
            "val_loss": nll(m["probs"], m["y"]),
            "used": usable(m["probs"]),
        }
        for m in members
    ]
    out = {
        "members": rows,
        "n_used": len(good),
        "ensemble_acc": math.nan,
        "ensemble_loss": math.nan,
        "mean_acc": math.nan,
        "mean_loss": math.nan,
        "best_acc": math.nan,
        "by_size": [],
    }
    if not good:
        return out
    y = good[0]["y"]
    probs = [m["probs"] for m in good]
    ens = ensemble_proba(probs)
    accs = [accuracy(p, y) for p in probs]
    out.update(
        ensemble_acc=accuracy(ens, y),
        ensemble_loss=nll(ens, y),
        mean_acc=float(np.mean(accs)),
        mean_loss=float(np.mean([nll(p, y) for p in probs])),
        best_acc=max(accs),
        by_size=[accuracy(ensemble_proba(probs[:k]), y) for k in range(1, len(probs) + 1)],
    )
    return out


def snapshot_summary(result: dict, keep_last: int) -> dict:
    """The snapshot ensemble of the last `keep_last` snapshots of one cyclic run, next to each snapshot alone."""
    snaps = [s for s in result["snapshots"] if usable(s["probs"])]
    y = result["y"]
    rows = [
        {"step": s["step"], "lr": s["lr"], "val_acc": accuracy(s["probs"], y), "val_loss": nll(s["probs"], y)}
        for s in snaps
    ]
    out = {
        "snapshots": rows,
        "kept": 0,
        "ensemble_acc": math.nan,
        "ensemble_loss": math.nan,
        "last_acc": math.nan,
        "last_loss": math.nan,
    }
    if not snaps:
        return out
    kept = snaps[-max(1, keep_last) :]
    ens = ensemble_proba([s["probs"] for s in kept])
    out.update(
        kept=len(kept),
        ensemble_acc=accuracy(ens, y),
        ensemble_loss=nll(ens, y),
        last_acc=rows[-1]["val_acc"],
        last_loss=rows[-1]["val_loss"],
    )
    return out


# ---- what the page shows ---------------------------------------------------------------------------------------------


def members_table(s: dict) -> list[dict]:
    """Rows of an ensemble summary's table: each member, the mean of the members, then the ensemble."""
    rows = [{"model": f"seed {m['seed']}", "val acc": m["val_acc"], "val loss": m["val_loss"]} for m in s["members"]]
    return rows + [
        {"model": "mean of members", "val acc": s["mean_acc"], "val loss": s["mean_loss"]},
        {"model": "ensemble", "val acc": s["ensemble_acc"], "val loss": s["ensemble_loss"]},
    ]


def seed_text(s: dict) -> str:
    """The seed ensemble against its average and best member, from `ensemble_summary`."""
    gain = (s["ensemble_acc"] - s["mean_acc"]) * 100
    return (
        f"**Ensemble of {s['n_used']}: {s['ensemble_acc']:.1%}** validation accuracy, against "
        f"{s['mean_acc']:.1%} for the average member ({gain:+.1f} points) and "
        f"{s['best_acc']:.1%} for the best one. Validation loss {s['ensemble_loss']:.3f} against "
        f"{s['mean_loss']:.3f}: the average is also less over-confident."
    )


def snapshot_text(s: dict, n_snapshots: int, steps: int) -> str:
    """The snapshot ensemble against the last snapshot alone, from `snapshot_summary`."""
    return (
        f"**Snapshot ensemble of the last {s['kept']}: {s['ensemble_acc']:.1%}** against "
        f"{s['last_acc']:.1%} for the last snapshot alone (what the run itself would give you), "
        f"validation loss {s['ensemble_loss']:.3f} against {s['last_loss']:.3f}; "
        f"{n_snapshots} snapshots from {steps} steps."
    )


def averaging_text(r: dict) -> str:
    """The averaged weights against the raw ones, from an averaging run's result."""
    return (
        f"**{AVERAGE_LABELS[r['mode']]}: {r['avg_val_acc']:.1%}** validation accuracy (loss {r['avg_val_loss']:.3f}) "
        f"against **{r['raw_val_acc']:.1%}** (loss {r['raw_val_loss']:.3f}) for the raw weights "
        f"after {r['steps']} steps."
        + (" Batch-norm statistics re-estimated with update_bn." if r["batch_norm"] else "")
    )


# Page texts: what each part of the Ensembles page says before its controls.
PAGE_INTRO = (
    "Several models usually beat one. Three ways to get there, from the most expensive (N full runs) "
    "to the cheapest (one run, one model at the end)."
)
SEEDS_INTRO = (
    "Train the same network several times, changing only the seed (initial weights, shuffling, "
    "dropout). Each run makes different mistakes; averaging their **predicted probabilities** cancels "
    "part of them. The validation split stays the same for every member."
)
SNAPSHOT_INTRO = (
    "A **snapshot ensemble** costs one run: the learning rate rises and falls in cycles, and each time "
    "it bottoms out the weights settle into a minimum. A copy is kept there (a callback watches the "
    "rate); the next peak kicks the weights out towards another minimum. Averaging the snapshots' "
    "probabilities works like an ensemble of separately trained models, minus most of the cost. How "
    "much it gains depends on how different the minima are: high peaks make them differ more."
)
AVERAGING_INTRO = (
    "Instead of averaging predictions, average the **weights** along the run "
    "(`torch.optim.swa_utils.AveragedModel`). Late in training, SGD bounces around a minimum; the "
    "average of the positions it visits lies closer to the centre. An exponential moving average (EMA, "
    "Polyak averaging) weights recent steps most; SWA takes the plain mean of the weights at the end "
    "of each epoch from some epoch on. One model at test time, nothing extra to store. With batch "
    "norm, the averaged network's statistics are recomputed on the training data (`update_bn`)."
)
DECAY_HELP = "Weight of the old average at each step; 0.95 remembers about 20 steps."  # help of the EMA decay input
NO_SNAPSHOT = "The run ended before its rate reached a low point: no snapshot was taken."  # cyclic run, no minimum


def member_keys(n_started: int) -> list[str]:
    """Task keys of the first `n_started` seed-ensemble members: ens_member_0, ens_member_1, ..."""
    return [f"ens_member_{i}" for i in range(n_started)]


def seed_summary(done: Sequence[dict]) -> dict | None:
    """`ensemble_summary` of the finished members in seed order, or None while none has finished."""
    return ensemble_summary(sorted(done, key=lambda m: m["seed"])) if done else None


def seed_caption(n_done: int, n_started: int, running: bool) -> str | None:
    """The seed ensemble's progress line ('2 of 5 members trained · training...'), None before any start."""
    if not n_started:
        return None
    return f"{n_done} of {n_started} members trained" + (" · training..." if running else "")


def seed_message(s: dict | None) -> str | None:
    """`seed_text` of a summary with at least one usable member, else None."""
    return seed_text(s) if s and s["n_used"] else None


def snapshot_chart_data(result: dict | None, s: dict | None) -> tuple[list | None, list | None, int]:
    """The snapshot figure's inputs: the run's rate schedule, the snapshot rows and how many are kept."""
    return (result["lr"] if result else None, s and s["snapshots"], s["kept"] if s else 0)


def swa_start_choices(epochs: int) -> tuple[int, int]:
    """(latest, default) for SWA's 'average after epoch': the last start that still averages an epoch, half the run."""
    return max(0, epochs - 1), epochs // 2


def average_label(r: dict | None, mode: str) -> str:
    """Curve label of the averaged weights: the finished run's mode, else the one picked on the page."""
    return AVERAGE_LABELS[(r or {}).get("mode", mode)]


def averaging_message(r: dict | None) -> str | None:
    """`averaging_text` of a run whose averaged weights were scored, else None."""
    return averaging_text(r) if r and r["avg_val_acc"] is not None else None
