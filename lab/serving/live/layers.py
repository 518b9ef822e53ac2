"""The Train page's per-layer part as one payload: hints plus every snapshot-based chart of run A (and B).

Built from the runs' histories (lab.serving.run_history) by the live feed, which serves it on its
own route and caches it per version, so while a run trains the page needs no Streamlit
rerun for these charts: its components fetch the payload themselves, and a chart that is
scrolled out of view only keeps the newest figure until it is shown.

The version changes only when something these charts show can change: a new or thinned
snapshot, a new evaluation (the hints read the validation curve), a new status, or the run's
number of steps becoming known (the timeline slider waits for it).
"""

from __future__ import annotations

from collections.abc import Sequence

from lab import registry
from lab.charts import live as charts
from lab.charts.overview import dim_others, focus_meta, overview_spec
from lab.charts.style import figure_json, presenter_spec
from lab.diagnosis import diagnose_run
from lab.diagnosis.verdict import fix_verdict, matching_hint, measured
from lab.serving.run_history import RunHistory

LEVEL_ICON = {"bad": "🛑", "warn": "⚠️", "info": "ℹ️", "ok": "✅"}
CHARTS = (
    "overview",
    "probe",
    "act_hist",
    "grad_hist",
    "update_ratio",
    "dead_saturated",
    "layer_stats",
    "timeline_act",
    "timeline_weights",
)


def layer_version(histories: Sequence[RunHistory]) -> str:
    """A token that changes whenever the hints or a per-layer chart may change."""
    parts = []
    for h in histories:
        last = h.snapshots[-1]["step"] if h.snapshots else 0
        parts.append(f"{h.status}:{len(h.snapshots)}:{last}:{len(h.val)}:{h.meta.get('total_steps') or 0}")
    return "|".join(parts)


def run_hints(h: RunHistory, other: RunHistory | None = None) -> list[dict]:
    """The diagnosis of one run as JSON-ready dicts: level, icon, topic, text, cause, fix.

    With `other` (run B): once both runs have ended, the hint whose fix B tried (same seed, that
    change only) gets `verdict`, one line on whether the fix worked (lab.diagnosis.verdict).
    """
    hints = diagnose_run(h.row, h.train, h.val, h.snapshots)
    out = [
        {
            "level": x.level,
            "icon": LEVEL_ICON.get(x.level, ""),
            "topic": x.topic,
            "text": x.text,
            "cause": x.cause,
            "fix": x.fix,
        }
        for x in hints
    ]
    if other is not None and not h.active and not other.active:
        tried = matching_hint(out, h.row.get("config", {}), other.row.get("config", {}))
        if tried is not None:
            figures = [measured(dict(r.row.get("summary") or {}, status=r.status), r.snapshots) for r in (h, other)]
            tried["verdict"] = fix_verdict(*figures, tried)
    return out


def probe_kind(h: RunHistory) -> str | None:
    """'boundary' (2D data), 'filters' (CNN) or None: what the chart beside the hints shows, known from the config."""
    cfg, last = h.row.get("config", {}), h.snapshots[-1] if h.snapshots else None
    if "grid" in h.meta or cfg.get("dataset") in registry.TOY_2D_DATASETS or (last and "boundary" in last):
        return "boundary"
    if cfg.get("model") == "cnn" or (last and "filters" in last):
        return "filters"
    return None  # an MLP on images has no probe; the layer statistics are drawn once, in their own row


def probe_spec(h: RunHistory) -> dict | None:
    """The chart beside the hints: the decision boundary (2D data) or first-layer filters (CNN); None otherwise."""
    last = h.snapshots[-1] if h.snapshots else None
    kind = probe_kind(h)
    if kind == "boundary":
        return charts.boundary_spec(h.meta, last)
    return charts.filters_spec(last) if kind == "filters" else None


def layer_specs(a: RunHistory, b: RunHistory | None = None, focus: str | None = None) -> dict[str, dict]:
    """Every per-layer chart spec of run A (the update ratio overlays B's), keyed as CHARTS ('probe' only if any).

    `focus`: a layer picked in the overview; the histograms then show that layer alone and the
    line and bar charts fade the other layers.
    """
    meta, snaps = a.meta, a.snapshots
    if focus not in meta.get("layers", []) and not any(p.startswith(f"{focus}.") for p in meta.get("params", [])):
        focus = None  # a stale pick (another run's layer) shows everything
    narrow = focus_meta(meta, focus) if focus else meta
    fade = (lambda spec: dim_others(spec, focus)) if focus else (lambda spec: spec)
    last = snaps[-1] if snaps else None
    step = f"step {last['step']}" if last else None
    specs = {
        "overview": overview_spec(snaps, meta, focus),
        "act_hist": charts.histogram_grid_spec(snaps, narrow, "act"),
        "grad_hist": charts.histogram_grid_spec(snaps, narrow, "grad_w"),
        "update_ratio": fade(charts.update_ratio_spec(snaps, meta, compare=b.snapshots if b else None)),
        "dead_saturated": fade(charts.dead_saturated_spec(snaps, meta)),
        "layer_stats": fade(charts.layer_stats_spec(snaps, meta)),
        "timeline_act": charts.histogram_at_spec(last, narrow, "act", step),
        "timeline_weights": charts.weight_histograms_spec(last, narrow),
    }
    probe = probe_spec(a)
    return specs if probe is None else {"probe": probe, **specs}


def build_layers(histories: Sequence[RunHistory], presenter: bool, version: str, focus: str | None = None) -> dict:
    """The payload: version, active, run A's hints and every chart as Plotly JSON text."""
    a = histories[0]
    specs = layer_specs(a, histories[1] if len(histories) > 1 else None, focus)
    if presenter:
        specs = {name: presenter_spec(spec) for name, spec in specs.items()}
    return {
        "version": version,
        "active": any(h.active for h in histories),
        "total_steps": a.meta.get("total_steps") or 0,
        "hints": run_hints(a, histories[1] if len(histories) > 1 else None),
        "figures": {name: figure_json(spec) for name, spec in specs.items()},
    }
