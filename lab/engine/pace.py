"""The pace of a run: how many optimizer steps a second each Speed allows, and a clock that keeps to it.

Pure Python, no torch: the worker loop and `Trainer.fit()` both use it. The rule is
`watch`: the run's planned length (its epochs, or `max_steps`) spread over `WATCH_SECONDS`,
kept between `MIN_RATE` and `MAX_RATE` steps a second; `fast`: `FAST_FACTOR` times that;
`max`: unpaced. A paced run never catches up on lost time in a burst: a run that was
starved or paused picks the pace up from where it is (`MAX_LAG`).
"""

from __future__ import annotations

import math

from lab import registry

WATCH_SECONDS = 20.0  # a run of the default size (220 steps of the digits MLP, 720 of the spiral demo) lasts this long
MIN_RATE = 5.0  # steps/s: a very short run still moves (40 steps take 8 s, not 20)
MAX_RATE = 100.0  # steps/s: a long run still changes visibly between two chart polls
FAST_FACTOR = 4.0
MAX_LAG = 0.25  # seconds of missed steps a paced run may make up at once (more would read as a jump)


def steps_per_second(speed: str, planned_steps: int) -> float:
    """The steps a second a run of `planned_steps` may take at `speed` (0.0 = unpaced)."""
    if speed not in registry.SPEEDS:
        raise ValueError(f"speed={speed!r} is invalid: choose one of: {', '.join(registry.SPEEDS)}")
    if speed == "max":
        return 0.0
    rate = min(MAX_RATE, max(MIN_RATE, planned_steps / WATCH_SECONDS))
    return rate * FAST_FACTOR if speed == "fast" else rate


class Pacer:
    """When a paced run's next step is due, and how many steps it owes now (times from `time.monotonic()`)."""

    def __init__(self, rate: float, now: float):
        self.rate = rate  # steps per second; 0 = unpaced (always due, owes any number of steps)
        self.next_due = now  # the first step is due at once: Start shows points right away

    def set_rate(self, rate: float, now: float) -> None:
        """Change the pace; a faster pace takes effect now rather than after the slower gap."""
        if rate == self.rate:
            return
        if rate > 0 and (self.rate <= 0 or rate > self.rate):
            self.next_due = min(self.next_due, now + 1.0 / rate)
        elif rate > 0:
            self.next_due = max(self.next_due, now)
        self.rate = rate

    def restart(self, now: float) -> None:
        """Resume after a pause: the next step is due now, nothing owed from the pause."""
        self.next_due = now

    def wait(self, now: float) -> float:
        """Seconds until the next step is due (0.0 when due now or unpaced)."""
        return 0.0 if self.rate <= 0 else max(0.0, self.next_due - now)

    def owed(self, now: float) -> int:
        """Steps the run may take now: 0 before its next step is due; unpaced runs are never limited."""
        if self.rate <= 0:
            return 10**9
        if now < self.next_due:
            return 0
        lag = min(now - self.next_due, MAX_LAG)
        return 1 + math.floor(lag * self.rate)

    def took(self, steps: int, now: float) -> None:
        """Account for `steps` steps taken at `now`."""
        if self.rate > 0:
            self.next_due = max(self.next_due, now - MAX_LAG) + steps / self.rate
