"""The worker loop: receive commands, step active runs in turn, report what ended.

The loop knows nothing about processes or clusters. It reads commands from a
queue-like source, reports events to a sink and writes history to a store-like
object, so the same loop runs in a local worker process (mp queues, the real
SQLite store) and in a Ray actor (a thread-safe queue, a buffer the manager drains).

Commands are `(op, run_id, arg)` with op in start, pause, resume, step, speed, stop, quit.
Events are `("ready", wid, None, pid)` once warm and `("ended", wid, run_id, status)`.

A paced run (Speed `watch` or `fast`, lab/engine/pace.py) costs no CPU between its steps:
when no run is due, the loop waits on the command queue until the next one is, so a
command still takes effect at once and other runs keep their turns.
"""

from __future__ import annotations

import os
import queue
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from lab.config import Limits, RunConfig
from lab.engine.pace import Pacer
from lab.lifecycle import IllegalTransition, RunStatus
from lab.serving.runtime import error_reason

if TYPE_CHECKING:  # pragma: no cover  (the web process imports this module; torch stays out of it)
    from lab.engine.trainer import Trainer
    from lab.serving.persist import StoreWriter

IDLE_WAIT = 0.2  # seconds the loop waits for a command when no run is due (also the longest paced wait)
# Store writes of a paced run: often enough that a page polling twice a second finds new points at
# every poll (a watched run writes a few rows each time; a run at full speed keeps the writer's 0.4 s).
# A worker with more paced runs than FEW_RUNS is a classroom server, whose pages poll more slowly
# (lab/ui/dashboard.py): its runs keep the writer's interval, which halves the transactions.
PACED_FLUSH_SECONDS = 0.2
FEW_RUNS = 4


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


@dataclass
class Run:
    """One run a worker holds: its trainer, its store writer, its pace, whether it is paused, and a paced Step's goal.

    `stepping_to` is the step a paused, paced run plays to after Step or Epoch: it moves at its pace
    (a watched epoch is watched), stays paused for the page (Resume continues, Pause ends the play)
    and settles paused at that step.
    """

    trainer: Trainer
    writer: StoreWriter
    pacer: Pacer
    paused: bool = False
    stepping_to: int | None = None

    def __post_init__(self) -> None:
        self.full_flush = self.writer.interval  # the writer's own interval, kept for full speed

    @property
    def moving(self) -> bool:
        """True while the run takes turns: not paused, or paused and playing a Step to its goal."""
        return not self.paused or self.stepping_to is not None

    def follow_pace(self, paced_runs: int = 1) -> None:
        """Take the trainer's pace (pacer rate, flush interval, share of dense recording) among `paced_runs`."""
        rate = self.trainer.steps_per_second
        self.pacer.set_rate(rate, time.monotonic())
        few = rate > 0 and paced_runs <= FEW_RUNS
        self.writer.interval = PACED_FLUSH_SECONDS if few else self.full_flush
        if self.trainer.recorder is not None:
            self.trainer.recorder.cadence.set_period(self.trainer.step_period, 1.0 / max(paced_runs, 1))


class Worker:
    """The runs of one worker, with one method per command; `serve` feeds it commands and time."""

    def __init__(self, wid: int, events: EventSink, store: RunWrites, slice_seconds: float, limits: Limits):
        self.wid, self.events, self.store = wid, events, store
        self.slice_seconds, self.limits = slice_seconds, limits
        self.runs: dict[str, Run] = {}

    # ---- commands ------------------------------------------------------------------------

    def handle(self, cmd: tuple) -> bool:
        """Apply one `(op, run_id, arg)` command; False once told to quit."""
        op, run_id, arg = cmd
        if op == "quit":
            self.quit()
            return False
        try:
            if op == "start":
                self.start(run_id, arg)
            elif run_id in self.runs:
                run = self.runs[run_id]
                if op in ("step", "speed"):
                    getattr(self, op)(run, arg)
                elif op in ("pause", "resume", "stop"):
                    getattr(self, op)(run)
                if run.trainer.done:
                    self.end(run_id)
        except Exception as e:  # one bad run must never take the worker down
            self.fail(run_id, e)
        return True

    def start(self, run_id: str, arg: dict) -> None:
        """Build the run's trainer (paused when asked: the page's Step before Start)."""
        from lab.engine.trainer import Trainer
        from lab.serving.persist import StoreWriter

        cfg = RunConfig.from_dict(arg["config"], self.limits)
        paused = bool(arg.get("paused"))
        writer = StoreWriter(self.store, run_id, starts_paused=paused)
        trainer = Trainer(cfg, callbacks=[writer], limits=self.limits, data_dir=arg.get("data_dir"))
        self.runs[run_id] = Run(trainer, writer, Pacer(trainer.steps_per_second, time.monotonic()), paused)
        self.rebalance()
        if paused:
            self.store.set_status(run_id, RunStatus.PAUSED)

    def pause(self, run: Run) -> None:
        """Stop taking turns (a paced Step's play ends too); the page sees exactly where it stopped."""
        run.paused = True
        self.settle(run)
        self.rebalance()

    def resume(self, run: Run) -> None:
        """Take turns again, at the run's pace from now (nothing owed from the pause)."""
        run.paused, run.stepping_to = False, None
        self.rebalance()
        run.pacer.restart(time.monotonic())
        self.store.set_status(run.writer.run_id, RunStatus.RUNNING)

    def step(self, run: Run, arg: int | str) -> None:
        """Advance a paused run by `arg` steps, or to the end of its epoch for 'epoch'.

        A paced run plays those steps at its pace and settles paused (a second press while it plays
        goes on from where the first would end); at full speed, or for a single step, they happen now.
        """
        tr = run.trainer
        start = run.stepping_to if run.stepping_to is not None else tr.step
        in_epoch = (tr.batch_in_epoch + start - tr.step) % tr.steps_per_epoch  # where `start` is in its epoch
        n = tr.steps_per_epoch - in_epoch if arg == "epoch" else int(arg)
        if tr.steps_per_second > 0 and (run.stepping_to is not None or n > 1):
            if run.stepping_to is None:
                run.pacer.restart(time.monotonic())
            run.stepping_to = min(start + n, tr.total_steps)
            self.rebalance()
            self.store.set_status(run.writer.run_id, RunStatus.PAUSED, f"stepping to step {run.stepping_to:,}")
            return
        tr.advance(n)
        if not tr.done:
            run.writer.flush(tr, status=RunStatus.PAUSED)

    def settle(self, run: Run) -> None:
        """Write a paused run's rows and status, ending a paced Step's play (and the status line's note of it)."""
        playing, run.stepping_to = run.stepping_to is not None, None
        run.writer.flush(run.trainer, status=RunStatus.PAUSED)
        if playing:
            self.store.set_status(run.writer.run_id, RunStatus.PAUSED)

    def speed(self, run: Run, arg: str) -> None:
        """Change the run's Speed while it trains (its next step keeps the new pace)."""
        run.trainer.set_speed(arg)
        self.rebalance()

    def stop(self, run: Run) -> None:
        """End the run now."""
        run.trainer.stop_now(RunStatus.STOPPED, "stopped by the user")

    def quit(self) -> None:
        """The server shuts down: every held run ends interrupted."""
        for run in self.runs.values():
            run.trainer.stop_now(RunStatus.INTERRUPTED, "the server shut down")

    def rebalance(self) -> None:
        """Every run takes its pace again, sharing the worker's dense recording with its other paced runs."""
        paced = sum(1 for r in self.runs.values() if r.moving and r.trainer.steps_per_second > 0)
        for run in self.runs.values():
            run.follow_pace(paced)

    # ---- training ------------------------------------------------------------------------

    def wait(self, now: float) -> float:
        """Seconds the loop may wait for a command before some run is due (0.0: one is due now)."""
        waits = [r.pacer.wait(now) for r in self.runs.values() if r.moving]
        return min(min(waits, default=IDLE_WAIT), IDLE_WAIT)

    def train(self) -> None:
        """Give each due run its turn: up to `slice_seconds`, and no more steps than its pace allows."""
        for run_id, run in list(self.runs.items()):
            if not run.moving:
                continue
            tr = run.trainer
            n = run.pacer.owed(time.monotonic())
            if run.stepping_to is not None:
                n = min(n, run.stepping_to - tr.step)
            if n == 0:
                continue
            try:
                run.pacer.took(tr.advance(n, max_seconds=self.slice_seconds), time.monotonic())
                if not tr.done and run.stepping_to is not None and tr.step >= run.stepping_to:
                    self.settle(run)  # the Step's goal: paused there, as a Step at full speed would be
                    self.rebalance()
                elif not tr.done:
                    run.writer.flush_if_due(tr)  # the slice's steps reach the page now
            except Exception as e:
                self.fail(run_id, e)
                continue
            if tr.done:
                self.end(run_id)

    def end(self, run_id: str) -> None:
        """Report a run that ended and let it go."""
        run = self.runs.pop(run_id)
        self.rebalance()
        self.events.put(("ended", self.wid, run_id, run.trainer.status))

    def fail(self, run_id: str, e: BaseException) -> None:
        """Mark a run failed with the error's reason and let it go."""
        try:
            self.store.set_status(run_id, RunStatus.FAILED, error_reason(e))
        except IllegalTransition:  # it had already ended (the error came after its final write): keep that
            pass
        self.runs.pop(run_id, None)
        self.rebalance()
        self.events.put(("ended", self.wid, run_id, RunStatus.FAILED))


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
    from lab.serving.runtime import prepare_training_process

    worker = Worker(wid, events, store, slice_seconds, limits)
    if warm:
        warm_up()
    prepare_training_process()  # after the imports and the warm-up: see lab/serving/runtime.py
    events.put(("ready", wid, None, os.getpid()))
    while True:
        # Wait on the queue, not in time.sleep: a paced run's idle time must still hear Pause or Stop at once.
        wait = worker.wait(time.monotonic())
        try:
            cmd = commands.get(timeout=wait) if wait > 0 else commands.get_nowait()
        except queue.Empty:
            cmd = None
        except (EOFError, OSError):
            return
        while cmd is not None:
            if not worker.handle(cmd):
                return
            try:
                cmd = commands.get_nowait()
            except queue.Empty:
                cmd = None
        worker.train()


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
