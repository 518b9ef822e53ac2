"""Diagnosis rules on hand-made histories (each rule triggered and not triggered)."""

import math

from lab.diagnosis import diagnose


def _topics(hints, level=None):
    return {h.topic for h in hints if level is None or h.level == level}


def _run(**kw):
    base = dict(
        train=[],
        val=[],
        snapshots=[],
        meta={"n_classes": 10},
        config={"loss": "cross_entropy"},
        summary={"status": "completed", "initial_loss": math.log(10)},
    )
    base.update(kw)
    return diagnose(**base)


def test_initial_loss_near_ln_c_is_ok_and_far_is_flagged():
    assert "initial loss" in _topics(_run(), "ok")
    assert "initial loss" in _topics(_run(summary={"status": "completed", "initial_loss": 9.0}), "warn")


def test_divergence_is_bad():
    hints = _run(summary={"status": "diverged", "reason": "loss became nan", "initial_loss": 2.3})
    assert hints[0].level == "bad" and "diverged" in hints[0].text


def test_flat_loss():
    flat = [{"step": s, "train_loss": 2.3} for s in range(1, 200, 10)]
    falling = [{"step": s, "train_loss": 2.3 / s} for s in range(1, 200, 10)]
    assert "loss" in _topics(_run(train=flat), "warn")
    assert "loss" not in _topics(_run(train=falling))


def _snap(ratio=1e-3, dead=0.0, sat=None, grads=(1.0, 1.0, 1.0)):
    layers = {
        f"fc{i + 1}": {"mean": 0, "std": 1, "grad_std": g, **({"dead": dead} if sat is None else {"sat": sat})}
        for i, g in enumerate(grads)
    }
    return {"step": 100, "layers": layers, "params": {"fc1.weight": {"ratio": ratio, "w_std": 0.1}}}


def test_update_ratio_bands():
    assert "update/weight ratio" in _topics(_run(snapshots=[_snap(1e-3)]), "ok")
    assert "update/weight ratio" in _topics(_run(snapshots=[_snap(0.1)]), "warn")
    assert "update/weight ratio" in _topics(_run(snapshots=[_snap(1e-7)]), "warn")


def test_dead_and_saturated_units():
    assert "dead units" in _topics(_run(snapshots=[_snap(dead=0.6)]))
    assert "dead units" not in _topics(_run(snapshots=[_snap(dead=0.1)]))
    assert "saturation" in _topics(_run(snapshots=[_snap(sat=0.8)]))


def test_vanishing_gradients():
    assert "vanishing gradients" in _topics(_run(snapshots=[_snap(grads=(1e-5, 1e-3, 1.0))]))
    assert "vanishing gradients" not in _topics(_run(snapshots=[_snap(grads=(0.5, 0.8, 1.0))]))


def test_overfitting_and_underfitting():
    over = [
        {"step": 50, "val_loss": 0.5, "val_acc": 0.7, "train_acc": 0.99},
        {"step": 100, "val_loss": 0.8, "val_acc": 0.7, "train_acc": 1.0},
    ]
    under = [
        {"step": 50, "val_loss": 2.0, "val_acc": 0.3, "train_acc": 0.3},
        {"step": 100, "val_loss": 2.0, "val_acc": 0.35, "train_acc": 0.36},
    ]
    good = [
        {"step": 50, "val_loss": 0.3, "val_acc": 0.9, "train_acc": 0.92},
        {"step": 100, "val_loss": 0.2, "val_acc": 0.95, "train_acc": 0.96},
    ]
    assert "overfitting" in _topics(_run(val=over))
    assert "underfitting" in _topics(_run(val=under))
    assert not {"overfitting", "underfitting"} & _topics(_run(val=good))
