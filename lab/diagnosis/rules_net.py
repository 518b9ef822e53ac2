"""Rules on the network's start and its activations: a symmetric (zero or constant) start, weights too
large or too small at init, gradients vanishing through saturating layers, and ReLU units that die.

Each rule reads the snapshots in time order and names the step where its evidence first appeared.
"""

from __future__ import annotations

import math

from lab import registry
from lab.diagnosis.evidence import Evidence
from lab.diagnosis.fixes import good_init, lr_fix, validated
from lab.diagnosis.hint import Hint
from lab.diagnosis.rules_optim import RATIO_FAR_TOO_HIGH, _early_peak, _lr_factor

INIT_LOSS_TOLERANCE = 0.25  # an untrained classifier's loss within +-25% of ln(C) counts as a uniform guess
SYMMETRIC_SPREAD = 0.05  # weight std under 5% of their mean size: the rows of the matrix are (nearly) the same
SAT_WARN = 0.3  # share of tanh/sigmoid outputs at the flat ends of the curve
SHRINK = 1e-2  # activation std of the last hidden layer under 1% of the first: the signal fades with depth
VANISH = 1e-2  # gradient std at the first hidden layer under 1% of the last one
DEAD_WARN = 0.5  # share of ReLU units that output zero for every example of a batch
TRAIN_FIT = 0.95  # training accuracy of a run that has learned its data


def _hidden(ev: Evidence, snap) -> list[tuple[str, dict]]:
    return [(n, v) for n, v in snap.layers.items() if n in ev.kinds or not ev.kinds]


def _fitted(ev: Evidence) -> bool:
    return ev.final.get("train_acc", 0.0) >= TRAIN_FIT


def symmetric_start(ev: Evidence) -> list[Hint]:
    """A zero or constant init: every unit of a layer starts identical and stays identical."""
    c = ev.cfg
    if c["init"] not in ("zeros", "constant") or not ev.snaps:
        return []
    first = ev.snaps[0]
    same = [
        n
        for n, sd in first.w_std.items()
        if not n.startswith("out") and (sd <= 1e-12 or sd < SYMMETRIC_SPREAD * abs(first.w_mean.get(n, 0.0)))
    ]
    if not same:
        return []
    acc = ev.final.get("val_acc")
    start = "zero" if c["init"] == "zeros" else f"the same value ({c['init_constant']:g})"
    text = (
        f"Every weight of {', '.join(same)} started at {start}, so all units of a layer compute the same output and "
        "receive the same update: the layer behaves like a single unit however wide it is, and nothing breaks "
        "the tie."
    )
    if c["init"] == "zeros" and c["activation"] in registry.RELU_FAMILY:
        text += " With ReLU the zero sums give zero outputs and zero gradients, so the hidden layers never move."
    if acc is not None:
        text += f" Validation accuracy: {acc:.0%}."
    fix = validated(c, {"init": good_init(c)})
    if fix:
        text += f" A random init ({fix['init']}) gives each unit its own start."
    level = "bad" if acc is None or acc < ev.chance + 0.2 else "warn"
    return [Hint(level, "symmetric start", text, same[0], "zero_init", first.step, fix)]


def init_too_large(ev: Evidence) -> list[Hint]:
    """Large initial weights: saturated tanh/sigmoid units and a first loss far above ln(C)."""
    c = ev.cfg
    big = c["init"] == "large_normal" or (c["init"] == "constant" and abs(c["init_constant"]) >= 0.5)
    if not big or not ev.snaps:
        return []
    parts, layer = [], ""
    expected = math.log(ev.n_classes) if ev.n_classes >= 2 else None
    if (
        c["loss"] == "cross_entropy"
        and expected
        and ev.initial_loss
        and ev.initial_loss > expected * (1 + INIT_LOSS_TOLERANCE)
    ):
        parts.append(
            f"the first loss was {ev.initial_loss:.2f}, far above ln({ev.n_classes}) = {expected:.2f}, the loss of a "
            "network that still spreads its bets evenly: it started out confidently wrong"
        )
    sat = [(v["sat"], n) for n, v in _hidden(ev, ev.snaps[0]) if v.get("sat") is not None]
    worst = max(sat, default=(0.0, ""))
    if worst[0] >= SAT_WARN:
        layer = worst[1]
        parts.append(
            f"{worst[0]:.0%} of the {worst[1]} outputs sat at the flat ends of {c['activation']}, where "
            "almost no gradient passes"
        )
    if not parts:
        return []
    fix = validated(c, {"init": good_init(c)})
    text = f"The weights started too large ({c['init']}): " + "; ".join(parts) + "."
    if fix:
        text += f" {fix['init']} scales each layer's weights to its fan-in so signals keep their size."
    return [Hint("warn", "weights too large at init", text, layer, "init_too_large", ev.snaps[0].step, fix)]


def init_too_small(ev: Evidence) -> list[Hint]:
    """Small initial weights in a deep net: the activations shrink layer by layer towards zero."""
    c = ev.cfg
    if not ev.snaps or c["init"] in ("zeros", "constant") or c["batch_norm"]:
        return []
    layers = [(n, v["std"]) for n, v in _hidden(ev, ev.snaps[0]) if v.get("std") is not None]
    if len(layers) < 3 or layers[0][1] <= 0 or layers[-1][1] >= SHRINK * layers[0][1]:
        return []
    fix = validated(c, {"init": good_init(c)})
    if not fix or fix["init"] == c["init"] or _fitted(ev):
        return []
    text = (
        f"At the first record the activations shrank layer by layer: std {layers[0][1]:.2g} in {layers[0][0]} "
        f"down to {layers[-1][1]:.1e} in {layers[-1][0]}. With weights this small ({c['init']}) each layer "
        "multiplies the signal by less than one, so the deep layers see almost nothing and their gradients "
        f"vanish too. {fix['init']} keeps the variance the same from layer to layer."
    )
    return [
        Hint("warn", "weights too small for the depth", text, layers[-1][0], "init_too_small", ev.snaps[0].step, fix)
    ]


def vanishing(ev: Evidence) -> list[Hint]:
    """Gradients fading through a deep stack of saturating activations."""
    c = ev.cfg
    if c["activation"] not in registry.SATURATING or _fitted(ev):
        return []
    found = None
    for s in ev.snaps:
        g = [(n, v["grad_std"]) for n, v in _hidden(ev, s) if v.get("grad_std") is not None]
        if len(g) >= 3 and g[-1][1] > 0 and g[0][1] < VANISH * g[-1][1]:
            found = found or (s.step, g)
        else:
            found = None  # must hold to the end, not only at one record
    if not found:
        return []
    step, g = found
    sat_first = next((s.step for s in ev.snaps if (s.layers.get(g[0][0], {}).get("sat") or 0.0) >= SAT_WARN), None)
    why = f"{g[0][0]} saturated first (step {sat_first}), then " if sat_first is not None and sat_first <= step else ""
    slope = "a quarter" if c["activation"] == "sigmoid" else "one"
    text = (
        f"{why}the gradient reaching {g[0][0]} was {g[0][1] / g[-1][1]:.0e} of the one at {g[-1][0]} from step "
        f"{step} on: each {c['activation']} layer passes back at most {slope} times the gradient it receives, "
        f"and less where it saturates, so across {len(g)} layers the early ones hardly learn."
    )
    changes = {"activation": "relu"}
    if c["init"] not in ("kaiming_normal", "kaiming_uniform"):
        changes["init"] = "kaiming_normal"
    fix = validated(c, changes)
    return [Hint("warn", "vanishing gradients", text, g[0][0], "vanishing_gradients", step, fix)]


def dead_units(ev: Evidence) -> list[Hint]:
    """ReLU units that stop firing during training and stay off (not a zero init, not dropout's zeros)."""
    c = ev.cfg
    if c["init"] in ("zeros", "constant") or len(ev.snaps) < 2:
        return []
    worst = None
    for name in ev.snaps[0].layers:
        series = [(s.step, s.layers.get(name, {}).get("dead")) for s in ev.snaps]
        series = [(st, d) for st, d in series if d is not None]
        if len(series) < 2 or series[0][1] >= DEAD_WARN or series[-1][1] < DEAD_WARN:
            continue
        rose = next(st for st, d in series if d >= DEAD_WARN)
        if worst is None or series[-1][1] > worst[2]:
            worst = (name, rose, series[-1][1], series[0][1])
    if worst is None:
        return []
    name, rose, last, start = worst
    peak = _early_peak(ev)
    text = (
        f"{name}: {start:.0%} of its units were silent at the start, {DEAD_WARN:.0%} or more from step {rose}, "
        f"and {last:.0%} at the end. A dead ReLU outputs zero for every input, so no gradient reaches its weights "
        "and it never comes back."
    )
    if c["dropout"] > 0:
        text += " (Dropout's zeros are not counted: these units are off even with every unit kept.)"
    if peak and peak[0] >= RATIO_FAR_TOO_HIGH:
        fix = lr_fix(c, _lr_factor(peak[0]))
        text += (
            f" They were knocked out by large steps: at step {peak[1]} one update moved the weights by "
            f"{peak[0]:.0%} of their size."
        )
        if fix:
            text += f" Try lr={fix['lr']:g}."
    else:
        fix = validated(c, {"activation": "leaky_relu"})
        text += " Leaky ReLU keeps a small slope below zero, so a unit can recover."
    return [Hint("warn", "dead units", text, name, "dead_relu", rose, fix)]
