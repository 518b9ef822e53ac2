"""The per-layer payload: the overview travels with it, the probe only when the model has one, focus narrows it."""

import json

import pytest

from lab.config import RunConfig
from lab.engine.trainer import Trainer
from lab.serving.live.layers import build_layers, layer_specs
from lab.serving.run_history import RunHistory


def _history(cfg: RunConfig) -> RunHistory:
    h = Trainer(cfg).fit().history
    row = {"config": cfg.to_dict(), "status": "completed", "meta": h.meta}
    return RunHistory("r1", row, h.train, h.val, h.snapshots)


@pytest.fixture(scope="module")
def mlp():
    return _history(RunConfig(max_steps=20, record_every=5))


@pytest.fixture(scope="module")
def spiral():
    return _history(RunConfig(dataset="spiral", max_steps=20, record_every=5))


def test_signal_through_depth_is_drawn_once_for_an_mlp_on_images(mlp):
    specs = layer_specs(mlp)
    assert "probe" not in specs  # it used to fall back to the layer statistics, drawn again beside them
    titles = [s["layout"]["title"]["text"] for s in specs.values()]
    assert sum("Signal through depth" in t for t in titles) == 1


def test_a_2d_run_keeps_its_decision_boundary_and_every_payload_has_the_overview(spiral):
    specs = layer_specs(spiral)
    assert "Decision boundary" in specs["probe"]["layout"]["title"]["text"]
    payload = build_layers([spiral], False, "v1")
    overview = json.loads(payload["figures"]["overview"])
    assert overview["data"][0]["customdata"][1:] == ["fc1", "fc2", "out"][: len(overview["data"][0]["x"]) - 1]


def test_focus_narrows_the_histograms_and_a_stale_focus_is_ignored(mlp):
    first = mlp.meta["layers"][0]
    focused = layer_specs(mlp, focus=first)
    heatmaps = [t for t in focused["act_hist"]["data"] if t["type"] == "heatmap"]
    assert [t["name"] for t in heatmaps] == [first]
    assert focused["overview"]["layout"]["meta"]["focus"] == first
    assert layer_specs(mlp, focus="conv9") == layer_specs(mlp)


def test_status_line_images_per_second_is_the_median_of_recent_windows():
    from lab.serving.live.feed import status_text, steady_rate

    rows = [{"step": i, "images_per_s": 10_000 + i} for i in range(20)]
    rows[17]["images_per_s"] = 126  # a window in which the worker trained another run
    assert 10_000 < steady_rate(rows) < 10_020
    row = {"status": "running", "meta": {"step": 20, "total_steps": 40}}
    assert "126" not in status_text(row, rows, [])[0] and "images/s" in status_text(row, rows, [])[0]
    assert steady_rate([]) == 0.0


def test_the_layers_route_refuses_a_focus_that_is_not_a_layer_name():
    from starlette.applications import Starlette
    from starlette.requests import Request

    from lab.ui import live_routes

    query = "runs=abc&focus=" + "<script>"
    scope = {"type": "http", "method": "GET", "path": live_routes.LAYERS_PATH, "query_string": query.encode()}
    response = live_routes.layers(Request({**scope, "headers": [], "app": Starlette()}))
    assert response.status_code == 400 and "focus=" in json.loads(response.body)["error"]
