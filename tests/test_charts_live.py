"""Live Train-page charts: built on real Trainer output, each figure must carry exactly the recorded data."""

import json
import math

import plotly.graph_objects as go
import pytest

from lab.charts import live
from lab.charts.live import RunSeries
from lab.charts.live_hist import GRID_CELLS, bin_centres
from lab.charts.style import (
    PALETTE,
    colour_names,
    downsample,
    even_indices,
    is_empty,
    layer_color,
    param_color,
    presenter_layout,
    presenter_spec,
    run_color,
)
from lab.config import RunConfig
from lab.engine.trainer import Trainer

# ---- fixtures: real training runs (a few seconds in all) ----------------------------


@pytest.fixture(scope="module")
def mlp():
    """Digits MLP (ReLU), 60 steps, a snapshot every 5 steps."""
    return Trainer(RunConfig(max_steps=60, record_every=5)).fit().history


@pytest.fixture(scope="module")
def mlp_b():
    """Same architecture with tanh and a larger learning rate: run B of a comparison, saturating layers."""
    return Trainer(RunConfig(max_steps=30, record_every=5, activation="tanh", lr=0.03)).fit().history


@pytest.fixture(scope="module")
def spiral():
    """2D toy: has a boundary grid and training points."""
    return Trainer(RunConfig(dataset="spiral", max_steps=60, record_every=10)).fit().history


@pytest.fixture(scope="module")
def cnn():
    """Small CNN on RGB shapes: has first-layer filters."""
    return Trainer(RunConfig(dataset="shapes", model="cnn", max_steps=20, record_every=5)).fit().history


def long_snapshots(snaps, n=300):
    """n snapshots made of the real ones repeated with increasing steps: the size of a long run's history."""
    return [{**snaps[i % len(snaps)], "step": 1 + 10 * i} for i in range(n)]


def approx(a, rel=1e-3, abs_=1e-12):
    return pytest.approx(a, rel=rel, abs=abs_)


def in_range(rec, key="hist"):
    """A recorded histogram without the values outside its range, which its end bins also count."""
    counts = list(rec[key])
    counts[0] -= rec.get("below", 0)
    counts[-1] -= rec.get("above", 0)
    return counts


def traces(fig, kind=None):
    return [t for t in fig.data if kind is None or t.type == kind]


def all_figures(mlp, mlp_b, spiral, cnn):
    """Every builder once, on realistic data."""
    a, b = RunSeries("A", mlp.train, mlp.val), RunSeries("B", mlp_b.train, mlp_b.val)
    s = mlp.snapshots
    return {
        "loss": live.loss_figure([a, b]),
        "accuracy": live.accuracy_figure([a], n_classes=10),
        "lr": go.Figure(live.lr_spec([a, b])),
        "heatmap": go.Figure(live.histogram_heatmap_spec(s, mlp.meta, "fc1")),
        "grid": go.Figure(live.histogram_grid_spec(s, mlp.meta, "grad_w")),
        "at": go.Figure(live.histogram_at_spec(s[-1], mlp.meta, "act")),
        "ratio": go.Figure(live.update_ratio_spec(s, mlp.meta, compare=mlp_b.snapshots)),
        "dead": go.Figure(live.dead_saturated_spec(s, mlp.meta)),
        "stats": go.Figure(live.layer_stats_spec(s, mlp.meta)),
        "weights": go.Figure(live.weight_histograms_spec(s[-1], mlp.meta)),
        "filters": go.Figure(live.filters_spec(cnn.snapshots[-1])),
        "boundary": go.Figure(live.boundary_spec(spiral.meta, spiral.snapshots[-1])),
    }


# ---- style helpers -------------------------------------------------------------------


def test_downsample_keeps_first_last_and_at_most_n():
    xs = list(range(5000))
    ys = [math.sin(i / 50) for i in xs]
    for n in (2, 3, 4, 5, 10, 101, 500):
        dx, dy = downsample(xs, ys, n)
        assert len(dx) <= n and len(dx) == len(dy)
        assert (dx[0], dy[0]) == (0, ys[0]) and (dx[-1], dy[-1]) == (4999, ys[-1])
        assert dx == sorted(set(dx))  # in order, no duplicates
        assert all(ys[x] == y for x, y in zip(dx, dy, strict=True))  # kept points are source points


def test_downsample_keeps_a_spike_and_short_input_unchanged():
    ys = [1.0] * 3000
    ys[1234] = 50.0  # a one-step loss spike: every-k-th sampling would likely drop it
    dx, dy = downsample(list(range(3000)), ys, 100)
    assert 1234 in dx and max(dy) == 50.0
    assert downsample([1, 2, 3], [4, 5, 6], 500) == ([1, 2, 3], [4, 5, 6])
    dx, dy = downsample(list(range(1000)), [None] * 500 + [float("nan")] * 500, 50)  # nothing finite: no crash
    assert len(dx) <= 50 and dx[0] == 0 and dx[-1] == 999
    with pytest.raises(ValueError):
        downsample([1, 2], [1], 10)


def test_even_indices():
    assert even_indices(5, 10) == [0, 1, 2, 3, 4]
    idx = even_indices(1000, 300)
    assert len(idx) <= 300 and idx[0] == 0 and idx[-1] == 999
    assert even_indices(10, 1) == [9] and even_indices(0, 5) == []


def test_layer_colours_are_stable_and_shared_with_parameters(mlp):
    names = colour_names(mlp.meta)
    assert names == ["fc1", "fc2", "out"]  # depth order, then the output layer that only owns parameters
    assert layer_color("fc1", names) == PALETTE[0] and layer_color("fc2", names) == PALETTE[1]
    assert param_color("fc2.weight", mlp.meta) == layer_color("fc2", names) == param_color("fc2.bias", mlp.meta)
    assert layer_color("nope", names) not in PALETTE
    assert layer_color("l9", [f"l{i}" for i in range(10)]) == PALETTE[9 % len(PALETTE)]  # cycles, never fails


# ---- curves --------------------------------------------------------------------------


def test_loss_traces_equal_recorded_values(mlp):
    fig = live.loss_figure([RunSeries("", mlp.train, mlp.val)])
    train, val = fig.data
    assert list(train.x) == [r["step"] for r in mlp.train]
    assert list(train.y) == approx([r["train_loss"] for r in mlp.train])
    assert list(val.x) == [r["step"] for r in mlp.val]
    assert list(val.y) == approx([r["val_loss"] for r in mlp.val])
    assert fig.layout.xaxis.title.text == "step" and "cross-entropy" in fig.layout.yaxis.title.text
    assert fig.layout.yaxis.type != "log"
    assert live.loss_figure([RunSeries("", mlp.train, mlp.val)], log_y=True).layout.yaxis.type == "log"


def test_long_curve_is_downsampled_to_source_points(mlp):
    rows = [{**mlp.train[i % len(mlp.train)], "step": i + 1} for i in range(2000)]
    src = {r["step"]: r["train_loss"] for r in rows}
    (train,) = live.loss_figure([RunSeries("", rows, [])]).data
    assert len(train.x) <= 500 and train.x[0] == 1 and train.x[-1] == 2000
    assert list(train.y) == approx([src[x] for x in train.x])


def test_two_runs_overlay(mlp, mlp_b):
    one = live.loss_figure([RunSeries("A", mlp.train, mlp.val)])
    two = live.loss_figure([RunSeries("A", mlp.train, mlp.val), RunSeries("B", mlp_b.train, mlp_b.val)])
    assert len(two.data) == 2 * len(one.data)
    names = [t.name for t in two.data]
    assert len(set(names)) == len(names) and {"A · train", "B · val"} <= set(names)
    colours = {t.name: t.line.color for t in two.data}
    assert colours["A · train"] == colours["A · val"] == run_color(0)
    assert colours["B · train"] == colours["B · val"] == run_color(1) != run_color(0)
    dashes = {t.name: t.line.dash for t in two.data}
    assert dashes["A · train"] != dashes["A · val"]  # train and val told apart by line style
    lr = go.Figure(live.lr_spec([RunSeries("A", mlp.train, []), RunSeries("B", mlp_b.train, [])]))
    assert [t.name for t in lr.data] == ["A · learning rate", "B · learning rate"]


def test_accuracy_and_lr_figures(mlp):
    run = RunSeries("", mlp.train, mlp.val)
    acc = live.accuracy_figure([run], n_classes=10)
    assert list(acc.data[0].y) == approx([r["train_acc"] for r in mlp.train])
    assert list(acc.data[1].y) == approx([r["val_acc"] for r in mlp.val])
    assert acc.layout.yaxis.tickformat == ".0%"
    assert any(s.y0 == s.y1 == pytest.approx(0.1) for s in acc.layout.shapes)  # chance level for 10 classes
    lr = go.Figure(live.lr_spec([run]))
    assert list(lr.data[0].y) == approx([r["lr"] for r in mlp.train])
    assert list(lr.layout.yaxis.tickvals) == [mlp.train[0]["lr"]]  # a constant rate: one labelled value


def test_non_finite_losses_become_gaps(mlp):
    rows = [dict(r) for r in mlp.train[:10]]
    rows[3]["train_loss"], rows[4]["train_loss"] = float("nan"), float("inf")  # a diverged run
    fig = live.loss_figure([RunSeries("", rows, [])])
    assert fig.data[0].y[3] is None and fig.data[0].y[4] is None
    json.loads(fig.to_json())  # strict JSON, no NaN literal


# ---- snapshot charts -----------------------------------------------------------------


@pytest.mark.parametrize(
    "kind,group,key,edges",
    [
        ("act", "layers", "hist", "act_edges"),
        ("weight", "params", "w_hist", "w_edges"),
        ("grad_w", "params", "g_hist", "g_edges"),
    ],
)
def test_histogram_heatmap_is_log1p_of_recorded_counts(mlp, kind, group, key, edges):
    name = "fc2" if kind == "act" else "fc2.weight"
    fig = go.Figure(live.histogram_heatmap_spec(mlp.snapshots, mlp.meta, name, kind))
    hm = fig.data[0]
    assert hm.type == "heatmap" and hm.zsmooth is False
    assert list(hm.x) == [s["step"] for s in mlp.snapshots]
    lo, hi = mlp.meta[edges][name]
    bins = mlp.meta["bins"]
    assert list(hm.y) == approx([lo + (b + 0.5) * (hi - lo) / bins for b in range(bins)])
    for col, snap in enumerate(mlp.snapshots):
        expected = [math.log1p(c) for c in in_range(snap[group][name], key)]
        assert [row[col] for row in hm.z] == pytest.approx(expected, abs=0.006)  # stored to 2 decimals
    assert name in fig.layout.title.text and fig.layout.xaxis.title.text == "step"
    assert "value" in fig.layout.yaxis.title.text


def test_histogram_heatmap_caps_columns_and_keeps_the_latest(mlp):
    snaps = long_snapshots(mlp.snapshots, 900)
    hm = go.Figure(live.histogram_heatmap_spec(snaps, mlp.meta, "fc1")).data[0]
    assert len(hm.x) <= 300 and hm.x[0] == snaps[0]["step"] and hm.x[-1] == snaps[-1]["step"]


def test_histogram_grid_one_row_per_layer_shared_steps(mlp):
    fig = go.Figure(live.histogram_grid_spec(mlp.snapshots, mlp.meta, "act"))
    fig.data = [t for t in fig.data if t.type == "heatmap"]
    assert len(fig.data) == len(mlp.meta["layers"]) == 2
    assert all(list(t.x) == [s["step"] for s in mlp.snapshots] for t in fig.data)
    assert all(t.coloraxis == "coloraxis" for t in fig.data)  # one colour scale for every row
    assert fig.layout.xaxis.matches == "x2" or fig.layout.xaxis2.matches == "x"  # shared step axis
    last = in_range(mlp.snapshots[-1]["layers"]["fc2"])
    assert [row[-1] for row in fig.data[1].z] == pytest.approx([math.log1p(c) for c in last], abs=0.006)
    weights = go.Figure(live.histogram_grid_spec(mlp.snapshots, mlp.meta, "weight"))
    assert [t.name for t in weights.data] == live.weight_params(mlp.meta)


def test_histogram_at_bars_are_recorded_fractions(mlp):
    snap = mlp.snapshots[-1]
    fig = go.Figure(live.histogram_at_spec(snap, mlp.meta, "act", step_label="step 56 (epoch 2.5)"))
    fig.data = [t for t in fig.data if "outside" not in t.name]
    assert [t.name for t in fig.data] == mlp.meta["layers"]
    names = colour_names(mlp.meta)
    for t in fig.data:
        rec = snap["layers"][t.name]
        assert list(t.y) == approx([c / sum(rec["hist"]) for c in in_range(rec)], rel=5e-3, abs_=1e-3)
        assert list(t.x) == approx(bin_centres(mlp.meta["act_edges"][t.name], mlp.meta["bins"]))
        assert t.marker.color == layer_color(t.name, names)
    assert "step 56 (epoch 2.5)" in fig.layout.title.text
    w = go.Figure(live.weight_histograms_spec(snap, mlp.meta))
    assert [t.name for t in w.data] == ["fc1.weight", "fc2.weight", "out.weight"]
    counts = snap["params"]["out.weight"]["w_hist"]
    assert list(w.data[2].y) == approx([c / sum(counts) for c in counts], rel=5e-3)


def test_update_ratio_equals_recorded_ratios_on_log_axis(mlp, mlp_b):
    fig = go.Figure(live.update_ratio_spec(mlp.snapshots, mlp.meta))
    assert [t.name for t in fig.data] == ["fc1.weight", "fc2.weight", "out.weight"]
    for t in fig.data:
        assert list(t.x) == [s["step"] for s in mlp.snapshots]
        assert list(t.y) == approx([s["params"][t.name]["ratio"] for s in mlp.snapshots])
        assert t.line.color == param_color(t.name, mlp.meta)
    assert fig.layout.yaxis.type == "log"
    assert any(s.type == "line" and s.y0 == s.y1 == 1e-3 and s.line.dash == "dash" for s in fig.layout.shapes)
    assert any(s.type == "rect" and (s.y0, s.y1) == (1e-4, 1e-2) for s in fig.layout.shapes)
    assert any("healthy ~1e-3" in a.text and a.y == -3 for a in fig.layout.annotations)  # log10 on a log axis
    both = go.Figure(live.update_ratio_spec(mlp.snapshots, mlp.meta, compare=mlp_b.snapshots))
    assert len(both.data) == 6 and sum(t.line.dash == "dot" for t in both.data) == 3
    b_fc1 = next(t for t in both.data if t.name == "B · fc1.weight")
    assert list(b_fc1.y) == approx([s["params"]["fc1.weight"]["ratio"] for s in mlp_b.snapshots])


def test_dead_and_saturated_fractions(mlp, mlp_b):
    dead = go.Figure(live.dead_saturated_spec(mlp.snapshots, mlp.meta))
    assert [t.name for t in dead.data] == ["fc1 dead (relu)", "fc2 dead (relu)"]
    for t, layer in zip(dead.data, ["fc1", "fc2"], strict=True):
        assert list(t.y) == approx([s["layers"][layer]["dead"] for s in mlp.snapshots])
    assert dead.layout.yaxis.tickformat == ".0%" and tuple(dead.layout.yaxis.range) == (0, 1)
    assert dead.layout.yaxis.title.text == "share of units"
    sat = go.Figure(live.dead_saturated_spec(mlp_b.snapshots, mlp_b.meta))
    assert [t.name for t in sat.data] == ["fc1 saturated (tanh)", "fc2 saturated (tanh)"]
    assert list(sat.data[1].y) == approx([s["layers"]["fc2"]["sat"] for s in mlp_b.snapshots])
    meta = {**mlp.meta, "kinds": {"fc1": "gelu", "fc2": "gelu"}}
    snaps = [
        {**s, "layers": {k: {kk: v for kk, v in r.items() if kk != "dead"} for k, r in s["layers"].items()}}
        for s in mlp.snapshots
    ]
    none = go.Figure(live.dead_saturated_spec(snaps, meta))
    assert is_empty(none) and "no relu/tanh/sigmoid layers to watch" in none.layout.annotations[0].text.lower()


def test_layer_stats_at_latest_snapshot(mlp):
    fig = go.Figure(live.layer_stats_spec(mlp.snapshots, mlp.meta))
    act, grad = fig.data
    last = mlp.snapshots[-1]["layers"]
    assert list(act.x) == list(grad.x) == ["fc1", "fc2"]
    assert list(act.y) == approx([last[k]["std"] for k in ("fc1", "fc2")])
    assert list(grad.y) == approx([last[k]["grad_std"] for k in ("fc1", "fc2")])
    assert fig.layout.yaxis.type == "log" and fig.layout.barmode == "group"
    assert str(mlp.snapshots[-1]["step"]) in fig.layout.xaxis.title.text


# ---- probes --------------------------------------------------------------------------


def _normalised(f):
    flat = [v for ch in f for row in ch for v in row]
    lo, hi = min(flat), max(flat)
    return lambda v: (v - lo) / (hi - lo)


def test_filters_rgb_image_holds_every_filter(cnn):
    filters = cnn.snapshots[-1]["filters"]  # (16, 3, 3, 3)
    fig = go.Figure(live.filters_spec(cnn.snapshots[-1]))
    (img,) = fig.data
    assert img.type == "image"
    rows, cols = fig.layout.meta["grid"]
    assert rows * cols >= len(filters) > (rows - 1) * cols  # one panel per filter, no empty row
    assert (len(img.z), len(img.z[0])) == (rows * 3 + rows - 1, cols * 3 + cols - 1)  # 3x3 tiles, 1 px gaps
    for i, f in enumerate(filters):
        r, q = divmod(i, cols)
        norm = _normalised(f)
        for y in range(3):
            for x in range(3):
                px = img.z[r * 4 + y][q * 4 + x]
                assert px[3] == 1 and list(px[:3]) == [round(norm(f[c][y][x]) * 255) for c in range(3)]
    assert img.z[3][0][3] == 0  # gap rows are transparent


def test_filters_greyscale_and_empty(cnn):
    grey = {"filters": [[f[0]] for f in cnn.snapshots[-1]["filters"][:5]]}  # 5 one-channel filters
    fig = go.Figure(live.filters_spec(grey))
    (hm,) = fig.data
    assert hm.type == "heatmap" and fig.layout.meta["grid"] == [2, 3]
    norm = _normalised(grey["filters"][4])
    assert hm.z[4][4] == pytest.approx(norm(grey["filters"][4][0][0][0]), abs=1e-3)  # filter 4: row 1, col 1
    assert hm.z[3][0] is None  # gap
    for snap in (None, {"step": 1}):
        assert is_empty(go.Figure(live.filters_spec(snap)))


def test_boundary_contains_grid_and_points(spiral):
    snap = spiral.snapshots[-1]
    fig = go.Figure(live.boundary_spec(spiral.meta, snap))
    hm, *pts = fig.data
    assert list(hm.x) == approx(spiral.meta["grid"]["x"]) and list(hm.y) == approx(spiral.meta["grid"]["y"])
    assert [[int(v) for v in row] for row in hm.z] == snap["boundary"]["cls"]  # integer part = predicted class
    p = spiral.meta["points"]
    assert sum(len(t.x) for t in pts) == len(p["x"])
    for t in pts:  # every drawn point is a training point of the trace's own class (4 significant digits)
        own = [(x, y) for x, y, lab in zip(p["x"], p["y"], p["label"], strict=True) if lab == int(t.name.split()[-1])]
        assert len(t.x) == len(own)
        for x, y in zip(t.x, t.y, strict=True):
            assert min(abs(x - a) + abs(y - b) for a, b in own) < 2e-3
    assert fig.layout.yaxis.scaleanchor == "x" and fig.layout.yaxis.scaleratio == 1
    assert all(len(t.x) <= 500 for t in pts)
    only_points = go.Figure(live.boundary_spec(spiral.meta, None))  # before the first snapshot: points alone
    assert [t.type for t in only_points.data] == ["scatter"] * 3
    assert is_empty(go.Figure(live.boundary_spec({}, snap)))  # not a 2D dataset


# ---- every figure --------------------------------------------------------------------


def test_every_figure_is_labelled_and_small(mlp, mlp_b, spiral, cnn):
    for name, fig in all_figures(mlp, mlp_b, spiral, cnn).items():
        assert isinstance(fig, go.Figure) and not is_empty(fig), name
        assert fig.layout.title.text and fig.layout.uirevision and fig.layout.height, name
        if name not in ("filters", "grid", "at", "weights"):  # those label their panels instead
            assert fig.layout.xaxis.title.text and fig.layout.yaxis.title.text, name
        for t in fig.data:
            if t.type in ("scatter", "bar"):
                assert len(t.x) <= 500, name
            assert t.type != "scattergl", name


def test_empty_inputs_give_empty_states(mlp):
    meta, start = mlp.meta, RunSeries("", [], [])
    figs = [
        live.loss_figure([]),
        live.loss_figure([start]),
        live.accuracy_figure([start]),
        go.Figure(live.lr_spec([start])),
        go.Figure(live.histogram_heatmap_spec([], meta, "fc1")),
        go.Figure(live.histogram_heatmap_spec(mlp.snapshots, meta, "nope")),
        go.Figure(live.histogram_grid_spec([], meta)),
        go.Figure(live.histogram_grid_spec([], {})),
        go.Figure(live.histogram_at_spec(None, meta)),
        go.Figure(live.update_ratio_spec([], meta)),
        go.Figure(live.dead_saturated_spec([], meta)),
        go.Figure(live.layer_stats_spec([], meta)),
        go.Figure(live.weight_histograms_spec(None, meta)),
        go.Figure(live.filters_spec(None)),
        go.Figure(live.boundary_spec({}, None)),
        go.Figure(live.update_ratio_spec([], {})),
        go.Figure(live.dead_saturated_spec([], {})),
        go.Figure(live.layer_stats_spec([], {})),
    ]
    for fig in figs:
        assert is_empty(fig) and fig.layout.title.text and fig.layout.annotations
        json.loads(fig.to_json())
    with pytest.raises(ValueError, match="kind"):
        go.Figure(live.histogram_heatmap_spec(mlp.snapshots, meta, "fc1", kind="bogus"))


def test_json_size_of_a_300_snapshot_run(mlp, cnn, spiral):
    """Each figure stays under 200 kB, so a poll that redraws a few charts sends well under a megabyte.

    The largest is a histogram grid: at most GRID_CELLS (24,000) z values of at most 6 bytes
    ("13.82,": log1p of a million conv outputs), about 144 kB, plus Plotly's default template
    (about 7 kB) and axes. A single heatmap is 40 x 300 = 12,000 values; a boundary 3,600.
    """
    rows = [{**mlp.train[i % len(mlp.train)], "step": i + 1} for i in range(1000)]  # the recorder's maximum
    run = RunSeries("A", rows, long_snapshots(mlp.val, 300))
    deep = {
        **cnn.meta,
        "layers": [f"conv{i}" for i in range(1, 7)],
        "act_edges": {f"conv{i}": cnn.meta["act_edges"]["conv1"] for i in range(1, 7)},
    }
    deep_snaps = [
        {**s, "layers": {f"conv{i}": s["layers"]["conv1"] for i in range(1, 7)}} for s in long_snapshots(cnn.snapshots)
    ]
    sizes = {
        "loss": live.loss_figure([run, run]),
        "ratio": go.Figure(
            live.update_ratio_spec(long_snapshots(mlp.snapshots), mlp.meta, long_snapshots(mlp.snapshots))
        ),
        "heatmap": go.Figure(live.histogram_heatmap_spec(long_snapshots(cnn.snapshots), cnn.meta, "conv1")),
        "grid": go.Figure(live.histogram_grid_spec(long_snapshots(cnn.snapshots), cnn.meta, "act")),
        "deep_grid": go.Figure(live.histogram_grid_spec(deep_snaps, deep, "act")),
        "dead": go.Figure(live.dead_saturated_spec(long_snapshots(mlp.snapshots), mlp.meta)),
        "boundary": go.Figure(live.boundary_spec(spiral.meta, spiral.snapshots[-1])),
    }
    for name, fig in sizes.items():
        assert len(fig.to_json()) < 200_000, name
    cells = sum(len(t.z) * len(t.z[0]) for t in sizes["deep_grid"].data)
    assert cells <= GRID_CELLS  # more layers, fewer columns each


def test_presenter_layout_scales_fonts_without_touching_the_original(mlp):
    fig = live.loss_figure([RunSeries("A", mlp.train, mlp.val), RunSeries("B", mlp.train, mlp.val)])
    before = fig.to_json()
    big = presenter_layout(fig, scale=1.5)
    assert fig.to_json() == before
    assert big.layout.font.size == pytest.approx(1.5 * fig.layout.font.size)
    assert big.layout.title.font.size == pytest.approx(1.5 * fig.layout.title.font.size)
    assert big.layout.height > fig.layout.height and big.layout.legend.yref == "container"
    assert list(big.data[0].y) == list(fig.data[0].y)


# ---- plain specs (what the Train page draws) -------------------------------------------


def all_specs(mlp, mlp_b, spiral, cnn):
    """Every snapshot-chart spec builder once, on the MLP (ReLU and tanh), the CNN and the 2D toy."""
    s, m, c, cm = mlp.snapshots, mlp.meta, cnn.snapshots, cnn.meta
    return {
        "heatmap": live.histogram_heatmap_spec(s, m, "fc1"),
        "cnn_heatmap": live.histogram_heatmap_spec(c, cm, "conv1"),
        "grid": live.histogram_grid_spec(s, m, "act"),
        "cnn_grid": live.histogram_grid_spec(c, cm, "grad_w"),
        "at": live.histogram_at_spec(s[-1], m, "act"),
        "weights": live.weight_histograms_spec(c[-1], cm),
        "ratio": live.update_ratio_spec(s, m, compare=mlp_b.snapshots),
        "dead": live.dead_saturated_spec(s, m),
        "sat": live.dead_saturated_spec(mlp_b.snapshots, mlp_b.meta),
        "stats": live.layer_stats_spec(c, cm),
        "filters": live.filters_spec(c[-1]),
        "boundary": live.boundary_spec(spiral.meta, spiral.snapshots[-1]),
    }


def test_specs_are_plain_json_that_plotly_validates(mlp, mlp_b, spiral, cnn):
    for name, spec in all_specs(mlp, mlp_b, spiral, cnn).items():
        assert set(spec) == {"data", "layout"} and spec["data"], name
        json.dumps(spec, allow_nan=False)  # plain lists and numbers: no numpy, no NaN
        fig = go.Figure(spec)  # plotly's validation: a misspelt property or a bad value raises here
        assert not is_empty(fig) and fig.layout.title.text and fig.layout.uirevision and fig.layout.height, name
        for t in spec["data"]:  # a trace placed in a subplot names axes that the layout defines
            for key in ("xaxis", "yaxis"):
                if key in t:
                    assert key + t[key][1:] in spec["layout"], (name, t[key])


def _columns(trace):
    return [list(col) for col in zip(*trace["z"], strict=True)]


def test_grid_specs_are_log1p_of_every_recorded_histogram(mlp, cnn):
    for h, kind, group, key in ((mlp, "act", "layers", "hist"), (cnn, "grad_w", "params", "g_hist")):
        spec = live.histogram_grid_spec(h.snapshots, h.meta, kind)
        spec["data"] = [t for t in spec["data"] if t["type"] == "heatmap"]
        names = [t["name"] for t in spec["data"]]
        assert names == (h.meta["layers"] if kind == "act" else live.weight_params(h.meta)) and len(names) > 1
        suffixes = ["", *(str(i) for i in range(2, len(names) + 1))]
        for t, s in zip(spec["data"], suffixes, strict=True):
            assert t["x"] == [snap["step"] for snap in h.snapshots] and (t["xaxis"], t["yaxis"]) == (f"x{s}", f"y{s}")
            for col, snap in zip(_columns(t), h.snapshots, strict=True):
                assert col == pytest.approx([math.log1p(c) for c in in_range(snap[group][t["name"]], key)], abs=0.006)
            assert spec["layout"][f"yaxis{s}"]["title"]["text"] == t["name"]
        # One step axis: every row follows the bottom one, which alone is titled.
        assert spec["layout"][f"xaxis{suffixes[-1]}"]["title"]["text"] == "step"
        assert all(spec["layout"][f"xaxis{s}"]["matches"] == f"x{suffixes[-1]}" for s in suffixes[:-1])


def test_heatmap_spec_leaves_gaps_where_a_snapshot_has_no_record(mlp):
    snaps = [dict(s) for s in mlp.snapshots]
    snaps[2] = {**snaps[2], "layers": {k: v for k, v in snaps[2]["layers"].items() if k != "fc1"}}
    spec = live.histogram_heatmap_spec(snaps, mlp.meta, "fc1")
    cols = _columns(spec["data"][0])
    assert cols[2] == [None] * mlp.meta["bins"] and None not in cols[3]
    assert cols[3] == pytest.approx([math.log1p(c) for c in in_range(snaps[3]["layers"]["fc1"])], abs=0.006)
    json.dumps(spec, allow_nan=False)


def test_histogram_at_spec_titles_the_outer_axes_of_an_incomplete_grid(mlp):
    """Four series in three columns: panel 4 alone in row 2 gets the value title, panels 2 and 3 keep theirs."""
    snap, meta = mlp.snapshots[-1], mlp.meta
    extra = {"fc1b": "fc1", "fc2b": "fc2"}  # two more series that reuse recorded histograms
    meta4 = {
        **meta,
        "layers": [*meta["layers"], *extra],
        "act_edges": {**meta["act_edges"], **{k: meta["act_edges"][v] for k, v in extra.items()}},
    }
    snap4 = {**snap, "layers": {**snap["layers"], **{k: snap["layers"][v] for k, v in extra.items()}}}
    spec = live.histogram_at_spec(snap4, meta4, "act")
    layout = spec["layout"]
    assert [a["text"] for a in layout["annotations"]] == ["fc1", "fc2", "fc1b", "fc2b"]
    assert "xaxis5" not in layout and "xaxis6" not in layout  # no empty frames for the unused cells
    assert [bool(layout[f"xaxis{s}"].get("title")) for s in ("", "2", "3", "4")] == [False, True, True, True]
    assert [bool(layout[f"yaxis{s}"].get("title")) for s in ("", "2", "3", "4")] == [True, False, False, True]
    assert all(layout[f"yaxis{s}"]["tickformat"] == ".0%" for s in ("", "2", "3", "4"))
    for t in spec["data"]:
        if "outside" in t["name"]:
            continue
        rec = snap4["layers"][t["name"]]
        assert t["y"] == approx([c / sum(rec["hist"]) for c in in_range(rec)], rel=5e-3, abs_=1e-3)
    go.Figure(spec)


def test_snapshot_line_and_bar_specs_carry_the_recorded_values(mlp, mlp_b, cnn):
    ratio = live.update_ratio_spec(mlp.snapshots, mlp.meta, compare=mlp_b.snapshots)
    for t in ratio["data"]:
        run, param = t["name"].split(" · ")
        snaps = mlp.snapshots if run == "A" else mlp_b.snapshots
        assert t["x"] == [s["step"] for s in snaps] and t["y"] == approx([s["params"][param]["ratio"] for s in snaps])
    assert len(ratio["data"]) == 6 and ratio["layout"]["yaxis"]["type"] == "log"
    sat = live.dead_saturated_spec(mlp_b.snapshots, mlp_b.meta)
    for t, layer in zip(sat["data"], mlp_b.meta["layers"], strict=True):
        assert t["y"] == approx([s["layers"][layer]["sat"] for s in mlp_b.snapshots])
    stats = live.layer_stats_spec(cnn.snapshots, cnn.meta)
    last = cnn.snapshots[-1]["layers"]
    assert stats["data"][0]["x"] == cnn.meta["layers"]
    assert stats["data"][0]["y"] == approx([last[k]["std"] for k in cnn.meta["layers"]])
    assert stats["data"][1]["y"] == approx([last[k]["grad_std"] for k in cnn.meta["layers"]])


def test_probe_specs_carry_the_recorded_values(spiral, cnn):
    snap = spiral.snapshots[-1]
    hm, *points = live.boundary_spec(spiral.meta, snap)["data"]
    assert [[int(v) for v in row] for row in hm["z"]] == snap["boundary"]["cls"]
    assert sum(len(t["x"]) for t in points) == len(spiral.meta["points"]["x"])
    filters = live.filters_spec(cnn.snapshots[-1])
    assert filters["data"][0]["z"] == list(go.Figure(live.filters_spec(cnn.snapshots[-1])).data[0].z)


def test_empty_specs_and_presenter_spec_of_a_grid(mlp):
    for spec in (
        live.histogram_grid_spec([], mlp.meta),
        live.histogram_at_spec(None, mlp.meta),
        live.update_ratio_spec([], {}),
        live.dead_saturated_spec([], mlp.meta),
        live.layer_stats_spec([], {}),
        live.filters_spec(None),
        live.boundary_spec({}, None),
        live.histogram_heatmap_spec([], mlp.meta, "x"),
    ):
        assert spec["layout"]["meta"] == {"empty": True} and spec["data"] == []
    spec = live.histogram_at_spec(mlp.snapshots[-1], mlp.meta, "act")
    before = json.dumps(spec)
    big = presenter_spec(spec)
    assert json.dumps(spec) == before  # the memoized spec is not changed
    assert big["layout"]["annotations"][0]["font"]["size"] > spec["layout"]["annotations"][0]["font"]["size"]
    go.Figure(big)
