"""Executor: how the JobManager runs its workers (local processes, or actors on a Ray cluster).

The manager decides which run goes where; an executor only moves commands to worker
`index`, brings events back, and says whether a worker is still alive. Workers run
the loop in lab/serving/worker.py, so every executor trains the same way.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

Event = tuple  # ("ready", wid, None, pid) or ("ended", wid, run_id, status), see lab/serving/worker.py


class Executor(ABC):
    """Starts numbered workers, sends them commands, polls their events, notices deaths."""

    @abstractmethod
    def start(self, index: int) -> None:
        """Start worker `index`, replacing a dead one with that number."""

    @abstractmethod
    def send(self, index: int, cmd: tuple) -> None:
        """Queue a command `(op, run_id, arg)` for worker `index`."""

    @abstractmethod
    def poll(self, timeout: float) -> list[Event]:
        """Events that arrived, waiting up to `timeout` seconds for the first one."""

    @abstractmethod
    def alive(self, index: int) -> bool:
        """False once worker `index` has died (killed, crashed, its node lost)."""

    @abstractmethod
    def pid(self, index: int) -> int | None:
        """The worker's process id (on its own machine for Ray; None until known)."""

    @abstractmethod
    def death(self, index: int) -> str:
        """Why worker `index` died, in words fit for the `reason` of the runs it held."""

    @abstractmethod
    def stop_all(self) -> None:
        """Ask every worker to quit (their runs end `interrupted`), then make sure they are gone."""
