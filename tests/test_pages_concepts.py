"""The concept pages run headless (AppTest), draw their keyed charts, and redraw them when a control changes.

Charts are read back from the figure JSON Streamlit sends (`proto.spec`); Plotly sends numeric arrays as
base64 typed arrays, which `arr` decodes. Each page runs once per module (a fixture) and tests change one
control at a time, so the suite stays fast.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

PAGES = Path(__file__).resolve().parents[1] / "pages"
TIMEOUT = 180  # first runs import torch, load the digits and train a few tiny networks, on a shared machine


def run_page(name: str) -> AppTest:
    at = AppTest.from_file(str(PAGES / f"{name}.py"), default_timeout=TIMEOUT).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def charts(at: AppTest) -> dict[str, dict]:
    """Figure JSON of every Plotly chart by its key."""
    return {c.key: json.loads(c.proto.spec) for c in at.get("plotly_chart")}


def arr(value) -> np.ndarray:
    """A trace array from figure JSON: plain list or Plotly's {'dtype', 'bdata', 'shape'} typed array."""
    if isinstance(value, dict) and "bdata" in value:
        a = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        shape = value.get("shape")
        return a.reshape([int(s) for s in str(shape).split(",")]) if shape else a
    return np.asarray(value)


def rerun(at: AppTest) -> AppTest:
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


# ---- activations -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def act_page() -> AppTest:
    return run_page("activations")


def test_activations_page_renders(act_page: AppTest) -> None:
    figs = charts(act_page)
    assert set(figs) == {"act_curves", "act_signs"}
    assert [t["name"] for t in figs["act_curves"]["data"]][::2] == ["Sigmoid", "Tanh", "ReLU", "ELU"]
    table = act_page.dataframe[0].value
    assert len(table) == 11 and set(table["zero-centred"]) == {"yes", "no"}


def test_activations_slope_control_moves_the_curve(act_page: AppTest) -> None:
    """Leaky ReLU at x = -5 is -5 x slope, before and after the slider moves."""
    act_page.multiselect(key="act_pick").set_value(["leaky_relu"])
    for slope in (0.3, 0.05):
        act_page.slider(key="act_slope").set_value(slope)
        f = charts(rerun(act_page))["act_curves"]["data"][0]
        assert arr(f["x"])[0] == -5.0 and arr(f["y"])[0] == pytest.approx(-5 * slope, rel=1e-6)


def test_activations_source_control_changes_the_sign_pattern(act_page: AppTest) -> None:
    act_page.selectbox(key="act_source").set_value("tanh")
    title = charts(rerun(act_page))["act_signs"]["layout"]["annotations"][1]["text"]
    assert title.startswith("Tanh outputs") and "100%" not in title


# ---- initialization ----------------------------------------------------------------------------------------

# Per-layer activation std at 10 x 500 from the lecture table (layers 1, 5 and 10), with tolerances taken from the
# seed-to-seed spread measured for tests/test_init_stats.py (tanh: a few %, ReLU: up to ~30% deep down).
SYLLABUS = {
    ("tanh", "small_normal"): ({1: 0.213081, 5: 0.000532, 10: 0.0}, 0.03, 1e-6),
    ("tanh", "large_normal"): ({1: 0.981879, 5: 0.981614, 10: 0.981736}, 0.01, 0),
    ("tanh", "xavier_normal"): ({1: 0.627953, 5: 0.320917, 10: 0.228008}, 0.03, 0),
    ("relu", "xavier_normal"): ({1: 0.582273, 5: 0.140299, 10: 0.026076}, 0.3, 0),
    ("relu", "kaiming_normal"): ({1: 0.825232, 5: 0.834092, 10: 0.844523}, 0.2, 0),
}


@pytest.fixture(scope="module")
def init_page() -> AppTest:
    return run_page("initialization")


def test_initialization_page_renders(init_page: AppTest) -> None:
    assert set(charts(init_page)) == {"init_hist", "init_stats", "init_symmetry", "init_distinct"}
    assert "1 different unit" in charts(init_page)["init_symmetry"]["layout"]["annotations"][0]["text"]


@pytest.mark.parametrize(("act", "init"), list(SYLLABUS))
def test_initialization_table_reproduces_the_syllabus(init_page: AppTest, act: str, init: str) -> None:
    """10 layers x 500 units x 1000 samples, as in the lecture: the page's table matches the printed stds."""
    ref, rel, abs_ = SYLLABUS[act, init]
    init_page.slider(key="init_depth").set_value(10)
    init_page.select_slider(key="init_width").set_value(500)
    init_page.select_slider(key="init_batch").set_value(1000)
    init_page.selectbox(key="init_act").set_value(act)
    init_page.selectbox(key="init_scheme").set_value(init)
    table = rerun(init_page).dataframe[0].value
    stds = dict(zip(table["layer"], table["std"].astype(float), strict=True))
    for layer, want in ref.items():
        assert stds[layer] == pytest.approx(want, rel=rel, abs=abs_), (act, init, layer)
    stats = charts(init_page)["init_stats"]["data"]
    # the chart shows the same numbers (the table prints 6 decimals)
    assert arr(stats[1]["y"])[10] == pytest.approx(stds[10], rel=1e-4, abs=1e-6)


def test_initialization_symmetry_controls(init_page: AppTest) -> None:
    init_page.radio(key="init_sym").set_value("zeros")
    init_page.slider(key="init_sym_steps").set_value(10)
    figs = charts(rerun(init_page))
    assert figs["init_symmetry"]["layout"]["annotations"][0]["text"].startswith("zeros")
    assert arr(figs["init_distinct"]["data"][0]["y"]).tolist() == [1] * 11


# ---- optimizers --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def opt_page() -> AppTest:
    return run_page("optimizers")


def test_optimizers_page_renders_an_animation(opt_page: AppTest) -> None:
    figs = charts(opt_page)
    assert set(figs) == {"opt_paths", "opt_loss"}
    paths = figs["opt_paths"]
    assert paths["data"][0]["type"] == "contour" and len(paths["frames"]) >= 10
    assert paths["layout"]["updatemenus"][0]["buttons"][0]["method"] == "animate"
    assert [t["name"] for t in figs["opt_loss"]["data"]] == ["SGD", "SGD + momentum", "RMSprop", "Adam"]


def test_optimizers_respond_to_surface_and_rate(opt_page: AppTest) -> None:
    """A new surface redraws the contour; a new SGD rate changes SGD's path and nothing else."""
    opt_page.selectbox(key="opt_surface").set_value("saddle")
    figs = charts(rerun(opt_page))
    assert figs["opt_paths"]["layout"]["title"]["text"] == "Saddle"
    before = figs["opt_loss"]["data"]
    opt_page.number_input(key="opt_saddle_sgd_lr").set_value(0.2)
    after = charts(rerun(opt_page))["opt_loss"]["data"]
    assert not np.array_equal(arr(before[0]["y"]), arr(after[0]["y"]))
    assert np.array_equal(arr(before[3]["y"]), arr(after[3]["y"]))


# ---- schedules ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sched_page() -> AppTest:
    return run_page("schedules")


def test_schedules_page_renders(sched_page: AppTest) -> None:
    figs = charts(sched_page)
    assert set(figs) == {"sched_curves", "sched_large_batch"}
    assert [t["name"] for t in figs["sched_curves"]["data"]] == ["Step", "Cosine", "Linear", "One-cycle"]
    assert [m.value for m in sched_page.metric] == ["16x", "1.6", "12", "48 steps"]


def test_schedules_respond_to_warmup_and_batch(sched_page: AppTest) -> None:
    """Warmup makes the curves start at lr / warmup; a larger new batch raises the scaled rate."""
    sched_page.slider(key="sched_warmup").set_value(100)
    for trace in charts(rerun(sched_page))["sched_curves"]["data"][:3]:  # one-cycle starts lower still: lr / 25
        assert arr(trace["y"])[0] == pytest.approx(0.1 / 100, rel=1e-5)
    sched_page.select_slider(key="lb_new").set_value(8192)
    rerun(sched_page)
    assert sched_page.metric[1].value == "3.2"
    big = charts(sched_page)["sched_large_batch"]["data"]
    assert arr(big[0]["y"]).max() == pytest.approx(3.2, rel=1e-5)


# ---- preprocessing -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pre_page() -> AppTest:
    return run_page("preprocessing")


def test_preprocessing_page_renders(pre_page: AppTest) -> None:
    assert set(charts(pre_page)) == {"pre_cloud", "pre_images", "pre_channels", "pre_race"}
    rows = {r["transform"]: r for r in pre_page.dataframe[0].value.to_dict("records")}
    assert (rows["Whiten"]["var x"], rows["Whiten"]["cov xy"], rows["Whiten"]["var y"]) == (1.0, 0.0, 1.0)


def test_preprocessing_controls(pre_page: AppTest) -> None:
    """Moving the raw cloud moves only the raw panel; switching dataset gives three channel bars."""
    before = charts(pre_page)["pre_cloud"]["data"]
    pre_page.slider(key="pre_dx").set_value(-4.0)
    after = charts(rerun(pre_page))["pre_cloud"]["data"]
    assert arr(after[0]["x"]).mean() == pytest.approx(arr(before[0]["x"]).mean() - 7.0, abs=1e-3)
    np.testing.assert_allclose(arr(after[2]["x"]), arr(before[2]["x"]), atol=1e-5)  # centred view: unchanged
    pre_page.radio(key="pre_dataset").set_value("shapes")
    assert arr(charts(rerun(pre_page))["pre_channels"]["data"][0]["x"]).tolist() == ["red", "green", "blue"]


# ---- regularization ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def reg_page() -> AppTest:
    return run_page("regularization")


def test_regularization_page_renders(reg_page: AppTest) -> None:
    figs = charts(reg_page)
    assert set(figs) == {"reg_gallery", "reg_dropout", "reg_penalty", "reg_batchnorm"}
    ticks = figs["reg_gallery"]["layout"]["xaxis"]["ticktext"]
    assert ticks[0] == "original" and len(ticks) == 12


def test_regularization_controls(reg_page: AppTest) -> None:
    """Turning rotation off drops its column; p changes the dropout title; momentum changes the running mean."""
    reg_page.slider(key="reg_aug_rotate").set_value(0.0)
    reg_page.slider(key="reg_dropout_p").set_value(0.8)
    before = charts(reg_page)["reg_batchnorm"]["data"][0]
    reg_page.slider(key="reg_bn_momentum").set_value(0.5)
    figs = charts(rerun(reg_page))
    assert "Rotate" not in figs["reg_gallery"]["layout"]["xaxis"]["ticktext"]
    assert figs["reg_dropout"]["layout"]["title"]["text"] == "Dropout with p = 0.8"
    assert arr(figs["reg_batchnorm"]["data"][0]["y"])[0] > arr(before["y"])[0]  # a faster first step towards 3
