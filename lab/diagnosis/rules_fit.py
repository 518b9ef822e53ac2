"""Rules on what the model learned: overfitting, underfitting told by its cause (capacity, regularization,
training cut short), inputs left unnormalized, squared error on a classifier, and the initial-loss check.
"""

from __future__ import annotations

import math

from lab.diagnosis.evidence import Evidence
from lab.diagnosis.fixes import longer, nice, validated
from lab.diagnosis.hint import Hint
from lab.diagnosis.rules_net import INIT_LOSS_TOLERANCE, TRAIN_FIT
from lab.lifecycle import RunStatus

GAP_WARN = 0.15  # training minus validation accuracy (mean of the last PATIENCE evaluations) that signals memorizing
VAL_RISE = 0.25  # validation loss this far (relative) above its minimum...
VAL_RISE_ABS = 0.05  # ...and by at least this much, while the training loss kept falling
PATIENCE = 3  # evaluations without a better validation loss before early stopping stops
MEMORIZED_ACC = 0.999  # every training example right...
MEMORIZED_LOSS = 0.1  # ...at a training loss under a tenth of the validation loss...
GAP_MEMORIZED = 0.05  # ...and validation accuracy at least 5 points lower: memorized, not learned
LINEAR_FAIL = 0.9  # a linear model below this training accuracy cannot separate the data
IMPROVING = 0.1  # validation loss still falling by 10% over the last quarter of the run
INPUT_MEAN_OFF = 0.2  # |mean| of the inputs fed to the network beyond this...
INPUT_STD_BAND = (0.5, 2.0)  # ...or a std outside this band: the inputs are not centred and scaled
STRONG = {  # regularizer settings strong enough to hold a model back, with what to divide them by
    "dropout": (0.5, 4),
    "dropconnect": (0.5, 4),
    "stochastic_depth": (0.5, 4),
    "l1": (1e-3, 100),
    "l2": (1e-2, 100),
    "weight_decay": (0.05, 100),
    "label_smoothing": (0.3, 4),
}


def overfitting(ev: Evidence) -> list[Hint]:
    """A train/validation gap in accuracy, or validation loss rising from its minimum while training loss falls."""
    rows = [r for r in ev.val if r.get("val_loss") is not None and r.get("train_loss") is not None]
    if len(rows) < 4:
        return []
    i_best = min(range(len(rows)), key=lambda i: rows[i]["val_loss"])
    best, last = rows[i_best], rows[-1]
    after = rows[i_best + 1 :]
    rising = (
        len(after) >= PATIENCE
        and last["val_loss"] >= best["val_loss"] * (1 + VAL_RISE)
        and last["val_loss"] - best["val_loss"] >= VAL_RISE_ABS
        and last["train_loss"] < best["train_loss"]
    )
    gap = (last.get("train_acc") or 0.0) - (last.get("val_acc") or 0.0)
    # One evaluation's gap is noisy (a dip of the validation accuracy between two spikes): judge the recent mean.
    recent = rows[-PATIENCE:]
    mean_gap = sum((r.get("train_acc") or 0.0) - (r.get("val_acc") or 0.0) for r in recent) / len(recent)
    memorized = (
        (last.get("train_acc") or 0.0) >= MEMORIZED_ACC
        and last["train_loss"] < MEMORIZED_LOSS * last["val_loss"]
        and gap >= GAP_MEMORIZED
    )
    # A validation loss still reaching new lows means more training still generalizes better: whatever the
    # gap, the model is still learning, not memorizing (early stopping would not stop it either).
    stalled = len(after) >= PATIENCE
    if not stalled or not (rising or memorized or mean_gap >= GAP_WARN):
        return []
    parts = []
    if rising:
        parts.append(
            f"validation loss rose from its minimum {best['val_loss']:.3f} at step {best['step']} to "
            f"{last['val_loss']:.3f} while the training loss kept falling ({best['train_loss']:.2g} to "
            f"{last['train_loss']:.2g})"
        )
    parts.append(f"training accuracy {last.get('train_acc', 0):.0%} against validation {last.get('val_acc', 0):.0%}")
    if memorized and not rising:
        parts.append(f"training loss {last['train_loss']:.1e} against validation loss {last['val_loss']:.2f}")
    text = "The model memorizes its training examples: " + "; ".join(parts) + "."
    if after[PATIENCE - 1 : PATIENCE]:
        stop = after[PATIENCE - 1]["step"]
        text += (
            f" Early stopping (patience {PATIENCE}) would have stopped at step {stop} and kept the weights of "
            f"step {best['step']}."
        )
    c = ev.cfg
    if c["subset"]:
        fix = validated(c, {"subset": c["subset"] * 4})
        more = " More data is the surest cure: train on four times as many examples."
    elif not c["early_stopping"] and rising:
        fix = validated(c, {"early_stopping": PATIENCE})
        more = ""
    else:
        fix = validated(c, {"dropout": nice(min(0.5, c["dropout"] + 0.3))})
        more = " More dropout makes memorizing harder."
    return [Hint("warn", "overfitting", text + more, "", "overfitting", best["step"] if rising else last["step"], fix)]


def _still_improving(ev: Evidence) -> bool:
    rows = [r for r in ev.val if r.get("val_loss") is not None]
    if len(rows) < 4:
        return False
    k = max(2, len(rows) // 4)
    before, end = rows[-1 - k]["val_loss"], rows[-1]["val_loss"]
    return end < (1 - IMPROVING) * before


def underfitting(ev: Evidence) -> list[Hint]:
    """A finished run that did not learn its training data, told by cause."""
    if not ev.ended or ev.status == RunStatus.DIVERGED or not ev.val:
        return []
    c, last = ev.cfg, ev.final
    tr, va = last.get("train_acc", 0.0), last.get("val_acc", 0.0)
    if tr >= TRAIN_FIT or tr - va >= GAP_WARN:
        return []
    step = last["step"]
    strong = [(c[k] / lim, k, div) for k, (lim, div) in STRONG.items() if c[k] >= lim]
    if strong:
        _, knob, div = max(strong)
        fix = validated(c, {knob: nice(c[knob] / div)})
        text = (
            f"Training accuracy is only {tr:.0%} (validation {va:.0%}) and the two agree, so this is not "
            f"memorizing: {knob}={c[knob]:g} holds the model back so hard it cannot fit even the examples it "
            "trains on."
        )
        if fix:
            text += f" Try {knob}={fix[knob]:g}."
        return [Hint("warn", "too much regularization", text, "", "too_much_regularization", step, fix)]
    if c["model"] == "mlp" and c["depth"] == 0 and tr < LINEAR_FAIL and not _still_improving(ev):
        fix = validated(c, {"depth": 2})
        text = (
            f"A linear model (depth 0) reached only {tr:.0%} on its training data and stopped improving: one straight "
            "boundary per class cannot separate these classes. It needs a hidden layer, whose non-linearity lets "
            "it bend the boundary."
        )
        return [Hint("warn", "needs a hidden layer", text, "", "needs_hidden_layer", step, fix)]
    if _still_improving(ev):
        fix = longer(c)
        text = (
            f"Training accuracy {tr:.0%} and validation {va:.0%}, and the validation loss was still falling at the "
            "end: training was cut short. Train longer"
        )
        text += f" ({', '.join(f'{k}={v}' for k, v in fix.items())})." if fix else "."
        return [Hint("warn", "train longer", text, "", "train_longer", step, fix)]
    return []


def inputs(ev: Evidence) -> list[Hint]:
    """Preprocessing off and inputs far from zero mean and unit spread."""
    c = ev.cfg
    if c["preprocess"] != "none" or ev.input_mean is None or ev.input_std is None or not ev.ended:
        return []
    m, s = ev.input_mean, ev.input_std
    off = abs(m) > INPUT_MEAN_OFF or not INPUT_STD_BAND[0] <= s <= INPUT_STD_BAND[1]
    if not off or ev.final.get("train_acc", 0.0) >= TRAIN_FIT:
        return []
    text = (
        f"Preprocessing is off and the inputs have mean {m:.2f} and std {s:.2f} instead of about 0 and 1. Inputs "
        "that are all positive push every weight of a first-layer unit the same way at each step, so learning "
        "zig-zags, and their scale sets the step size the learning rate really takes. Standardizing (subtract "
        "the mean, divide by the std) fixes both."
    )
    fix = validated(c, {"preprocess": "standardize"})
    return [Hint("warn", "inputs not normalized", text, "", "inputs_not_normalized", 0, fix)]


def loss_mismatch(ev: Evidence) -> list[Hint]:
    """Squared error on a classifier that learns slowly."""
    c = ev.cfg
    if c["loss"] != "mse" or not ev.ended or ev.status == RunStatus.DIVERGED or not ev.val:
        return []
    tr = ev.final.get("train_acc", 0.0)
    if tr >= TRAIN_FIT:
        return []
    text = (
        f"Squared error against one-hot targets, and training accuracy is {tr:.0%}. Its gradient shrinks with the "
        "error on each output, so a confidently wrong answer is corrected gently and the first steps only pull "
        "all outputs towards the small one-hot values. Cross-entropy's gradient stays large for a wrong answer: "
        "it is the loss for picking one class."
    )
    changes = {"loss": "cross_entropy"}
    if c["activation"] == "sigmoid" and c["model"] == "mlp" and c["depth"] >= 2:
        # Sigmoid units add their own slowness (outputs never centred on zero, at most a quarter of the
        # gradient passed back per layer); swapping the loss alone leaves a deep sigmoid stack stuck.
        changes["activation"] = "tanh"
        text += (
            f" The {c['depth']} sigmoid layers slow it further: their outputs are never centred on zero and each "
            "passes back at most a quarter of the gradient; tanh is centred and passes up to all of it."
        )
    fix = validated(c, changes)
    return [Hint("warn", "loss does not suit a classifier", text, "", "mse_loss", ev.val[0]["step"], fix)]


def initial_loss(ev: Evidence) -> list[Hint]:
    """The first loss against ln(C), the loss of a uniform guess over C classes (cross-entropy only)."""
    init, c = ev.initial_loss, ev.cfg
    if init is None or ev.n_classes < 2 or c["loss"] != "cross_entropy":
        return []
    expected = math.log(ev.n_classes)
    if not math.isfinite(init):
        return [
            Hint(
                "bad",
                "initial loss",
                f"The very first loss was {init}: the numbers overflowed at once.",
                "",
                "initial_loss_broken",
                1,
                None,
            )
        ]
    if abs(init - expected) <= INIT_LOSS_TOLERANCE * expected:
        return [
            Hint(
                "ok",
                "initial loss",
                f"Starting loss {init:.2f} is close to ln({ev.n_classes}) = {expected:.2f}, what a network that "
                "spreads its bets evenly over the classes scores.",
                "",
                "initial_loss_ok",
                1,
                None,
            )
        ]
    side = "above" if init > expected else "below"
    return [
        Hint(
            "info",
            "initial loss",
            f"Starting loss {init:.2f} is {side} ln({ev.n_classes}) = {expected:.2f}, the loss of an even guess.",
            "",
            "initial_loss_off",
            1,
            None,
        )
    ]
