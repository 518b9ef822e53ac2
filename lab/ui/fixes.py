"""'Try it' on the Train page: one button per warning hint that carries a fix, then whether the fix worked.

Why Streamlit buttons under the hints panel and not buttons inside it: the panel is a component
that the layer feed redraws while a run trains (lab/ui/live_chart.js) without any script run, so
a button drawn there would be replaced under the student's pointer and would need a channel of its
own back to Python. These rows are drawn by the page's own script runs, which happen when a run
starts and once when the runs end (the status line's `ended` trigger): they show the final hints of
a finished run, keyed by cause, and no feed update touches them.

A press starts the comparison run (slot `cmp`) with run A's own config, the hint's change applied
and the same seed, through the path "Compare with..." uses (lab.ui.runs.start), so its curves are
overlaid on A's. Whether a comparison is a hint's trial is read from the two stored configs
(lab.diagnosis.verdict.matching_hint), not from session state, so a reload or a shared link shows the
same verdict: once both runs have ended, the layer feed adds one line under that hint in the panel
saying whether the fix worked (lab.serving.live.layers.run_hints).
"""

from __future__ import annotations

import streamlit as st

from lab.config import ConfigError, RunConfig
from lab.diagnosis.verdict import describe_fix, matching_hint
from lab.ui import runs
from lab.ui.common import get_settings

WARNING_LEVELS = ("bad", "warn")


def fix_hints(hints: list[dict]) -> list[dict]:
    """The warning hints that carry a fix, one per cause (the first, most serious one)."""
    out, seen = [], set()
    for h in hints:
        if h["level"] in WARNING_LEVELS and h.get("fix") and h.get("cause") not in seen:
            seen.add(h.get("cause"))
            out.append(h)
    return out


def _on_try(run_id: str, fix: dict) -> None:
    """Start run A's config with the fix as the comparison run (a callback: it runs before the page is drawn)."""
    view = runs.view_for("run")
    if view is None or view.run_id != run_id:
        return  # the page moved on to another run since the button was drawn
    try:
        cfg = RunConfig.from_dict({**view.row.get("config", {}), **fix}, get_settings().limits)
    except ConfigError as e:
        st.session_state["run_error"] = str(e)
        return
    runs.forget("cmp")
    runs.start(cfg, slot="cmp", label=describe_fix(fix))


def try_fixes(hints: list[dict], a: runs.RunView, b: runs.RunView | None) -> None:
    """Under the hints panel (lab.serving.live.layers.run_hints dicts): a Try it button per warning with a fix.

    The verdict itself is the `verdict` line the layer feed adds under the tried hint in the panel.
    """
    rows = fix_hints(hints)
    if not rows:
        return
    trying = b is not None and b.active
    tried = matching_hint(rows, a.row.get("config", {}), b.row.get("config", {})) if b is not None else None
    for h in rows:
        left, right = st.columns([1, 4], vertical_alignment="center")
        change = describe_fix(h["fix"])
        left.button(
            "Try it",
            key=f"try_{h['cause']}",
            icon=":material/science:",
            width="stretch",
            disabled=trying and tried is h,
            help="Start the comparison run: this run's settings with this change, same seed, overlaid.",
            on_click=_on_try,
            args=(a.run_id, h["fix"]),
        )
        running = " (running as run B)" if trying and tried is h else ""
        right.markdown(f"**{h['topic']}**: try `{change}`{running}")
