"""Shared fixtures: a private run store with its own job manager, for page tests and worker tests."""

import time
from contextlib import contextmanager

import pytest
import streamlit as st


@contextmanager
def private_server(tmp_dir, workers: int = 1):
    """Point the app at a store in `tmp_dir`, let it start its JobManager, and shut everything down after."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TRAINING_LAB_STORE", str(tmp_dir / "runs.db"))
        mp.setenv("TRAINING_LAB_WORKERS", str(workers))
        st.cache_resource.clear()
        try:
            yield
        finally:
            from lab.serving.jobs import shutdown_shared
            from lab.workflows import offload

            try:
                shutdown_shared()
                offload.shutdown()
            finally:
                st.cache_resource.clear()


@contextmanager
def job_manager(tmp_dir, ready_timeout: float = 180, **settings):
    """A JobManager over a store in `tmp_dir` with these Settings fields, ready to train, shut down after."""
    from lab.serving.jobs import JobManager
    from lab.serving.settings import Settings

    manager = JobManager(Settings(store=str(tmp_dir / "runs.db"), **settings))
    try:
        assert manager.wait_ready(ready_timeout), "the job manager's workers never reported ready"
        yield manager
    finally:
        if not manager._closed:
            manager.shutdown()


def run_step(jm, run_id: str) -> int:
    """The step a run's store row says it has reached."""
    return jm.store.get_run(run_id)["meta"].get("step", 0)


@pytest.fixture(scope="module")
def lab_server(tmp_path_factory):
    """A private store and one JobManager (one worker) for a test module."""
    with private_server(tmp_path_factory.mktemp("server")):
        yield


def wait_until(cond, timeout: float = 60.0) -> bool:
    """Poll `cond()` every 50 ms until it is true (True) or `timeout` seconds pass (False)."""
    t_end = time.monotonic() + timeout
    while time.monotonic() < t_end:
        if cond():
            return True
        time.sleep(0.05)
    return False
