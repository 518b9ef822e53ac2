"""The worker loop: receive commands, step active runs in turn, report what ended.

The loop knows nothing about processes or clusters. It reads commands from a
queue-like source, reports events to a sink and writes history to a store-like
object, so the same loop runs in a local worker process (mp queues, the real
SQLite store) and in a Ray actor (a thread-safe queue, a buffer the manager drains).

Commands are `(op, run_id, arg)` with op in start, pause, resume, step, stop, quit.
Events are `("ready", wid, None, pid)` once warm and `("ended", wid, run_id, status)`.
"""

from __future__ import annotations

import os
import queue
from typing import Any, Protocol

from lab.config import Limits, RunConfig
from lab.lifecycle import IllegalTransition, RunStatus


class CommandSource(Protocol):
    """Where commands come from: `queue.Queue` and `multiprocessing.Queue` both fit."""

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        """Next command, waiting up to `timeout`; raises queue.Empty."""

    def get_nowait(self) -> Any:
        """Next command if one is waiting; raises queue.Empty."""


class EventSink(Protocol):
    """Where events go (the manager's side reads them)."""

    def put(self, event: tuple) -> None:
        """Report one event."""


class RunWrites(Protocol):
    """The store writes the loop and its StoreWriter make (RunStore, or a buffer of them)."""

    def append(self, run_id: str, **rows: Any) -> None:
        """Write new history rows for a run."""

    def set_status(self, run_id: str, status: str, reason: str = "", summary: dict | None = None) -> None:
        """Update a run's status."""


def safe_reason(e: BaseException) -> str:
    """A one-line, bounded description of an error for the store's `reason` column."""
    text = str(e).strip().splitlines()[0] if str(e).strip() else ""
    return f"{type(e).__name__}: {text}"[:300]


def serve(
    wid: int,
    commands: CommandSource,
    events: EventSink,
    store: RunWrites,
    slice_seconds: float,
    limits: Limits,
    warm: bool = True,
) -> None:
    """Run the worker loop until a `quit` command or a closed command source."""
    from lab.engine.trainer import Trainer
    from lab.serving.persist import StoreWriter
    from lab.serving.runtime import prepare_training_process

    runs: dict[str, dict] = {}  # run_id -> {"trainer", "writer", "paused"}
    if warm:
        warm_up()
    prepare_training_process()  # after the imports and the warm-up: see lab/serving/runtime.py
    events.put(("ready", wid, None, os.getpid()))

    def end(run_id: str) -> None:
        entry = runs.pop(run_id)
        events.put(("ended", wid, run_id, entry["trainer"].status))

    def fail(run_id: str, e: BaseException) -> None:
        try:
            store.set_status(run_id, RunStatus.FAILED, safe_reason(e))
        except IllegalTransition:  # it had already ended (the error came after its final write): keep that
            pass
        runs.pop(run_id, None)
        events.put(("ended", wid, run_id, RunStatus.FAILED))

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
                    runs[rid]["trainer"].stop_now(RunStatus.INTERRUPTED, "the server shut down")
                return
            try:
                if op == "start":
                    cfg = RunConfig.from_dict(arg["config"], limits)
                    writer = StoreWriter(store, run_id)
                    trainer = Trainer(cfg, callbacks=[writer], limits=limits, data_dir=arg.get("data_dir"))
                    runs[run_id] = {"trainer": trainer, "writer": writer, "paused": bool(arg.get("paused"))}
                    if arg.get("paused"):
                        store.set_status(run_id, RunStatus.PAUSED)
                elif run_id in runs:
                    entry = runs[run_id]
                    tr = entry["trainer"]
                    if op == "pause":
                        entry["paused"] = True
                        entry["writer"].flush(tr, status=RunStatus.PAUSED)  # the page sees exactly where it stopped
                    elif op == "resume":
                        entry["paused"] = False
                        store.set_status(run_id, RunStatus.RUNNING)
                    elif op == "step":
                        n = tr.steps_per_epoch - tr.batch_in_epoch if arg == "epoch" else int(arg)
                        tr.advance(n)
                        if not tr.done:
                            entry["writer"].flush(tr, status=RunStatus.PAUSED)
                    elif op == "stop":
                        tr.stop_now(RunStatus.STOPPED, "stopped by the user")
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
                if not tr.done:
                    runs[run_id]["writer"].flush_if_due(tr)  # the slice's steps reach the page now
            except Exception as e:
                fail(run_id, e)
                continue
            if tr.done:
                end(run_id)


def set_threads(threads: int) -> None:
    """Give torch `threads` threads (before its first use where possible, so OpenMP agrees)."""
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    import torch

    torch.set_num_threads(threads)


def warm_up() -> None:
    """Touch the embedded datasets and one tiny training step so the first real Start is fast."""
    from lab.engine.trainer import Trainer

    for cfg in (
        RunConfig(max_steps=2, eval_every=1),
        RunConfig(model="cnn", dataset="shapes", max_steps=1),
        RunConfig(dataset="spiral", max_steps=1),
    ):
        try:
            Trainer(cfg).fit()
        except Exception:  # warming is best effort; a real start reports real errors
            pass
