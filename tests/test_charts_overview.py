"""Network overview: one box per layer in depth order, filled by health from the recorded figures, clickable."""

import plotly.graph_objects as go
import pytest

from lab.charts.overview import HEALTH_COLORS, dim_others, focus_meta, layer_health, overview_spec
from lab.charts.style import layer_color, rgba
from lab.config import RunConfig
from lab.engine.trainer import Trainer


@pytest.fixture(scope="module")
def cnn():
    """Small CNN on shapes: two conv layers and an output layer."""
    return Trainer(RunConfig(dataset="shapes", model="cnn", max_steps=12, record_every=4)).fit().history


def _snap(dead=0.0, g_first=1e-2, ratio=1e-3):
    """A hand-made snapshot of a 2-hidden-layer ReLU MLP whose figures set each box's health."""
    return {
        "step": 10,
        "layers": {"fc1": {"dead": dead}, "fc2": {"dead": 0.0}},
        "params": {
            "fc1.weight": {"g_std": g_first, "ratio": ratio},
            "fc2.weight": {"g_std": 1e-2, "ratio": 1e-3},
            "out.weight": {"g_std": 1e-2, "ratio": 1e-3},
        },
    }


META = {"layers": ["fc1", "fc2"], "kinds": {"fc1": "relu", "fc2": "relu"},
        "params": ["fc1.weight", "fc1.bias", "fc2.weight", "out.weight"]}  # fmt: skip


def test_boxes_follow_depth_with_layer_colours_and_recorded_figures(cnn):
    spec = overview_spec(cnn.snapshots, cnn.meta)
    (bar,) = spec["data"]
    assert bar["x"] == ["input", "conv1", "conv2", "out"]
    assert bar["customdata"] == ["", "conv1", "conv2", "out"]  # what a click sends back
    names = ["conv1", "conv2", "out"]
    assert bar["marker"]["line"]["color"][1:] == [layer_color(n, names) for n in names]
    dead = cnn.snapshots[-1]["layers"]["conv1"]["dead"]
    assert f"dead units: {dead:.1%}" in bar["hovertext"][1]
    ratio = cnn.snapshots[-1]["params"]["conv2.weight"]["ratio"]
    assert f"{ratio:.1e}" in bar["hovertext"][2]
    assert "1x the last layer" in bar["hovertext"][3] or "1x" in bar["hovertext"][3]
    go.Figure(spec)  # plotly accepts it


@pytest.mark.parametrize(
    "snap,level",
    [
        (_snap(), "ok"),
        (_snap(dead=0.2), "warn"),
        (_snap(dead=0.8), "bad"),
        (_snap(g_first=5e-4), "warn"),  # 20x smaller gradient than the last layer
        (_snap(g_first=1e-5), "bad"),  # 1000x smaller: vanishing
        (_snap(ratio=3e-2), "warn"),
        (_snap(ratio=0.5), "bad"),
    ],
)
def test_health_of_the_first_layer_takes_the_worst_figure(snap, level):
    fc1 = layer_health(snap, META)[0]
    assert fc1.name == "fc1" and fc1.level == level
    assert bool(fc1.reasons) == (level != "ok")
    spec = overview_spec([snap], META)
    assert spec["data"][0]["marker"]["color"][1] == rgba(HEALTH_COLORS[level], 0.85)
    assert spec["layout"]["meta"]["levels"]["fc1"] == level


def test_no_snapshot_yet_gives_grey_boxes_and_no_layers_an_empty_state():
    spec = overview_spec([], META)
    assert set(spec["layout"]["meta"]["levels"].values()) == {"unknown"}
    assert overview_spec([], {})["layout"]["meta"]["empty"]


def test_focus_outlines_the_layer_and_narrows_the_other_charts():
    spec = overview_spec([_snap()], META, focus="fc2")
    widths = spec["data"][0]["marker"]["line"]["width"]
    assert widths[2] > widths[1] and spec["layout"]["meta"]["focus"] == "fc2"
    assert focus_meta(META, "fc1") == {**META, "layers": ["fc1"], "params": ["fc1.weight", "fc1.bias"]}
    lines = {"data": [{"type": "scatter", "name": "fc1 dead (relu)"}, {"type": "scatter", "legendgroup": "fc2.weight"}]}
    faded = dim_others(lines, "fc1")
    assert "opacity" not in faded["data"][0] and faded["data"][1]["opacity"] < 1
    assert "opacity" not in lines["data"][1]  # the input is left alone
    bars = dim_others(
        {"data": [{"type": "bar", "x": ["fc1", "fc2"], "marker": {"color": ["#0072B2", "#D55E00"]}}]}, "fc2"
    )
    assert bars["data"][0]["marker"]["color"] == [rgba("#0072B2", 0.3), rgba("#D55E00", 1.0)]
