"""LocalExecutor: warm worker processes on this machine, fed through multiprocessing queues.

Workers are spawned (fork after torch has started threads is unsafe), import torch
and the engine up front, and write straight to the SQLite store, so the web process
only sends small commands and reads "ready"/"ended" events from one shared queue.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import sys
import threading
import time
import types
from contextlib import contextmanager
from dataclasses import dataclass

from lab.config import Limits
from lab.serving.executors.base import Event, Executor
from lab.serving.settings import Settings

_SPAWN_LOCK = threading.Lock()


@contextmanager
def plain_main():
    """Hide the running script from `spawn` while a worker starts.

    Streamlit executes each page as the `__main__` module; spawn would re-import
    that page in the new worker (running the page, and starting workers from the
    worker). The worker needs nothing from `__main__`, so show it an empty one.
    """
    with _SPAWN_LOCK:
        real = sys.modules.get("__main__")
        sys.modules["__main__"] = types.ModuleType("__main__")
        try:
            yield
        finally:
            if real is not None:
                sys.modules["__main__"] = real


def worker_main(
    wid: int,
    commands: mp.Queue,
    events: mp.Queue,
    store_path: str,
    threads: int,
    slice_seconds: float,
    limits: Limits,
    parent: int | None = None,
) -> None:
    """Worker process entry: pin torch threads, open the store, run the worker loop (until the server dies)."""
    from lab.serving.runtime import set_threads
    from lab.serving.worker import serve

    exit_with_parent(parent or os.getppid())  # the server's pid from before the spawn: no race with its death
    set_threads(threads)  # before anything imports torch, so OpenMP starts with the right count
    from lab.serving.store import RunStore

    serve(wid, commands, events, RunStore(store_path), slice_seconds, limits)


PARENT_CHECK_SECONDS = 0.5


def exit_with_parent(parent: int, period: float = PARENT_CHECK_SECONDS) -> threading.Thread:
    """End this process soon after `parent` dies (a watchdog thread; returns it).

    multiprocessing stops daemon workers only when the server exits normally. A server that is
    killed, or stopped by a signal its web framework handles, left its workers running: still
    training, with the CPU of the next server's students. An orphan is re-parented, so its
    parent id changes; the runs it held are marked `interrupted` by the next server's start.
    """

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(period)
        os._exit(0)

    thread = threading.Thread(target=watch, name="exit-with-parent", daemon=True)
    thread.start()
    return thread


@dataclass
class _Proc:
    proc: mp.process.BaseProcess
    commands: mp.Queue


class LocalExecutor(Executor):
    """Spawned worker processes; a dead one is seen through `Process.is_alive()`."""

    def __init__(self, settings: Settings, store_path: str):
        self.settings = settings
        self.store_path = store_path
        self._ctx = mp.get_context("spawn")
        self._events: mp.Queue = self._ctx.Queue()
        self.workers: dict[int, _Proc] = {}

    def start(self, index: int) -> None:
        """Spawn worker `index` (a replacement gets a fresh command queue)."""
        s = self.settings
        commands = self._ctx.Queue()
        proc = self._ctx.Process(
            target=worker_main,
            name=f"lab-worker-{index}",
            daemon=True,
            args=(index, commands, self._events, self.store_path, s.n_threads, s.slice_seconds, s.limits, os.getpid()),
        )
        with plain_main():
            proc.start()
        self.workers[index] = _Proc(proc, commands)

    def send(self, index: int, cmd: tuple) -> None:
        """Put a command on the worker's own queue."""
        self.workers[index].commands.put(cmd)

    def poll(self, timeout: float) -> list[Event]:
        """Wait for one event, then take whatever else is already there."""
        try:
            out = [self._events.get(timeout=timeout)]
        except queue.Empty:
            return []
        while True:
            try:
                out.append(self._events.get_nowait())
            except queue.Empty:
                return out

    def alive(self, index: int) -> bool:
        """True while the process runs."""
        return self.workers[index].proc.is_alive()

    def pid(self, index: int) -> int | None:
        """The worker's process id."""
        return self.workers[index].proc.pid

    def death(self, index: int) -> str:
        """Names the process and its exit code (e.g. -9 after kill -9)."""
        p = self.workers[index].proc
        return f"the worker process {p.pid} died (exit code {p.exitcode}) while training"

    def stop_all(self) -> None:
        """Send quit to all, give each 5 s to write its last rows, then kill what is left."""
        for w in self.workers.values():
            try:
                w.commands.put(("quit", None, None))
            except (OSError, ValueError):
                pass
        for w in self.workers.values():
            w.proc.join(timeout=5)
            if w.proc.is_alive():
                w.proc.kill()
