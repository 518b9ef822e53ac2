"""Every documented setting (README's table) read from a settings file and shown to take effect.

Where the effect itself is tested elsewhere with a Settings object, this file checks the file and
environment reach that object: max_active_runs / max_runs_per_session in test_jobs.py, the run limits
in test_trainer.py and test_data.py, executor / ray_address / threads_per_worker on Ray in
test_executor_ray.py.
"""

import json
import queue
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lab.config import Limits, RunConfig
from lab.serving.executors.local import LocalExecutor
from lab.serving.jobs import JobManager
from lab.serving.settings import Settings, SettingsError, load_settings

ROOT = Path(__file__).resolve().parents[1]
FAKE_TRAIN = 130  # a tiny MNIST: 104 training examples after the 20% validation split, one step per epoch


def fake_mnist(root: Path, n: int = FAKE_TRAIN) -> Path:
    """MNIST's raw idx files with `n` random images under root/MNIST/raw, as torchvision leaves a download."""
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for split, m in (("train", n), ("t10k", 10)):
        images = rng.integers(0, 256, (m, 28, 28), dtype=np.uint8)
        (raw / f"{split}-images-idx3-ubyte").write_bytes(struct.pack(">IIII", 0x803, m, 28, 28) + images.tobytes())
        labels = (np.arange(m) % 10).astype(np.uint8)
        (raw / f"{split}-labels-idx1-ubyte").write_bytes(struct.pack(">II", 0x801, m) + labels.tobytes())
    return root


def _settings_file(tmp_path: Path, **values) -> Path:
    path = tmp_path / "settings.toml"
    path.write_text("".join(f"{k} = {json.dumps(v)}\n" for k, v in values.items()))
    return path


def test_every_setting_is_read_from_the_file_and_the_environment_wins(tmp_path):
    values = {
        "store": str(tmp_path / "r.db"),
        "data_dir": str(tmp_path / "data"),
        "workers": 3,
        "threads_per_worker": 2,
        "slice_seconds": 0.2,
        "max_active_runs": 5,
        "max_runs_per_session": 4,
        "max_params": 1000,
        "max_steps": 2000,
        "max_samples": 3000,
        "max_batch": 64,
        "executor": "ray",
        "ray_address": "auto",
    }
    s = load_settings(_settings_file(tmp_path, **values), env={})
    assert {k: getattr(s, k) for k in values} == values
    assert s.limits == Limits(max_params=1000, max_steps=2000, max_samples=3000, max_batch=64)
    assert (s.store_path, s.n_workers, s.n_threads) == (tmp_path / "r.db", 3, 2)
    env = load_settings(_settings_file(tmp_path, **values), env={"TRAINING_LAB_WORKERS": "1"})
    assert env.workers == 1 and env.max_batch == 64
    with pytest.raises(SettingsError, match="setting 'wrokers' is unknown"):
        load_settings(_settings_file(tmp_path, wrokers=2), env={})


def test_threads_and_slice_reach_the_worker_processes(tmp_path):
    started = []

    class FakeContext:  # records what a worker process would be started with
        Queue = queue.Queue

        def Process(self, target, name, daemon, args):  # noqa: N802 (multiprocessing's spelling)
            started.append(args)
            return type("P", (), {"start": lambda self: None})()

    s = load_settings(_settings_file(tmp_path, threads_per_worker=3, slice_seconds=0.3, max_steps=500), env={})
    executor = LocalExecutor(s, str(tmp_path / "r.db"))
    executor._ctx = FakeContext()
    executor.start(0)
    (wid, _, _, store, threads, slice_seconds, limits, _) = started[0]
    assert (wid, store, threads, slice_seconds, limits.max_steps) == (0, str(tmp_path / "r.db"), 3, 0.3, 500)


def test_store_workers_and_data_dir_from_a_settings_file_reach_the_server(tmp_path):
    data = fake_mnist(tmp_path / "data")
    s = load_settings(_settings_file(tmp_path, store=str(tmp_path / "runs.db"), data_dir=str(data), workers=1), env={})
    jm = JobManager(s)
    try:
        assert len(jm.worker_pids()) == 1 and jm.store.path == tmp_path / "runs.db"
        rid = jm.submit(RunConfig(dataset="mnist", epochs=2))
        run = jm.wait(rid, 180)
        # the real MNIST would give 750 steps an epoch: these came from the settings' data_dir
        assert run["status"] == "completed", run["reason"]
        assert run["meta"]["steps_per_epoch"] == 1 and run["summary"]["steps"] == 2
    finally:
        jm.shutdown()


def test_the_cli_reads_store_and_data_dir_from_the_settings_file(tmp_path):
    data = fake_mnist(tmp_path / "data")
    path = _settings_file(tmp_path, store=str(tmp_path / "cli.db"), data_dir=str(data))
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "TRAINING_LAB_SETTINGS": str(path)}
    out = subprocess.run(
        [sys.executable, "-m", "lab", "train", "--set", "dataset=mnist", "--set", "epochs=3", "--json", "--quiet"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    summary = json.loads(out.stdout)
    assert summary["status"] == "completed" and summary["steps"] == 3
    listed = subprocess.run(
        [sys.executable, "-m", "lab", "list", "--json"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert [r["id"] for r in json.loads(listed.stdout)] == [summary["run_id"]]


def test_a_bad_settings_value_names_the_key(tmp_path):
    with pytest.raises(SettingsError, match="setting workers='many' is invalid: a whole number >= 0"):
        load_settings(_settings_file(tmp_path), env={"TRAINING_LAB_WORKERS": "many"})
    with pytest.raises(SettingsError, match="settings file /nonexistent/none.toml"):
        load_settings("/nonexistent/none.toml", env={})
    assert Settings().n_threads >= 1
