"""Hyperparameter search: grid or random sampling, coarse to fine, trials trained by the job manager.

Optuna does the sampling (`GridSampler`, `RandomSampler`; log-uniform for rates) and
the bookkeeping: one study per search in an RDB storage on SQLite next to the run
store, each trial carrying its run id, round and outcome as user attributes, so any
later session can reload the table. We use Optuna's ask-and-tell interface because
the objective is not a Python function here: a trial is a run in the job manager.

A `Search` is advanced by `pump(jobs)`, called from the page's polling fragment (or a
test loop): it records finished runs, starts the next round when one is complete,
and submits new trials while the search's owner has capacity, so trials of one
search train in parallel in different worker processes.

Coarse to fine: with `rounds` > 1 the budget is split over rounds; each new round
searches a window `zoom` times as wide as the previous one (on a log scale for rates),
centred on the best value so far and kept inside the setting's allowed range.
"""

from __future__ import annotations

import math
import secrets
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import optuna
import pandas as pd
from optuna.distributions import FloatDistribution, IntDistribution
from optuna.trial import TrialState

from lab.config import FIELDS, ConfigError, RunConfig, field_type

optuna.logging.set_verbosity(optuna.logging.WARNING)  # one INFO line per trial would flood the server log

MAX_TRIALS = 100
MAX_ROUNDS = 5
MAX_PARAMS = 4
MAX_EPOCHS = 100
EDGE = 0.1  # the best value within 10% of the range (log scale for rates) of a border counts as "on the border"
FINAL = ("completed", "stopped", "diverged", "failed", "interrupted")

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
        params = tuple(Param(p["name"], p["low"], p["high"], p["log"], tuple(p["values"])) for p in data["params"])
        return cls(**{**data, "params": params})


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


def border_warnings(params: tuple[Param, ...], best: dict) -> list[str]:
    """One sentence per parameter whose best value sits on the border of its searched range."""
    out = []
    for p in params:
        if p.name not in best:
            continue
        v = best[p.name]
        pos = p.position(v)
        scale = "log scale" if p.log else "linear scale"
        if pos <= EDGE:
            out.append(
                f"The best {p.name} = {v:.3g} sits on the lower border of the range {p.low:.3g} to "
                f"{p.high:.3g} ({scale}): better values may lie below it. Extend the range downwards."
            )
        elif pos >= 1 - EDGE:
            out.append(
                f"The best {p.name} = {v:.3g} sits on the upper border of the range {p.low:.3g} to "
                f"{p.high:.3g} ({scale}): better values may lie above it. Extend the range upwards."
            )
    return out


def trial_config(base: RunConfig, params: dict, epochs: int) -> RunConfig:
    """The base config with a trial's values and a short fixed budget (same seed: only the settings differ)."""
    values = {k: int(round(v)) if field_type(k) is int else float(v) for k, v in params.items()}
    return base.replace(**values, epochs=epochs, max_steps=0)


def describe(params: dict) -> str:
    """'lr=0.003, weight_decay=1e-05': a trial's values for labels and tables."""
    return ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items())


# ---- storage ------------------------------------------------------------------------------------------------------

_storages: dict[str, optuna.storages.RDBStorage] = {}
_storage_lock = threading.Lock()


def storage_path(store_path: str | Path) -> Path:
    """The Optuna database next to the run store: runs.db -> runs.optuna.db."""
    p = Path(store_path)
    return p.with_name(f"{p.stem}.optuna.db")


def open_storage(path: str | Path) -> optuna.storages.RDBStorage:
    """The process's one RDBStorage for an SQLite file (creating the schema costs a second; do it once)."""
    key = str(Path(path).resolve())
    with _storage_lock:
        if key not in _storages:
            Path(key).parent.mkdir(parents=True, exist_ok=True)
            # A generous busy timeout: several sessions may write trials at the same moment.
            _storages[key] = optuna.storages.RDBStorage(
                f"sqlite:///{key}", engine_kwargs={"connect_args": {"timeout": 30}}
            )
        return _storages[key]


def list_studies(storage, token: str) -> list[dict]:
    """The studies of one session (owner = token or '<token>:<workflow>'), newest first."""
    out = []
    for s in optuna.get_all_study_summaries(storage, include_best_trial=False):
        attrs = s.user_attrs
        owner = str(attrs.get("owner", ""))
        if not token or not (owner == token or owner.startswith(f"{token}:")):
            continue
        out.append(
            {
                "name": s.study_name,
                "label": attrs.get("label", ""),
                "created": attrs.get("created", 0.0),
                "trials": s.n_trials,
                "owner": attrs.get("owner", ""),
            }
        )
    return sorted(out, key=lambda d: -d["created"])


def load_study(storage, name: str) -> optuna.Study:
    """A stored study by name (to show a past search)."""
    return optuna.load_study(study_name=name, storage=storage)


def _tell(study: optuna.Study, number: int, value: float | None, state: TrialState) -> None:
    try:
        study.tell(number, value if state == TrialState.COMPLETE else None, state=state, skip_if_finished=True)
    except RuntimeError:
        # GridSampler.after_trial calls study.stop() once the grid is used up, which Optuna allows only inside
        # optimize(); with ask-and-tell it raises after the result has been stored, so nothing is lost.
        pass


def record_run(study: optuna.Study, trial: optuna.trial.Trial | int, row: dict | None) -> None:
    """Tell Optuna how a trial's run ended: its final val accuracy, or a failed trial.

    With the live `Trial` object the run's status and figures are kept as user attributes
    too; a bare trial number (a reloaded study) records only the outcome, and the table
    reads the rest from the run store.
    """
    row = row or {"status": "failed", "reason": "the run disappeared from the store", "summary": {}}
    summary = row.get("summary", {})
    if not isinstance(trial, int):
        attrs = {
            "status": row.get("status", ""),
            "reason": row.get("reason", ""),
            **{k: summary[k] for k in ("val_acc", "val_loss", "train_acc", "steps") if summary.get(k) is not None},
        }
        try:
            for key, value in attrs.items():
                trial.set_user_attr(key, value)
        except optuna.exceptions.UpdateFinishedTrialError:
            return  # another page (a reloaded view of the same study) recorded it first; the outcome is the same
    value = summary.get("val_acc")
    ok = row.get("status") == "completed" and value is not None and math.isfinite(value)
    _tell(
        study,
        trial if isinstance(trial, int) else trial.number,
        value if ok else None,
        TrialState.COMPLETE if ok else TrialState.FAIL,
    )


def sync_study(study: optuna.Study, store) -> int:
    """Record trials whose runs ended while nobody was pumping (e.g. the tab was closed); returns how many."""
    n = 0
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        run_id = t.user_attrs.get("run_id")
        row = store.get_run(run_id) if run_id else None
        if row is not None and row["status"] in FINAL:
            record_run(study, t.number, row)
            n += 1
    return n


def rounds_of(study: optuna.Study) -> list[tuple[Param, ...]]:
    """The parameter ranges each round searched (stored on the study)."""
    return [
        tuple(Param(p["name"], p["low"], p["high"], p["log"], tuple(p["values"])) for p in r)
        for r in study.user_attrs.get("rounds", [])
    ]


def trials_frame(study: optuna.Study, store=None) -> pd.DataFrame:
    """One row per trial: number, round, state, run status, the searched values, val accuracy and loss."""
    rows = []
    for t in study.get_trials(deepcopy=False):
        attrs = t.user_attrs
        run_id = attrs.get("run_id", "")
        status, val_acc, val_loss = attrs.get("status", ""), attrs.get("val_acc"), attrs.get("val_loss")
        if (t.state == TrialState.RUNNING or not status) and store is not None and run_id:
            row = store.get_run(run_id)  # live progress, or a reloaded trial recorded by number only
            summary = row.get("summary", {}) if row else {}
            status = row["status"] if row else "deleted"
            val_acc, val_loss = summary.get("val_acc", val_acc), summary.get("val_loss", val_loss)
        elif t.state == TrialState.RUNNING and not run_id:
            status = "waiting"
        rows.append(
            {
                "trial": t.number + 1,
                "round": attrs.get("round", 0) + 1,
                "state": t.state.name.lower(),
                "status": status,
                **t.params,
                "val_acc": t.value if t.value is not None else val_acc,
                "val_loss": val_loss,
                "run_id": run_id,
            }
        )
    columns = ["trial", "round", "state", "status", "val_acc", "val_loss", "run_id"]
    return pd.DataFrame(rows, columns=None if rows else columns)


def best_trial(study: optuna.Study) -> optuna.trial.FrozenTrial | None:
    """The completed trial with the highest validation accuracy (None before any completes)."""
    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    return max(done, key=lambda t: t.value) if done else None


def study_warnings(study: optuna.Study) -> list[str]:
    """Border warnings for the best trial against the range of the round it came from."""
    best = best_trial(study)
    rounds = rounds_of(study)
    if best is None or not rounds:
        return []
    return border_warnings(rounds[min(best.user_attrs.get("round", 0), len(rounds) - 1)], best.params)


# ---- the runner -----------------------------------------------------------------------------------------------------


@dataclass
class Search:
    """One search in progress: an Optuna study whose trials are runs in the job manager."""

    study: optuna.Study
    spec: SearchSpec
    base: RunConfig
    owner: str
    label: str = ""
    round: int = 0
    params: tuple[Param, ...] = ()  # the current round's ranges
    round_target: int = 0  # trials this round runs
    asked: int = 0  # trials asked in this round
    running: dict[int, str] = field(default_factory=dict)  # trial number -> run id
    waiting: list[optuna.trial.Trial] = field(default_factory=list)  # asked, not yet submitted (no capacity then)
    trials: dict[int, optuna.trial.Trial] = field(default_factory=dict)  # live Trial objects of unfinished trials
    finished: bool = False
    stopped: bool = False
    message: str = ""  # the last problem worth showing (capacity, a refused config)
    started: float = field(default_factory=time.time)
    ended: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @classmethod
    def create(cls, storage, spec: SearchSpec, base: RunConfig, owner: str, label: str = "search") -> Search:
        """Validate, create the study (owner, spec, base config and first round stored on it) and return the runner."""
        spec.check()
        base.validate()
        name = f"{label}-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}"
        study = optuna.create_study(storage=storage, study_name=name, direction="maximize")
        for key, value in (
            ("owner", owner),
            ("label", label),
            ("created", time.time()),
            ("spec", spec.to_dict()),
            ("base", base.to_dict()),
            ("rounds", []),
        ):
            study.set_user_attr(key, value)
        search = cls(study=study, spec=spec, base=base, owner=owner, label=label)
        search._start_round(0, spec.params)
        return search

    @property
    def done_count(self) -> int:
        """Trials that have ended (complete or failed)."""
        return sum(1 for t in self.study.get_trials(deepcopy=False) if t.state.is_finished())

    @property
    def total(self) -> int:
        """Trials this search will run: those asked so far plus the planned rest of the budget."""
        asked_before = len(self.study.get_trials(deepcopy=False)) - self.asked
        if self.finished:
            return asked_before + self.asked
        left = self.spec.budget - asked_before - self.round_target
        return asked_before + self.round_target + max(0, left if self.round < self.spec.rounds - 1 else 0)

    def _sampler(self, r: int, params: tuple[Param, ...]) -> optuna.samplers.BaseSampler:
        if self.spec.mode == "grid":
            k = grid_points(self.round_target, len(params))
            return optuna.samplers.GridSampler({p.name: p.grid(k) for p in params}, seed=self.spec.seed + r)
        return optuna.samplers.RandomSampler(seed=self.spec.seed + r)

    def _start_round(self, r: int, params: tuple[Param, ...]) -> None:
        used = len(self.study.get_trials(deepcopy=False))
        self.round, self.params, self.asked = r, params, 0
        self.round_target = min(self.spec.round_size(r, params, self.spec.budget - used), self.spec.budget - used)
        self.study.sampler = self._sampler(r, params)
        rounds = self.study.user_attrs.get("rounds", []) + [[asdict(p) for p in params]]
        self.study.set_user_attr("rounds", rounds)

    def _capacity(self, jobs) -> int:
        return jobs.settings.max_runs_per_session - len(jobs.active_runs(self.owner))

    def pump(self, jobs) -> None:
        """Record ended runs, move to the next round when one is complete, and submit trials while there is room."""
        if not self._lock.acquire(blocking=False):
            return  # another rerun of the page is pumping this search right now
        try:
            self._pump(jobs)
        finally:
            self._lock.release()

    def _pump(self, jobs) -> None:
        from lab.jobs import CapacityError  # the web process imports jobs anyway; keep this module light for tests

        for number, run_id in list(self.running.items()):
            if not jobs.is_active(run_id):
                del self.running[number]
                record_run(self.study, self.trials.pop(number), jobs.store.get_run(run_id))
        if self.finished:
            return
        if self.stopped:
            if not self.running:
                self.finished, self.ended = True, time.time()
            return
        if self.asked >= self.round_target and not self.running and not self.waiting:
            if self.round + 1 < self.spec.rounds and len(self.study.trials) < self.spec.budget:
                best = best_trial(self.study)
                self._start_round(self.round + 1, zoom_params(self.params, best.params if best else {}, self.spec.zoom))
            else:
                self.finished, self.ended = True, time.time()
                return
        while self._capacity(jobs) > 0 and (self.waiting or self.asked < self.round_target):
            if self.waiting:
                trial = self.waiting.pop(0)
            else:
                trial = self.study.ask({p.name: p.distribution() for p in self.params})
                trial.set_user_attr("round", self.round)
                self.asked += 1
            number, params = trial.number, trial.params
            try:
                cfg = trial_config(self.base, params, self.spec.epochs)
                run_id = jobs.submit(cfg, owner=self.owner, label=f"{self.label} #{number + 1}: {describe(params)}")
            except CapacityError as e:
                self.waiting.insert(0, trial)
                self.message = str(e)
                return
            except ConfigError as e:  # e.g. a sampled width the server's parameter cap refuses
                self.message = f"trial {number + 1} skipped: {e}"
                record_run(self.study, trial, {"status": "failed", "reason": str(e), "summary": {}})
                continue
            trial.set_user_attr("run_id", run_id)
            self.trials[number] = trial
            self.running[number] = run_id
            self.message = ""

    def stop(self, jobs) -> None:
        """Stop every running trial and ask for no more; unsubmitted trials are marked failed."""
        with self._lock:
            self.stopped = True
            for trial in self.waiting:
                record_run(self.study, trial, {"status": "stopped", "reason": "the search was stopped", "summary": {}})
            self.waiting.clear()
            for run_id in self.running.values():
                jobs.stop(run_id)
        self.pump(jobs)
