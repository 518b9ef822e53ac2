"""Plain-language hints from recorded figures, grounded in the training recipe of the syllabus.

`diagnose` reads only JSON-ready data (metric rows, snapshots, meta, config), so it
works the same on a live trainer, on a run loaded from the store, and in tests.
Thresholds are named constants so the page can explain them.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from statistics import median

INIT_LOSS_TOLERANCE = 0.25  # accept initial loss within +-25% of ln(C)
HEALTHY_RATIO = 1e-3  # update/weight ratio that usually goes with a good learning rate
RATIO_TOO_HIGH = 1e-2
RATIO_TOO_LOW = 1e-5
DEAD_WARN = 0.4  # share of never-firing ReLU units in a layer
SAT_WARN = 0.3  # share of saturated tanh/sigmoid outputs in a layer
GAP_WARN = 0.15  # train accuracy minus validation accuracy that signals overfitting
UNDERFIT_ACC = 0.6  # both accuracies below this after a fair number of steps
MIN_STEPS_FOR_TRENDS = 50


@dataclass(frozen=True)
class Hint:
    """One diagnosis: severity (ok, info, warn, bad), topic, and a sentence in plain words."""

    level: str
    topic: str
    text: str
    layer: str = ""


def _initial_loss(initial: float | None, n_classes: int, loss_name: str) -> list[Hint]:
    if initial is None or n_classes < 2 or loss_name != "cross_entropy":
        return []
    expected = math.log(n_classes)
    if not math.isfinite(initial):
        return [Hint("bad", "initial loss", f"The very first loss was {initial}: something is numerically broken.")]
    if abs(initial - expected) <= INIT_LOSS_TOLERANCE * expected:
        return [
            Hint(
                "ok",
                "initial loss",
                f"Starting loss {initial:.2f} is close to ln({n_classes}) = {expected:.2f}, "
                "what a network that guesses uniformly should score.",
            )
        ]
    if initial > expected:
        return [
            Hint(
                "warn",
                "initial loss",
                f"Starting loss {initial:.2f} is well above ln({n_classes}) = {expected:.2f}: "
                "the untrained network is confidently wrong, so the initial weights are "
                "probably too large.",
            )
        ]
    return [
        Hint(
            "warn",
            "initial loss",
            f"Starting loss {initial:.2f} is below ln({n_classes}) = {expected:.2f} before "
            "any learning; check for a label leak or a regularization term missing.",
        )
    ]


def _loss_trend(train: list[dict], status: str, reason: str) -> list[Hint]:
    if status == "diverged":
        return [
            Hint(
                "bad",
                "loss",
                f"The run diverged ({reason}). Lower the learning rate (try 3-10x smaller), "
                "add warmup, or clip gradients.",
            )
        ]
    if len(train) < 4 or train[-1]["step"] < MIN_STEPS_FOR_TRENDS:
        return []
    first = train[0]["train_loss"]
    k = max(1, len(train) // 10)
    last = sum(r["train_loss"] for r in train[-k:]) / k
    if first > 0 and last > 0.95 * first:
        return [
            Hint(
                "warn",
                "loss",
                f"The training loss barely moved ({first:.3f} to {last:.3f}). The learning rate "
                "may be too low, or gradients are not reaching the early layers.",
            )
        ]
    return []


def _update_ratio(snapshots: list[dict]) -> list[Hint]:
    if not snapshots:
        return []
    last = snapshots[-1]
    ratios = [
        p["ratio"]
        for name, p in last.get("params", {}).items()
        if p.get("ratio") is not None and name.endswith("weight") and p.get("w_std", 0) > 0
    ]
    if not ratios:
        return []
    med = median(ratios)
    if med > RATIO_TOO_HIGH:
        return [
            Hint(
                "warn",
                "update/weight ratio",
                f"Each step changes the weights by about {med:.1e} of their size "
                f"(healthy is near {HEALTHY_RATIO:.0e}): the learning rate is "
                "probably too high.",
            )
        ]
    if med < RATIO_TOO_LOW:
        return [
            Hint(
                "warn",
                "update/weight ratio",
                f"Each step changes the weights by only {med:.1e} of their size "
                f"(healthy is near {HEALTHY_RATIO:.0e}): the learning rate is "
                "probably too low.",
            )
        ]
    return [
        Hint(
            "ok",
            "update/weight ratio",
            f"Median update/weight ratio {med:.1e}, in a healthy range around {HEALTHY_RATIO:.0e}.",
        )
    ]


def _layers(snapshots: list[dict], meta: dict) -> list[Hint]:
    if not snapshots:
        return []
    last = snapshots[-1]
    kinds = meta.get("kinds", {})
    hints = []
    for name, row in last.get("layers", {}).items():
        dead, sat = row.get("dead"), row.get("sat")
        if dead is not None and dead >= DEAD_WARN:
            hints.append(
                Hint(
                    "warn",
                    "dead units",
                    f"{name}: {dead:.0%} of its {kinds.get(name, 'ReLU')} units output zero "
                    "for every example in the batch and no longer learn. A lower learning "
                    "rate, Kaiming init or Leaky ReLU keeps them alive.",
                    name,
                )
            )
        if sat is not None and sat >= SAT_WARN:
            hints.append(
                Hint(
                    "warn",
                    "saturation",
                    f"{name}: {sat:.0%} of its {kinds.get(name, '')} outputs sit at the "
                    "flat ends of the curve, where almost no gradient passes. Try Xavier "
                    "init, smaller weights, or batch norm.",
                    name,
                )
            )
    layers = [row for row in last.get("layers", {}).values() if row.get("grad_std")]
    if len(layers) >= 3:
        first, final = layers[0]["grad_std"], layers[-1]["grad_std"]
        if final > 0 and first < 1e-2 * final:
            hints.append(
                Hint(
                    "warn",
                    "vanishing gradients",
                    f"The gradient reaching the first layer is "
                    f"{first / final:.0e} times the one at the last hidden "
                    "layer: early layers hardly learn.",
                )
            )
    return hints


def _fit(val: list[dict], cfg: dict) -> list[Hint]:
    if len(val) < 2:
        return []
    last = val[-1]
    tr, va = last.get("train_acc"), last.get("val_acc")
    if tr is None or va is None:
        return []
    best_loss = min(r["val_loss"] for r in val)
    if tr - va > GAP_WARN:
        rising = last["val_loss"] > best_loss * 1.05
        more = " and validation loss has started rising" if rising else ""
        return [
            Hint(
                "warn",
                "overfitting",
                f"Training accuracy {tr:.0%} against validation {va:.0%}{more}: the model "
                "memorizes. More data or augmentation, dropout, weight decay or early "
                "stopping will help.",
            )
        ]
    if last["step"] >= MIN_STEPS_FOR_TRENDS and tr < UNDERFIT_ACC and va < UNDERFIT_ACC:
        return [
            Hint(
                "warn",
                "underfitting",
                f"Both training ({tr:.0%}) and validation ({va:.0%}) accuracy are low: the "
                "model is too small, trained too briefly, or the learning rate is off.",
            )
        ]
    return []


def diagnose(
    train: list[dict], val: list[dict], snapshots: list[dict], meta: dict, config: dict, summary: dict
) -> list[Hint]:
    """All hints for a run, most serious first."""
    hints = (
        _loss_trend(train, summary.get("status", ""), summary.get("reason", ""))
        + _initial_loss(
            summary.get("initial_loss"),
            meta.get("n_classes", summary.get("n_classes", 0)),
            config.get("loss", "cross_entropy"),
        )
        + _update_ratio(snapshots)
        + _layers(snapshots, meta)
        + _fit(val, config)
    )
    order = {"bad": 0, "warn": 1, "info": 2, "ok": 3}
    return sorted(hints, key=lambda h: order.get(h.level, 9))


def diagnose_run(row: dict, train: list[dict], val: list[dict], snapshots: list[dict]) -> list[Hint]:
    """All hints for a stored run: its store row (config, meta, summary, status) plus its histories."""
    summary = dict(row.get("summary", {}), status=row.get("status", ""), reason=row.get("reason", ""))
    if summary.get("initial_loss") is None and train:
        summary["initial_loss"] = train[0]["train_loss"]  # a run still training has no summary yet
    return diagnose(train, val, snapshots, row.get("meta", {}), row.get("config", {}), summary)


def hints_as_dicts(hints: list[Hint]) -> list[dict]:
    """JSON-ready hints."""
    return [asdict(h) for h in hints]
