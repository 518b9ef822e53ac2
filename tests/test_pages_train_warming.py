"""The Train page on a server whose workers are still warming up: it says so, and the notice goes by itself."""

from pathlib import Path

from streamlit.testing.v1 import AppTest

from lab.serving.jobs import shared_manager
from tests.conftest import private_server

PAGE = str(Path(__file__).resolve().parents[1] / "pages" / "train.py")


def _warming(at: AppTest) -> bool:
    return any("warming up" in c.value for c in at.caption)


def test_warming_notice_shows_until_the_workers_are_ready(tmp_path):
    with private_server(tmp_path, workers=1):
        at = AppTest.from_file(PAGE, default_timeout=90).run()  # the first visit starts the workers
        assert not at.exception
        assert _warming(at)  # importing torch in a fresh worker takes seconds
        assert shared_manager().wait_ready(120)
        at.run()  # what the notice's own 1 s poll does in the browser: a rerun once they are ready
        assert not at.exception and not _warming(at)
        assert at.button(key="btn_start") and not at.button(key="btn_start").disabled
