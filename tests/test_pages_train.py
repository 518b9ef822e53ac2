"""The Train page in AppTest: renders, controls reach the config and the URL, links restore, runs train."""

import json
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from lab.config import RunConfig
from tests.conftest import private_server

PAGE = str(Path(__file__).resolve().parents[1] / "pages" / "train.py")


@pytest.fixture(autouse=True, scope="module")
def isolated_server(tmp_path_factory):
    """A private store and one JobManager for this module (sessions differ by owner token)."""
    with private_server(tmp_path_factory.mktemp("train_page"), workers=2):
        yield


def live_charts(at: AppTest) -> dict[str, dict]:
    """The page's live charts (lab.ui.live_chart components) by key, as Plotly figure dicts."""
    return {key: json.loads(data["figure"]) for key, data in live_components(at).items() if "figure" in data}


def live_components(at: AppTest) -> dict[str, dict]:
    """Every lab.ui.live_chart component's data by key (charts and the status line)."""
    out = {}
    for el in at.get("bidi_component"):
        if el.proto.component_name == "training_lab.live_chart":
            out[el.proto.id.split("-")[-1]] = json.loads(el.proto.json)
    return out


def _app(**params) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=90)
    for k, v in params.items():
        at.query_params[k] = v
    return at.run()


def test_renders_with_defaults():
    at = _app()
    assert not at.exception
    assert at.session_state["cfg"] == RunConfig().to_dict()
    assert at.button(key="btn_start") and at.selectbox(key="w_dataset").value == "digits"


def test_control_change_reaches_config_and_url():
    at = _app()
    at.selectbox(key="w_activation").set_value("tanh").run()
    at.number_input(key="w_lr").set_value(0.05).run()
    assert at.session_state["cfg"]["activation"] == "tanh" and at.session_state["cfg"]["lr"] == 0.05
    assert at.query_params["activation"] == "tanh" and at.query_params["lr"] == "0.05"
    assert at.query_params["seed"] == "0" and "tok" not in at.query_params  # the owner token stays out of the URL


def test_url_restores_the_config():
    cfg = RunConfig(dataset="spiral", depth=3, activation="elu", lr=0.02, seed=11, optimizer="nesterov")
    at = _app(**cfg.to_query())
    assert not at.exception
    assert RunConfig.from_dict(at.session_state["cfg"]) == cfg
    assert at.selectbox(key="w_activation").value == "elu" and at.number_input(key="w_seed").value == 11


@pytest.mark.parametrize(
    "params, words",
    [
        ({"lr": "abc"}, "lr='abc'"),
        ({"activation": "<script>"}, "activation='<script>'"),
        ({"batch_size": "999999"}, "batch_size=999999"),
        ({"nonsense": "1"}, "unknown setting"),
        ({"run": "does-not-exist"}, "no such run"),
    ],
)
def test_bad_url_parameters_give_a_clear_message(params, words):
    at = _app(**params, seed="3")
    assert not at.exception
    warnings = " ".join(w.value for w in at.warning)
    assert words in warnings
    assert at.session_state["cfg"]["seed"] == 3  # the good parameters still apply


def test_invalid_combination_is_shown_next_to_the_controls():
    at = _app()
    at.toggle(key="w_residual").set_value(True).run()
    at.number_input(key="w_stochastic_depth").set_value(0.2).run()
    at.toggle(key="w_residual").set_value(False).run()
    assert not at.exception
    errors = " ".join(e.value for e in at.error)
    assert "stochastic_depth=0.2" in errors and at.button(key="btn_start").disabled


def _wait_done(at, slot="run", timeout=120):
    from lab.ui.common import get_jobs

    t_end = time.monotonic() + timeout
    while time.monotonic() < t_end:
        at.run()
        row = get_jobs().store.get_run(at.session_state[slot])
        if row["status"] not in ("queued", "running", "paused"):
            return row
        time.sleep(0.2)
    raise AssertionError("run did not finish")


def test_start_trains_and_draws_charts_then_reattaches_from_the_url():
    at = _app(epochs="3", dataset="spiral")
    at.button(key="btn_start").click().run()
    assert not at.exception
    row = _wait_done(at)
    at.run()
    assert row["status"] == "completed"
    charts = live_charts(at)
    assert {"loss", "accuracy", "act_hist", "update_ratio", "probe", "timeline_act"} <= set(charts)
    assert charts["probe"]["data"][0]["type"] == "heatmap"  # 2D data: the decision boundary beside the hints
    # The loss chart shows the whole run: its training curve ends at the run's last step.
    train = [t for t in charts["loss"]["data"] if t["name"].endswith("train")][0]
    assert train["x"][-1] == row["summary"]["steps"]
    assert at.download_button(key="dl_csv")
    # A refresh: a new session with the same URL finds the same config and the same run. AppTest cannot
    # send the owner cookie, so the token comes as an old link's `tok`, which still works for its owner.
    url = dict(at.query_params)
    again = _app(**url, tok=at.session_state["_owner"])
    assert "tok" not in again.query_params  # and the old link is rewritten without it
    assert again.session_state["run"] == at.session_state["run"]
    assert RunConfig.from_dict(again.session_state["cfg"]) == RunConfig.from_dict(at.session_state["cfg"])
    status = live_components(again)["run_status"]
    assert status["runs"][0]["text"].startswith("completed") and status["mine"] == [True]
    assert "feed" not in status  # a finished run is not polled


def test_epoch_before_start_plays_one_epoch_at_the_page_pace_and_stays_paused():
    from lab.ui.common import get_jobs

    at = _app(subset="256", batch_size="32")  # 8 steps an epoch, paced by the page's default Speed, watch
    at.button(key="btn_epoch").click().run()
    assert not at.exception
    store = get_jobs().store
    rid = at.session_state["run"]
    t_end, seen = time.monotonic() + 60, []
    while time.monotonic() < t_end:
        row = store.get_run(rid)
        seen.append(row["status"])
        if row["meta"].get("step") == 8 and not row["reason"]:
            break
        time.sleep(0.05)
    assert row["config"]["speed"] == "watch" and row["meta"]["step"] == 8
    assert set(seen[seen.index("paused") :]) == {"paused"}  # queued, then paused all along (never "running")
    at.run()
    assert at.button(key="btn_resume")  # paused at the end of the epoch: the page offers Resume
    assert live_components(at)["run_status"]["runs"][0]["text"].startswith("paused · step 8/")
    at.button(key="btn_stop").click().run()
    assert _wait_done(at)["status"] == "stopped"


def test_shared_link_is_read_only():
    at = _app(epochs="2000")
    at.button(key="btn_start").click().run()
    viewer = _app(**dict(at.query_params))  # the address bar as it is: nothing to strip
    status = live_components(viewer)["run_status"]
    assert status["mine"] == [False]  # the status line then says "read-only (shared link)"
    assert status["feed"]["url"].startswith("api/live/curves?runs=" + at.session_state["run"])
    keys = {b.key for b in viewer.button}
    assert "btn_fork" in keys and not keys & {"btn_stop", "btn_pause", "btn_step", "btn_start"}
    at.button(key="btn_stop").click().run()
    assert _wait_done(at)["status"] == "stopped"


def test_compare_starts_a_second_run_with_one_change():
    at = _app(epochs="2", lesson="xavier_vs_kaiming")
    at.button(key="btn_start").click().run()
    _wait_done(at)
    at.run()
    at.text_input(key="cmp_value_init").set_value("kaiming_normal")
    at.button(key="cmp_start").click().run()
    assert not at.exception
    b = _wait_done(at, "cmp")
    from lab.ui.common import get_jobs

    a = get_jobs().store.get_run(at.session_state["run"])
    assert b["config"]["init"] == "kaiming_normal" and a["config"]["seed"] == b["config"]["seed"]
    diff = {k for k in a["config"] if a["config"][k] != b["config"][k]}
    assert diff == {"init"}


def test_every_lesson_loads():
    from lab.ui.controls import lessons

    at = _app()
    for lesson_id in lessons():
        at.selectbox(key="lesson_pick").set_value(lesson_id).run()
        at.button(key="load_lesson").click().run()
        assert not at.exception
        assert at.query_params["lesson"] == lesson_id
        assert any(lessons()[lesson_id]["title"] in m.value for m in at.markdown)


def test_presenter_mode_from_the_url_hides_controls_and_enlarges_charts():
    at = _app(present="1", dataset="xor", epochs="2")
    assert not at.exception
    css = " ".join(h.proto.body for h in at.get("html"))
    assert "stSidebar" in css and "display: none" in css
    assert at.query_params["present"] == "1"
    at.button(key="btn_start").click().run()
    _wait_done(at)
    at.run()
    spec = live_charts(at)["loss"]
    assert spec["layout"]["font"]["size"] > 14  # presenter_layout scales fonts up
