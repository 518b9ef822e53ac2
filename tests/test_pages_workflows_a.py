"""Babysitting, search and compare pages in AppTest: they render and run their workflows end to end on digits.

AppTest has no browser, so `run_every` never fires: the tests call `at.run()` in a loop
(each run executes the polling fragments once) until the text a user would wait for appears.
"""

import json
import time
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from lab.config import RunConfig

PAGES = Path(__file__).resolve().parents[1] / "pages"
TOKEN = "workflowsA-token-0001"  # one browser session for the whole module


@pytest.fixture(autouse=True, scope="module")
def isolated_server(tmp_path_factory):
    """A private store (and Optuna file next to it), one JobManager and one offload worker; all shut down after."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TRAINING_LAB_STORE", str(tmp_path_factory.mktemp("workflows_a") / "runs.db"))
        mp.setenv("TRAINING_LAB_WORKERS", "2")
        st.cache_resource.clear()
        yield
        from lab.ui.common import get_jobs
        from lab.workflows import offload

        try:
            get_jobs().shutdown()
            offload.shutdown()
        finally:
            st.cache_resource.clear()


def _app(page: str, token: str = TOKEN, cfg: RunConfig | None = None) -> AppTest:
    at = AppTest.from_file(str(PAGES / page), default_timeout=120)
    at.session_state["_owner"] = token
    if cfg is not None:
        at.session_state["cfg"] = cfg.to_dict()
    at.run()
    assert not at.exception, at.exception
    return at


def _texts(at: AppTest) -> list[str]:
    return [
        e.value for kind in ("markdown", "success", "error", "info", "caption", "warning") for e in getattr(at, kind)
    ]


def _until(at: AppTest, needle: str, timeout: float = 240.0) -> str:
    """Rerun (driving the fragments) until some text contains `needle`; returns that text."""
    t_end = time.monotonic() + timeout
    while time.monotonic() < t_end:
        at.run()
        assert not at.exception, at.exception
        hit = next((t for t in _texts(at) if needle in t), None)
        if hit is not None:
            return hit
        time.sleep(0.2)
    raise AssertionError(f"{needle!r} never appeared; the page shows: {_texts(at)}")


def _chart(at: AppTest, key: str) -> dict:
    """The Plotly spec of the chart with this key."""
    for c in at.get("plotly_chart"):
        if c.proto.id.endswith(f"-{key}"):
            return json.loads(c.proto.spec)
    raise AssertionError(f"no chart with key {key!r}")


def test_babysitting_runs_all_six_steps():
    at = _app("babysitting.py")
    assert "Babysitting recipe" in [t.value for t in at.title]
    assert at.button(key="babysit_step2").disabled  # each step waits for the one before
    at.button(key="babysit_step1").click().run()
    assert "Step 1 passed" in _until(at, "Step 1 ")
    at.button(key="babysit_step2").click().run()
    assert "Step 2 passed" in _until(at, "Step 2 ")
    overfit = _chart(at, "babysit_overfit")
    assert max(overfit["data"][-1]["y"]) == 1.0
    at.button(key="babysit_step3").click().run()
    text = _until(at, "Step 3 ")
    lr = at.session_state["babysit"]["step3"]["suggested_lr"]
    assert f"{lr:.2g}" in text and 1e-5 <= lr <= 10
    assert any(s.get("type") == "line" for s in _chart(at, "babysit_lr")["layout"]["shapes"])
    at.number_input(key="babysit_epochs").set_value(1).run()
    at.button(key="babysit_step4").click().run()
    assert "Step 4 done" in _until(at, "Step 4 ")
    grid = {round(x, 8) for x in _chart(at, "babysit_grid_scatter")["data"][0]["x"]}
    assert min(grid) < lr < max(grid)  # the grid brackets step 3's rate
    at.button(key="babysit_step5").click().run()
    assert "Step 5 done" in _until(at, "Step 5 ")
    assert "Best run so far" in _until(at, "Best run so far")
    assert _chart(at, "babysit_best_loss")["data"]


def test_babysitting_step1_fails_for_large_initial_weights():
    at = _app("babysitting.py", token="workflowsA-token-0002", cfg=RunConfig(init="large_normal"))
    at.button(key="babysit_step1").click().run()
    text = _until(at, "Step 1 ")
    assert "Step 1 failed" in text and "ln(10) = 2.30" in text


def test_search_refuses_a_bad_budget_with_one_line():
    at = _app("search.py")
    at.number_input(key="search_budget").set_value(0).run()
    at.button(key="search_start").click().run()
    assert [e.value for e in at.error] == ["budget=0 is invalid: a whole number of trials from 1 to 100"]


def test_search_runs_four_trials_and_lists_the_stored_study():
    at = _app("search.py")
    at.button(key="search_start").click().run()
    _until(at, "Trial 4 of 4 done")
    scatter = _chart(at, "search_scatter")
    assert len(scatter["data"][0]["x"]) + sum(len(d["x"]) for d in scatter["data"][2:]) == 4
    assert at.selectbox(key="search_study").options  # reloadable from the Optuna storage
    table = at.dataframe[0].value
    assert len(table) == 4 and set(table["status"]) <= {"completed", "diverged"}


def test_compare_overlays_diffs_exports_and_deletes():
    at = _app("compare.py")  # the runs of the tests above, all owned by TOKEN
    picked = at.multiselect(key="compare_pick").value
    assert len(picked) == 2
    assert len(_chart(at, "compare_loss")["data"]) >= 2
    at.button(key="compare_tb").click().run()
    t_end = time.monotonic() + 180
    while time.monotonic() < t_end and not any("zip" in b.proto.label for b in at.get("download_button")):
        at.run()
        time.sleep(0.2)
    assert any("TensorBoard (2 runs" in b.proto.label for b in at.get("download_button"))
    at.checkbox(key="compare_delete_confirm").check().run()
    at.button(key="compare_delete").click().run()
    assert "Deleted 2 run(s)." in _texts(at)
    assert not set(picked) & set(at.session_state["compare_pick"])


def test_compare_shows_nothing_of_other_sessions():
    at = _app("compare.py", token="workflowsA-token-0003")
    assert any("No runs in this session yet" in t for t in _texts(at))
