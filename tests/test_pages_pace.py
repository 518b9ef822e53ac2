"""The Train page's Speed control and Run until paused toggle in AppTest."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from lab.serving.jobs import JobManager
from tests.conftest import private_server, wait_until

PAGE = str(Path(__file__).resolve().parents[1] / "pages" / "train.py")


@pytest.fixture(autouse=True, scope="module")
def isolated_server(tmp_path_factory):
    """A private store and one JobManager for this module."""
    with private_server(tmp_path_factory.mktemp("pace_page")):
        yield


def _app(**params) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=90)
    for k, v in params.items():
        at.query_params[k] = v
    return at.run()


def _row(at: AppTest) -> dict:
    from lab.ui.common import get_jobs

    return get_jobs().store.get_run(at.session_state["run"])


def _stop(at: AppTest) -> None:
    at.button(key="btn_stop").click().run()
    assert wait_until(lambda: _row(at)["status"] == "stopped")


def test_watch_is_the_page_default_and_reaches_the_run():
    at = _app(epochs="2000")
    assert at.segmented_control(key="pace_speed").value == "watch"
    assert "w_speed" not in at.session_state  # not drawn twice: the sidebar skips it
    at.button(key="btn_start").click().run()
    assert not at.exception
    assert _row(at)["config"]["speed"] == "watch" and not _row(at)["config"]["until_paused"]
    assert "speed" not in at.query_params  # the page's default needs no parameter
    _stop(at)


def test_speed_change_while_running_goes_to_the_worker(monkeypatch):
    calls = []
    real = JobManager.speed
    monkeypatch.setattr(JobManager, "speed", lambda self, rid, s: (calls.append((rid, s)), real(self, rid, s)))
    at = _app(epochs="2000")
    at.button(key="btn_start").click().run()
    at.segmented_control(key="pace_speed").set_value("max").run()
    assert not at.exception
    assert calls == [(at.session_state["run"], "max")]
    assert at.query_params["speed"] == "max"  # a link keeps the pace
    _stop(at)


def test_url_pace_and_until_paused_toggle():
    at = _app(speed="fast")
    assert at.segmented_control(key="pace_speed").value == "fast"
    at.toggle(key="pace_until").set_value(True).run()
    assert at.query_params["until_paused"] == "true"
    at.button(key="btn_start").click().run()
    row = _row(at)
    assert row["config"]["speed"] == "fast" and row["config"]["until_paused"]
    _stop(at)


def test_bad_speed_in_the_url_is_reported_and_ignored():
    at = _app(speed="slow")
    assert not at.exception
    assert any("speed='slow'" in w.value for w in at.warning)
    assert at.segmented_control(key="pace_speed").value == "watch"
