"""The Large batches page end to end in AppTest: four runs through the job manager and the two-process gloo check.

Split from test_pages_workflows_b.py (both use conftest's `lab_server`) because starting a
job-manager worker and a two-process group dominates the time.
"""

import json
import re
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

PAGE = Path(__file__).resolve().parents[1] / "pages" / "large_batch.py"
TOKEN = "largebatch-token-0001"


# conftest's private store and job manager (one worker), plus the offload worker, all shut down after the module.
pytestmark = pytest.mark.usefixtures("lab_server")


def _texts(at: AppTest) -> list[str]:
    return [e.value for kind in ("markdown", "error", "caption", "warning") for e in getattr(at, kind)]


def _until(at: AppTest, *needles: str, timeout: float = 240.0) -> list[str]:
    """Rerun (driving the fragments) until every needle is in some text; returns the texts holding them."""
    t_end = time.monotonic() + timeout
    while time.monotonic() < t_end:
        at.run()
        assert not at.exception, at.exception
        assert not at.error, [e.value for e in at.error]
        hits = [next((t for t in _texts(at) if n in t), None) for n in needles]
        if all(hits):
            return hits
        time.sleep(0.3)
    raise AssertionError(f"{needles!r} never all appeared; the page shows: {_texts(at)}")


def test_large_batch_page_runs_the_arms_and_the_two_process_check():
    at = AppTest.from_file(str(PAGE), default_timeout=120)
    at.session_state["_owner"] = TOKEN
    at.run()
    at.number_input(key="lb_epochs").set_value(1)
    at.number_input(key="lb_warmup").set_value(0.5)
    at.number_input(key="dp_steps").set_value(2)
    at.run()
    at.button(key="lb_start").click().run()
    at.button(key="dp_start").click().run()
    _, check = _until(at, "4 of 4 runs finished", "Gradient check")
    diffs = [float(x) for x in re.findall(r"at most \*\*([0-9.e+-]+)\*\*", check)]
    assert len(diffs) == 2 and max(diffs) <= 1e-6  # the gradient and the DDP parameters
    table = next(d.value for d in at.dataframe if "arm" in d.value.columns)
    assert list(table["batch"]) == [32, 256, 256, 256] and set(table["status"]) == {"completed"}
    charts = {c.proto.id.split("-")[-1]: json.loads(c.proto.spec) for c in at.get("plotly_chart")}
    assert len(charts["lb_val_acc"]["data"]) == 4 and len(charts["dp_loss"]["data"]) == 2
