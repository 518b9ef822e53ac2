"""Learning-rate range test: train briefly while the rate grows exponentially, and read the loss.

The test runs the project's one training loop (`Trainer`) with an extra callback that
sets the rate before every step, from `lr_min` up to `lr_max` on a log scale. The loss
is smoothed with an exponential moving average (bias-corrected, so the first points
are not dragged towards zero) and the scan stops once the smoothed loss exceeds
`stop_factor` times the best one seen: past that point the rate is too high.

Suggested rate: the rate at the lowest smoothed loss divided by 10. The lowest loss of
a rising-rate scan sits close to the edge of stability (a few steps later the loss
blows up), so a tenth of it trains fast but safely. We also report the rate where the
smoothed loss falls fastest per unit of log(lr) (searched only before the minimum),
drawn as a second marker. On digits that "steepest" rule jumped by 10x between scans
of 100 and 200 steps with SGD + momentum (it landed on the minimum itself once), while
min/10 stayed within a factor of 1.5, so min/10 is the one the recipe uses.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field

from lab.config import ConfigError, Limits, RunConfig
from lab.engine.callbacks import Callback
from lab.lifecycle import RunStatus

MIN_STEPS, MAX_STEPS = 20, 1000
LR_FLOOR, LR_CEIL = 1e-7, 10.0  # the config's own bounds on lr
SLOPE_WINDOW = 5  # points either side when measuring the slope of the smoothed curve
MIN_POINTS_FOR_SLOPE = 8  # fewer points before the minimum: no slope is reported
SAFETY = 10.0  # suggested lr = min-loss lr / SAFETY


@dataclass
class LRFinderResult:
    """The scan: rates and losses per step, the smoothed curve, the suggestion and why the scan ended."""

    lrs: list[float] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    smoothed: list[float] = field(default_factory=list)
    suggested_lr: float = math.nan  # the rate to train with: min_loss_lr / 10 (not below lr_min)
    min_loss_lr: float = math.nan  # the rate at the lowest smoothed loss
    steepest_lr: float | None = None  # the rate where the smoothed loss falls fastest (None: no descent found)
    diverged_lr: float | None = None  # the rate at which the scan stopped for divergence (None: reached lr_max)
    lr_min: float = 1e-5
    lr_max: float = 10.0
    reason: str = ""
    seconds: float = 0.0

    def to_dict(self) -> dict:
        """JSON-ready dict (for session state and the store)."""
        return asdict(self)


def exp_lr(i: int, steps: int, lr_min: float, lr_max: float) -> float:
    """The rate at step i (0-based) of an exponential sweep from lr_min to lr_max over `steps` steps."""
    return lr_min * (lr_max / lr_min) ** (i / max(1, steps - 1))


def ema(values: list[float], beta: float) -> list[float]:
    """Exponential moving average with bias correction (avg_i / (1 - beta^(i+1)))."""
    out, avg = [], 0.0
    for i, v in enumerate(values):
        avg = beta * avg + (1 - beta) * v
        out.append(avg / (1 - beta ** (i + 1)))
    return out


def steepest_lr(lrs: list[float], smoothed: list[float]) -> float | None:
    """The rate where the smoothed loss falls fastest per decade of lr, before its minimum (None if it never falls)."""
    if not lrs:
        return None
    i_min = min(range(len(smoothed)), key=smoothed.__getitem__)
    if i_min + 1 < MIN_POINTS_FOR_SLOPE:
        return None
    logs = [math.log10(x) for x in lrs]
    best_i, best_slope = 0, 0.0
    for i in range(i_min + 1):
        lo, hi = max(0, i - SLOPE_WINDOW), min(i_min, i + SLOPE_WINDOW)
        if hi == lo:
            continue
        slope = (smoothed[hi] - smoothed[lo]) / (logs[hi] - logs[lo])
        if slope < best_slope:
            best_i, best_slope = i, slope
    return lrs[best_i] if best_slope < 0 else None


def suggest_lr(lrs: list[float], smoothed: list[float]) -> tuple[float, float]:
    """(suggested lr, min-loss lr): a tenth of the rate at the lowest smoothed loss, never below the scan's start."""
    if not lrs:
        return math.nan, math.nan
    i_min = min(range(len(smoothed)), key=smoothed.__getitem__)
    return max(lrs[0], lrs[i_min] / SAFETY), lrs[i_min]


class ExponentialLR(Callback):
    """Sets the optimizer's rate before each step and stops when the smoothed loss blows up."""

    def __init__(self, steps: int, lr_min: float, lr_max: float, beta: float, stop_factor: float):
        self.steps, self.lr_min, self.lr_max = steps, lr_min, lr_max
        self.beta, self.stop_factor = beta, stop_factor
        self.lrs: list[float] = []
        self.losses: list[float] = []
        self.smoothed: list[float] = []
        self._avg = 0.0
        self.best = math.inf
        self.diverged_lr: float | None = None

    def on_batch_start(self, trainer) -> None:
        """Put this step's rate into every parameter group (after the schedule's own step)."""
        lr = exp_lr(len(self.lrs), self.steps, self.lr_min, self.lr_max)
        for group in trainer.opt.param_groups:
            group["lr"] = lr
        self.lrs.append(lr)

    def on_batch_end(self, trainer) -> None:
        """Smooth the loss and ask the trainer to stop once it exceeds stop_factor x the best."""
        loss = trainer.loss
        if not math.isfinite(loss):
            self.diverged_lr = self.lrs[-1]
            self.lrs.pop()
            trainer.request_stop(RunStatus.COMPLETED, f"the loss became {loss} at lr {self.diverged_lr:.2g}")
            return
        n = len(self.losses)
        self.losses.append(loss)
        self._avg = self.beta * self._avg + (1 - self.beta) * loss
        smooth = self._avg / (1 - self.beta ** (n + 1))
        self.smoothed.append(smooth)
        self.best = min(self.best, smooth)
        if n > 0 and smooth > self.stop_factor * self.best:
            self.diverged_lr = self.lrs[-1]
            trainer.request_stop(
                RunStatus.COMPLETED,
                f"smoothed loss {smooth:.3g} passed {self.stop_factor:g}x the best "
                f"{self.best:.3g} at lr {self.diverged_lr:.2g}",
            )


def check_args(steps: int, lr_min: float, lr_max: float, beta: float, stop_factor: float) -> None:
    """Raise ConfigError (field, value, allowed) for an impossible scan."""
    if not MIN_STEPS <= steps <= MAX_STEPS:
        raise ConfigError("lr_test_steps", steps, f"a whole number from {MIN_STEPS} to {MAX_STEPS}")
    if not LR_FLOOR <= lr_min <= LR_CEIL:
        raise ConfigError("lr_min", lr_min, f"a rate from {LR_FLOOR:g} to {LR_CEIL:g}")
    if not lr_min * 10 <= lr_max <= LR_CEIL:
        raise ConfigError("lr_max", lr_max, f"at least 10x lr_min ({lr_min * 10:g}) and at most {LR_CEIL:g}")
    if not 0.0 <= beta < 1.0:
        raise ConfigError("smoothing", beta, "a number from 0 to just below 1 (e.g. 0.9)")
    if not stop_factor > 1.0:
        raise ConfigError("stop_factor", stop_factor, "a number above 1 (e.g. 4)")


def lr_range_test(
    cfg: RunConfig,
    steps: int = 100,
    lr_min: float = 1e-5,
    lr_max: float = 10.0,
    beta: float = 0.9,
    stop_factor: float = 4.0,
    limits: Limits | None = None,
) -> LRFinderResult:
    """Sweep the rate exponentially over `steps` steps of real training on `cfg` and suggest one."""
    from lab.engine.trainer import Trainer  # torch is imported only where the test actually runs (a worker)

    check_args(steps, lr_min, lr_max, beta, stop_factor)
    t0 = time.perf_counter()
    # A constant schedule so only our callback moves the rate; evaluation only at the end (it is not needed).
    run_cfg = cfg.replace(
        schedule="constant",
        warmup_steps=0,
        scale_lr_with_batch=False,
        lr=lr_min,
        max_steps=steps,
        epochs=10_000,
        eval_every=steps,
        early_stopping=0,
    )
    sweep = ExponentialLR(steps, lr_min, lr_max, beta, stop_factor)
    trainer = Trainer(run_cfg, callbacks=[sweep], limits=limits, record=False)
    trainer.fit()
    result = LRFinderResult(
        lrs=sweep.lrs,
        losses=sweep.losses,
        smoothed=sweep.smoothed,
        lr_min=lr_min,
        lr_max=lr_max,
        diverged_lr=sweep.diverged_lr,
        seconds=time.perf_counter() - t0,
    )
    if trainer.status == RunStatus.DIVERGED and result.diverged_lr is None and sweep.lrs:
        result.diverged_lr = sweep.lrs[-1]  # the trainer's own guard stopped it first
    result.reason = trainer.reason if result.diverged_lr is not None else f"reached lr_max {lr_max:g} without diverging"
    result.suggested_lr, result.min_loss_lr = suggest_lr(result.lrs, result.smoothed)
    result.steepest_lr = steepest_lr(result.lrs, result.smoothed)
    return result
