"""lab.concepts.schedules: schedule curves against closed forms, the plateau stand-in and the large-batch plan."""

import math

import pytest

from lab.concepts import schedules as sc
from lab.config import RunConfig


def test_cosine_with_warmup_matches_the_formula() -> None:
    """Warmup from lr/w up to lr over w steps, then half a cosine from lr down to lr x min_lr_ratio."""
    lr, w, total, ratio = 0.2, 20, 120, 0.1
    got = sc.schedule_curve(
        RunConfig(lr=lr, warmup_steps=w, schedule="cosine", min_lr_ratio=ratio, optimizer="sgd"), total
    )
    assert len(got) == total
    for t in range(w):
        assert got[t] == pytest.approx(lr * (1 / w + (1 - 1 / w) * t / w), rel=1e-9)
    lo = lr * ratio
    for t in range(w, total):
        assert got[t] == pytest.approx(lo + (lr - lo) * (1 + math.cos(math.pi * (t - w) / (total - w))) / 2, rel=1e-6)


def test_plateau_cuts_only_after_the_loss_stops_improving() -> None:
    """The stand-in loss flattens at 40%; with patience p the first cut comes p + 1 flat evaluations later."""
    total, patience = 200, 2
    lrs = sc.schedule_curve(RunConfig(lr=0.1, schedule="plateau", gamma=0.5, plateau_patience=patience), total)
    every = total // 20
    knee = int(total * 0.4)
    first_cut = next(t for t, v in enumerate(lrs) if v < 0.1)
    assert first_cut == knee + (patience + 1) * every
    assert all(a >= b for a, b in zip(lrs, lrs[1:], strict=False))  # only ever cut
    assert set(round(v / 0.1, 9) for v in lrs) <= {0.5**k for k in range(10)}  # each cut multiplies by gamma


def test_plateau_loss_shape() -> None:
    loss = sc.plateau_val_loss(100)
    assert loss(0) == 1.0 and loss(40) == loss(90) == pytest.approx(1 / 6) and loss(20) > loss(40)


@pytest.mark.parametrize(("k", "epochs"), [(0.5, 0.0), (1, 0.0), (2, 1.0), (8, 3.0), (32, 5.0), (256, 5.0)])
def test_warmup_length_grows_with_log_k_up_to_five_epochs(k: float, epochs: float) -> None:
    assert sc.warmup_epochs_for(k) == pytest.approx(epochs)


def test_large_batch_plan_arithmetic() -> None:
    """k = 4096 / 256 = 16: rate x 16 (linear) or x 4 (sqrt); 50,000 // 4096 = 12 steps per epoch; 4 warmup epochs."""
    cfg = RunConfig(lr=0.1, lr_reference_batch=256)
    plan = sc.large_batch_plan(cfg, 4096, 50_000, 10)
    assert plan.k == 16 and plan.lr_linear == pytest.approx(1.6) and plan.lr_sqrt == pytest.approx(0.4)
    assert plan.steps_per_epoch == 12 and plan.total_steps == 120
    assert plan.warmup_epochs == 4.0 and plan.warmup_steps == 48
    assert "16x" in plan.advice and "48 steps" in plan.advice


def test_smaller_batch_needs_no_warmup() -> None:
    plan = sc.large_batch_plan(RunConfig(lr=0.1, lr_reference_batch=256), 128, 50_000, 10)
    assert plan.lr_linear == pytest.approx(0.05) and plan.warmup_steps == 0 and "no warmup" in plan.advice


def test_short_runs_get_a_warning() -> None:
    """When the warmup would eat most of the run, the advice says so and offers the sqrt rule instead."""
    plan = sc.large_batch_plan(RunConfig(lr=0.1, lr_reference_batch=64), 1024, 5000, 4)
    assert plan.warmup_steps == min(plan.total_steps - 1, math.ceil(4.0 * plan.steps_per_epoch))
    assert "sqrt(k)" in plan.advice and "per epoch" in plan.advice


@pytest.mark.parametrize("schedule", list(sc.SCHEDULE_KNOBS))
def test_schedule_knobs_list_every_field_a_schedule_reads(schedule: str) -> None:
    """Moving any knob outside a schedule's list leaves its curve unchanged, so caching on the list is safe;
    moving a listed one changes it (both checked against lab.engine.optim, which owns the schedules)."""
    knobs = {"step_size": 40, "gamma": 0.5, "min_lr_ratio": 0.1, "plateau_patience": 1}
    other = {"step_size": 70, "gamma": 0.2, "min_lr_ratio": 0.3, "plateau_patience": 3}
    base = sc.schedule_curve(RunConfig(schedule=schedule, lr=0.1, optimizer="sgd", **knobs), 300)
    for key in knobs:
        moved = sc.schedule_curve(
            RunConfig(schedule=schedule, lr=0.1, optimizer="sgd", **{**knobs, key: other[key]}), 300
        )
        assert (moved != base) == (key in sc.SCHEDULE_KNOBS[schedule]), key
    assert sc.schedule_curve(sc.schedule_config(schedule, 0.1, **knobs), 300) == base
