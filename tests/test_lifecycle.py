"""One run lifecycle: RunStatus and its transitions (lab/lifecycle.py), applied by the store, and run owners."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from lab.lifecycle import ACTIVE, FINAL, TRANSITIONS, IllegalTransition, RunStatus, check_transition
from lab.serving.jobs import JobManager
from lab.serving.owners import Owner
from lab.serving.settings import Settings
from lab.serving.store import RunStore
from tests.conftest import wait_until

ROOT = Path(__file__).resolve().parents[1]


def test_statuses_are_the_stored_strings():
    assert RunStatus("completed") is RunStatus.COMPLETED and RunStatus.COMPLETED == "completed"
    assert ACTIVE | FINAL == set(RunStatus) and not ACTIVE & FINAL
    assert RunStatus.PAUSED.active and RunStatus.INTERRUPTED.final


def test_a_final_status_never_changes():
    for end in FINAL:
        assert TRANSITIONS[end] == {end}
        for other in set(RunStatus) - {end}:
            with pytest.raises(IllegalTransition, match=f"run r1: status {end.value} -> {other.value} is not allowed"):
                check_transition("r1", end, other)


def test_active_moves():
    assert check_transition("r", "queued", "running") is RunStatus.RUNNING
    assert check_transition("r", "paused", "paused") is RunStatus.PAUSED  # a paused run stepped by hand
    with pytest.raises(IllegalTransition, match="may move only to"):
        check_transition("r", "running", "queued")
    with pytest.raises(ValueError, match="status='done' is invalid: one of queued, running"):
        check_transition("r", "running", "done")


def test_the_store_refuses_illegal_moves(tmp_path):
    store = RunStore(tmp_path / "r.db")
    rid = store.create_run({})
    store.set_status(rid, RunStatus.RUNNING)
    store.append(rid, status=RunStatus.PAUSED)
    store.set_status(rid, "completed", "done", {"steps": 3})
    with pytest.raises(IllegalTransition, match="completed -> running"):
        store.set_status(rid, RunStatus.RUNNING)
    with pytest.raises(IllegalTransition, match="completed -> paused"):
        store.append(rid, status=RunStatus.PAUSED)
    row = store.get_run(rid)
    assert row["status"] == "completed" and row["summary"] == {"steps": 3}
    with pytest.raises(ValueError, match="final status"):
        store.mark_unfinished(RunStatus.RUNNING)


def test_only_runs_of_dead_owners_are_orphaned(tmp_path):
    store = RunStore(tmp_path / "r.db")
    me = Owner.current()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    reused = Owner(me.host, me.pid, me.started + "0")  # this pid, but another process start: pid reuse
    runs = {
        "mine": store.create_run({}, status="running", process=me),
        "dead": store.create_run({}, status="running", process=Owner(me.host, dead.pid, "")),
        "reused": store.create_run({}, status="paused", process=reused),
        "elsewhere": store.create_run({}, status="running", process=Owner("another-host", dead.pid, "x")),
        "unowned": store.create_run({}, status="queued"),  # a file from before the owners table
        "ended": store.create_run({}, status="completed", process=Owner(me.host, dead.pid, "")),
    }
    assert store.mark_orphaned("gone") == 3
    status = {k: store.get_run(r)["status"] for k, r in runs.items()}
    assert status == {
        "mine": "running",
        "dead": "interrupted",
        "reused": "interrupted",
        "elsewhere": "running",
        "unowned": "interrupted",
        "ended": "completed",
    }
    assert store.delete_run(runs["mine"])
    assert store._conn.execute("SELECT COUNT(*) FROM owners WHERE run_id=?", (runs["mine"],)).fetchone()[0] == 0


def test_a_cli_run_keeps_training_when_a_server_starts_on_its_store(tmp_path):
    db = tmp_path / "runs.db"
    cli = subprocess.Popen(
        [sys.executable, "-m", "lab", "train", "--store", str(db), "--quiet", "--set", "epochs=2000",
         "--set", "max_steps=200000"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    store = RunStore(db)
    try:
        assert wait_until(lambda: [r["status"] for r in store.list_runs()] == ["running"], 120)
        run_id = store.list_runs()[0]["id"]
        server = JobManager(Settings(store=str(db), workers=1))
        try:
            assert store.get_run(run_id)["status"] == "running"
        finally:
            server.shutdown()  # marks only its own runs
        assert store.get_run(run_id)["status"] == "running"
        step = store.get_run(run_id)["meta"].get("step", 0)
        assert wait_until(lambda: store.get_run(run_id)["meta"].get("step", 0) > step, 60)  # still training
        os.kill(cli.pid, signal.SIGKILL)
        cli.wait(30)
        again = JobManager(Settings(store=str(db), workers=1))  # now its owner is dead: interrupted
        try:
            row = store.get_run(run_id)
            assert row["status"] == "interrupted" and "restarted" in row["reason"]
        finally:
            again.shutdown()
    finally:
        cli.kill()
        cli.wait(30)


def test_a_refused_replayed_write_is_skipped_and_the_rest_applied(tmp_path):
    pytest.importorskip("ray")
    from lab.serving.executors.ray import BufferedStore, Outbox, replay

    store = RunStore(tmp_path / "r.db")
    done, live = store.create_run({}, status="completed"), store.create_run({}, status="running")
    outbox = Outbox()
    buffered = BufferedStore(outbox)
    buffered.set_status(done, RunStatus.RUNNING)  # a late write for a run that has ended: refused
    outbox.put(("ended", 0, live, "completed"))
    buffered.set_status(live, RunStatus.COMPLETED, "finished")
    assert replay(store, outbox.take()) == [("ended", 0, live, "completed")]
    assert store.get_run(done)["status"] == "completed" and store.get_run(live)["reason"] == "finished"


def test_a_worker_error_after_the_final_write_keeps_the_final_status(tmp_path):
    import queue

    from lab.config import Limits
    from lab.serving.worker import Worker

    store = RunStore(tmp_path / "r.db")
    ended, live = store.create_run({}, status="completed"), store.create_run({}, status="running")
    events = queue.Queue()
    worker = Worker(0, events, store, 0.05, Limits())
    worker.fail(ended, RuntimeError("late"))  # the lifecycle refuses completed -> failed: no crash
    worker.fail(live, RuntimeError("boom\nmore"))
    assert store.get_run(ended)["status"] == "completed"
    assert (store.get_run(live)["status"], store.get_run(live)["reason"]) == ("failed", "RuntimeError: boom")
    assert [events.get_nowait()[2] for _ in range(2)] == [ended, live]
