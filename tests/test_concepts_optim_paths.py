"""lab.concepts.optim_paths: paths equal hand-rolled torch.optim loops and closed forms; minima are where expected."""

import math

import pytest
import torch

from lab import registry
from lab.concepts import optim_paths as op
from lab.config import ConfigError

KNOBS = {"momentum": 0.8, "beta1": 0.85, "beta2": 0.99, "rms_alpha": 0.95, "eps": 1e-6, "weight_decay": 0.01}


def _torch_optimizer(name: str, p: torch.Tensor, lr: float) -> torch.optim.Optimizer:
    """The optimizer written out directly with torch.optim, independent of lab.engine.optim's builder table."""
    k = KNOBS
    return {
        "sgd": lambda: torch.optim.SGD([p], lr=lr, weight_decay=k["weight_decay"]),
        "momentum": lambda: torch.optim.SGD([p], lr=lr, momentum=k["momentum"], weight_decay=k["weight_decay"]),
        "nesterov": lambda: torch.optim.SGD(
            [p], lr=lr, momentum=k["momentum"], nesterov=True, weight_decay=k["weight_decay"]
        ),
        "adagrad": lambda: torch.optim.Adagrad([p], lr=lr, eps=k["eps"], weight_decay=k["weight_decay"]),
        "rmsprop": lambda: torch.optim.RMSprop(
            [p], lr=lr, alpha=k["rms_alpha"], eps=k["eps"], weight_decay=k["weight_decay"]
        ),
        "adam": lambda: torch.optim.Adam(
            [p], lr=lr, betas=(k["beta1"], k["beta2"]), eps=k["eps"], weight_decay=k["weight_decay"]
        ),
        "adamw": lambda: torch.optim.AdamW(
            [p], lr=lr, betas=(k["beta1"], k["beta2"]), eps=k["eps"], weight_decay=k["weight_decay"]
        ),
    }[name]()


@pytest.mark.parametrize("name", list(registry.OPTIMIZERS))
@pytest.mark.parametrize("surface", ["rosenbrock", "wells"])
def test_path_equals_hand_rolled_torch_optim_loop(name: str, surface: str) -> None:
    """Same start, same function, same knobs: the page's path is the torch.optim loop's, step for step."""
    s = op.SURFACES[surface]
    lr = s.suggested_lr(name)
    got = op.trajectory(surface, op.optimizer_config(name, lr, **KNOBS), 60)
    p = torch.tensor(s.start, dtype=torch.float64, requires_grad=True)
    opt = _torch_optimizer(name, p, lr)
    want, losses = [tuple(s.start)], []
    for _ in range(60):
        opt.zero_grad()
        loss = s.fn(p[0], p[1])
        losses.append(loss.item())
        loss.backward()
        opt.step()
        want.append(tuple(p.detach().tolist()))
    losses.append(s.fn(*p.detach()).item())
    assert not got.diverged
    assert got.xy == want  # bit for bit: the very same update rule
    assert got.loss == pytest.approx(losses, rel=1e-12, abs=1e-15)


def test_sgd_on_the_ravine_matches_the_closed_form() -> None:
    """f = 0.05 x^2 + 5 y^2: plain SGD multiplies x by (1 - 0.1 lr) and y by (1 - 10 lr) every step."""
    lr, steps = 0.18, 40
    path = op.trajectory("ravine", op.optimizer_config("sgd", lr), steps)
    x0, y0 = op.SURFACES["ravine"].start
    for t, (x, y) in enumerate(path.xy):
        assert x == pytest.approx(x0 * (1 - 0.1 * lr) ** t, rel=1e-12)
        assert y == pytest.approx(y0 * (1 - 10 * lr) ** t, rel=1e-9, abs=1e-15)


def test_momentum_matches_heavy_ball_by_hand() -> None:
    """torch's momentum: v = mu v + g, p = p - lr v (v starts at g); recomputed on the ravine with plain floats."""
    lr, mu = 0.03, 0.9
    path = op.trajectory("ravine", op.optimizer_config("momentum", lr, momentum=mu), 30)
    x, y = op.SURFACES["ravine"].start
    vx = vy = None
    for t in range(30):
        gx, gy = 0.1 * x, 10.0 * y
        vx, vy = (gx, gy) if vx is None else (mu * vx + gx, mu * vy + gy)
        x, y = x - lr * vx, y - lr * vy
        assert path.xy[t + 1] == pytest.approx((x, y), rel=1e-12, abs=1e-15)


def test_minima_are_where_theory_puts_them() -> None:
    """Rosenbrock at (1, 1) with 0, the saddle's minima at (0, +-1) with -1/4, the wells' minimum below its dips."""
    (x, y), v = op.minimum("rosenbrock")
    assert (x, y, v) == pytest.approx((1.0, 1.0, 0.0), abs=1e-9)
    (x, y), v = op.minimum("saddle")
    assert (x, abs(y), v) == pytest.approx((0.0, 1.0, -0.25), abs=1e-9)
    (x, y), v = op.minimum("wells")
    s = op.SURFACES["wells"]
    p = torch.tensor([x, y], dtype=torch.float64)
    assert torch.func.grad(s.value)(p).abs().max() < 1e-9
    for cx, cy, _, _ in op.WELLS[1:]:
        assert v < s.fn(torch.tensor(cx), torch.tensor(cy)).item()  # deeper than the local dips


def test_grid_orientation() -> None:
    """z[i][j] is f at (xs[j], ys[i]): the layout Plotly's contour expects."""
    xs, ys, z = op.grid("rosenbrock", n=7)
    assert len(z) == len(ys) == 7 and len(z[0]) == len(xs)
    assert z[2][5] == pytest.approx((1 - xs[5]) ** 2 + 100 * (ys[2] - xs[5] ** 2) ** 2)


def test_divergence_is_reported_not_raised() -> None:
    """A rate far too large leaves the surface: the path stops early and says so."""
    path = op.trajectory("rosenbrock", op.optimizer_config("sgd", 0.1), 200)
    assert path.diverged and len(path.xy) < 200 and len(path.loss) == len(path.xy)


@pytest.mark.parametrize("surface", list(op.SURFACES))
def test_suggested_rates_do_not_blow_up(surface: str) -> None:
    """Every optimizer's offered default moves without diverging (the property the rates were chosen for)."""
    for name in registry.OPTIMIZERS:
        path = op.trajectory(surface, op.optimizer_config(name, op.SURFACES[surface].suggested_lr(name)), 150)
        assert not path.diverged and all(math.isfinite(v) for v in path.loss), name


def test_unknown_optimizer_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        op.optimizer_config("lbfgs", 0.1)


def test_joint_run_equals_separate_runs() -> None:
    """Sharing one forward/backward pass between optimizers changes nothing: each path is the one it has alone,
    including a diverging one that stops early while the others go on."""
    for surface in ("wells", "rosenbrock"):
        cfgs = [op.optimizer_config(n, op.SURFACES[surface].suggested_lr(n)) for n in registry.OPTIMIZERS]
        assert op.trajectories(surface, cfgs, 80) == [op.trajectory(surface, c, 80) for c in cfgs]
    cfgs.append(op.optimizer_config("sgd", 0.1))  # far too large for Rosenbrock's steep walls
    joint = op.trajectories("rosenbrock", cfgs, 80)
    alone = [op.trajectory("rosenbrock", c, 80) for c in cfgs]
    assert joint == alone
    assert joint[-1].diverged and not any(p.diverged for p in joint[:-1])
