"""Diagnosis rules on hand-made histories: each rule fires on its evidence and stays quiet without it."""

import math

from lab.config import RunConfig
from lab.diagnosis import Hint, diagnose, hints_as_dicts
from lab.diagnosis.arbiter import arbitrate
from lab.diagnosis.evidence import gather
from lab.diagnosis.fixes import nice, validated

LN10 = math.log(10)


def _snap(step, ratio=1e-3, dead=None, sat=None, stds=(1.0, 1.0), grads=(1.0, 1.0), w_std=0.1, w_mean=0.0):
    layers = {}
    for i, (s, g) in enumerate(zip(stds, grads, strict=True)):
        row = {"mean": 0.0, "std": s, "grad_std": g}
        if dead is not None:
            row["dead"] = dead[i] if isinstance(dead, tuple) else dead
        if sat is not None:
            row["sat"] = sat
        layers[f"fc{i + 1}"] = row
    params = {f"fc{i + 1}.weight": {"ratio": ratio, "w_std": w_std, "w_mean": w_mean} for i in range(len(stds))} | {
        "out.weight": {"ratio": ratio, "w_std": 0.1, "w_mean": 0.0}
    }
    return {"step": step, "layers": layers, "params": params}


def _val(step, val_acc, val_loss, train_acc=None, train_loss=None):
    return {
        "step": step,
        "val_acc": val_acc,
        "val_loss": val_loss,
        "train_acc": val_acc if train_acc is None else train_acc,
        "train_loss": val_loss if train_loss is None else train_loss,
    }


def _run(config=None, snaps=(), val=(), status="completed", initial=LN10, kinds=None):
    n_layers = len(snaps[0]["layers"]) if snaps else 2
    meta = {"n_classes": 10, "total_steps": 200, "kinds": kinds or {f"fc{i + 1}": "relu" for i in range(n_layers)}}
    return diagnose([], list(val), list(snaps), meta, config or {}, {"status": status, "initial_loss": initial})


def _causes(hints, levels=("bad", "warn")):
    return [h.cause for h in hints if h.level in levels]


GOOD_VAL = [_val(s, 0.5 + s / 500, 2.0 - s / 120, train_acc=0.55 + s / 450) for s in range(20, 201, 20)]


def test_a_healthy_history_gets_only_ok_hints():
    hints = _run(snaps=[_snap(s, ratio=3e-3) for s in range(1, 200, 20)], val=GOOD_VAL)
    assert _causes(hints) == []
    assert {"initial_loss_ok", "update_ratio_ok", "healthy"} <= {h.cause for h in hints}


def test_a_high_but_working_update_ratio_is_noted_as_high_not_called_healthy():
    hints = _run(snaps=[_snap(s, ratio=2e-2) for s in range(1, 200, 20)], val=GOOD_VAL)
    assert _causes(hints) == []  # no warning: the run learns
    note = next(h for h in hints if h.topic == "update/weight ratio")
    assert (note.level, note.cause) == ("info", "update_ratio_high") and "20x" in note.text
    assert "update_ratio_ok" not in {h.cause for h in hints}


def test_divergence_names_the_learning_rate_with_a_lower_one():
    hints = _run({"lr": 0.3}, snaps=[_snap(1, ratio=3.0)], status="diverged")
    assert hints[0].level == "bad" and hints[0].cause == "lr_too_high"
    assert hints[0].fix == {"lr": 0.003}  # the first update (3.0) brought back to about 1e-2: 100x lower, capped
    assert hints[0].step == 1


def test_divergence_of_a_scaled_large_batch_asks_for_warmup_not_a_lower_rate():
    cfg = {"batch_size": 512, "scale_lr_with_batch": True, "optimizer": "momentum", "lr": 0.1}
    hints = _run(cfg, snaps=[_snap(1, ratio=0.5)], status="diverged")
    assert _causes(hints) == ["no_warmup"] and hints[0].fix == {"warmup_steps": 100}  # half the planned run
    with_warmup = _run({**cfg, "warmup_steps": 20}, snaps=[_snap(1, ratio=0.5)], status="diverged")
    assert _causes(with_warmup) == ["lr_too_high"]


def test_collapse_huge_first_update_then_dead_units_is_lr_too_high_not_too_low():
    snaps = [_snap(1, ratio=0.5, dead=0.05)] + [_snap(s, ratio=0.0, dead=1.0) for s in range(11, 200, 10)]
    val = [_val(s, 0.1, 2.3) for s in range(20, 201, 20)]
    hints = _run({"optimizer": "sgd", "lr": 10.0}, snaps=snaps, val=val)
    assert _causes(hints) == ["lr_too_high"]  # the frozen ratio afterwards is a symptom, not "too low"
    assert hints[0].fix == {"lr": 0.2} and hints[0].step == 1


def test_tiny_updates_and_a_creeping_loss_is_lr_too_low():
    snaps = [_snap(s, ratio=5e-6) for s in range(1, 200, 20)]
    val = [_val(s, 0.12, 2.30) for s in range(20, 201, 20)]
    hints = _run({"optimizer": "sgd", "lr": 1e-4}, snaps=snaps, val=val, initial=2.3)
    assert _causes(hints) == ["lr_too_low"] and hints[0].fix == {"lr": 0.02}
    assert _causes(_run({"optimizer": "sgd", "lr": 1e-4}, snaps=snaps, val=GOOD_VAL)) == []  # loss fell: no hint


def test_symmetric_start_needs_the_config_and_the_measurement():
    snaps = [_snap(s, ratio=0.0, dead=1.0, w_std=0.0) for s in range(1, 200, 20)]
    val = [_val(s, 0.1, 2.3) for s in range(20, 201, 20)]
    hints = _run({"init": "zeros"}, snaps=snaps, val=val)
    assert _causes(hints) == ["zero_init"] and hints[0].fix == {"init": "kaiming_normal"}
    tanh = _run({"init": "zeros", "activation": "tanh"}, snaps=snaps, val=val, kinds={"fc1": "tanh", "fc2": "tanh"})
    assert tanh[0].fix == {"init": "xavier_normal"}
    # The same frozen history under a random init is not blamed on the init.
    assert "zero_init" not in _causes(_run({}, snaps=snaps, val=val))


def test_large_init_from_the_first_loss_and_saturation():
    val = [_val(s, 0.7, 1.4, train_acc=0.8) for s in range(20, 201, 20)]
    cfg = {"init": "large_normal", "activation": "tanh"}
    kinds = {"fc1": "tanh", "fc2": "tanh"}
    hints = _run(cfg, snaps=[_snap(1, sat=0.8)], val=val, initial=12.6, kinds=kinds)
    assert _causes(hints) == ["init_too_large"] and hints[0].fix == {"init": "xavier_normal"}
    assert "init_too_large" not in _causes(_run({"activation": "tanh"}, snaps=[_snap(1, sat=0.8)], val=val))


def test_shrinking_activations_in_depth_blame_a_small_init():
    stds, grads = (0.08, 6e-3, 5e-4, 4e-5), (1e-12, 1e-10, 1e-8, 1e-4)
    val = [_val(s, 0.1, 2.3) for s in range(20, 201, 20)]
    kinds = {f"fc{i}": "tanh" for i in range(1, 5)}
    cfg = {"init": "small_normal", "activation": "tanh", "depth": 4}
    hints = _run(cfg, snaps=[_snap(s, stds=stds, grads=grads) for s in (1, 50, 100)], val=val, kinds=kinds)
    assert _causes(hints) == ["init_too_small"]  # the vanishing gradients follow from it
    assert hints[0].fix == {"init": "xavier_normal"} and hints[0].layer == "fc4"


def test_vanishing_gradients_through_sigmoids():
    grads = (1e-7, 1e-5, 1e-3)
    val = [_val(s, 0.1, 2.3) for s in range(20, 201, 20)]
    kinds = {f"fc{i}": "sigmoid" for i in range(1, 4)}
    cfg = {"activation": "sigmoid", "depth": 3, "init": "xavier_normal"}
    snaps = [_snap(s, stds=(0.2, 0.1, 0.1), grads=grads) for s in (1, 50, 100)]
    hints = _run(cfg, snaps=snaps, val=val, kinds=kinds)
    assert _causes(hints) == ["vanishing_gradients"]
    assert hints[0].fix == {"activation": "relu", "init": "kaiming_normal"}
    healthy = [_snap(s, stds=(0.2, 0.1, 0.1), grads=(0.5, 0.8, 1.0)) for s in (1, 50, 100)]
    assert _causes(_run(cfg, snaps=healthy, val=val, kinds=kinds)) == []


def test_dead_units_that_rise_and_stay_but_not_at_the_start():
    snaps = [_snap(1, ratio=0.02, dead=0.05)] + [_snap(s, ratio=0.01, dead=(0.7, 0.1)) for s in range(21, 200, 20)]
    hints = _run({}, snaps=snaps, val=GOOD_VAL)
    assert _causes(hints) == ["dead_relu"] and hints[0].fix == {"activation": "leaky_relu"}
    assert hints[0].layer == "fc1" and hints[0].step == 21
    big_steps = [_snap(1, ratio=0.38, dead=0.05)] + snaps[1:]
    assert _run({"lr": 0.03}, snaps=big_steps, val=GOOD_VAL)[0].fix == {"lr": 0.0008}
    always = [_snap(s, ratio=0.01, dead=0.7) for s in range(1, 200, 20)]  # dead from the start: not "died"
    assert _causes(_run({}, snaps=always, val=GOOD_VAL)) == []


def test_overfitting_from_a_rising_validation_loss_names_the_early_stop():
    val = [_val(s, 0.9, 0.37 + abs(s - 21) / 300, train_acc=1.0, train_loss=0.1 / s) for s in range(3, 151, 3)]
    hints = _run({"subset": 120}, val=val)
    assert _causes(hints) == ["overfitting"] and hints[0].fix == {"subset": 480}
    assert hints[0].step == 21 and "stopped at step 30" in hints[0].text
    assert _run({}, val=val)[0].fix == {"early_stopping": 3}


def test_memorizing_every_training_example_is_overfitting_even_with_a_flat_validation_loss():
    val = [_val(s, 0.9, 0.35 + s / 10000, train_acc=1.0, train_loss=1e-4 * 300 / s) for s in range(30, 301, 30)]
    assert _causes(_run({"subset": 120}, val=val)) == ["overfitting"]
    fits = [_val(s, 0.97, 0.1, train_acc=1.0, train_loss=1e-3) for s in range(30, 301, 30)]  # 3 points: no hint
    assert _causes(_run({}, val=fits)) == []


def test_a_small_gap_with_the_validation_loss_still_at_new_lows_is_not_overfitting():
    # Every training example right and a 10x loss gap, but validation loss still reaching new lows at the end.
    still = [_val(s, 0.8 + s / 2000, 0.6 - s / 500, train_acc=1.0, train_loss=0.002) for s in range(20, 201, 20)]
    assert _causes(_run({"subset": 150}, val=still)) == []
    # The last evaluation dipping 16 points below training after good ones: a dip, not a gap.
    dip = [_val(s, 0.88, 0.3 + s / 10000, train_acc=0.95) for s in range(20, 201, 20)]
    dip[-1] = _val(200, 0.79, 0.32, train_acc=0.95)
    assert _causes(_run({}, val=dip)) == []


def test_underfitting_is_told_by_its_cause():
    flat = [_val(s, 0.6, 1.9, train_acc=0.62) for s in range(20, 201, 20)]
    assert _run({"dropout": 0.9}, val=flat)[0].fix == {"dropout": 0.2}
    assert _run({"weight_decay": 0.5}, val=flat)[0].fix == {"weight_decay": 0.005}
    linear = _run({"dataset": "xor", "depth": 0}, val=flat, initial=0.7)
    assert _causes(linear) == ["needs_hidden_layer"] and linear[0].fix == {"depth": 2}
    falling = [_val(s, 0.5 + s / 100, 2.0 - s / 15, train_acc=0.5 + s / 100) for s in range(2, 23, 2)]
    short = _run({"epochs": 1}, val=falling)
    assert _causes(short) == ["train_longer"] and short[0].fix == {"epochs": 4}
    assert _causes(_run({"epochs": 1}, val=falling, status="running")) == []  # a live run is not "cut short"


def test_inputs_and_loss_are_named_only_when_the_config_has_them():
    val = [_val(s, 0.88, 0.5, train_acc=0.89) for s in range(20, 201, 20)]
    raw = {"input_mean": 0.3, "input_std": 0.38}
    ev_meta = {"n_classes": 10, "kinds": {"fc1": "relu", "fc2": "relu"}, **raw}
    hints = diagnose([], val, [], ev_meta, {"preprocess": "none"}, {"status": "completed", "initial_loss": 2.3})
    assert _causes(hints) == ["inputs_not_normalized"] and hints[0].fix == {"preprocess": "standardize"}
    assert _causes(diagnose([], val, [], ev_meta, {}, {"status": "completed", "initial_loss": 2.3})) == []
    mse = _run({"loss": "mse"}, val=val, initial=0.17)
    assert _causes(mse) == ["mse_loss"] and mse[0].fix == {"loss": "cross_entropy"}


def test_oscillation_between_evaluations():
    losses = [2.0, 1.2, 0.6, 1.5, 1.4, 1.3, 2.3, 2.0, 1.7, 1.5, 1.5, 2.1, 2.6, 1.3, 2.7, 2.8]
    val = [_val(20 * (i + 1), 0.5, v) for i, v in enumerate(losses)]
    hints = _run({"optimizer": "momentum", "lr": 0.1, "batch_size": 8}, val=val)
    assert _causes(hints) == ["oscillating_loss"] and hints[0].fix == {"lr": 0.03}
    smooth = [_val(20 * (i + 1), 0.9, 0.1 + 0.01 * (i % 2)) for i in range(16)]
    assert _causes(_run({}, val=smooth)) == []
    # Two spikes on the way down, then a loss that settles for the last quarter: SGD's spikes, not oscillation.
    spikes = [2.2, 2.0, 1.7, 2.0, 1.1, 0.9, 0.7, 0.7, 0.4, 1.1, 0.2, 0.2, 0.2, 0.5, 0.17, 0.17, 0.17, 0.16, 0.17]
    settled = [_val(20 * (i + 1), 0.9, v) for i, v in enumerate(spikes)]
    assert _causes(_run({"optimizer": "sgd", "lr": 0.1}, val=settled)) == []


def test_arbitration_keeps_one_value_per_knob_earliest_evidence_first():
    late = Hint("warn", "t", "x", cause="oscillating_loss", step=300, fix={"lr": 0.03})
    early = Hint("warn", "t", "x", cause="dead_relu", step=11, fix={"lr": 0.001})
    low = Hint("warn", "t", "x", cause="lr_too_low", step=1, fix={"lr": 1.0})
    root = Hint("bad", "t", "x", cause="lr_too_high", step=1, fix={"lr": 0.01})
    assert [h.cause for h in arbitrate([late, early])] == ["dead_relu"]
    assert [h.cause for h in arbitrate([low, root])] == ["lr_too_high"]  # the symptom is explained away
    longer = Hint("warn", "t", "x", cause="train_longer", step=220, fix={"epochs": 40})
    assert [h.cause for h in arbitrate([early, longer])] == ["dead_relu"]  # more epochs do not revive dead units


def test_fixes_are_validated_and_rounded():
    cfg = RunConfig().to_dict()
    assert validated(cfg, {"lr": 100.0}) is None  # out of RunConfig's range: never offered
    assert validated(cfg, {"init": "no_such_init"}) is None
    assert validated(cfg, {"lr": 0.3}) == {"lr": 0.3}
    assert [nice(x) for x in (0.2345, 0.00079, 31.0)] == [0.2, 0.0008, 30.0]


def test_hints_as_dicts_carries_every_field_and_try():
    h = Hint("warn", "t", "x", "fc1", "dead_relu", 3, {"activation": "leaky_relu"})
    (d,) = hints_as_dicts([h])
    assert d == {
        "level": "warn",
        "topic": "t",
        "text": "x",
        "layer": "fc1",
        "cause": "dead_relu",
        "step": 3,
        "fix": {"activation": "leaky_relu"},
        "try": {"activation": "leaky_relu"},
    }


def test_window_losses_do_not_depend_on_bucketing():
    rows = [{"step": s, "train_loss": 3.0 / s} for s in range(1, 2001)]
    merged = [
        {"step": b["step"], "train_loss": (a["train_loss"] + b["train_loss"]) / 2}
        for a, b in zip(rows[::2], rows[1::2], strict=True)
    ]
    a = gather(rows, [], [], {}, {}, {}).window_losses()
    b = gather(merged, [], [], {}, {}, {}).window_losses()
    assert len(a) == len(b) == 10
    assert all(math.isclose(x, y, rel_tol=1e-3) for x, y in zip(a, b, strict=True))
