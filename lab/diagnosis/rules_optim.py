"""Rules on the optimizer's knobs: learning rate far too high (divergence or collapse), too low,
a large batch trained at a scaled rate without warmup, and a loss that swings between evaluations.

The update/weight ratio (how much one step moves a weight matrix, relative to its size) is the
lab's gauge of the step size: around 1e-3 once training settles, and up to about 1e-2 in the
first steps of a healthy run, when weights are small and gradients large.
"""

from __future__ import annotations

from statistics import median

from lab.diagnosis.evidence import Evidence
from lab.diagnosis.fixes import lr_fix, nice, validated
from lab.diagnosis.hint import Hint
from lab.lifecycle import RunStatus

HEALTHY_RATIO = 1e-3  # update/weight ratio of a well-set learning rate once training settles
EARLY_RATIO_REF = 1e-2  # what the first updates of a healthy run measure (weights small, gradients large)
RATIO_FAR_TOO_HIGH = 0.1  # a first update that moves weights by a tenth of their size, 100x the reference
RATIO_HIGH_NOTE = 1e-2  # ten times the reference: above it the note says "high" instead of "ok"
RATIO_TOO_LOW = 1e-4  # a whole run below a tenth of the reference barely moves the weights
FROZEN_RATIO = 1e-6  # weights that no longer change at all
COLLAPSE_GAIN = 0.3  # a collapsed run got less than 30% of the way from chance to perfect accuracy
DEAD_ALL = 0.9  # share of ReLU units off for every example: the layer passes (almost) nothing
OSC_SWING = 0.1  # a jump of the validation loss between two evaluations of a tenth of the drop it made overall
OSC_MIN_SWINGS = 3  # swings in the second half of the run, both up and down, to call the loss oscillating
OSC_END_SHARE = 0.25  # the swings must go on in the run's last quarter: a loss that settles there had spikes
OSC_END_EVALS = 3  # evaluations of that last quarter needed to tell a settled loss from a swinging one
WARMUP_SHARE = 0.5  # suggested warmup: half the run (a quarter still diverged on 2 of 3 seeds of a short run)


def _early_peak(ev: Evidence) -> tuple[float, int] | None:
    """The largest update/weight ratio of the first steps, and when it happened."""
    best = None
    for s in ev.early_snaps():
        r = s.ratio_max
        if r is not None and (best is None or r > best[0]):
            best = (r, s.step)
    return best


def _lr_factor(peak: float | None) -> float:
    """How much to scale the lr: the measured first updates brought back to EARLY_RATIO_REF, 3x to 100x lower."""
    if not peak:
        return 0.1
    return min(1 / 3, max(0.01, EARLY_RATIO_REF / peak))


def warmup_missing(ev: Evidence) -> bool:
    """True when the linear scaling rule raised the lr for a large batch and no warmup eases it in."""
    c = ev.cfg
    return c["scale_lr_with_batch"] and c["batch_size"] > c["lr_reference_batch"] and c["warmup_steps"] == 0


def _warmup_hint(ev: Evidence, level: str, what: str, step: int | None) -> Hint:
    c = ev.cfg
    warm = max(5, int(WARMUP_SHARE * max(ev.total_steps, ev.last_step)))
    text = (
        f"{what} The linear scaling rule multiplied the learning rate by {c['batch_size']}/{c['lr_reference_batch']} "
        f"(to {ev.lr_effective():.3g}) for the large batch, and the run took that full rate from its first step. "
        f"Early weights are far from where they settle, so a large rate needs a ramp: warm it up over the first "
        f"{warm} steps."
    )
    return Hint(level, "large batch without warmup", text, "", "no_warmup", step, validated(c, {"warmup_steps": warm}))


def divergence(ev: Evidence) -> list[Hint]:
    """A diverged run: the learning rate far too high (or a scaled one with no warmup)."""
    if ev.status != RunStatus.DIVERGED:
        return []
    what = f"The run diverged ({ev.reason})."
    step = ev.last_step or None
    if warmup_missing(ev):
        return [_warmup_hint(ev, "bad", what, step)]
    peak = _early_peak(ev)
    fix = lr_fix(ev.cfg, _lr_factor(peak[0] if peak else None))
    measured = ""
    if peak:
        measured = (
            f" At step {peak[1]} one update changed the weights by {peak[0]:.0%} of their size, about "
            f"{peak[0] / HEALTHY_RATIO:.0f}x the healthy 1e-3."
        )
        step = peak[1]
    text = f"{what}{measured} The learning rate ({ev.cfg['lr']:g}) is far too high: each step overshoots."
    if fix:
        text += f" Try lr={fix['lr']:g}."
    return [Hint("bad", "learning rate far too high", text, "", "lr_too_high", step, fix)]


def collapse(ev: Evidence) -> list[Hint]:
    """Huge first updates, then dead or frozen layers and a run that no longer learns."""
    if ev.status == RunStatus.DIVERGED or not ev.val:
        return []
    peak = _early_peak(ev)
    if peak is None or peak[0] < RATIO_FAR_TOO_HIGH:
        return []
    final, best = ev.final.get("val_acc", 0.0), max(r.get("val_acc", 0.0) for r in ev.val)
    gain = max(final - ev.chance, 0.0) / max(1 - ev.chance, 1e-9)
    if not (gain < COLLAPSE_GAIN or best - final > 0.2):
        return []
    after = [s for s in ev.snaps if s.step > peak[1]]
    broke = None
    for s in after:
        dead = [(v["dead"], name) for name, v in s.layers.items() if v.get("dead") is not None]
        worst = max(dead, default=(0.0, ""))
        if worst[0] >= DEAD_ALL:
            broke = (s.step, f"{worst[0]:.0%} of the {worst[1]} units output zero for every example", worst[1])
            break
        if s.ratio_max is not None and s.ratio_max < FROZEN_RATIO:
            broke = (s.step, "the weights stopped changing", "")
            break
    if broke is None:
        return []
    if warmup_missing(ev):
        return [_warmup_hint(ev, "bad", f"The run collapsed: by step {broke[0]} {broke[1]}.", peak[1])]
    fix = lr_fix(ev.cfg, _lr_factor(peak[0]))
    text = (
        f"At step {peak[1]} one update changed the weights by {peak[0]:.0%} of their size, about "
        f"{peak[0] / HEALTHY_RATIO:.0f}x the healthy 1e-3; by step {broke[0]} {broke[1]}, and validation "
        f"accuracy ended at {final:.0%}. The learning rate ({ev.cfg['lr']:g}) is far too high: the first steps "
        "threw the weights so far that the network stopped learning."
    )
    if fix:
        text += f" Try lr={fix['lr']:g}."
    return [Hint("bad", "learning rate far too high", text, broke[2], "lr_too_high", peak[1], fix)]


def too_low(ev: Evidence) -> list[Hint]:
    """Tiny updates throughout and a loss that hardly moves."""
    ratios = [s.ratio_max for s in ev.snaps if s.ratio_max is not None]
    if len(ratios) < 3 or not ev.val:
        return []
    typical = median(ratios)
    if typical >= RATIO_TOO_LOW or typical <= 0:
        return []
    first, last = ev.val[0].get("train_loss"), ev.final.get("train_loss")
    if ev.initial_loss is not None:
        first = ev.initial_loss
    if first is None or last is None or last < 0.7 * first:
        return []
    factor = min(1000.0, max(10.0, HEALTHY_RATIO / typical))
    fix = lr_fix(ev.cfg, factor)
    text = (
        f"Each step moved the weights by only about {typical:.0e} of their size all run long, "
        f"{HEALTHY_RATIO / typical:.0f}x below the healthy 1e-3, and the training loss only crept from "
        f"{first:.3f} to {last:.3f}. The learning rate ({ev.cfg['lr']:g}) is too low."
    )
    if fix:
        text += f" Try lr={fix['lr']:g}."
    return [Hint("warn", "learning rate too low", text, "", "lr_too_low", ev.snaps[0].step, fix)]


def oscillation(ev: Evidence) -> list[Hint]:
    """The validation loss jumps up and down between evaluations in the second half of the run and never settles."""
    # The planned length, not the steps so far: a run still descending is not yet in its second half.
    horizon = max(ev.total_steps, ev.last_step)
    half = [r for r in ev.val if r["step"] > horizon / 2 and r.get("val_loss") is not None]
    if len(half) < 5 or max(r.get("val_acc", 0.0) for r in ev.val) < ev.chance + 0.3 * (1 - ev.chance):
        return []
    start = ev.initial_loss if ev.initial_loss is not None else ev.val[0]["val_loss"]
    drop = start - min(r["val_loss"] for r in ev.val)
    if not drop > 0:
        return []
    ups = downs = 0
    first = None
    for a, b in zip(half, half[1:], strict=False):
        if abs(b["val_loss"] - a["val_loss"]) >= OSC_SWING * drop:
            ups += b["val_loss"] > a["val_loss"]
            downs += b["val_loss"] < a["val_loss"]
            first = first or b["step"]
    if ups + downs < OSC_MIN_SWINGS or not ups or not downs:
        return []
    # SGD on a deep net spikes now and then and recovers; oscillation is a loss that never settles.
    end = [r["val_loss"] for r in half if r["step"] > (1 - OSC_END_SHARE) * horizon]
    if len(end) < OSC_END_EVALS or max(end) - min(end) < OSC_SWING * drop:
        return []
    c = ev.cfg
    fix = lr_fix(c, 1 / 3)
    kind = "adaptive " if c["optimizer"] in ("adam", "adamw", "rmsprop", "adagrad") else ""
    text = (
        f"In the second half of the run the validation loss jumped {ups + downs} times between evaluations, up "
        f"and down, each time by more than {OSC_SWING:.0%} of all it fell from the start ({drop:.2f}). With "
        f"batches of {c['batch_size']} each gradient is noisy, and the {kind}learning rate ({c['lr']:g}) turns "
        "that noise into large steps that kick the weights "
        "around the minimum instead of into it."
    )
    if fix:
        text += f" Try lr={fix['lr']:g} (or a larger batch)."
    return [Hint("warn", "oscillating loss", text, "", "oscillating_loss", first, fix)]


def ratio_ok(ev: Evidence) -> list[Hint]:
    """A note on the run's typical update/weight ratio against the 1e-3 reference, when no rule warned about it.

    Within ten times the reference either way it is 'ok'. Between ten and a hundred times above, it is
    an 'info' note, not a warning: small networks on easy data train well there, so the note says the
    figure is high and what to watch instead of calling it healthy.
    """
    ratios = [s.ratio_median for s in ev.snaps if s.ratio_median is not None]
    if not ratios:
        return []
    typical = median(ratios)
    if not RATIO_TOO_LOW <= typical < RATIO_FAR_TOO_HIGH:
        return []
    if typical < RATIO_HIGH_NOTE:
        text = f"Median update/weight ratio {nice(typical):.0e}, within ten times the usual {HEALTHY_RATIO:.0e}."
        return [Hint("ok", "update/weight ratio", text, "", "update_ratio_ok", None, None)]
    text = (
        f"Median update/weight ratio {nice(typical):.0e}, about {typical / HEALTHY_RATIO:.0f}x the usual "
        f"{HEALTHY_RATIO:.0e}: each step moves the weights a lot. A small network on easy data can train well "
        "like this; if the loss gets noisy or stalls, a lower learning rate is the first thing to try."
    )
    return [Hint("info", "update/weight ratio", text, "", "update_ratio_high", None, None)]
