"""The app's entry script runs headless (no browser) and shows the home page."""

from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = Path(__file__).resolve().parents[1] / "app.py"


def test_app_runs_and_shows_title() -> None:
    """app.py runs its default page without an exception and that page shows the title."""
    at = AppTest.from_file(str(APP)).run(timeout=30)
    assert not at.exception
    assert [t.value for t in at.title] == ["Training Lab"]
