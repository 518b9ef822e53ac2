"""Hyperparameter search runner: an Optuna study whose trials are runs in the job manager.

Optuna does the sampling (`GridSampler`, `RandomSampler`; log-uniform for rates) and
the bookkeeping (`lab.workflows.search_store`). We use Optuna's ask-and-tell interface
because the objective is not a Python function here: a trial is a run in the job manager.

A `Search` is advanced by `pump(jobs)`, called from the page's polling fragment (or a
test loop): it records finished runs, starts the next round when one is complete,
and submits new trials while the search's owner has capacity, so trials of one
search train in parallel in different worker processes. What is searched, and how the
ranges zoom from round to round, is `lab.workflows.search_space`; reading the outcome is
`lab.workflows.search_results`.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import asdict, dataclass, field

import optuna

from lab.config import ConfigError, RunConfig
from lab.lifecycle import RunStatus
from lab.workflows.search_results import best_of, best_trial
from lab.workflows.search_space import Param, SearchSpec, describe, grid_points, trial_config, zoom_params
from lab.workflows.search_store import record_run


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

    @property
    def elapsed(self) -> float:
        """Seconds since the search started, frozen when it ended."""
        return (self.ended or time.time()) - self.started

    def progress_text(self) -> str:
        """'Trial 3 of 6 done' plus the round and the best so far (text the browser test can wait on)."""
        text = f"Trial {self.done_count} of {self.total} done"
        if self.spec.rounds > 1:
            text += f" · round {self.round + 1} of {self.spec.rounds}"
        best = best_trial(self.study)
        if best is not None:
            text += f" · best val acc {best.value:.1%} ({describe(best.params)})"
        if self.finished:
            text += " · stopped" if self.stopped else " · finished"
        return text

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
        from lab.serving.jobs import (
            CapacityError,  # the web process imports jobs anyway; keep this module light for tests
        )

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
                record_run(self.study, trial, {"status": RunStatus.FAILED, "reason": str(e), "summary": {}})
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
                record_run(
                    self.study, trial, {"status": RunStatus.STOPPED, "reason": "the search was stopped", "summary": {}}
                )
            self.waiting.clear()
            for run_id in self.running.values():
                jobs.stop(run_id)
        self.pump(jobs)


def best_finished(searches) -> optuna.trial.FrozenTrial | None:
    """The best completed trial over the searches that have finished (None entries and running ones skipped)."""
    return best_of(s.study for s in searches if s is not None and s.finished)
