"""Run short torch jobs (initial-loss check, LR range test, TensorBoard export) in a worker process.

The job manager trains `RunConfig`s; these workflow steps are plain functions that
return a value, so they get their own small pool: one spawned process, started on
first use and shared by every session of the server. It keeps torch out of the web
process (the pages stay light) and keeps a slow call from blocking the page script.
Futures are returned as-is: a page keeps one in session state and polls `done()`.

The process is started with the job manager's `_plain_main` guard: Streamlit runs each
page as `__main__`, and spawn would otherwise re-run the page in the new process.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

# The same guard (and lock) the job manager uses; two separate locks could restore the wrong __main__.
from lab.serving.executors.local import plain_main as _plain_main
from lab.serving.runtime import error_reason
from lab.serving.settings import load_settings

_lock = threading.Lock()
_pool: ProcessPoolExecutor | None = None


def _init_worker(threads: int, data_dir: str = "") -> None:
    """Pin torch to a few threads and yield the CPU: the training workers need the cores more."""
    if data_dir:  # the workflow functions call load_data themselves: give them the setting the engine falls back to
        os.environ["TRAINING_LAB_DATA_DIR"] = data_dir
    # Lower priority: its jobs are short page helpers, while live training runs are what students
    # watch; its torch import at server start (a few seconds of CPU) should not slow their first Start.
    try:
        os.nice(10)
    except OSError:  # not permitted on some systems: the pool works the same, only without the courtesy
        pass
    from lab.serving.runtime import prepare_training_process, set_threads

    set_threads(threads)

    prepare_training_process()  # its jobs train small models too: see lab/serving/runtime.py


def _ping() -> bool:
    return True


def _guarded(fn: Callable[..., Any], args: tuple, kwargs: dict) -> tuple[bool, Any]:
    """Runs in the worker: (True, result) or (False, one-line reason).

    Exceptions travel back as text because some (ConfigError, with its three-argument
    constructor) cannot be unpickled, which would break the whole pool.
    """
    try:
        return True, fn(*args, **kwargs)
    except Exception as e:
        return False, error_reason(e, plain=(ValueError,))


def pool() -> ProcessPoolExecutor:
    """The shared one-process pool, started (and warmed with a no-op) on first use."""
    global _pool
    with _lock:
        if _pool is None:
            threads = 1
            _pool = ProcessPoolExecutor(
                max_workers=1,
                mp_context=mp.get_context("spawn"),
                initializer=_init_worker,
                initargs=(threads, load_settings().data_dir),
            )
            with _plain_main():  # the pool starts its process on the first submit
                _pool.submit(_ping)
        return _pool


def submit(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Future:
    """Run fn(*args, **kwargs) in the worker; fn must live in an importable module (not a page)."""
    global _pool
    try:
        executor = pool()
        with _plain_main():
            return executor.submit(_guarded, fn, args, kwargs)
    except RuntimeError:  # the pool broke (worker killed) or was shut down: start a fresh one once
        with _lock:
            _pool = None
        executor = pool()
        with _plain_main():
            return executor.submit(_guarded, fn, args, kwargs)


def outcome(future: Future) -> tuple[Any, str]:
    """(result, "") when the call succeeded, else (None, a one-line reason); call only once done()."""
    try:
        ok, value = future.result()
    except Exception as e:  # a dead worker must reach the page as text, not a traceback
        return None, error_reason(e, plain=(ValueError,))
    return (value, "") if ok else (None, value)


def shutdown() -> None:
    """Stop the pool's process (tests, server shutdown); the next submit starts a new one."""
    global _pool
    with _lock:
        p, _pool = _pool, None
    if p is not None:
        p.shutdown(wait=True, cancel_futures=True)
