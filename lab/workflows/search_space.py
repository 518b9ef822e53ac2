"""What a hyperparameter search explores: the searched settings and their ranges, the spec, and zooming in.

A `Param` is one RunConfig field with a range (log-uniform for rates); a `SearchSpec`
is the whole search (grid or random, budget, rounds, zoom, epochs per trial). Coarse to
fine: each new round searches a window `zoom` times as wide as the previous one (on a
log scale for rates), centred on the best value so far and kept inside the setting's
allowed range (`zoom_params`). The runner is `lab.workflows.search`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from optuna.distributions import FloatDistribution, IntDistribution

from lab.config import FIELDS, ConfigError, RunConfig, field_type

MAX_TRIALS = 100
MAX_ROUNDS = 5
MAX_PARAMS = 4
MAX_EPOCHS = 100

# Settings worth searching, with a sensible starting range and whether to sample on a log scale.
DEFAULT_RANGES: dict[str, tuple[float, float, bool]] = {
    "lr": (1e-4, 1e-1, True),
    "weight_decay": (1e-6, 1e-2, True),
    "l2": (1e-6, 1e-2, True),
    "dropout": (0.0, 0.5, False),
    "momentum": (0.5, 0.99, False),
    "label_smoothing": (0.0, 0.2, False),
    "width": (16, 256, True),
    "depth": (1, 4, False),
    "batch_size": (16, 256, True),
}


@dataclass(frozen=True)
class Param:
    """One searched setting: a RunConfig field, its range, log or linear, optional explicit grid values."""

    name: str
    low: float
    high: float
    log: bool = False
    values: tuple[float, ...] = ()  # explicit grid values (first round of a grid search); empty = evenly spaced

    @classmethod
    def from_dict(cls, data: dict) -> Param:
        """Inverse of dataclasses.asdict (how specs and rounds are stored on a study)."""
        return cls(data["name"], data["low"], data["high"], data["log"], tuple(data["values"]))

    @property
    def is_int(self) -> bool:
        """True for whole-number settings (width, depth, batch size)."""
        return field_type(self.name) is int

    def check(self) -> None:
        """Raise ConfigError naming the setting when the range cannot be searched."""
        if self.name not in FIELDS or field_type(self.name) not in (int, float):
            numeric = sorted(n for n in FIELDS if field_type(n) in (int, float))
            raise ConfigError("search parameter", self.name, f"a numeric setting: {', '.join(numeric)}")
        meta = FIELDS[self.name].metadata
        lo, hi = meta["lo"], meta["hi"]
        where = f"{self.name} range"
        shown = f"{self.low:g}..{self.high:g}"
        if not (math.isfinite(self.low) and math.isfinite(self.high)) or self.low >= self.high:
            raise ConfigError(where, shown, "a low value below the high value")
        if self.low < lo or self.high > hi:
            raise ConfigError(where, shown, f"values from {lo:g} to {hi:g}")
        if self.log and self.low <= 0:
            raise ConfigError(where, shown, "a low value above 0 on a log scale (or turn log off)")
        if self.is_int and self.high - self.low < 1:
            raise ConfigError(where, shown, "at least two whole numbers")
        for v in self.values:
            if not self.low <= v <= self.high:
                raise ConfigError(f"{self.name} values", v, f"values inside {shown}")

    def grid(self, points: int) -> list[float]:
        """The explicit values, or `points` values evenly spaced (log or linear) from low to high."""
        if self.values:
            return list(self.values)
        if points <= 1:
            vals = [math.sqrt(self.low * self.high) if self.log else (self.low + self.high) / 2]
        elif self.log:
            vals = [self.low * (self.high / self.low) ** (i / (points - 1)) for i in range(points)]
        else:
            vals = [self.low + (self.high - self.low) * i / (points - 1) for i in range(points)]
        if self.is_int:
            return sorted({int(round(v)) for v in vals})
        return [float(f"{v:.4g}") for v in vals]

    def distribution(self) -> FloatDistribution | IntDistribution:
        """Optuna's distribution for this range (log-uniform for rates)."""
        if self.is_int:
            return IntDistribution(int(math.ceil(self.low)), int(math.floor(self.high)), log=self.log)
        values = self.values or (self.low, self.high)
        return FloatDistribution(min(self.low, *values), max(self.high, *values), log=self.log)

    def position(self, value: float) -> float:
        """Where a value sits in the range: 0 at low, 1 at high (log scale for log ranges)."""
        if self.log:
            return (math.log(value) - math.log(self.low)) / (math.log(self.high) - math.log(self.low))
        return (value - self.low) / (self.high - self.low)


def default_param(name: str) -> Param:
    """A Param with the suggested starting range for a setting."""
    low, high, log = DEFAULT_RANGES[name]
    return Param(name, low, high, log)


def is_log(params: tuple[Param, ...] | list[Param], name: str | None) -> bool:
    """True when the named parameter is searched on a log scale (False for None or a name not searched)."""
    return any(p.name == name and p.log for p in params)


@dataclass(frozen=True)
class SearchSpec:
    """What to search: parameters, grid or random, a budget of trials, rounds of zoom, epochs per trial."""

    params: tuple[Param, ...]
    mode: str = "random"  # "grid" or "random"
    budget: int = 8  # trials over all rounds
    rounds: int = 1  # 1 = a single pass; more = coarse to fine
    zoom: float = 0.5  # each round's range width as a share of the previous one
    epochs: int = 3  # epochs per trial (short: we compare settings, not train to the end)
    seed: int = 0  # the samplers' seed (the trials train with the base config's seed)

    def check(self) -> None:
        """Raise ConfigError (field, value, allowed) for any impossible part of the spec."""
        if self.mode not in ("grid", "random"):
            raise ConfigError("mode", self.mode, "grid or random")
        if not 1 <= len(self.params) <= MAX_PARAMS:
            raise ConfigError("parameters", len(self.params), f"1 to {MAX_PARAMS} settings to search")
        names = [p.name for p in self.params]
        if len(set(names)) != len(names):
            raise ConfigError("parameters", ", ".join(names), "each setting at most once")
        for p in self.params:
            p.check()
        if not 1 <= self.budget <= MAX_TRIALS:
            raise ConfigError("budget", self.budget, f"a whole number of trials from 1 to {MAX_TRIALS}")
        if not 1 <= self.rounds <= MAX_ROUNDS:
            raise ConfigError("rounds", self.rounds, f"a whole number from 1 to {MAX_ROUNDS}")
        if self.rounds > self.budget:
            raise ConfigError("rounds", self.rounds, f"at most the budget ({self.budget}): each round needs a trial")
        if not 0.05 <= self.zoom <= 1.0:
            raise ConfigError("zoom", self.zoom, "a share from 0.05 to 1 of the previous range")
        if not 1 <= self.epochs <= MAX_EPOCHS:
            raise ConfigError("epochs", self.epochs, f"a whole number from 1 to {MAX_EPOCHS}")
        if self.mode == "grid":
            first = self.round_size(0, self.params, self.budget)
            need = 2 ** len(self.params) * self.rounds
            if first > self.budget or (not any(p.values for p in self.params) and self.budget < need):
                raise ConfigError(
                    "budget",
                    self.budget,
                    f"at least {max(need, first)} for a grid over "
                    f"{len(self.params)} setting(s) in {self.rounds} round(s) (2 values each), "
                    "or use random search",
                )

    def round_size(self, r: int, params: tuple[Param, ...], remaining: int) -> int:
        """How many trials round r runs with `remaining` budget (a grid: k^n points, the largest that fits)."""
        share = math.ceil(remaining / max(1, self.rounds - r))
        if self.mode == "random":
            return share
        if any(p.values for p in params):
            return math.prod(len(p.grid(0)) for p in params)
        return math.prod(len(p.grid(grid_points(share, len(params)))) for p in params)

    def to_dict(self) -> dict:
        """JSON-ready dict (stored as a study attribute)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> SearchSpec:
        """Inverse of to_dict."""
        return cls(**{**data, "params": tuple(Param.from_dict(p) for p in data["params"])})


def grid_points(trials: int, n_params: int) -> int:
    """Values per parameter for a grid of at most `trials` points: the largest k with k^n <= trials."""
    k = max(1, int(round(trials ** (1 / n_params))))
    while k > 1 and k**n_params > trials:
        k -= 1
    return k


def zoom_params(params: tuple[Param, ...], best: dict, factor: float) -> tuple[Param, ...]:
    """Ranges `factor` times as wide, centred on the best values, shifted to stay inside each setting's limits."""
    out = []
    for p in params:
        meta = FIELDS[p.name].metadata
        lo, hi = float(meta["lo"]), float(meta["hi"])
        center = best.get(p.name, math.sqrt(p.low * p.high) if p.log else (p.low + p.high) / 2)
        if p.log:
            lo = lo if lo > 0 else p.low / 1000  # a log range cannot reach 0; stay well below the old low
        # The same centring and shifting for both scales, done in log10 space for log ranges.
        t, inv = (math.log10, lambda v: 10**v) if p.log else (float, float)
        width = factor * (t(p.high) - t(p.low))
        a, b = t(center) - width / 2, t(center) + width / 2
        if a < t(lo):
            a, b = t(lo), min(t(hi), t(lo) + width)
        if b > t(hi):
            a, b = max(t(lo), t(hi) - width), t(hi)
        new_lo, new_hi = inv(a), inv(b)
        if p.is_int:
            new_lo, new_hi = math.floor(new_lo), math.ceil(new_hi)
            if new_hi - new_lo < 1:
                new_hi = min(hi, new_lo + 1) if new_lo + 1 <= hi else new_hi
                new_lo = new_hi - 1
        else:
            new_lo, new_hi = float(f"{new_lo:.4g}"), float(f"{new_hi:.4g}")
        out.append(Param(p.name, new_lo, new_hi, p.log))
    return tuple(out)


def cast_values(params: dict) -> dict:
    """Searched values as their config fields' types (Optuna may hand back floats for whole-number settings)."""
    return {k: int(round(v)) if field_type(k) is int else float(v) for k, v in params.items()}


def apply_params(base: RunConfig, params: dict) -> RunConfig:
    """The base config with searched values, e.g. to adopt the best trial's settings."""
    return base.replace(**cast_values(params))


def trial_config(base: RunConfig, params: dict, epochs: int) -> RunConfig:
    """The base config with a trial's values and a short fixed budget (same seed: only the settings differ)."""
    return base.replace(**cast_values(params), epochs=epochs, max_steps=0)


def describe(params: dict) -> str:
    """'lr=0.003, weight_decay=1e-05': a trial's values for labels and tables."""
    return ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items())
