"""A run's lifecycle: the statuses it can have and the moves between them, in one place.

    queued --> running <--> paused
       |          |            |
       +----------+------------+--> completed | stopped | diverged | failed | interrupted   (final)

A run is created `queued` (waiting for a worker, or a Trainer not started yet), trains
`running`, may be `paused` and resumed, and ends in exactly one final status; a final status
never changes again. Staying in a status is allowed (a paused run stepped by hand is written
`paused` again, with new rows). The Trainer names the status it ends with; only the store
(lab/serving/store.py) writes statuses, and it checks each move with `check_transition`.

`RunStatus` is a `str` enum: its members are the very strings stored in SQLite, so old
databases read unchanged and a member compares equal to its string.
"""

from __future__ import annotations

from enum import StrEnum


class RunStatus(StrEnum):
    """Where a run is in its lifecycle (the value is what the store keeps)."""

    QUEUED = "queued"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    STOPPED = "stopped"
    DIVERGED = "diverged"
    FAILED = "failed"
    INTERRUPTED = "interrupted"

    @property
    def active(self) -> bool:
        """True while the run may still train (queued, running or paused)."""
        return self in ACTIVE

    @property
    def final(self) -> bool:
        """True once the run has ended; its status never changes again."""
        return self in FINAL


ACTIVE = frozenset({RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.PAUSED})
FINAL = frozenset(RunStatus) - ACTIVE

# status -> the statuses it may move to (itself included: a re-write with new rows or a new reason).
TRANSITIONS: dict[RunStatus, frozenset[RunStatus]] = {
    RunStatus.QUEUED: frozenset({RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.PAUSED}) | FINAL,
    RunStatus.RUNNING: frozenset({RunStatus.RUNNING, RunStatus.PAUSED}) | FINAL,
    RunStatus.PAUSED: frozenset({RunStatus.PAUSED, RunStatus.RUNNING}) | FINAL,
    **{s: frozenset({s}) for s in FINAL},
}


class IllegalTransition(ValueError):
    """A status change the lifecycle does not allow (e.g. a finished run set running again)."""


def status_of(value: str) -> RunStatus:
    """The RunStatus named by `value`; raises ValueError listing the allowed names otherwise."""
    try:
        return RunStatus(value)
    except ValueError:
        allowed = ", ".join(s.value for s in RunStatus)
        raise ValueError(f"status={value!r} is invalid: one of {allowed}") from None


def check_transition(run_id: str, old: str, new: str) -> RunStatus:
    """`new` as a RunStatus if a run may move from `old` to it; raises IllegalTransition naming both."""
    before, after = status_of(old), status_of(new)
    if after not in TRANSITIONS[before]:
        why = "it has ended" if before.final else f"it may move only to {', '.join(sorted(TRANSITIONS[before]))}"
        raise IllegalTransition(f"run {run_id}: status {before.value} -> {after.value} is not allowed ({why})")
    return after
