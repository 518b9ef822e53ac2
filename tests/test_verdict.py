"""lab.diagnosis.verdict: the one-line verdict on a tried fix, from the two runs' figures."""

from lab.diagnosis.verdict import dead_share, describe_fix, fix_verdict, matching_hint, measured


def run(status="completed", steps=220, **figures):
    """A summary as Trainer.summary() gives it (only the fields a verdict reads)."""
    return {"status": status, "steps": steps, **figures}


def snap(*dead):
    """A snapshot whose ReLU layers have these dead shares (plus a layer that records none)."""
    layers = {f"fc{i + 1}": {"std": 1.0, "dead": d} for i, d in enumerate(dead)}
    return {"step": 1, "layers": {**layers, "out": {"std": 1.0}}}


LR = {"cause": "lr_too_low", "fix": {"lr": 0.1}}


def test_validation_accuracy_decides_by_default():
    line = fix_verdict(run(val_acc=0.1), run(val_acc=0.96), LR)
    assert line == "The fix worked: validation accuracy 10% -> 96%."
    assert fix_verdict(run(val_acc=0.9), run(val_acc=0.89), LR).startswith(
        "No clear change: validation accuracy 90% -> 89%"
    )
    assert fix_verdict(run(val_acc=0.9), run(val_acc=0.8), LR).startswith("The fix did not help")


def test_a_divergence_fixed_means_the_run_completed():
    hint = {"cause": "lr_too_high", "try": {"lr": 0.15}}
    line = fix_verdict(run("diverged", 6), run(val_acc=0.97), hint)
    assert (
        line
        == "The fix worked: the run diverged at step 6; with lr=0.15 it trained all 220 steps, validation accuracy 97%."
    )
    assert "still diverged" in fix_verdict(run("diverged", 6), run("diverged", 9), hint)
    assert "made it worse" in fix_verdict(run(val_acc=0.5), run("diverged", 3), hint)


def test_dead_units_are_judged_by_the_dead_fraction():
    hint = {"cause": "dead_relu", "fix": {"lr": 0.01}}
    before = measured(run(val_acc=0.76), [snap(0.05, 0.05), snap(0.9, 0.8)])
    after = measured(run(val_acc=0.94), [snap(0.05, 0.05), snap(0.2, 0.24)])
    assert round(before["dead_fraction"], 6) == 0.85 and before["dead_peak"] == before["dead_fraction"]
    assert (
        fix_verdict(before, after, hint) == "The fix worked: dead fraction 85% -> 22%; validation accuracy 76% -> 94%."
    )
    clean = measured(run(val_acc=0.95), [snap(0.0, 0.0), snap(0.001, 0.0)])
    assert "the dead fraction stayed at 0%" in fix_verdict(clean, clean, hint)
    # fewer dead units bought with accuracy is not a fix
    worse = measured(run(val_acc=0.5), [snap(0.0, 0.0)])
    assert fix_verdict(before, worse, hint).startswith("No clear change")


def test_overfitting_is_judged_by_the_gap():
    hint = {"cause": "overfitting", "fix": {"dropout": 0.3}}
    line = fix_verdict(run(train_acc=1.0, val_acc=0.74), run(train_acc=0.97, val_acc=0.92), hint)
    assert line == "The fix worked: train/validation gap 26 -> 5 points; validation accuracy 74% -> 92%."


def test_no_verdict_before_both_runs_end_or_when_the_trial_failed():
    assert "has not ended" in fix_verdict(run(val_acc=0.5), run("running", val_acc=0.6), LR)
    assert fix_verdict(run(val_acc=0.5), run("failed", 3), LR).startswith("No verdict")


def test_matching_hint_finds_the_fix_a_comparison_tried():
    cfg = {"lr": 1.0, "init": "default", "seed": 0}
    hints = [{"cause": "healthy", "fix": None}, {"cause": "zero_init", "fix": {"init": "kaiming_normal"}}, LR]
    assert matching_hint(hints, cfg, {**cfg, "lr": 0.1}) is LR
    assert matching_hint(hints, cfg, {**cfg, "lr": 0.2}) is None
    assert matching_hint(hints, cfg, {**cfg, "lr": 0.1, "seed": 1}) is None  # not the same-seed trial


def test_helpers():
    assert dead_share({"layers": {"out": {"std": 1}}}) is None
    assert measured({"val_acc": 0.5}, [{"layers": {}}]) == {"val_acc": 0.5}
    assert describe_fix({"lr": 0.01, "batch_norm": True}) == "lr=0.01, batch_norm=true"
