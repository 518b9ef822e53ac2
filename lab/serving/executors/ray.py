"""RayExecutor: each worker is a Ray actor, so training can leave this server for a Ray cluster.

An actor runs the same worker loop (lab/serving/worker.py) in a background thread; commands
go in through `send`. An actor may live on another machine and cannot write the
server's SQLite file, so its store writes are buffered, in order with its events,
and the manager pulls them with `drain()` about every 0.2 s and replays them on the
real store. Rows are pickled when recorded, so a later change to a history row in
the actor cannot alter what was already written.

A failed drain (RayActorError: the actor was killed, crashed or lost its node) marks
the worker dead; the JobManager then fails its runs with the reason and starts a
replacement, exactly as for a dead local process.

The actors import `lab`: the package directory is shipped to the cluster as a
runtime_env `py_modules` entry, so the nodes need the same Python packages (torch,
numpy, ...) but not a checkout of this repository.
"""

from __future__ import annotations

import logging
import pickle
import queue
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ray
from ray.exceptions import ActorUnavailableError, RayActorError, RayError

import lab
from lab.config import Limits
from lab.lifecycle import IllegalTransition, RunStatus
from lab.serving.executors.base import Event, Executor
from lab.serving.persist import finish_run
from lab.serving.settings import Settings
from lab.serving.store import RunStore

LAB_DIR = Path(lab.__file__).resolve().parent
log = logging.getLogger(__name__)
# What a buffer may ask the real store to do.
_REPLAYABLE = frozenset({"append", "set_status", "mark_unfinished", "finish_run"})


class Outbox:
    """An actor's events and store writes, in the order they happened, until the next drain."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[tuple] = []

    def put(self, event: tuple) -> None:
        """Record an event (the worker loop's event sink)."""
        with self._lock:
            self._items.append(("event", event))

    def write(self, method: str, args: tuple, kwargs: dict) -> None:
        """Record one store call, frozen as bytes now."""
        blob = pickle.dumps((method, args, kwargs), protocol=pickle.HIGHEST_PROTOCOL)
        with self._lock:
            self._items.append(("store", blob))

    def take(self) -> list[tuple]:
        """Everything recorded since the last take."""
        with self._lock:
            items, self._items = self._items, []
        return items


class BufferedStore:
    """Stands in for the RunStore inside an actor: records the write calls for the manager to replay."""

    def __init__(self, outbox: Outbox):
        self._outbox = outbox

    def append(self, run_id: str, **rows: Any) -> None:
        """Buffer RunStore.append."""
        self._outbox.write("append", (run_id,), rows)

    def set_status(self, run_id: str, status: str, reason: str = "", summary: dict | None = None) -> None:
        """Buffer RunStore.set_status."""
        self._outbox.write("set_status", (run_id, status, reason, summary), {})

    def finish_run(self, run_id: str, status: str, reason: str, summary: dict) -> None:
        """Buffer lab.serving.persist.finish_run (the manager diagnoses the stored rows)."""
        self._outbox.write("finish_run", (run_id, status, reason, summary), {})

    def mark_unfinished(self, status: str = RunStatus.INTERRUPTED, reason: str = "", run_ids: Any = None) -> None:
        """Buffer RunStore.mark_unfinished."""
        self._outbox.write("mark_unfinished", (status, reason, None if run_ids is None else list(run_ids)), {})


def replay(store: RunStore, items: list[tuple]) -> list[Event]:
    """Apply drained store writes to `store` in order; return the events among them."""
    events = []
    for kind, payload in items:
        if kind == "event":
            events.append(payload)
            continue
        method, args, kwargs = pickle.loads(payload)  # our own actor's bytes, sent over Ray's channel
        if method not in _REPLAYABLE:
            raise ValueError(f"unexpected store call {method!r} from a Ray worker")
        try:
            if method == "finish_run":
                finish_run(store, *args, **kwargs)
            else:
                getattr(store, method)(*args, **kwargs)
        except IllegalTransition as e:  # e.g. a late write for a run the manager already failed: keep the rest
            log.warning("skipped a Ray worker's store write: %s", e)
    return events


class WorkerActor:
    """The Ray actor: the worker loop in a thread, commands in through `send`, output out through `drain`."""

    def __init__(self, wid: int, threads: int, slice_seconds: float, limits: Limits, warm: bool = True):
        from lab.serving.runtime import set_threads

        set_threads(threads)
        self._commands: queue.Queue = queue.Queue()
        self._outbox = Outbox()
        args = (wid, self._commands, self._outbox, BufferedStore(self._outbox), slice_seconds, limits, warm)
        self._thread = threading.Thread(target=self._run, args=args, name=f"lab-worker-{wid}", daemon=True)
        self._thread.start()

    @staticmethod
    def _run(*args: Any) -> None:
        from lab.serving.worker import serve

        try:
            serve(*args)
        except BaseException:
            # A local worker whose loop crashes exits; do the same so the manager sees a death, not silence.
            traceback.print_exc()
            import os

            os._exit(1)

    def send(self, cmd: tuple) -> None:
        """Queue a command for the loop."""
        self._commands.put(cmd)

    def drain(self) -> list[tuple]:
        """Events and buffered store writes since the last drain, in order."""
        return self._outbox.take()

    def finish(self, timeout: float) -> list[tuple]:
        """Wait for the loop to end (after a quit), then drain."""
        self._thread.join(timeout)
        return self._outbox.take()


_RemoteWorker = ray.remote(WorkerActor)

# One Ray connection per process, shared by every RayExecutor in it; closed with the last one we opened.
_conn_lock = threading.Lock()
_conn_users = 0
_keeper: threading.Event | None = None  # set to release the thread that called ray.init, when we did


def _connect(address: str) -> None:
    global _conn_users, _keeper
    with _conn_lock:
        if _conn_users == 0 and not ray.is_initialized():
            # "" starts a private Ray with the server ("local"). Not Ray's own default (None): that
            # follows /tmp/ray/ray_current_cluster, and a stale one left by a killed `ray start`
            # makes ray.init retry forever, hanging the server's start. "auto" asks for that lookup.
            _keeper = _init_in_keeper(
                address=address or "local",
                runtime_env={"py_modules": [str(LAB_DIR)]},
                logging_level=logging.WARNING,
            )
        _conn_users += 1


def _init_in_keeper(**kwargs: Any) -> threading.Event:
    """Call ray.init in a thread that lives until released.

    A local Ray's processes are started with PR_SET_PDEATHSIG, which kills them when the
    *thread* that started them ends; the server creates its JobManager in a short-lived
    thread, so ray.init must not run there.
    """
    release, started, failure = threading.Event(), threading.Event(), []

    def keep() -> None:
        try:
            ray.init(**kwargs)
        except BaseException as e:  # handed to the caller below
            failure.append(e)
        started.set()
        release.wait()

    threading.Thread(target=keep, name="ray-keeper", daemon=True).start()
    started.wait()
    if failure:
        release.set()
        raise failure[0]
    return release


def _disconnect() -> None:
    global _conn_users, _keeper
    with _conn_lock:
        _conn_users = max(0, _conn_users - 1)
        if _conn_users == 0 and _keeper is not None:
            ray.shutdown()
            _keeper.set()
            _keeper = None


@dataclass
class _Actor:
    handle: Any  # ray.actor.ActorHandle
    name: str
    pending: Any = None  # the drain call in flight, if any
    pid: int | None = None  # reported by the actor's "ready" event
    error: BaseException | None = None  # set when a call failed because the actor is gone


class RayExecutor(Executor):
    """Workers as Ray actors (`num_cpus` = threads per worker), drained once per poll (every 0.2 s)."""

    def __init__(self, settings: Settings, store_path: str):
        self.settings = settings
        _connect(settings.ray_address)
        self.store = RunStore(store_path)  # its own connection: replays run in the monitor thread
        self.workers: dict[int, _Actor] = {}

    def start(self, index: int) -> None:
        """Create actor `index`; a dead predecessor is killed first so its CPUs are released."""
        old = self.workers.get(index)
        if old is not None:
            _kill(old.handle)
        s = self.settings
        handle = _RemoteWorker.options(num_cpus=s.n_threads, max_restarts=0).remote(
            index, s.n_threads, s.slice_seconds, s.limits
        )
        self.workers[index] = _Actor(handle, f"lab-worker-{index}")

    def send(self, index: int, cmd: tuple) -> None:
        """Call the actor's `send` (fire and forget; a dead actor is noticed by the next drain)."""
        w = self.workers[index]
        if w.error is None:
            w.handle.send.remote(cmd)

    def poll(self, timeout: float) -> list[Event]:
        """Drain every live actor (at most one drain in flight each), replay writes, return events."""
        t_end = time.monotonic() + timeout
        live = [w for w in self.workers.values() if w.error is None]
        for w in live:
            if w.pending is None:
                w.pending = w.handle.drain.remote()
        events: list[Event] = []
        if live:
            ready, _ = ray.wait([w.pending for w in live], num_returns=len(live), timeout=timeout)
            done = set(ready)
            for w in live:
                if w.pending in done:
                    events += self._collect(w)
        # Pace the drains: asking again at once would keep every actor busy answering.
        time.sleep(max(0.0, t_end - time.monotonic()))
        return events

    def _collect(self, w: _Actor, timeout: float | None = None) -> list[Event]:
        ref, w.pending = w.pending, None
        try:
            items = ray.get(ref, timeout=timeout)
        except ActorUnavailableError:  # a transient network problem: ask again next time
            return []
        except RayActorError as e:
            w.error = e
            return []
        events = replay(self.store, items)
        for kind, _wid, _run, pid in events:
            if kind == "ready":
                w.pid = pid
        return events

    def alive(self, index: int) -> bool:
        """False once a call to the actor failed with RayActorError."""
        return self.workers[index].error is None

    def pid(self, index: int) -> int | None:
        """The actor's process id on its node, once it has reported ready."""
        return self.workers[index].pid

    def death(self, index: int) -> str:
        """Names the actor (and its pid) and Ray's first line about why it died."""
        w = self.workers[index]
        text = str(w.error).strip().splitlines()[0] if w.error and str(w.error).strip() else "no reason given"
        where = f" (pid {w.pid})" if w.pid else ""
        return f"the Ray worker actor {w.name}{where} died while training: {text}"[:300]

    def stop_all(self) -> None:
        """Quit every actor, replay what it wrote last, kill it, and drop our Ray connection."""
        live = [w for w in self.workers.values() if w.error is None]
        for w in live:
            if w.pending is not None:  # a drain in flight holds writes that must not be lost
                self._collect_quietly(w)
        for w in live:
            try:
                w.handle.send.remote(("quit", None, None))
                w.pending = w.handle.finish.remote(5.0)
            except RayError:
                w.pending = None
        for w in live:
            if w.pending is not None:
                self._collect_quietly(w)
        for w in self.workers.values():
            _kill(w.handle)
        self.store.close()
        _disconnect()

    def _collect_quietly(self, w: _Actor) -> None:
        try:
            self._collect(w, timeout=10)
        except RayError:  # includes GetTimeoutError: a stuck actor is killed next anyway
            w.pending = None


def _kill(handle: Any) -> None:
    try:
        ray.kill(handle, no_restart=True)
    except (RayError, ValueError):  # already gone
        pass
