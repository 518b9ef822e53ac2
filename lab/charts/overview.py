"""The network overview: one box per layer, input to output, coloured by that layer's health at the latest snapshot.

A teacher sees at a glance *where* a network is sick instead of reading a dozen small charts.
Each box is a bar of one trace (so Plotly's hover and click events work on it), filled by the
layer's worst health level and outlined in the layer's own colour (`style.layer_color`, the
colour it has in every other chart). Health reads four figures from the recorder's snapshot:

- dead units (ReLU family) and saturated units (tanh, sigmoid), against the diagnosis' thresholds;
- the weight gradient's std relative to the last layer's (vanishing or exploding gradients);
- the update/weight ratio against the ~1e-3 rule of thumb.

`overview_spec` is a plain dict, like the other live charts; `focus_specs` narrows the
per-layer charts to one layer when the student clicks its box.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from lab.charts.style import BASE_FONT, NEUTRAL, colour_names, empty_spec, finite, layer_color, layout_style, rgba
from lab.diagnosis.rules_net import DEAD_WARN, SAT_WARN  # the hints' thresholds: a box turns red where a hint speaks

HEALTH_COLORS = {"ok": "#009E73", "warn": "#E69F00", "bad": "#D55E00", "unknown": "#C8CCD4"}  # Okabe & Ito
HEALTH_WORDS = {"ok": "healthy", "warn": "worth a look", "bad": "sick", "unknown": "no figures yet"}
LEVELS = ("unknown", "ok", "warn", "bad")  # worst last: a box takes the worst of its figures
DEAD_WATCH = 0.1  # a tenth of the units dead or saturated: worth a look; diagnosis' thresholds are "sick"
GRAD_WATCH, GRAD_BAD = 10.0, 100.0  # gradient std this many times smaller (or larger) than the last layer's
RATIO_WATCH = (1e-4, 1e-2)  # update/weight ratio: an order of magnitude from 1e-3 is worth a look
RATIO_BAD = (1e-5, 1e-1)  # two orders of magnitude off: the layer barely learns, or is thrown about
HEIGHT = 170  # px: one row of boxes and their labels


@dataclass
class LayerHealth:
    """One box of the overview: the layer, its kind, its figures and its health level with the reasons."""

    name: str
    kind: str = ""
    figures: dict = field(default_factory=dict)  # dead, sat, grad_rel, ratio (any may be missing)
    level: str = "unknown"
    reasons: list = field(default_factory=list)

    def worse(self, level: str, reason: str) -> None:
        """Record a finding; the box keeps the worst level found."""
        if LEVELS.index(level) > LEVELS.index(self.level):
            self.level = level
        if level in ("warn", "bad"):
            self.reasons.append(reason)


def _weight(snap: dict, layer: str) -> dict:
    return (snap.get("params") or {}).get(f"{layer}.weight") or {}


def layer_health(snapshot: dict | None, meta: dict) -> list[LayerHealth]:
    """The health of every layer (in depth order, the output layer last) at one snapshot."""
    names = colour_names(meta)
    kinds = meta.get("kinds", {})
    out = [LayerHealth(n, kinds.get(n, "")) for n in names]
    if not snapshot:
        return out
    layers = snapshot.get("layers") or {}
    with_grad = [n for n in names if finite(_weight(snapshot, n).get("g_std"))]
    last_g = finite(_weight(snapshot, with_grad[-1]).get("g_std")) if with_grad else None
    for h in out:
        rec, w = layers.get(h.name) or {}, _weight(snapshot, h.name)
        h.level = "ok" if rec or w else "unknown"
        for key, limit, what in (("dead", DEAD_WARN, "dead"), ("sat", SAT_WARN, "saturated")):
            v = finite(rec.get(key))
            if v is not None:
                h.figures[key] = v
                level = "bad" if v >= limit else "warn" if v >= DEAD_WATCH else "ok"
                h.worse(level, f"{v:.0%} of units {what}")
        g = finite(w.get("g_std"))
        if g is not None and last_g:
            rel = g / last_g
            h.figures["grad_rel"] = rel
            far = max(rel, 1 / rel) if rel > 0 else math.inf
            level = "bad" if far >= GRAD_BAD else "warn" if far >= GRAD_WATCH else "ok"
            h.worse(level, f"gradient {'vanishing' if rel < 1 else 'exploding'} ({rel:.2g}x the last layer's)")
        r = finite(w.get("ratio"))
        if r is not None:
            h.figures["ratio"] = r
            if not RATIO_BAD[0] <= r <= RATIO_BAD[1]:
                h.worse("bad", f"update/weight ratio {r:.1e}, far from 1e-3")
            elif not RATIO_WATCH[0] <= r <= RATIO_WATCH[1]:
                h.worse("warn", f"update/weight ratio {r:.1e}, off 1e-3")
    return out


def _hover(h: LayerHealth) -> str:
    f = h.figures
    lines = [f"<b>{h.name}</b>" + (f" ({h.kind})" if h.kind else ""), f"health: {HEALTH_WORDS[h.level]}"]
    if "dead" in f:
        lines.append(f"dead units: {f['dead']:.1%}")
    if "sat" in f:
        lines.append(f"saturated units: {f['sat']:.1%}")
    if "grad_rel" in f:
        lines.append(f"gradient std: {f['grad_rel']:.2g}x the last layer's")
    if "ratio" in f:
        lines.append(f"update/weight ratio: {f['ratio']:.1e} (healthy ~1e-3)")
    lines += [f"⚠ {r}" for r in h.reasons]
    return "<br>".join(lines)


def _label(h: LayerHealth) -> str:
    """The text inside a box: the layer's name and its most telling figure."""
    f = h.figures
    if "dead" in f:
        return f"{h.name}<br>{f['dead']:.0%} dead"
    if "sat" in f:
        return f"{h.name}<br>{f['sat']:.0%} sat."
    if "ratio" in f:
        return f"{h.name}<br>Δ {f['ratio']:.0e}"
    return h.name


def overview_spec(snapshots: Sequence[dict], meta: dict, focus: str | None = None, height: int | None = None) -> dict:
    """The network as a row of boxes, input to output, each filled by its health and outlined in its layer colour."""
    title = "Network"
    names = colour_names(meta)
    if not names:
        return empty_spec(title, "The network appears once the run has started", height or HEIGHT, "overview")
    snap = snapshots[-1] if snapshots else None
    health = layer_health(snap, meta)
    boxes = ["input", *names]
    fills = [rgba(NEUTRAL, 0.25)] + [rgba(HEALTH_COLORS[h.level], 0.85) for h in health]
    outlines = [NEUTRAL] + [layer_color(n, names) for n in names]
    widths = [1] + [6 if n == focus else 3 for n in names]
    key = " · ".join(
        f'<span style="color:{HEALTH_COLORS[lv]}">■</span> {HEALTH_WORDS[lv]}' for lv in ("ok", "warn", "bad")
    )
    step = f" at step {snap['step']}" if snap else ""
    trace = {
        "type": "bar",
        "x": boxes,
        "y": [1] * len(boxes),
        "customdata": ["", *names],  # what a click sends back: the layer's name ("" for the input)
        "text": ["input"] + [_label(h) for h in health],
        "textposition": "inside",
        "insidetextanchor": "middle",
        "textfont": {"color": "#1E1F24", "size": BASE_FONT},  # a size, so presenter mode scales it too
        "hovertext": ["the data going in"] + [_hover(h) for h in health],
        "hovertemplate": "%{hovertext}<extra></extra>",
        "marker": {"color": fills, "line": {"color": outlines, "width": widths}},
        "name": "layers",
        "showlegend": False,
    }
    layout = layout_style(f"{title}{step}: {key}", None, None, height or HEIGHT, "overview")
    layout["xaxis"] = {
        "type": "category",
        "tickvals": boxes,
        "ticktext": [""] * len(boxes),
        "fixedrange": True,
        "showgrid": False,
        "zeroline": False,
        "showline": False,
    }
    layout["yaxis"] = {"visible": False, "range": [0, 1], "fixedrange": True}
    layout["margin"] = {"l": 8, "r": 8, "t": 40, "b": 24}
    layout["bargap"] = 0.3
    layout["uniformtext"] = {"minsize": 9, "mode": "hide"}
    # Arrows between the boxes: the direction the signal flows (the gradient flows back).
    layout["annotations"] = [
        {
            "x": i + 0.5,
            "y": 0.5,
            "xref": "x",
            "yref": "y",
            "text": "→",
            "showarrow": False,
            "font": {"size": 18, "color": NEUTRAL},
        }
        for i in range(len(boxes) - 1)
    ] + [
        {
            "text": "click a layer to focus the charts below on it"
            if not focus
            else f"focused on {focus}: click it again (or another layer) to change",
            "x": 0,
            "xref": "paper",
            "xanchor": "left",
            "y": 0,
            "yref": "paper",
            "yanchor": "top",  # in the bottom margin, under the boxes
            "showarrow": False,
            "font": {"color": NEUTRAL},
        }
    ]
    layout["meta"] = {"levels": {h.name: h.level for h in health}, "focus": focus}
    layout["clickmode"] = "event"
    return {"data": [trace], "layout": layout}


def _owner(name: str) -> str:
    return name.rsplit(".", 1)[0] if name.endswith((".weight", ".bias")) else name


def focus_meta(meta: dict, layer: str) -> dict:
    """A copy of the run's meta limited to one layer (and its parameters), for the histogram grids."""
    return {
        **meta,
        "layers": [n for n in meta.get("layers", []) if n == layer],
        "params": [p for p in meta.get("params", []) if _owner(p) == layer],
    }


def dim_others(spec: dict, layer: str) -> dict:
    """The spec with traces of other layers faded (the focused layer's keep their look); the input is not changed."""
    data = []
    for t in spec.get("data", []):
        name = str(t.get("legendgroup") or t.get("name") or "")
        mine = _owner(name.split(" ")[0]) == layer
        if t.get("type") == "scatter" and not mine:
            t = {**t, "opacity": 0.25}
        elif t.get("type") == "bar" and isinstance(t.get("x"), list) and layer in t["x"]:
            # Faded through the colours' alpha: an opacity array breaks the legend swatch of a patterned bar.
            colors = t.get("marker", {}).get("color")
            if isinstance(colors, list) and all(isinstance(c, str) and c.startswith("#") for c in colors):
                faded = [rgba(c, 1.0 if x == layer else 0.3) for c, x in zip(colors, t["x"], strict=False)]
                t = {**t, "marker": {**t["marker"], "color": faded}}
        data.append(t)
    return {**spec, "data": data}
