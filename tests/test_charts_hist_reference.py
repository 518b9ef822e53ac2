"""The heatmaps' vectorised build (one pass per series) gives exactly the straightforward per-snapshot result."""

import json
import math
import random

from lab.charts.live_hist import histogram_grid_spec, histogram_heatmap_spec, in_range_counts
from lab.charts.style import even_indices, sig

LAYERS = ["fc1", "fc2", "fc3"]


def _snapshots(n: int = 220, bins: int = 40) -> tuple[list[dict], dict]:
    """Snapshots with outside counts (some larger than their end bin), gaps and a record without counts."""
    rng = random.Random(7)

    def rec(key: str) -> dict:
        return {
            key: [float(rng.randint(0, 50)) for _ in range(bins)],
            "below": rng.choice([0.0, None, 3.0, 80.0]),
            "above": rng.choice([0.0, 0.0, 7.0, 120.0]),
        }

    snaps = [
        {
            "step": i + 1,
            "layers": {name: rec("hist") for name in LAYERS},
            "params": {f"{name}.weight": rec("g_hist") for name in LAYERS},
        }
        for i in range(n)
    ]
    snaps[3]["layers"]["fc2"] = {}  # nothing recorded: a gap
    snaps[9]["layers"]["fc1"] = {"below": 5.0}  # outside counts without a histogram
    del snaps[12]["params"]["fc3.weight"]
    meta = {
        "layers": LAYERS,
        "params": [f"{name}.weight" for name in LAYERS],
        "bins": bins,
        "act_edges": {name: [-3.0, 3.0] for name in LAYERS},
        "g_edges": {f"{n}.weight": [-0.1, 0.1] for n in LAYERS},
    }
    return snaps, meta


def _reference(cols: list[dict], meta: dict, name: str, kind: str) -> tuple[list, list]:
    """z and the outside markers' (x, customdata) per side, computed snapshot by snapshot."""
    group, key, edges = ("layers", "hist", "act_edges") if kind == "act" else ("params", "g_hist", "g_edges")
    bins = meta["bins"]
    z = [[None] * len(cols) for _ in range(bins)]
    for j, snap in enumerate(cols):
        counts = in_range_counts(snap, kind, name)
        for b in range(bins):
            z[b][j] = round(math.log1p(counts[b]), 2) if counts else None
    markers = []
    for side in ("above", "below"):
        xs, shares = [], []
        for snap in cols:
            rec = snap.get(group, {}).get(name) or {}
            out = rec.get(side) or 0.0
            if out > 0:
                xs.append(snap["step"])
                shares.append(sig(out / (sum(rec.get(key) or []) or 1), 3))
        if xs:
            markers.append((xs, shares))
    assert meta[edges][name]
    return z, markers


def test_grid_matches_the_straightforward_computation():
    """Every row's z values and outside markers equal the per-snapshot computation, for both kinds."""
    snaps, meta = _snapshots()
    for kind, names in (("act", LAYERS), ("grad_w", [f"{n}.weight" for n in LAYERS])):
        spec = histogram_grid_spec(snaps, meta, kind)
        heatmaps = [t for t in spec["data"] if t["type"] == "heatmap"]
        cols = [snaps[i] for i in even_indices(len(snaps), len(heatmaps[0]["x"]))]
        for name, trace in zip(names, heatmaps, strict=True):
            z, markers = _reference(cols, meta, name, kind)
            assert json.dumps(trace["z"]) == json.dumps(z)
            got = [
                (t["x"], t["customdata"])
                for t in spec["data"]
                if t["type"] == "scatter" and t["name"].startswith(f"{name} ")
            ]
            assert got == markers


def test_single_heatmap_matches_the_straightforward_computation():
    """The one-series heatmap too, with fewer columns than snapshots."""
    snaps, meta = _snapshots()
    spec = histogram_heatmap_spec(snaps, meta, "fc1", max_cols=50)
    cols = [snaps[i] for i in even_indices(len(snaps), 50)]
    z, markers = _reference(cols, meta, "fc1", "act")
    assert json.dumps(spec["data"][0]["z"]) == json.dumps(z)
    assert [(t["x"], t["customdata"]) for t in spec["data"][1:]] == markers
