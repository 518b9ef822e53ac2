"""JobManager: runs Trainers in warm workers, outside the web process.

Design:
- Where workers run is pluggable (lab/serving/executors/): `local` spawned processes by
  default, or `ray` actors on a Ray cluster (setting `executor`). Every executor
  runs the same worker loop (lab/serving/worker.py), so training is identical.
- Workers are started once and import torch and the engine up front, so pressing
  Start never pays for a new interpreter.
- Each worker holds several runs and steps them in turn, `slice_seconds` at a
  time, so every active run makes progress (fair sharing instead of first come,
  first served). Runs go to the worker with the fewest active runs.
- Workers write everything to the RunStore (SQLite); pages read the store. The
  manager only sends small commands (start, pause, resume, step, speed, stop) and listens
  for "ended" events: the manager itself imports no torch (its workers do).
- A monitor thread polls the executor's events, notices a dead worker (e.g. kill -9,
  ray.kill), marks its runs `failed` with the reason, and starts a replacement.
- The manager's process owns the runs it queues (lab/serving/owners.py). At start-up it
  marks `interrupted` only active runs whose owning process has died (a killed server),
  never a `python -m lab train` or another server training into the same store.
"""

from __future__ import annotations

import threading
import time

from lab.config import RunConfig
from lab.lifecycle import RunStatus
from lab.serving.executors import Executor, make_executor
from lab.serving.owners import Owner
from lab.serving.settings import Settings, load_settings
from lab.serving.store import RunStore


class CapacityError(RuntimeError):
    """The session or the server has no room for another run right now."""


class JobManager:
    """Starts warm workers and routes runs to them; thread-safe, one per server process.

    `executor` (lab/serving/executors/) is what runs the workers; the manager keeps the
    bookkeeping: which run is on which worker, the queue, the per-session caps.
    """

    def __init__(self, settings: Settings | None = None, store: RunStore | None = None):
        self.settings = settings or load_settings()
        self.store_path = str(store.path if store else self.settings.store_path)
        self.store = store or RunStore(self.store_path)
        self.limits = self.settings.limits
        self._lock = threading.RLock()
        self._held: list[set[str]] = []  # worker index -> its active runs
        self._owner: dict[str, str] = {}  # active run -> owner
        self._where: dict[str, int] = {}  # active run -> worker index
        self._pending: list[tuple[str, dict]] = []  # runs waiting for capacity, in order
        self._ready: set[int] = set()
        self._closed = False
        self.store.mark_orphaned("the server restarted while this run was active")
        self.executor: Executor = make_executor(self.settings, self.store_path)
        for i in range(self.settings.n_workers):
            self.executor.start(i)
            self._held.append(set())
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
            run_id = self.store.create_run(
                cfg.to_dict(), owner=owner, label=label, status=RunStatus.QUEUED, process=Owner.current()
            )
            self._owner[run_id] = owner
            # data_dir travels with the run: the engine reads no settings, and a Ray actor has no settings file.
            payload = {"config": cfg.to_dict(), "paused": paused, "data_dir": self.settings.data_dir}
            self._pending.append((run_id, payload))
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

    def speed(self, run_id: str, speed: str) -> None:
        """Change a run's Speed (watch, fast, max) while it trains; its stored config says the Speed it has now."""
        RunConfig().replace(speed=speed)  # validated like every field: raises ConfigError naming it
        with self._lock:
            queued = [payload for rid, payload in self._pending if rid == run_id]
            for payload in queued:  # it starts at the new Speed once a worker takes it
                payload["config"]["speed"] = speed
            if queued or self._send(run_id, "speed", speed):
                self.store.update_config(run_id, speed=speed)

    def stop(self, run_id: str) -> None:
        """Stop a run (queued runs are removed from the queue)."""
        with self._lock:
            for i, (rid, _) in enumerate(self._pending):
                if rid == run_id:
                    del self._pending[i]
                    self._owner.pop(run_id, None)
                    self.store.set_status(run_id, RunStatus.STOPPED, "stopped before it started")
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

    def worker_pids(self) -> list[int | None]:
        """Process ids of the workers (for tests and the status page; Ray: on their node, None until ready)."""
        with self._lock:
            return [self.executor.pid(i) for i in range(len(self._held))]

    def ready(self) -> bool:
        """True once every worker has warmed up."""
        return len(self._ready) >= len(self._held)

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
        """Stop the workers; this manager's active runs are marked interrupted (another process's are left alone)."""
        with self._lock:
            self._closed = True
        self._monitor.join(timeout=5)  # it polls the executor, which is not shared between threads
        self.executor.stop_all()
        mine = list(self._owner)  # the monitor has stopped, so no "ended" event removes one meanwhile
        self.store.mark_unfinished(RunStatus.INTERRUPTED, "the server shut down while this run was active", mine)

    # ---- internals -------------------------------------------------------------------

    def _send(self, run_id: str, op: str, arg=None) -> bool:
        """Send a command to the worker holding the run; False if no worker holds it (queued or ended)."""
        with self._lock:
            if run_id not in self._where:
                return False
            self.executor.send(self._where[run_id], (op, run_id, arg))
            return True

    def _dispatch(self) -> None:
        """Move waiting runs onto the least-loaded workers while the global cap allows."""
        while self._pending and len(self._where) < self.settings.max_active_runs:
            run_id, payload = self._pending.pop(0)
            index = min(range(len(self._held)), key=lambda i: len(self._held[i]))
            self._held[index].add(run_id)
            self._where[run_id] = index
            self.executor.send(index, ("start", run_id, payload))

    def _watch(self) -> None:
        while not self._closed:
            try:
                events = self.executor.poll(0.2)
            except (EOFError, OSError):
                return
            with self._lock:
                for kind, wid, run_id, _ in events:
                    if kind == "ready":
                        self._ready.add(wid)
                    elif kind == "ended":
                        self._forget(run_id)
                if events:
                    self._dispatch()
            self._check_workers()

    def _forget(self, run_id: str) -> None:
        index = self._where.pop(run_id, None)
        if index is not None:
            self._held[index].discard(run_id)
        self._owner.pop(run_id, None)

    def _check_workers(self) -> None:
        with self._lock:
            if self._closed:
                return
            for i, held in enumerate(self._held):
                if self.executor.alive(i):
                    continue
                lost = list(held)
                self.store.mark_unfinished(RunStatus.FAILED, self.executor.death(i), run_ids=lost)
                for run_id in lost:
                    self._forget(run_id)
                self._ready.discard(i)
                self.executor.start(i)
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


def running_manager() -> JobManager | None:
    """The process-wide JobManager if one is running, else None; never starts one (the live routes use this)."""
    with _shared_lock:
        return _shared if _shared is not None and not _shared._closed else None


def shutdown_shared() -> None:
    """Shut the process-wide JobManager down if one is running (tests, server exit)."""
    global _shared
    with _shared_lock:
        manager, _shared = _shared, None
    if manager is not None and not manager._closed:
        manager.shutdown()
