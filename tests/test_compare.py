"""Compare runs: session isolation, table, filter, config diff, exports (CSV, JSON, TensorBoard), deletion."""

import io
import json
import zipfile

import pandas as pd
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from lab.config import RunConfig
from lab.serving.store import RunStore
from lab.workflows import compare

TOK, OTHER = "tokA" * 5, "tokB" * 5


def _run(store, owner, label, cfg, status="completed", steps=5, val_acc=0.8):
    run_id = store.create_run(cfg.to_dict(), owner=owner, label=label, status="running")
    train = [
        {"step": s, "epoch": s / 10, "train_loss": 2.0 / s, "train_acc": 0.1 * s, "lr": cfg.lr, "images_per_s": 1000.0}
        for s in range(1, steps + 1)
    ]
    val = [{"step": steps, "val_loss": 0.5, "val_acc": val_acc, "train_loss": 0.4, "train_acc": 0.9}]
    store.append(run_id, train=train, val=val, meta={"n_classes": 10})
    store.set_status(run_id, status, "", {"steps": steps, "val_acc": val_acc, "val_loss": 0.5, "best_val_acc": val_acc})
    return run_id


@pytest.fixture()
def store(tmp_path):
    s = RunStore(tmp_path / "runs.db")
    s.ids = {
        "a": _run(s, TOK, "base", RunConfig()),
        "b": _run(s, TOK, "fast", RunConfig(lr=0.03), val_acc=0.6),
        "c": _run(s, f"{TOK}:search", "search #1", RunConfig(lr=0.01, weight_decay=1e-4)),
        "x": _run(s, OTHER, "someone else", RunConfig()),
        "y": _run(s, f"{TOK}x", "token prefix but another owner", RunConfig()),
    }
    return s


def test_a_session_sees_only_its_own_runs_and_sub_owners(store):
    ids = {r["id"] for r in compare.visible_runs(store, TOK)}
    assert ids == {store.ids["a"], store.ids["b"], store.ids["c"]}
    assert compare.visible_runs(store, "") == []
    assert compare.source_of(f"{TOK}:search", TOK) == "search" and compare.source_of(TOK, TOK) == "train"


def test_table_and_filter(store):
    df = compare.runs_frame(compare.visible_runs(store, TOK), TOK)
    assert len(df) == 3 and {"run_id", "label", "source", "status", "lr", "val_acc"} <= set(df.columns)
    assert isinstance(df["started"].iloc[0], pd.Timestamp)
    assert list(compare.filter_frame(df, "FAST")["label"]) == ["fast"]
    assert set(compare.filter_frame(df, sources=("search",))["label"]) == {"search #1"}
    assert compare.filter_frame(df, statuses=("failed",)).empty


def test_config_diff_lists_only_settings_that_differ(store):
    rows = [store.get_run(store.ids[k]) for k in ("a", "c")]
    diff = compare.config_diff(rows)
    assert set(diff.index) == {"lr", "weight_decay"}
    assert list(diff.columns) == ["base", "search #1"]
    assert diff.loc["lr", "search #1"] == "0.01"
    same = compare.config_diff([rows[0], store.get_run(store.ids["x"])])
    assert same.empty


def test_csv_and_json_exports(store):
    ids = [store.ids["a"], store.ids["b"]]
    df = pd.read_csv(io.StringIO(compare.export_csv(store, ids)))
    assert set(df["run_id"]) == set(ids) and len(df) == 10
    data = json.loads(compare.export_json(store, ids))
    assert [d["id"] for d in data] == ids and len(data[0]["train"]) == 5


def test_tensorboard_export_reads_back(store, tmp_path):
    run_id = store.ids["b"]
    dirs = compare.export_tensorboard(str(store.path), [run_id], tmp_path / "tb")
    assert len(dirs) == 1 and run_id in dirs[0].name
    acc = EventAccumulator(str(dirs[0]))
    acc.Reload()
    tags = acc.Tags()["scalars"]
    assert {"loss/train", "loss/val", "accuracy/val", "learning_rate"} <= set(tags)
    loss = acc.Scalars("loss/train")
    assert [e.step for e in loss] == [1, 2, 3, 4, 5]
    assert [e.value for e in loss] == pytest.approx([2.0 / s for s in range(1, 6)])
    assert acc.Scalars("accuracy/val")[0].value == pytest.approx(0.6)
    assert acc.Scalars("learning_rate")[0].value == pytest.approx(0.03)


def test_tensorboard_zip_holds_one_event_file_per_run(store):
    data = compare.tensorboard_zip(str(store.path), [store.ids["a"], store.ids["c"]])
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    events = [n for n in names if "tfevents" in n]
    assert len(events) == 2 and all(n.startswith("training_lab_runs/") for n in names)


def test_delete_only_own_finished_runs(store):
    active = store.create_run(RunConfig().to_dict(), owner=TOK, status="running")
    deleted, refused = compare.delete_runs(store, [store.ids["a"], store.ids["x"], active, "nope"], TOK)
    assert deleted == [store.ids["a"]] and store.get_run(store.ids["a"]) is None
    assert store.get_run(store.ids["x"]) is not None and store.get_run(active) is not None
    assert len(refused) == 3 and any("stop it first" in m for m in refused)
    assert any("not a run of this session" in m for m in refused)
