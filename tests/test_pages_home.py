"""First contact: the landing page's one Start opens the Train page with the demo already training."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from lab.ui.first_contact import demo_config
from tests.conftest import private_server

APP = str(Path(__file__).resolve().parents[1] / "app.py")


@pytest.fixture(autouse=True, scope="module")
def isolated_server(tmp_path_factory):
    """A private store and one JobManager for this module."""
    with private_server(tmp_path_factory.mktemp("home_page"), workers=1):
        yield


def test_one_click_on_home_starts_the_demo_on_the_train_page():
    at = AppTest.from_file(APP, default_timeout=90).run()
    assert not at.exception and [t.value for t in at.title] == ["Training Lab"]
    start = at.button(key="home_start")
    assert start.label == "Start the demo"
    start.click().run()
    assert not at.exception
    assert at.session_state["run"]  # a run was submitted for this session...
    assert at.session_state["cfg"] == demo_config().to_dict()  # ...with the demo's settings
    assert [t.value for t in at.title] == ["Train"]  # and the page now shown is the lab
    assert demo_config().dataset == "spiral" and demo_config().depth == 3
