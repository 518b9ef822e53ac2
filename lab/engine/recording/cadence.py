"""Cadence: which steps the recorder records. Pure Python (no torch), so its arithmetic is testable alone.

Fixed mode records steps 1, 1+k, 1+2k, ... Adaptive mode measures what a record costs and
spaces records so that they take at most `budget` of the training time (0.5%: the whole
lab loop must stay within 5% of a plain loop), but never so sparsely that a run gets fewer
than `min_snapshots`. A paced run has idle time between its steps: `period` (seconds of
wall time per step the pace allows) raises the budget to `dense_share` of that idle time,
so a watched run records every step when it can, and never more often than the history
keeps (`max_snapshots` over the run's planned length). Idle wall time is not idle CPU on a
shared server, so dense recording also stays within `dense_cpu` of a core (5%), split between the
paced runs of one worker (`share`): a classroom of watched runs leaves the server mostly idle.
"""

from __future__ import annotations

import math

MIN_SNAPSHOTS = 30  # adaptive cadence never spaces records so far apart that a run gets fewer
DENSE_SHARE = 0.5  # a paced run may spend half its idle time between steps on recording...
DENSE_CPU = 0.05  # ...and a worker's paced runs together at most a twentieth of a core (a class of 30 on
# 2 cores must leave the server more than half idle; one watched run still records every step)


class Cadence:
    """Decides whether a step records and when the next record is due (steps count from 1)."""

    def __init__(
        self,
        every: int = 0,
        budget: float = 0.005,
        max_snapshots: int = 300,
        probe_gap: int = 10,
        min_snapshots: int = MIN_SNAPSHOTS,
        dense_share: float = DENSE_SHARE,
        dense_cpu: float = DENSE_CPU,
    ):
        self.fixed_every = every
        self.every = every or 1  # smallest gap; doubles each time the history is thinned
        self.budget = budget
        self.max_snapshots = max_snapshots
        self.probe_gap = probe_gap  # steps between the first records, before costs are known
        self.min_snapshots = min_snapshots
        self.dense_share = dense_share
        self.dense_cpu = dense_cpu
        self.share = 1.0  # this run's part of its worker's dense recording (1 / paced runs there)
        self.planned_steps = 0  # the run's planned length (one lap for a run until paused)
        self.period = 0.0  # wall seconds per step the pace allows (0 = unpaced)
        self.step_cost = 0.0  # moving average of a step that does not record, in seconds
        self.record_cost = 0.0  # what the last record cost beyond a plain step, in seconds
        self.n_records = 0
        self.last_record = 0  # step of the last record
        self.next_record = 0

    def due(self, step: int) -> bool:
        """True when the step about to run (`step` steps done so far) should record."""
        return step >= self.next_record

    def plain_step(self, seconds: float) -> None:
        """A step that did not record took `seconds`."""
        self.step_cost = seconds if self.step_cost == 0 else 0.9 * self.step_cost + 0.1 * seconds

    def recorded(self, step: int, cost: float) -> None:
        """Step `step` recorded at an extra `cost` seconds (an estimate); schedule the next record."""
        self.record_cost = cost
        self.n_records += 1
        self.last_record = step
        self.schedule(step)

    def set_period(self, period: float, share: float | None = None) -> None:
        """The pace (or this run's share of dense recording) changed: reschedule the next record at once."""
        share = self.share if share is None else share
        if period != self.period or share != self.share:
            self.period, self.share = period, share
            if self.n_records:
                self.schedule(self.last_record)

    def settle(self, step: int, cost: float) -> None:
        """The full extra cost of the record at `step`, known one step later; reschedule from it."""
        if self.fixed_every or self.n_records < 2:
            return  # the first record's gap is the probe gap, whatever it cost
        self.record_cost = max(0.0, cost)
        self.schedule(step)

    def thinned(self) -> None:
        """The history dropped every other snapshot: record at the thinned density from now on."""
        self.every *= 2

    def gap(self) -> int:
        """Steps from one record to the next under the current costs, pace and thinning."""
        if self.fixed_every:
            return self.every
        paced = self.period > 0
        if self.n_records <= 1:
            gap = 1 if paced else self.probe_gap  # a paced run has time to spare before costs are known
        elif paced:  # the pace's budget needs no plain step's cost: a run that records every step has none
            idle = self.dense_share * max(0.0, self.period - self.step_cost)
            allowed = max(self.budget * self.step_cost, min(idle, self.dense_cpu * self.period) * self.share)
            gap = math.ceil(self.record_cost / allowed)
        elif self.step_cost > 0:
            gap = math.ceil(self.record_cost / (self.budget * self.step_cost))  # seconds each step may pay for
        else:
            gap = self.probe_gap
        # Never so sparse that a run shows fewer than about `min_snapshots` snapshots...
        gap = min(gap, max(self.probe_gap, self.planned_steps // self.min_snapshots))
        if paced:  # ...nor, when dense, more than the history keeps (more would only be thinned away)
            gap = max(gap, math.ceil(self.planned_steps / self.max_snapshots))
        return max(gap, self.every, 1)

    def schedule(self, step: int) -> None:
        """Set the next recording step after a record at `step`."""
        self.next_record = step - 1 + self.gap()  # `due` compares steps done before the step runs
