"""JobManager with executor='ray' against a real Ray head on loopback (no mocks).

The module starts its own head with the venv's `ray` CLI. It runs `ray start --block`
in a new session and stops exactly that process group at the end (even when a test
fails), instead of `ray stop --force`, which would also kill any other Ray on the
machine. Note: Ray swaps `--node-ip-address=127.0.0.1` for the host's address when it
advertises the node; the manager still connects through 127.0.0.1.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import ray
import torch

from lab.config import RunConfig
from lab.engine.trainer import Trainer
from lab.serving.executors import make_executor
from lab.serving.settings import Settings, SettingsError, load_settings
from tests.conftest import job_manager, run_step, wait_until

RAY_CLI = Path(sys.executable).with_name("ray")
LONG = RunConfig(epochs=2000, max_steps=100_000)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop_head(proc: subprocess.Popen) -> None:
    """SIGTERM to `ray start --block` drains and stops its processes; SIGKILL to its group catches stragglers."""
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # the group start_new_session made: only this head's processes
    except ProcessLookupError:
        pass
    proc.wait(5)


@pytest.fixture(scope="module")
def head(tmp_path_factory):
    """A one-node Ray cluster on 127.0.0.1 with 2 CPUs and a small object store; yields its address."""
    port = _free_port()
    temp_dir = tempfile.mkdtemp(prefix="ray-")
    cmd = [
        str(RAY_CLI),
        "start",
        "--head",
        "--block",
        "--node-ip-address=127.0.0.1",
        f"--port={port}",
        f"--ray-client-server-port={_free_port()}",
        f"--dashboard-agent-listen-port={_free_port()}",
        "--num-cpus=2",
        "--include-dashboard=false",
        "--disable-usage-stats",
        "--object-store-memory=200000000",
        # Its own temp dir (short: Ray puts unix sockets in it): sessions, logs and the "current
        # cluster" file stay out of /tmp/ray, so nothing points at this head once it is gone.
        f"--temp-dir={temp_dir}",
    ]
    log_path = tmp_path_factory.mktemp("ray") / "head.log"
    with open(log_path, "w") as log, pytest.MonkeyPatch.context() as mp:
        # Explicitly without token auth, as `ray start` runs by default: otherwise a ~/.ray/auth_token
        # left by any earlier `ray.init()` on this machine turns it on for the head only, and the driver,
        # whose auth mode Ray fixes when `ray` is imported, is refused.
        mp.setenv("RAY_AUTH_MODE", "disabled")
        mp.delenv("RAY_ADDRESS", raising=False)
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            up = wait_until(lambda: proc.poll() is not None or _port_open(port), 60)
            assert up and proc.poll() is None, f"ray head did not start; see {log_path}"
            yield f"127.0.0.1:{port}"
        finally:
            _stop_head(proc)
            shutil.rmtree(temp_dir, ignore_errors=True)


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def jm(head, tmp_path_factory):
    """One Ray worker actor with one thread, a private store."""
    ray_settings = dict(workers=1, threads_per_worker=1, executor="ray", ray_address=head)
    with job_manager(tmp_path_factory.mktemp("ray-jobs"), ready_timeout=120, **ray_settings) as manager:
        yield manager


def test_run_through_ray_equals_in_process_training(jm):
    cfg = RunConfig(max_steps=60, seed=7)
    rid = jm.submit(cfg, owner="a")
    run = jm.wait(rid, 120)
    assert run["status"] == "completed" and run["summary"]["steps"] == 60
    assert jm.store.snapshots(rid) and jm.store.metrics(rid, "val")  # the whole history travelled, not just losses
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as in the actor: the same reduction order, the same floats
    try:
        ref = Trainer(cfg).fit()
    finally:
        torch.set_num_threads(threads)
    got = jm.store.metrics(rid)
    want = ref.history.train
    assert [r["step"] for r in got] == [r["step"] for r in want]
    assert [r["train_loss"] for r in got] == pytest.approx([r["train_loss"] for r in want], rel=1e-6, abs=1e-9)
    assert run["summary"]["train_loss"] == pytest.approx(ref.summary()["train_loss"], rel=1e-6)


def test_pause_step_exactly_then_stop(jm):
    rid = jm.submit(LONG, owner="b", paused=True)
    assert wait_until(lambda: jm.store.get_run(rid)["status"] == "paused")
    jm.step(rid, 5)
    assert wait_until(lambda: run_step(jm, rid) == 5)
    time.sleep(0.6)  # three drains later it must still be exactly 5: paused means paused
    assert run_step(jm, rid) == 5 and jm.store.get_run(rid)["status"] == "paused"
    jm.stop(rid)
    run = jm.wait(rid, 30)
    assert run["status"] == "stopped" and run["summary"]["steps"] == 5


def test_killed_actor_fails_its_run_and_a_replacement_takes_over(jm):
    rid = jm.submit(LONG, owner="c")
    assert wait_until(lambda: run_step(jm, rid) > 0)
    index = jm._where[rid]
    old_pid = jm.worker_pids()[index]
    ray.kill(jm.executor.workers[index].handle)
    run = jm.wait(rid, 30)
    assert run["status"] == "failed" and "died" in run["reason"] and f"lab-worker-{index}" in run["reason"]
    assert wait_until(jm.ready, 120) and jm.worker_pids()[index] != old_pid
    ok = jm.submit(RunConfig(max_steps=30), owner="c")
    assert jm.wait(ok, 120)["status"] == "completed"


def test_shutdown_replays_the_workers_last_writes(jm):
    rid = jm.submit(LONG, owner="d")
    assert wait_until(lambda: run_step(jm, rid) > 0)
    jm.shutdown()
    run = jm.store.get_run(rid)
    # "the server shut down" is the worker's own stop reason: it reached the store through the final drain.
    assert run["status"] == "interrupted" and run["reason"] == "the server shut down"
    assert run["summary"]["steps"] == run_step(jm, rid) > 0


def test_bad_executor_settings_are_one_line_errors():
    with pytest.raises(SettingsError, match=r"^setting executor='spark' is invalid: one of local, ray$"):
        load_settings(env={"TRAINING_LAB_EXECUTOR": "spark"})
    with pytest.raises(SettingsError, match="executor"):
        Settings(executor="Ray")
    s = load_settings(env={"TRAINING_LAB_EXECUTOR": "ray", "TRAINING_LAB_RAY_ADDRESS": "ray://10.0.0.5:10001"})
    assert (s.executor, s.ray_address) == ("ray", "ray://10.0.0.5:10001")


def test_missing_ray_says_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "ray", None)  # what `import ray` sees when the package is not installed
    with pytest.raises(SettingsError, match=r"^setting executor='ray' needs the optional package ray: pip install"):
        make_executor(Settings(executor="ray"), str(tmp_path / "runs.db"))
