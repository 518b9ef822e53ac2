"""'Try it' on the Train page in AppTest: a hint's fix starts the same-seed comparison, then says if it worked."""

import json
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from lab.ui.controls import lessons
from tests.conftest import private_server

PAGE = str(Path(__file__).resolve().parents[1] / "pages" / "train.py")
LESSON = "mse_vs_cross_entropy"  # 220 steps on digits; its hint's fix is the lesson's own comparison


@pytest.fixture(autouse=True, scope="module")
def isolated_server(tmp_path_factory):
    """A private store and a JobManager with two workers for this module."""
    with private_server(tmp_path_factory.mktemp("train_fixes"), workers=2):
        yield


def _wait_done(at: AppTest, slot: str, timeout: float = 180) -> dict:
    from lab.ui.common import get_jobs

    t_end = time.monotonic() + timeout
    while time.monotonic() < t_end:
        row = get_jobs().store.get_run(at.session_state[slot])
        if row["status"] not in ("queued", "running", "paused"):
            at.run()  # what the status line's `ended` trigger does in a browser
            return row
        time.sleep(0.3)
    raise AssertionError(f"{slot} run did not finish")


def _loaded() -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=90).run()
    at.selectbox(key="lesson_pick").set_value(LESSON).run()
    at.button(key="load_lesson").click().run()
    return at


def _components(at: AppTest) -> dict[str, dict]:
    """Every lab.ui.live_chart component's data by key (charts, status line, hints panel)."""
    return {
        el.proto.id.split("-")[-1]: json.loads(el.proto.json)
        for el in at.get("bidi_component")
        if el.proto.component_name == "training_lab.live_chart"
    }


def _verdicts(at: AppTest) -> dict[str, str]:
    """The hints panel's verdict lines by cause."""
    return {h["cause"]: h["verdict"] for h in _components(at)["hints"]["hints"] if "verdict" in h}


def _try_buttons(at: AppTest) -> list[str]:
    return [b.key for b in at.button if b.key and b.key.startswith("try_")]


def test_try_it_starts_the_fix_as_a_same_seed_comparison_and_reports_the_measured_outcome():
    at = _loaded()
    assert _try_buttons(at) == []  # nothing to try before a run
    at.button(key="btn_start").click().run()
    a = _wait_done(at, "run")
    assert not at.exception and a["status"] == "completed"
    # The finished run's hints: the squared-error loss, with its fix as a Try it button keyed by cause.
    assert "try_mse_loss" in _try_buttons(at)
    assert any("loss=cross_entropy" in m.value for m in at.markdown)
    at.button(key="try_mse_loss").click().run()
    assert not at.exception
    b = _wait_done(at, "cmp")
    assert b["status"] == "completed" and b["label"] == "loss=cross_entropy"
    diff = {k for k in a["config"] if a["config"][k] != b["config"][k]}
    assert diff == {"loss"} and b["config"]["seed"] == a["config"]["seed"]
    # The comparison is overlaid, as with "Compare with...": the loss chart holds both runs' curves.
    assert at.session_state["cmp"] == b["id"] and at.query_params["cmp"] == b["id"]
    names = " ".join(t.get("name", "") for t in json.loads(_components(at)["loss"]["figure"])["data"])
    assert "loss=cross_entropy" in names
    # One line under that hint in the panel, from the two runs' measured figures.
    acc = lambda row: f"{row['summary']['val_acc']:.0%}"  # noqa: E731
    expected = f"The fix worked: validation accuracy {acc(a)} -> {acc(b)}."
    assert _verdicts(at) == {"mse_loss": expected}
    assert b["summary"]["val_acc"] > a["summary"]["val_acc"] + 0.1
    # A reload (same URL, new session) reads the verdict from the stored runs, not from session state.
    again = AppTest.from_file(PAGE, default_timeout=90)
    for k, v in at.query_params.items():
        again.query_params[k] = v
    again.run()
    assert _verdicts(again) == {"mse_loss": expected}


def test_a_comparison_that_is_not_a_hints_fix_gets_no_verdict():
    at = _loaded()
    at.button(key="btn_start").click().run()
    _wait_done(at, "run")
    assert "lr" not in lessons()[LESSON]["compare"]  # a change no hint suggested
    at.selectbox(key="cmp_field").set_value("lr").run()
    at.text_input(key="cmp_value_lr").set_value("0.05").run()
    at.button(key="cmp_start").click().run()
    _wait_done(at, "cmp")
    assert _verdicts(at) == {}
    assert "try_mse_loss" in _try_buttons(at)  # the fix can still be tried
