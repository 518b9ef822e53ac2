"""Did a suggested fix work? One line from the measured figures of a run and its same-seed rerun with the fix.

Pure Python on JSON-ready data, no torch and no streamlit, so the Train page (through the layer
feed, lab/serving/live/layers.py), the CLI's `--fix` and tests all give the same verdict:

- `measured(summary, snapshots)`: a run's summary (Trainer.summary() or the store row's) plus the
  layer figures a verdict may need (the share of dead ReLU units at the end and at its worst).
- `fix_verdict(before, after, hint)`: "The fix worked: validation accuracy 10% -> 96%." The figure
  compared follows the hint's cause (the dead share for dead units, the train/validation gap for
  overfitting, completing the run for a divergence, else validation accuracy), with validation
  accuracy beside it when it is not the main figure.
- `fix_helped(before, after)`: the scenario bench's yes/no: the fixed run completed where the first
  diverged, or validated more accurately.
- `matching_hint(hints, before_config, after_config)`: the hint whose fix turns one config into the
  other, i.e. whether a comparison run is the trial of a hint's fix.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from lab.lifecycle import FINAL, RunStatus

ACC_MARGIN = 0.02  # validation accuracy must move by 2 points to count as better or worse (the noise of a seed)
DEAD_MARGIN = 0.05  # the dead share must drop by 5 points of the units
GAP_MARGIN = 0.03  # the train/validation gap must shrink by 3 points
MIN_GAIN = 0.005  # fix_helped: validation accuracy must rise by more than half a point
ZERO = 0.005  # a share below half a percent reads as 0%
DEAD_CAUSES = ("dead_relu",)
GAP_CAUSES = ("overfitting",)


def dead_share(snapshot: Mapping) -> float | None:
    """Share of dead units over the layers of a snapshot that record one (ReLU layers); None if none do."""
    values = [v["dead"] for v in snapshot.get("layers", {}).values() if isinstance(v, Mapping) and "dead" in v]
    return sum(values) / len(values) if values else None


def measured(summary: Mapping, snapshots: Sequence[Mapping] = ()) -> dict:
    """The summary plus `dead_fraction` (last snapshot) and `dead_peak` (worst snapshot) when the net has ReLUs."""
    out = dict(summary)
    shares = [s for s in (dead_share(snap) for snap in snapshots) if s is not None]
    if shares:
        out["dead_fraction"], out["dead_peak"] = shares[-1], max(shares)
    return out


def describe_fix(fix: Mapping | None) -> str:
    """A fix as the student would type it: 'lr=0.01, init=kaiming_normal'."""
    return ", ".join(f"{k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in (fix or {}).items())


def matching_hint(hints: Iterable[Mapping], before_config: Mapping, after_config: Mapping) -> Mapping | None:
    """The first hint whose fix, applied to `before_config`, gives exactly `after_config` (else None)."""
    for hint in hints:
        fix = hint.get("fix") or hint.get("try")
        if fix and {**before_config, **fix} == dict(after_config) and dict(before_config) != dict(after_config):
            return hint
    return None


def _pct(x: float) -> str:
    return f"{x:.0%}"


def _acc(run: Mapping) -> float | None:
    value = run.get("val_acc")
    return float(value) if isinstance(value, (int, float)) else None


def fix_helped(before: Mapping, after: Mapping) -> bool:
    """True when the fixed run did better: it completed where the first diverged, or validated more accurately."""
    if before.get("status") == RunStatus.DIVERGED:
        return after.get("status") != RunStatus.DIVERGED
    a, b = _acc(before), _acc(after)
    return a is not None and b is not None and after.get("status") != RunStatus.DIVERGED and b > a + MIN_GAIN


def _judge(before: float, after: float, margin: float, lower_is_better: bool) -> int:
    """+1 better, 0 no clear change, -1 worse."""
    delta = (before - after) if lower_is_better else (after - before)
    return 1 if delta >= margin else -1 if delta <= -margin else 0


def _line(outcome: int, figures: list[str]) -> str:
    head = {1: "The fix worked", 0: "No clear change", -1: "The fix did not help"}[outcome]
    return f"{head}: {'; '.join(figures)}."


def _accuracy_figure(before: Mapping, after: Mapping) -> tuple[int, str] | None:
    a, b = _acc(before), _acc(after)
    if a is None or b is None:
        return None
    return _judge(a, b, ACC_MARGIN, lower_is_better=False), f"validation accuracy {_pct(a)} -> {_pct(b)}"


def _dead_figure(before: Mapping, after: Mapping) -> tuple[int, str] | None:
    a, b = before.get("dead_fraction"), after.get("dead_fraction")
    if a is None or b is None:
        return None
    if after.get("dead_peak", b) < ZERO:
        text = (
            "the dead fraction stayed at 0%" if before.get("dead_peak", a) < ZERO else f"dead fraction {_pct(a)} -> 0%"
        )
    else:
        text = f"dead fraction {_pct(a)} -> {_pct(b)}"
    return _judge(a, b, DEAD_MARGIN, lower_is_better=True), text


def _gap_figure(before: Mapping, after: Mapping) -> tuple[int, str] | None:
    keys = ("train_acc", "val_acc")
    if not all(isinstance(r.get(k), (int, float)) for r in (before, after) for k in keys):
        return None
    a, b = before["train_acc"] - before["val_acc"], after["train_acc"] - after["val_acc"]
    text = f"train/validation gap {round(100 * a)} -> {round(100 * b)} points"
    return _judge(a, b, GAP_MARGIN, lower_is_better=True), text


def fix_verdict(before_summary: Mapping, after_summary: Mapping, hint: Mapping) -> str:
    """One line saying whether the hint's fix worked, from the figures of the run before and the rerun after it.

    The summaries are Trainer.summary() dicts (or store rows' summaries), optionally passed through
    `measured` for the dead-unit figures. Both runs must have ended; otherwise the line says so.
    """
    before, after = before_summary, after_summary
    change = describe_fix(hint.get("fix") or hint.get("try"))
    status_b, status_a = before.get("status", ""), after.get("status", "")
    if status_a not in FINAL or status_b not in FINAL:
        return f"The run with {change} has not ended yet."
    ended_early = status_a in (RunStatus.FAILED, RunStatus.INTERRUPTED)
    if ended_early or (status_a == RunStatus.STOPPED and not after.get("val_acc")):
        return f"No verdict: the run with {change} ended early ({status_a})."
    steps_b, steps_a = before.get("steps", 0), after.get("steps", 0)
    if status_b == RunStatus.DIVERGED and status_a == RunStatus.DIVERGED:
        return f"The fix did not help: the run still diverged (step {steps_b} before, step {steps_a} with {change})."
    if status_b == RunStatus.DIVERGED:
        acc = _acc(after)
        tail = f", validation accuracy {_pct(acc)}" if acc is not None else ""
        return (
            f"The fix worked: the run diverged at step {steps_b}; with {change} it trained all {steps_a} steps{tail}."
        )
    if status_a == RunStatus.DIVERGED:
        return f"The fix made it worse: with {change} the run diverged at step {steps_a}."
    cause = hint.get("cause", "")
    main = None
    if cause in DEAD_CAUSES:
        main = _dead_figure(before, after)
    elif cause in GAP_CAUSES:
        main = _gap_figure(before, after)
    acc = _accuracy_figure(before, after)
    if main is None:
        if acc is None:
            return f"No verdict: the runs have no validation figures to compare ({change})."
        return _line(acc[0], [acc[1]])
    figures = [main[1]] + ([acc[1]] if acc else [])
    outcome = main[0]
    if acc is not None and acc[0] < 0:  # a better figure bought with validation accuracy is no fix
        outcome = -1 if outcome <= 0 else 0
    return _line(outcome, figures)
