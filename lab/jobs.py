"""JobManager: runs Trainers in warm worker processes, outside the web process.

Design:
- Workers are started once (spawn context) and import torch and the engine up
  front, so pressing Start never pays for a new interpreter.
- Each worker holds several runs and steps them in turn, `slice_seconds` at a
  time, so every active run makes progress (fair sharing instead of first come,
  first served). Runs go to the worker with the fewest active runs.
- Workers write everything to the RunStore (SQLite); pages read the store. The
  manager only sends small commands (start, pause, resume, step, stop) and listens
  for "ended" events, so the web process stays light and never imports torch.
- A monitor thread notices a dead worker (e.g. kill -9), marks its runs `failed`
  with the reason, and starts a replacement. At start-up, runs left active by a
  previous server are marked `interrupted`.
"""

from __future__ import annotations

import multiprocessing as mp
import queue
import sys
import threading
import time
import types
from contextlib import contextmanager
from dataclasses import dataclass, field

from lab.config import RunConfig
from lab.settings import Settings, load_settings
from lab.store import RunStore


class CapacityError(RuntimeError):
    """The session or the server has no room for another run right now."""


@dataclass
class _Worker:
    proc: mp.process.BaseProcess
    commands: mp.Queue
    runs: set[str] = field(default_factory=set)


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


def _safe_reason(e: BaseException) -> str:
    text = str(e).strip().splitlines()[0] if str(e).strip() else ""
    return f"{type(e).__name__}: {text}"[:300]


def worker_main(
    wid: int, commands: mp.Queue, events: mp.Queue, store_path: str, threads: int, slice_seconds: float, limits
) -> None:
    """Worker process loop: receive commands, step active runs in turn, report ends."""
    import os

    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    import torch

    torch.set_num_threads(threads)
    from lab.persist import StoreWriter
    from lab.trainer import Trainer

    store = RunStore(store_path)
    runs: dict[str, dict] = {}  # run_id -> {"trainer", "paused"}
    _warm_up()
    events.put(("ready", wid, None, None))

    def end(run_id: str) -> None:
        entry = runs.pop(run_id)
        events.put(("ended", wid, run_id, entry["trainer"].status))

    def fail(run_id: str, e: BaseException) -> None:
        store.set_status(run_id, "failed", _safe_reason(e))
        runs.pop(run_id, None)
        events.put(("ended", wid, run_id, "failed"))

    while True:
        runnable = [r for r, e in runs.items() if not e["paused"]]
        try:
            cmd = commands.get_nowait() if runnable else commands.get(timeout=0.2)
        except queue.Empty:
            cmd = None
        except (EOFError, OSError):
            return
        while cmd is not None:
            op, run_id, arg = cmd
            if op == "quit":
                for rid in list(runs):
                    runs[rid]["trainer"].stop_now("interrupted", "the server shut down")
                return
            try:
                if op == "start":
                    cfg = RunConfig.from_dict(arg["config"], limits)
                    writer = StoreWriter(store, run_id)
                    trainer = Trainer(cfg, callbacks=[writer], limits=limits)
                    runs[run_id] = {"trainer": trainer, "writer": writer, "paused": bool(arg.get("paused"))}
                    if arg.get("paused"):
                        store.set_status(run_id, "paused")
                elif run_id in runs:
                    entry = runs[run_id]
                    tr = entry["trainer"]
                    if op == "pause":
                        entry["paused"] = True
                        entry["writer"].flush(tr, status="paused")  # the page sees exactly where it stopped
                    elif op == "resume":
                        entry["paused"] = False
                        store.set_status(run_id, "running")
                    elif op == "step":
                        n = tr.steps_per_epoch - tr.batch_in_epoch if arg == "epoch" else int(arg)
                        tr.advance(n)
                        if not tr.done:
                            entry["writer"].flush(tr, status="paused")
                    elif op == "stop":
                        tr.stop_now("stopped", "stopped by the user")
                    if tr.done:
                        end(run_id)
            except Exception as e:  # one bad run must never take the worker down
                fail(run_id, e)
            try:
                cmd = commands.get_nowait()
            except queue.Empty:
                cmd = None
        for run_id in [r for r, e in runs.items() if not e["paused"]]:
            tr = runs[run_id]["trainer"]
            try:
                tr.advance(10**9, max_seconds=slice_seconds)
            except Exception as e:
                fail(run_id, e)
                continue
            if tr.done:
                end(run_id)


def _warm_up() -> None:
    """Touch the embedded datasets and one tiny training step so the first real Start is fast."""
    from lab.config import RunConfig
    from lab.trainer import Trainer

    for cfg in (
        RunConfig(max_steps=2, eval_every=1),
        RunConfig(model="cnn", dataset="shapes", max_steps=1),
        RunConfig(dataset="spiral", max_steps=1),
    ):
        try:
            Trainer(cfg).fit()
        except Exception:  # warming is best effort; a real start reports real errors
            pass


class JobManager:
    """Starts warm workers and routes runs to them; thread-safe, one per server process."""

    def __init__(self, settings: Settings | None = None, store: RunStore | None = None):
        self.settings = settings or load_settings()
        self.store_path = str(store.path if store else self.settings.store_path)
        self.store = store or RunStore(self.store_path)
        self.limits = self.settings.limits
        self._ctx = mp.get_context("spawn")  # fork after torch has started threads is unsafe
        self._events: mp.Queue = self._ctx.Queue()
        self._lock = threading.RLock()
        self._workers: list[_Worker] = []
        self._owner: dict[str, str] = {}  # active run -> owner
        self._where: dict[str, int] = {}  # active run -> worker index
        self._pending: list[tuple[str, dict]] = []  # runs waiting for capacity, in order
        self._ready: set[int] = set()
        self._closed = False
        self.store.mark_unfinished("interrupted", "the server restarted while this run was active")
        for i in range(self.settings.n_workers):
            self._workers.append(self._spawn(i))
        self._monitor = threading.Thread(target=self._watch, name="jobs-monitor", daemon=True)
        self._monitor.start()

    # ---- public API ------------------------------------------------------------------

    def submit(self, cfg: RunConfig, owner: str = "", label: str = "", paused: bool = False) -> str:
        """Validate, store as queued and dispatch a run; returns its id. Raises ConfigError or CapacityError."""
        cfg.validate(self.limits)
        with self._lock:
            mine = [r for r, o in self._owner.items() if o == owner] if owner else []
            if owner and len(mine) >= self.settings.max_runs_per_session:
                raise CapacityError(
                    f"this session already has {len(mine)} active run(s); the limit is "
                    f"{self.settings.max_runs_per_session}. Stop one first."
                )
            run_id = self.store.create_run(cfg.to_dict(), owner=owner, label=label, status="queued")
            self._owner[run_id] = owner
            self._pending.append((run_id, {"config": cfg.to_dict(), "paused": paused}))
            self._dispatch()
        return run_id

    def pause(self, run_id: str) -> None:
        """Pause a run after its current slice."""
        self._send(run_id, "pause")

    def resume(self, run_id: str) -> None:
        """Resume a paused run."""
        self._send(run_id, "resume")

    def step(self, run_id: str, n: int | str = 1) -> None:
        """Advance a paused run by n steps, or to the end of its epoch with n='epoch'."""
        self._send(run_id, "step", n)

    def stop(self, run_id: str) -> None:
        """Stop a run (queued runs are removed from the queue)."""
        with self._lock:
            for i, (rid, _) in enumerate(self._pending):
                if rid == run_id:
                    del self._pending[i]
                    self._owner.pop(run_id, None)
                    self.store.set_status(run_id, "stopped", "stopped before it started")
                    return
        self._send(run_id, "stop")

    def is_active(self, run_id: str) -> bool:
        """True while the run is queued or in a worker."""
        with self._lock:
            return run_id in self._owner

    def queue_position(self, run_id: str) -> int:
        """1-based position in the waiting queue, or 0 when not waiting."""
        with self._lock:
            for i, (rid, _) in enumerate(self._pending):
                if rid == run_id:
                    return i + 1
        return 0

    def active_runs(self, owner: str | None = None) -> list[str]:
        """Ids of queued or running runs (optionally of one owner)."""
        with self._lock:
            return [r for r, o in self._owner.items() if owner is None or o == owner]

    def worker_pids(self) -> list[int]:
        """Process ids of the workers (for tests and the status page)."""
        with self._lock:
            return [w.proc.pid for w in self._workers]

    def ready(self) -> bool:
        """True once every worker has warmed up."""
        return len(self._ready) >= len(self._workers)

    def wait_ready(self, timeout: float = 120.0) -> bool:
        """Block until the workers are warm (tests, benchmarks)."""
        t_end = time.monotonic() + timeout
        while not self.ready() and time.monotonic() < t_end:
            time.sleep(0.05)
        return self.ready()

    def wait(self, run_id: str, timeout: float = 300.0) -> dict:
        """Block until a run has ended; returns its stored row."""
        t_end = time.monotonic() + timeout
        while self.is_active(run_id) and time.monotonic() < t_end:
            time.sleep(0.05)
        return self.store.get_run(run_id)

    def shutdown(self) -> None:
        """Stop the workers; active runs are marked interrupted."""
        with self._lock:
            self._closed = True
            for w in self._workers:
                try:
                    w.commands.put(("quit", None, None))
                except (OSError, ValueError):
                    pass
        for w in self._workers:
            w.proc.join(timeout=5)
            if w.proc.is_alive():
                w.proc.kill()
        self.store.mark_unfinished("interrupted", "the server shut down while this run was active")

    # ---- internals -------------------------------------------------------------------

    def _spawn(self, index: int) -> _Worker:
        commands = self._ctx.Queue()
        s = self.settings
        proc = self._ctx.Process(
            target=worker_main,
            name=f"lab-worker-{index}",
            daemon=True,
            args=(index, commands, self._events, self.store_path, s.n_threads, s.slice_seconds, self.limits),
        )
        with plain_main():
            proc.start()
        return _Worker(proc, commands)

    def _send(self, run_id: str, op: str, arg=None) -> None:
        with self._lock:
            if run_id not in self._where:
                return
            self._workers[self._where[run_id]].commands.put((op, run_id, arg))

    def _dispatch(self) -> None:
        """Move waiting runs onto the least-loaded workers while the global cap allows."""
        while self._pending and len(self._where) < self.settings.max_active_runs:
            run_id, payload = self._pending.pop(0)
            index = min(range(len(self._workers)), key=lambda i: len(self._workers[i].runs))
            self._workers[index].runs.add(run_id)
            self._where[run_id] = index
            self._workers[index].commands.put(("start", run_id, payload))

    def _watch(self) -> None:
        while not self._closed:
            try:
                kind, wid, run_id, status = self._events.get(timeout=0.2)
                with self._lock:
                    if kind == "ready":
                        self._ready.add(wid)
                    elif kind == "ended":
                        self._forget(run_id)
                        self._dispatch()
            except queue.Empty:
                pass
            except (EOFError, OSError):
                return
            self._check_workers()

    def _forget(self, run_id: str) -> None:
        index = self._where.pop(run_id, None)
        if index is not None:
            self._workers[index].runs.discard(run_id)
        self._owner.pop(run_id, None)

    def _check_workers(self) -> None:
        with self._lock:
            if self._closed:
                return
            for i, w in enumerate(self._workers):
                if w.proc.is_alive():
                    continue
                lost = list(w.runs)
                reason = f"the worker process {w.proc.pid} died (exit code {w.proc.exitcode}) while training"
                self.store.mark_unfinished("failed", reason, run_ids=lost)
                for run_id in lost:
                    self._forget(run_id)
                self._ready.discard(i)
                self._workers[i] = self._spawn(i)
            self._dispatch()


_shared: JobManager | None = None
_shared_lock = threading.Lock()


def shared_manager(settings: Settings | None = None) -> JobManager:
    """The process-wide JobManager, created on first use (the server starts it at launch to warm workers)."""
    global _shared
    with _shared_lock:
        if _shared is None or _shared._closed:
            _shared = JobManager(settings)
        return _shared


def shutdown_shared() -> None:
    """Shut the process-wide JobManager down if one is running (tests, server exit)."""
    global _shared
    with _shared_lock:
        manager, _shared = _shared, None
    if manager is not None and not manager._closed:
        manager.shutdown()


__all__ = ["CapacityError", "JobManager", "shared_manager", "shutdown_shared", "worker_main"]
