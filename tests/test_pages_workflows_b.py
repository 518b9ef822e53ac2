"""Ensembles, transfer and large-batch pages in AppTest: they render and run their workflows end to end, tiny budgets.

AppTest has no browser, so `run_every` never fires: the tests call `at.run()` in a loop
(each run executes the polling fragments once) until the text a user would wait for appears.
The large-batch page's end-to-end run (job manager + a two-process group) lives in
test_pages_large_batch.py, so that each file stays well under a minute.
"""

import json
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from lab.config import RunConfig

ROOT = Path(__file__).resolve().parents[1]
PAGES = ROOT / "pages"
TOKEN = "workflowsB-token-0001"


# conftest's private store and job manager (one worker), plus the offload worker, all shut down after the module.
pytestmark = pytest.mark.usefixtures("lab_server")


def _app(page: str) -> AppTest:
    at = AppTest.from_file(str(PAGES / page), default_timeout=120)
    at.session_state["_owner"] = TOKEN
    at.run()
    assert not at.exception, at.exception
    return at


def _texts(at: AppTest) -> list[str]:
    return [
        e.value for kind in ("markdown", "success", "error", "info", "caption", "warning") for e in getattr(at, kind)
    ]


def _until(at: AppTest, *needles: str, timeout: float = 180.0) -> list[str]:
    """Rerun (driving the fragments) until every needle is in some text; returns the texts holding them."""
    t_end = time.monotonic() + timeout
    while time.monotonic() < t_end:
        at.run()
        assert not at.exception, at.exception
        errors = [e.value for e in at.error]
        assert not errors, errors
        hits = [next((t for t in _texts(at) if n in t), None) for n in needles]
        if all(hits):
            return hits
        time.sleep(0.3)
    raise AssertionError(f"{needles!r} never all appeared; the page shows: {_texts(at)}")


def _table(at: AppTest, column: str):
    """The first table with this column (AppTest does not expose a dataframe's key)."""
    return next(d.value for d in at.dataframe if column in d.value.columns)


def _charts(at: AppTest) -> dict[str, dict]:
    """Plotly specs by chart key."""
    return {c.proto.id.split("-")[-1]: json.loads(c.proto.spec) for c in at.get("plotly_chart")}


@pytest.mark.parametrize(
    "page, buttons, charts",
    [
        (
            "ensembles.py",
            ["ens_seed_start", "ens_snap_start", "ens_avg_start"],
            ["ens_members_chart", "ens_size_chart", "ens_snap_chart", "ens_avg_acc", "ens_avg_loss"],
        ),
        ("transfer.py", ["tr_start"], ["tr_curves_chart", "tr_final_chart"]),
        ("large_batch.py", ["lb_start", "dp_start"], ["lb_val_loss", "dp_cost", "dp_loss"]),
    ],
)
def test_pages_render_with_keyed_buttons_and_empty_charts(page, buttons, charts):
    at = _app(page)
    assert len(at.title) == 1
    for key in buttons:
        assert at.button(key=key) is not None
    specs = _charts(at)
    for key in charts:
        assert specs[key]["layout"]["meta"] == {"empty": True}


def test_ensembles_page_runs_all_three_parts():
    at = _app("ensembles.py")
    at.number_input(key="ens_n").set_value(2)
    at.number_input(key="ens_cycles").set_value(2)
    at.number_input(key="ens_epc").set_value(1)
    at.run()
    for key in ("ens_seed_start", "ens_snap_start", "ens_avg_start"):
        at.button(key=key).click().run()
    seed, snap, ema = _until(at, "Ensemble of 2:", "Snapshot ensemble of the last", "EMA:")
    assert "2 snapshots" in snap and "raw weights" in ema
    specs = _charts(at)
    bars = specs["ens_members_chart"]["data"][0]
    assert bars["x"] == ["seed 1", "seed 2", "mean of members", "ensemble"]
    table = _table(at, "model")
    assert list(table["model"]) == bars["x"]
    assert [round(v, 4) for v in table["val acc"]] == [round(v, 4) for v in bars["y"]]
    assert f"{table['val acc'].iloc[-1]:.1%}" in seed
    assert len(specs["ens_avg_acc"]["data"]) == 2  # raw and EMA curves


def test_ensembles_page_uses_my_settings_when_asked():
    at = AppTest.from_file(str(PAGES / "ensembles.py"), default_timeout=60)
    at.session_state["_owner"] = TOKEN
    at.session_state["cfg"] = RunConfig(width=24, lr=0.01).to_dict()
    at.run()
    at.radio(key="ens_setup").set_value("mine").run()
    assert not at.exception
    assert any("width=24" in c.value and "lr=0.01" in c.value for c in at.caption)


def test_transfer_page_runs_the_four_strategies():
    at = _app("transfer.py")
    resnet = at.checkbox(key="tr_resnet")
    assert resnet.proto.disabled and any("ResNet-18 option unavailable" in c.value for c in at.caption)
    at.number_input(key="tr_per_class").set_value(3)
    at.number_input(key="tr_epochs").set_value(5)
    at.run()
    at.button(key="tr_start").click().run()
    _until(at, "4 of 4 strategies done", "From scratch:")
    table = _table(at, "strategy")
    assert len(table) == 4 and set(table["labels"]) == {12}
    assert len(_charts(at)["tr_curves_chart"]["data"]) == 4


def test_bad_batch_plan_is_a_one_line_error():
    at = _app("large_batch.py")
    at.number_input(key="lb_small").set_value(512)
    at.number_input(key="lb_factor").set_value(16)
    at.run()
    assert [e.value for e in at.error] == [
        "batch_size=8192 is invalid: small batch x factor at most 1024 on this server (small 512 x 16)"
    ]
    assert at.button(key="lb_start").proto.disabled
