"""JobManager with real worker processes and a real SQLite store."""

import os
import signal
import time
from pathlib import Path

import pytest

from lab.config import RunConfig
from lab.serving.jobs import CapacityError, JobManager
from lab.serving.settings import Settings
from lab.serving.store import RunStore
from tests.conftest import job_manager, run_step, wait_until

LONG = RunConfig(epochs=2000, max_steps=100_000)


@pytest.fixture(scope="module")
def jm(tmp_path_factory):
    with job_manager(tmp_path_factory.mktemp("jobs"), workers=2, max_runs_per_session=2, max_active_runs=3) as manager:
        yield manager


def test_run_completes_and_is_stored(jm):
    rid = jm.submit(RunConfig(epochs=2, seed=5), owner="t1")
    run = jm.wait(rid, 120)
    assert run["status"] == "completed" and run["summary"]["steps"] == 2 * (1437 // 64)
    assert jm.store.metrics(rid) and jm.store.metrics(rid, "val") and jm.store.snapshots(rid)
    assert not jm.is_active(rid)


def test_pause_step_resume_stop(jm):
    rid = jm.submit(LONG, owner="t2", paused=True)
    assert wait_until(lambda: jm.store.get_run(rid)["status"] == "paused")
    jm.step(rid, 3)
    assert wait_until(lambda: run_step(jm, rid) == 3)
    jm.step(rid, "epoch")
    assert wait_until(lambda: run_step(jm, rid) == 1437 // 64)
    jm.resume(rid)
    assert wait_until(lambda: run_step(jm, rid) > 100)
    jm.pause(rid)
    assert wait_until(lambda: jm.store.get_run(rid)["status"] == "paused")
    time.sleep(0.3)
    held = run_step(jm, rid)
    time.sleep(0.5)
    assert run_step(jm, rid) == held
    jm.stop(rid)
    run = jm.wait(rid, 30)
    assert run["status"] == "stopped" and run["summary"]["steps"] == held


def test_bad_run_fails_with_reason_and_worker_survives(jm):
    rid = jm.submit(RunConfig(dataset="cifar10"), owner="t3")
    run = jm.wait(rid, 60)
    assert run["status"] == "failed" and "cifar10" in run["reason"] and "shapes" in run["reason"]
    ok = jm.submit(RunConfig(epochs=1), owner="t3")
    assert jm.wait(ok, 60)["status"] == "completed"


def test_diverging_run_is_stored_as_diverged(jm):
    rid = jm.submit(RunConfig(optimizer="sgd", lr=10.0, init="large_normal", depth=3), owner="t4")
    run = jm.wait(rid, 60)
    assert run["status"] == "diverged" and "loss" in run["reason"]


def test_session_cap(jm):
    a = jm.submit(LONG, owner="t5")
    b = jm.submit(LONG, owner="t5")
    with pytest.raises(CapacityError, match="limit is 2"):
        jm.submit(LONG, owner="t5")
    for rid in (a, b):
        jm.stop(rid)
        assert jm.wait(rid, 30)["status"] == "stopped"


def test_global_cap_queues_with_position(jm):
    ids = [jm.submit(LONG, owner=f"q{i}") for i in range(4)]
    assert jm.queue_position(ids[3]) == 1 and jm.store.get_run(ids[3])["status"] == "queued"
    jm.stop(ids[0])
    assert wait_until(lambda: jm.queue_position(ids[3]) == 0)
    assert wait_until(lambda: jm.store.get_run(ids[3])["status"] == "running")
    for rid in ids[1:]:
        jm.stop(rid)
        jm.wait(rid, 30)


def test_runs_share_a_worker_fairly(jm):
    ids = [jm.submit(LONG, owner=f"f{i}") for i in range(3)]  # 3 runs on 2 workers: two share one
    time.sleep(4)
    steps = [run_step(jm, r) for r in ids]
    assert min(steps) > 0.2 * max(steps), steps  # every run progresses, none waits for another to finish
    for rid in ids:
        jm.stop(rid)
        jm.wait(rid, 30)


def test_killed_worker_marks_run_failed_and_others_carry_on(jm):
    a = jm.submit(LONG, owner="k1")
    b = jm.submit(LONG, owner="k2")
    assert wait_until(lambda: run_step(jm, a) > 0 and run_step(jm, b) > 0)
    victim = jm.worker_pids()[jm._where[a]]
    os.kill(victim, signal.SIGKILL)
    run = jm.wait(a, 30)
    assert run["status"] == "failed" and "died" in run["reason"] and str(victim) in run["reason"]
    if jm.is_active(b):  # b was on the other worker: still training
        before = run_step(jm, b)
        assert wait_until(lambda: run_step(jm, b) > before)
        jm.stop(b)
        jm.wait(b, 30)
    assert wait_until(lambda: jm.ready(), 120) and victim not in jm.worker_pids()
    c = jm.submit(RunConfig(epochs=1), owner="k3")
    assert jm.wait(c, 60)["status"] == "completed"


def test_restart_marks_cut_off_runs_interrupted(tmp_path):
    path = tmp_path / "r.db"
    store = RunStore(path)
    done = store.create_run({}, status="completed")
    cut = store.create_run({}, status="running")
    jm2 = JobManager(Settings(store=str(path), workers=1))
    try:
        assert store.get_run(cut)["status"] == "interrupted"
        assert store.get_run(done)["status"] == "completed"
    finally:
        jm2.shutdown()


SERVER = """
import sys, time
from lab.config import RunConfig
from lab.serving.jobs import JobManager
from lab.serving.settings import Settings
if __name__ == "__main__":  # spawned workers import this file again
    jm = JobManager(Settings(store=sys.argv[1], workers=1))
    assert jm.wait_ready(120)
    run = jm.submit(RunConfig(epochs=2000), owner="x")
    while jm.store.get_run(run)["status"] != "running":
        time.sleep(0.05)
    print(jm.worker_pids()[0], flush=True)
    time.sleep(600)
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"  # a zombie has exited
    except FileNotFoundError:
        return False


def test_workers_exit_when_the_server_is_killed(tmp_path):
    """A server killed with SIGKILL must not leave workers training with nobody to watch (or stop) them."""
    import subprocess
    import sys

    script = tmp_path / "server.py"
    script.write_text(SERVER)
    root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": root}
    server = subprocess.Popen(
        [sys.executable, str(script), str(tmp_path / "r.db")], stdout=subprocess.PIPE, text=True, cwd=root, env=env
    )
    try:
        worker = int(server.stdout.readline())
        assert _alive(worker)
        server.kill()
        server.wait(30)
        assert wait_until(lambda: not _alive(worker), 10)
    finally:
        server.kill()
    # The next server marks the cut-off run interrupted, as after any restart.
    again = JobManager(Settings(store=str(tmp_path / "r.db"), workers=1))
    try:
        assert again.store.list_runs()[0]["status"] == "interrupted"
    finally:
        again.shutdown()
