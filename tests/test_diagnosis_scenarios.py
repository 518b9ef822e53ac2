"""The diagnosis on real runs: every pathology set up through the public config and trained at the length a
user runs it is named by its cause with its fix, and healthy runs get no warning, at the end or while they train.
"""

import json
import subprocess
import sys

import pytest
import torch

from lab.config import RunConfig
from lab.diagnosis import diagnose, diagnose_run, hints_as_dicts
from lab.diagnosis.arbiter import PROBLEM
from lab.diagnosis.scenarios import HEALTHY, PATHOLOGIES
from lab.engine.trainer import Trainer
from lab.serving.persist import StoreWriter, stored_hints
from lab.serving.store import RunStore
from lab.workflows.diagnosis_suite import run, train


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """One torch thread: these small runs gain nothing from two, and on a shared machine threads spin."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


OPPOSITE = [("lr_too_high", "lr_too_low"), ("overfitting", "too_much_regularization"), ("overfitting", "train_longer")]


def _consistent(hints):
    """No two hints set one knob differently, no cause twice, no opposite pair, no 'healthy' beside a warning."""
    fixed = {}
    for h in hints:
        for k, v in (h.fix or {}).items():
            assert fixed.setdefault(k, v) == v, f"two values for {k}: {hints}"
    causes = [h.cause for h in hints]
    assert len(causes) == len(set(causes))
    for a, b in OPPOSITE:
        assert not {a, b} <= set(causes), causes
    if any(h.level in PROBLEM for h in hints):
        assert "healthy" not in causes


@pytest.mark.parametrize("s", PATHOLOGIES, ids=[s.name for s in PATHOLOGIES])
def test_pathology_is_named_first_with_its_fix(s):
    o = run(s)
    assert o.problems, f"{s.name}: no warning; hints were {[(h.level, h.cause) for h in o.hints]}"
    first = o.problems[0]
    assert first.cause == s.cause, [(h.level, h.cause, h.text) for h in o.problems]
    assert first.fix is not None and set(first.fix) == set(s.fix_keys)
    RunConfig.from_dict({**s.config, **first.fix})  # the suggestion is a config the lab can run
    assert first.step is not None and first.step <= o.summary["steps"]
    _consistent(o.hints)


@pytest.mark.parametrize("s", HEALTHY, ids=[s.name for s in HEALTHY])
def test_healthy_run_gets_no_warning_at_the_end_or_while_it_trains(s):
    o = run(s)
    assert not o.problems, [(h.cause, h.text) for h in o.problems]
    assert "healthy" in {h.cause for h in o.hints}
    live = dict(o.row, status="running", reason="", summary={})
    for ev in o.val:  # the page diagnoses the run after every evaluation while it trains
        upto = ev["step"]
        hints = diagnose_run(
            live,
            [r for r in o.train if r["step"] <= upto],
            [r for r in o.val if r["step"] <= upto],
            [r for r in o.snapshots if r["step"] <= upto],
        )
        assert not [h for h in hints if h.level in PROBLEM], (upto, [(h.cause, h.text) for h in hints])


def test_memory_and_store_read_the_same_diagnosis_past_the_row_merge(tmp_path):
    # 1,074 steps: the in-memory history merges its train rows pairwise, the store keeps every row.
    cfg = RunConfig(batch_size=8, epochs=6, optimizer="sgd", lr=1e-4)
    store = RunStore(tmp_path / "runs.db")
    run_id = store.create_run(cfg.to_dict(), owner="t")
    tr = Trainer(cfg, callbacks=[StoreWriter(store, run_id)]).fit()
    h = tr.history
    assert len(store.metrics(run_id, "train")) > len(h.train)  # the two series really differ
    row = store.get_run(run_id)
    memory = diagnose(h.train, h.val, h.snapshots, row["meta"], cfg.to_dict(), row["summary"])
    stored = stored_hints(store, run_id)
    assert [(x.cause, x.fix, x.step) for x in memory] == [(x.cause, x.fix, x.step) for x in stored]
    assert stored[0].cause == "lr_too_low"


def test_cli_json_hints_equal_the_stored_runs_and_fix_reports_both_runs(tmp_path):
    db = tmp_path / "runs.db"
    args = [sys.executable, "-m", "lab", "train", "--set", "init=zeros", "--json", "--fix", "--quiet", "--store", db]
    r = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    before, after = out["before"], out["after"]
    assert out["cause"] == "zero_init" and out["try"] == {"init": "kaiming_normal"}
    assert all("try" in h for h in before["hints"]) and before["hints"][0]["try"] == out["try"]
    store = RunStore(db)
    for summary in (before, after):  # what the CLI printed is what a page reading the store diagnoses
        assert summary["hints"] == hints_as_dicts(stored_hints(store, summary["run_id"]))
    assert store.get_run(after["run_id"])["config"]["init"] == "kaiming_normal"
    b, a = before["val_acc"], after["val_acc"]
    assert out["verdict"] == f"The fix worked: validation accuracy {b:.0%} -> {a:.0%}."  # lab.diagnosis.verdict
    assert a > b + 0.5


def test_a_fixed_run_is_the_same_config_with_only_the_fix_changed():
    s = next(p for p in PATHOLOGIES if p.name == "too_much_dropout")
    o = run(s)
    fixed = o.config.replace(**o.first_fix)
    changed = {k for k, v in fixed.to_dict().items() if o.config.to_dict()[k] != v}
    assert changed == {"dropout"}
    assert train(fixed).summary["val_acc"] > o.summary["val_acc"]
