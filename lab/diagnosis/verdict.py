"""Did a fix work? One line from the measured figures of a run and its fixed twin."""

from __future__ import annotations

import math

from lab.lifecycle import RunStatus

MIN_GAIN = 0.005  # validation accuracy must rise by more than half a point to count as a help


def _acc(summary: dict) -> float | None:
    v = summary.get("val_acc")
    return v if isinstance(v, int | float) and math.isfinite(v) else None


def fix_helped(before: dict, after: dict) -> bool:
    """True when the fixed run did better: it completed where the first diverged, or validated more accurately."""
    if before.get("status") == RunStatus.DIVERGED:
        return after.get("status") != RunStatus.DIVERGED
    a, b = _acc(before), _acc(after)
    return a is not None and b is not None and after.get("status") != RunStatus.DIVERGED and b > a + MIN_GAIN


def fix_verdict(before: dict, after: dict, fix: dict) -> str:
    """'lr=0.2 worked: validation accuracy 10% -> 96%.' (or did not), from the two runs' summaries."""
    change = ", ".join(f"{k}={v}" for k, v in fix.items())
    a, b = _acc(before), _acc(after)
    figures = f"validation accuracy {a:.0%} -> {b:.0%}" if a is not None and b is not None else ""
    if before.get("status") == RunStatus.DIVERGED:
        if after.get("status") == RunStatus.DIVERGED:
            return f"{change} did not help: the run still diverged ({after.get('reason', '')})."
        return f"{change} worked: the run completed instead of diverging" + (f", {figures}." if figures else ".")
    if after.get("status") == RunStatus.DIVERGED:
        return f"{change} made it worse: the run diverged ({after.get('reason', '')})."
    word = "worked" if fix_helped(before, after) else "did not help"
    return f"{change} {word}: {figures}." if figures else f"{change}: no validation figures to compare."
