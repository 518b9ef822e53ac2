"""Optimizers on 2D loss surfaces: the engine's own torch.optim optimizers moving a 2-parameter tensor.

`trajectory` builds the optimizer with `lab.engine.optim.make_optimizer` from a RunConfig, exactly as the trainer
does, and records where the two parameters go. Surfaces are plain torch functions of (x, y), so autograd
supplies the gradients and the same function draws the contour plot.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from lab.config import RunConfig
from lab.engine.optim import make_optimizer

Fn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _ravine(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    # Curvature 0.1 along x and 10 along y: a condition number of 100.
    return 0.05 * x**2 + 5.0 * y**2


def _rosenbrock(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return (1.0 - x) ** 2 + 100.0 * (y - x**2) ** 2


def _saddle(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    # A saddle at the origin (up along x, down along y); the quartic term adds two minima at y = +-1.
    return 0.5 * x**2 - 0.5 * y**2 + 0.25 * y**4


WELLS = ((1.5, 1.0, 2.0, 1.0), (-1.5, 0.0, 0.7, 0.6), (1.0, -2.5, 0.8, 0.5))  # (cx, cy, depth, width)
_W = torch.tensor(WELLS, dtype=torch.float64)


def _wells(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    # A bowl around the deep dip plus two shallow dips: one global minimum and two local ones. The shallow dip
    # at (-1.5, 0) sits on the way down from the start, so plain SGD stops there while momentum rolls through.
    # The dips are evaluated together (a trailing dim of 3), fewer tiny operations than a loop over them.
    cx, cy, depth, width = _W.unbind(1)
    r2 = (x[..., None] - cx) ** 2 + (y[..., None] - cy) ** 2
    return 0.1 * ((x - 1.5) ** 2 + y**2) - (depth * torch.exp(-r2 / (2 * width**2))).sum(-1)


@dataclass(frozen=True)
class Surface:
    """A 2D loss surface with its plotting window, start point and suggested learning rates."""

    key: str
    label: str
    help: str
    fn: Fn
    x_range: tuple[float, float]
    y_range: tuple[float, float]
    start: tuple[float, float]
    min_guess: tuple[float, float]  # near the global minimum; `minimum` polishes it
    # Per optimizer, a rate that moves visibly within ~150 steps without blowing up (found by a sweep over
    # 1e-4..1). Adaptive optimizers take steps of about lr whatever the gradient, SGD steps of lr x gradient,
    # so one shared rate would either freeze one family or blow up the other.
    lrs: tuple[tuple[str, float], ...]

    def value(self, p: torch.Tensor) -> torch.Tensor:
        """f at a point p = (x, y)."""
        return self.fn(p[..., 0], p[..., 1])

    def suggested_lr(self, optimizer: str) -> float:
        """The starting learning rate the page offers for an optimizer on this surface."""
        table = dict(self.lrs)
        return table.get(optimizer, table["adam"] if optimizer == "adamw" else table["sgd"])


SURFACES: dict[str, Surface] = {
    s.key: s
    for s in (
        Surface(
            "ravine",
            "Ill-conditioned ravine",
            "A long narrow valley: steep across, almost flat along.",
            _ravine,
            (-10.0, 10.0),
            (-3.0, 3.0),
            (-9.0, 2.0),
            (0.0, 0.0),
            (("sgd", 0.18), ("momentum", 0.03), ("nesterov", 0.03), ("adagrad", 1.0), ("rmsprop", 0.1), ("adam", 0.3)),
        ),
        Surface(
            "rosenbrock",
            "Rosenbrock",
            "A curved banana-shaped valley; the minimum at (1, 1) is easy to find and slow to reach.",
            _rosenbrock,
            (-2.0, 2.0),
            (-1.0, 3.0),
            (-1.5, 2.0),
            (1.0, 1.0),
            (("sgd", 1e-3), ("momentum", 1e-3), ("nesterov", 1e-3), ("adagrad", 0.5), ("rmsprop", 0.01), ("adam", 0.2)),
        ),
        Surface(
            "saddle",
            "Saddle",
            "Flat at the origin but not a minimum: the way down is along y.",
            _saddle,
            (-3.0, 3.0),
            (-2.0, 2.0),
            (-2.5, 1e-3),
            (0.0, 1.0),
            (
                ("sgd", 0.05),
                ("momentum", 0.05),
                ("nesterov", 0.05),
                ("adagrad", 0.3),
                ("rmsprop", 0.05),
                ("adam", 0.05),
            ),
        ),
        Surface(
            "wells",
            "Several minima",
            "Three dips of different depths; where you end up depends on the path.",
            _wells,
            (-4.0, 4.0),
            (-4.0, 4.0),
            (-3.5, -0.3),
            (1.5, 1.0),
            (("sgd", 0.1), ("momentum", 0.02), ("nesterov", 0.05), ("adagrad", 0.5), ("rmsprop", 0.05), ("adam", 0.1)),
        ),
    )
}


@functools.cache
def minimum(key: str) -> tuple[tuple[float, float], float]:
    """Location and value of a surface's global minimum, polished by Newton steps from its guess."""
    s = SURFACES[key]
    p = torch.tensor(s.min_guess, dtype=torch.float64)
    for _ in range(50):
        p.requires_grad_(True)
        (g,) = torch.autograd.grad(s.value(p), p, create_graph=True)
        # Two parameters: the Hessian is two backward passes through the gradient's components.
        h = torch.stack([torch.autograd.grad(g[i], p, retain_graph=True)[0] for i in range(2)])
        step = torch.linalg.solve(h, g).detach()
        p = p.detach() - step
        if float(step.abs().max()) < 1e-13:  # Newton converges quadratically: a handful of steps from the guess
            break
    with torch.no_grad():
        return (float(p[0]), float(p[1])), float(s.value(p))


def grid(key: str, n: int = 100) -> tuple[list[float], list[float], list[list[float]]]:
    """(xs, ys, z) with z[i][j] = f(xs[j], ys[i]) over the surface's window, for a contour plot."""
    s = SURFACES[key]
    xs = torch.linspace(*s.x_range, n, dtype=torch.float64)
    ys = torch.linspace(*s.y_range, n, dtype=torch.float64)
    z = s.fn(xs[None, :], ys[:, None])
    return xs.tolist(), ys.tolist(), z.tolist()


@dataclass(frozen=True)
class Path:
    """Where an optimizer took the two parameters: points and the loss at each (step 0 is the start)."""

    optimizer: str
    xy: list[tuple[float, float]]
    loss: list[float]
    diverged: bool  # stopped early because the loss or the point left any sensible range


BLOWUP = 1e6  # |x| or |y| beyond this, or a non-finite loss, ends the path as diverged


def optimizer_config(optimizer: str, lr: float, **knobs) -> RunConfig:
    """A validated RunConfig holding an optimizer and its knobs (momentum, beta1, beta2, rms_alpha, eps, ...)."""
    return RunConfig.from_dict({"optimizer": optimizer, "lr": lr, **knobs})


def trajectories(key: str, cfgs: list[RunConfig], steps: int, start: tuple[float, float] | None = None) -> list[Path]:
    """Run `steps` steps of each config's optimizer (built by make_optimizer) from the same start on surface `key`.

    Every optimizer owns its 2-parameter tensor and its torch.optim instance; they share one forward and one
    backward pass per step (the surface evaluated on all points at once), which is what makes a page with
    several optimizers fast: the surface's many tiny operations cost more than the optimizer steps. Each
    value depends on its own point only, so the gradient of their sum is each point's own gradient.
    float64 keeps round-off out of the picture; the update rule is torch.optim's either way.
    """
    s = SURFACES[key]
    ps = [torch.tensor(start or s.start, dtype=torch.float64, requires_grad=True) for _ in cfgs]
    opts = [make_optimizer([p], cfg) for p, cfg in zip(ps, cfgs, strict=True)]
    xy = [[tuple(p.detach().tolist())] for p in ps]
    losses: list[list[float]] = [[] for _ in cfgs]
    diverged = [False] * len(cfgs)
    active = list(range(len(cfgs)))
    for _ in range(steps):
        if not active:
            break
        for i in active:
            opts[i].zero_grad()
        values = s.value(torch.stack([ps[i] for i in active]))
        values.sum().backward()
        still = []
        for i, v in zip(active, values.detach().tolist(), strict=True):
            losses[i].append(v)
            opts[i].step()
            x, y = ps[i].detach().tolist()
            if not (math.isfinite(x) and math.isfinite(y)) or max(abs(x), abs(y)) > BLOWUP:
                diverged[i] = True  # the point left the surface: stop moving it, keep what it did so far
                continue
            xy[i].append((x, y))
            still.append(i)
        active = still
    out = []
    for i, cfg in enumerate(cfgs):
        if not diverged[i]:
            with torch.no_grad():
                losses[i].append(float(s.value(ps[i])))
        bad = diverged[i] or not all(math.isfinite(v) for v in losses[i])
        out.append(Path(cfg.optimizer, xy[i], losses[i][: len(xy[i])], bad))
    return out


def trajectory(key: str, cfg: RunConfig, steps: int, start: tuple[float, float] | None = None) -> Path:
    """One optimizer's path: `trajectories` with a single config."""
    return trajectories(key, [cfg], steps, start)[0]
