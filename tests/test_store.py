"""RunStore: persistence across reopening, export, deletion, crash consistency."""

import csv
import io
import json
import multiprocessing as mp
import os
import signal
import sqlite3

from lab.config import RunConfig
from lab.serving.store import RunStore


def _fill(store, run_id, n=5):
    store.append(
        run_id,
        train=[{"step": s, "train_loss": 1.0 / s, "train_acc": 0.1 * s, "lr": 0.1} for s in range(1, n + 1)],
        val=[{"step": n, "val_loss": 0.5, "val_acc": 0.8, "train_loss": 0.4, "train_acc": 0.9}],
        snapshots=[{"step": s, "layers": {}, "params": {}} for s in (1, 3, 5)],
        meta={"layers": ["fc1"]},
    )


def test_survives_reopening(tmp_path):
    path = tmp_path / "runs.db"
    store = RunStore(path)
    rid = store.create_run(RunConfig(lr=0.1).to_dict(), owner="alice")
    _fill(store, rid)
    store.set_status(rid, "completed", "finished", {"val_acc": 0.8})
    store.close()
    again = RunStore(path)
    run = again.get_run(rid)
    assert run["status"] == "completed" and run["summary"]["val_acc"] == 0.8
    assert RunConfig.from_dict(run["config"]) == RunConfig(lr=0.1)
    assert [r["step"] for r in again.metrics(rid)] == [1, 2, 3, 4, 5]
    assert [r["step"] for r in again.metrics(rid, after_step=3)] == [4, 5]
    assert again.snapshot_steps(rid) == [1, 3, 5]
    assert again.snapshot(rid, 4)["step"] in (3, 5)
    assert again.get_run(rid)["meta"] == {"layers": ["fc1"]}
    assert again.list_runs(owner="alice")[0]["id"] == rid and again.list_runs(owner="bob") == []


def test_wal_mode(tmp_path):
    RunStore(tmp_path / "r.db")
    assert sqlite3.connect(tmp_path / "r.db").execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_dropped_snapshots_are_deleted(tmp_path):
    store = RunStore(tmp_path / "r.db")
    rid = store.create_run({})
    _fill(store, rid)
    store.append(rid, dropped=[3])
    assert store.snapshot_steps(rid) == [1, 5]


def test_export_and_delete(tmp_path):
    store = RunStore(tmp_path / "r.db")
    rid = store.create_run(RunConfig().to_dict())
    _fill(store, rid)
    data = json.loads(json.dumps(store.export_json(rid)))
    assert data["id"] == rid and len(data["train"]) == 5 and len(data["snapshots"]) == 3
    rows = list(csv.DictReader(io.StringIO(store.export_csv(rid))))
    assert [int(r["step"]) for r in rows] == [1, 2, 3, 4, 5]
    assert float(rows[-1]["val_acc"]) == 0.8 and float(rows[0]["train_loss"]) == 1.0
    assert store.delete_run(rid) and store.get_run(rid) is None and store.metrics(rid) == []
    assert not store.delete_run(rid)


def test_mark_unfinished(tmp_path):
    store = RunStore(tmp_path / "r.db")
    a, b, c = (store.create_run({}, status=s) for s in ("running", "completed", "paused"))
    assert store.mark_unfinished() == 2
    assert [store.get_run(x)["status"] for x in (a, b, c)] == ["interrupted", "completed", "interrupted"]
    d = store.create_run({}, status="running")
    assert store.mark_unfinished("failed", "worker died", run_ids=[d]) == 1
    assert store.get_run(d)["reason"] == "worker died"


def test_run_ids_are_unguessable(tmp_path):
    store = RunStore(tmp_path / "r.db")
    ids = {store.create_run({}) for _ in range(50)}
    assert len(ids) == 50 and all(len(i) >= 16 for i in ids)


def _writer(path, ready):
    store = RunStore(path)
    rid = store.create_run({})
    ready.set()
    step = 0
    while True:  # write until killed
        step += 1
        store.append(rid, train=[{"step": step, "train_loss": 1.0}], snapshots=[{"step": step, "x": "y" * 2000}])


def test_consistent_after_kill_during_writes(tmp_path):
    path = tmp_path / "r.db"
    ctx = mp.get_context("spawn")
    ready = ctx.Event()
    p = ctx.Process(target=_writer, args=(str(path), ready))
    p.start()
    assert ready.wait(60)
    import time

    time.sleep(1.0)
    os.kill(p.pid, signal.SIGKILL)
    p.join()
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    store = RunStore(path)
    rid = store.list_runs()[0]["id"]
    steps = [r["step"] for r in store.metrics(rid)]
    # Each append is one transaction: metrics and snapshots always agree, with no gaps.
    assert steps == list(range(1, len(steps) + 1)) and len(steps) > 5
    assert store.snapshot_steps(rid) == steps


def test_threads_share_one_store(tmp_path):
    """Many threads creating, writing and reading at once, as the web server's sessions do."""
    import threading

    store = RunStore(tmp_path / "runs.db")
    errors, ids = [], []
    start = threading.Barrier(16)

    def session(i):
        try:
            start.wait()
            for _ in range(10):
                rid = store.create_run({"i": i}, owner=f"s{i}")
                _fill(store, rid)
                assert [r["step"] for r in store.metrics(rid)] == [1, 2, 3, 4, 5]
                assert store.get_run(rid)["owner"] == f"s{i}"
                assert len(store.list_runs(owner=f"s{i}")) >= 1
                ids.append(rid)
        except Exception as e:  # collected: an assertion in a thread would be lost otherwise
            errors.append(repr(e))

    threads = [threading.Thread(target=session, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(store.list_runs()) == len(ids) == 160
    store.close()


def test_closed_store_refuses_use(tmp_path):
    import pytest

    store = RunStore(tmp_path / "runs.db")
    store.create_run({}, owner="a")
    store.close()
    with pytest.raises(sqlite3.ProgrammingError):
        store.list_runs()


def test_thread_connections_end_with_their_threads(tmp_path):
    """Streamlit runs each script run on a new thread: connections must not pile up."""
    import threading

    store = RunStore(tmp_path / "runs.db")
    for _ in range(20):
        t = threading.Thread(target=store.list_runs)
        t.start()
        t.join()
    assert len(store._open) <= 1  # only this thread's, if any


def test_run_ids_never_look_like_command_line_options():
    """Ids go on command lines (`python -m lab export ID`): none may start with '-' (or '_')."""
    import re

    from lab.serving.store import new_run_id

    ids = [new_run_id() for _ in range(3000)]  # the plain token_urlsafe draw starts with '-' or '_' 1 time in 32
    assert all(re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{15}", i) for i in ids)
    assert len(set(ids)) == len(ids)
