"""The diagnosis: causes, not symptoms, read from a run's whole history and its config.

`diagnose` reads JSON-ready data only (train rows, evaluations, every snapshot in step order,
the meta and the config), so it gives the same answer on a live trainer, on a run read from the
store and in tests, and it imports no torch. How it reasons:

1. `evidence.gather` reads the run once into plain figures: the config with defaults filled in,
   the evaluations, each snapshot's update/weight ratios, weight spreads and per-layer activation
   std, gradient std, dead and saturated shares.
2. One rule per pathology (`rules_optim`, `rules_net`, `rules_fit`) checks that the config has the
   knob it would blame set that way, looks for its evidence in time order, and returns a Hint with
   the step where the evidence began and a fix computed from the run (an lr brought back to what a
   healthy first update measures, a regularizer divided, the init matched to the activation),
   validated by RunConfig.
3. `arbiter.arbitrate` lets root causes absorb their symptoms and drops any hint whose fix disagrees
   with a deeper cause's, so hints never contradict each other; a run with no warning gets one "ok".

Cause ids (`Hint.cause`), stable for other code to read:
  problems: lr_too_high, lr_too_low, no_warmup, oscillating_loss, zero_init, init_too_large,
    init_too_small, vanishing_gradients, dead_relu, overfitting, too_much_regularization,
    needs_hidden_layer, train_longer, inputs_not_normalized, mse_loss, initial_loss_broken;
  notes: initial_loss_ok, initial_loss_off (info), update_ratio_ok, update_ratio_high (info), healthy.
"""

from __future__ import annotations

from lab.diagnosis import rules_fit, rules_net, rules_optim
from lab.diagnosis.arbiter import PROBLEM, arbitrate
from lab.diagnosis.evidence import gather
from lab.diagnosis.hint import LEVELS, Hint, hints_as_dicts
from lab.diagnosis.rules_net import INIT_LOSS_TOLERANCE
from lab.lifecycle import RunStatus

__all__ = ["Hint", "INIT_LOSS_TOLERANCE", "RULES", "diagnose", "diagnose_run", "hints_as_dicts"]

RULES = (
    rules_optim.divergence,
    rules_optim.collapse,
    rules_optim.too_low,
    rules_optim.oscillation,
    rules_net.symmetric_start,
    rules_net.init_too_large,
    rules_net.init_too_small,
    rules_net.vanishing,
    rules_net.dead_units,
    rules_fit.overfitting,
    rules_fit.underfitting,
    rules_fit.inputs,
    rules_fit.loss_mismatch,
)


def diagnose(
    train: list[dict], val: list[dict], snapshots: list[dict], meta: dict, config: dict, summary: dict
) -> list[Hint]:
    """All hints for a run, most serious first (summary gives status, reason and initial_loss)."""
    ev = gather(train, val, snapshots, meta, config, summary)
    hints = arbitrate([h for rule in RULES for h in rule(ev)])
    causes = {h.cause for h in hints}
    knobs = {k for h in hints for k in (h.fix or {})}
    # The reference checks stay on show beside the warnings, unless a warning is about what they measure.
    if "init_too_large" not in causes:
        hints += rules_fit.initial_loss(ev)
    if not knobs & {"lr", "warmup_steps"}:
        hints += rules_optim.ratio_ok(ev)
    if not any(h.level in PROBLEM for h in hints) and ev.ended and ev.status != RunStatus.DIVERGED and ev.val:
        acc = ev.final.get("val_acc", 0.0)
        text = f"No problem found: validation accuracy {acc:.0%}, no warning sign in the curves or the layers."
        hints.append(Hint("ok", "healthy run", text, "", "healthy", None, None))
    return sorted(hints, key=lambda h: LEVELS.index(h.level))  # stable: causes keep their order within a level


def diagnose_run(row: dict, train: list[dict], val: list[dict], snapshots: list[dict]) -> list[Hint]:
    """All hints for a stored run: its store row (config, meta, summary, status) plus its histories."""
    summary = dict(row.get("summary", {}) or {}, status=row.get("status", ""), reason=row.get("reason", ""))
    if summary.get("initial_loss") is None and train:
        summary["initial_loss"] = train[0]["train_loss"]  # a run still training has no summary yet
    return diagnose(train, val, snapshots, row.get("meta", {}) or {}, row.get("config", {}) or {}, summary)
