"""The search runner: real parallel trials through the job manager, rounds that zoom, stop, and a reloaded study."""

import math
import time

import optuna
import pytest
from optuna.trial import TrialState

from lab.config import RunConfig
from lab.workflows import search as S
from lab.workflows import search_results as sr
from lab.workflows import search_store as ss
from lab.workflows.search_space import Param, SearchSpec
from tests.conftest import job_manager

LR = Param("lr", 1e-4, 1e-1, log=True)
WD = Param("weight_decay", 1e-6, 1e-2, log=True)


# ---- without a job manager ---------------------------------------------------------------------------------------


def _tell(search, value):
    """Ask the search's study for a trial in the current round and end it with this value (None = failed)."""
    trial = search.study.ask({p.name: p.distribution() for p in search.params})
    trial.set_user_attr("round", search.round)
    search.asked += 1
    state = TrialState.COMPLETE if value is not None else TrialState.FAIL
    search.study.tell(trial, value, state=state)
    return search.study.trials[-1]


def test_progress_text_counts_trials_and_names_the_best():
    storage = optuna.storages.InMemoryStorage()
    spec = SearchSpec(params=(LR,), mode="random", budget=4, rounds=2, epochs=1)
    search = S.Search.create(storage, spec, RunConfig(), owner="tok", label="t-text")
    assert search.progress_text() == "Trial 0 of 4 done · round 1 of 2"
    _tell(search, None)
    best = _tell(search, 0.625)
    lr = best.params["lr"]
    assert search.progress_text() == f"Trial 2 of 4 done · round 1 of 2 · best val acc 62.5% (lr={lr:.3g})"
    search.finished, search.stopped, search.ended = True, True, search.started + 12.5
    assert search.progress_text().endswith(" · stopped") and search.total == 2  # only what was asked
    assert search.elapsed == 12.5


def test_best_finished_skips_running_and_missing_searches():
    storage = optuna.storages.InMemoryStorage()
    spec = SearchSpec(params=(LR,), mode="random", budget=2, epochs=1)
    a, b = (S.Search.create(storage, spec, RunConfig(), owner="tok", label=n) for n in ("a", "b"))
    _tell(a, 0.5)
    _tell(b, 0.9)
    a.finished = True
    assert S.best_finished([a, b, None]).value == 0.5  # b is still running: its 0.9 does not count yet
    b.finished = True
    assert S.best_finished([a, b]).value == 0.9
    assert S.best_finished([None]) is None


# ---- through the job manager --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def jm(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("search")
    with job_manager(tmp, ready_timeout=300, workers=2, max_runs_per_session=2) as manager:
        yield manager


@pytest.fixture(scope="module")
def storage(jm):
    return ss.open_storage(ss.storage_path(jm.store_path))


def _drive(search, jm, timeout=240.0):
    """Pump until the search ends; returns the largest number of its runs seen training at the same moment."""
    most = 0
    t_end = time.monotonic() + timeout
    while not search.finished and time.monotonic() < t_end:
        search.pump(jm)
        rows = [jm.store.get_run(r) for r in search.running.values()]
        most = max(most, sum(1 for r in rows if r and r["status"] == "running" and r["meta"].get("step", 0) > 0))
        time.sleep(0.03)
    assert search.finished, "the search did not finish in time"
    return most


def test_random_search_runs_trials_in_parallel_and_is_reloadable(jm, storage):
    spec = SearchSpec(params=(LR, WD), mode="random", budget=4, epochs=3, seed=1)
    search = S.Search.create(storage, spec, RunConfig(), owner="tok:search", label="t-random")
    t0 = time.monotonic()
    most = _drive(search, jm)
    wall = time.monotonic() - t0
    assert most == 2, "two trials should have been training at the same time"
    assert search.done_count == search.total == 4
    run_ids = [t.user_attrs["run_id"] for t in search.study.trials]
    rows = [jm.store.get_run(r) for r in run_ids]
    assert all(r["status"] == "completed" and r["owner"] == "tok:search" for r in rows)
    # Stored intervals overlap too: trial 2's run was created before trial 1's run ended.
    first, second = sorted(rows, key=lambda r: r["created"])[:2]
    assert second["created"] < first["updated"]
    print(f"4 trials x 3 epochs: {wall:.1f} s wall")

    # A new storage object on the same file (another server process, say) sees the same trials.
    fresh = optuna.storages.RDBStorage(f"sqlite:///{ss.storage_path(jm.store_path)}")
    again = optuna.load_study(study_name=search.study.study_name, storage=fresh)
    assert [t.state for t in again.trials] == [TrialState.COMPLETE] * 4
    assert [t.user_attrs["run_id"] for t in again.trials] == run_ids
    assert [t.value for t in again.trials] == [r["summary"]["val_acc"] for r in rows]
    for t in again.trials:
        assert 1e-4 <= t.params["lr"] <= 1e-1 and 1e-6 <= t.params["weight_decay"] <= 1e-2
    df = sr.trials_frame(again, jm.store)
    assert list(df["status"]) == ["completed"] * 4 and df["val_acc"].notna().all()
    assert search.study.study_name in [s["name"] for s in ss.list_studies(fresh, "tok")]
    assert ss.list_studies(fresh, "other") == []


def test_grid_search_zooms_into_the_best_region(jm, storage):
    spec = SearchSpec(params=(LR,), mode="grid", budget=7, rounds=2, zoom=0.5, epochs=1)
    search = S.Search.create(storage, spec, RunConfig(), owner="tok:search", label="t-grid")
    _drive(search, jm)
    trials = search.study.trials
    assert len(trials) == 7 and search.total == 7  # 4 grid points (the budget split 4 + 3), then 3
    first = sorted(t.params["lr"] for t in trials if t.user_attrs["round"] == 0)
    assert first == pytest.approx([1e-4, 1e-3, 1e-2, 1e-1], rel=1e-3)  # a full grid, no point twice
    rounds = sr.rounds_of(search.study)
    assert len(rounds) == 2
    best_first = max((t for t in trials if t.user_attrs["round"] == 0 and t.value is not None), key=lambda t: t.value)
    (lr2,) = rounds[1]
    assert math.sqrt(lr2.low * lr2.high) == pytest.approx(best_first.params["lr"], rel=0.02)
    second = [t.params["lr"] for t in trials if t.user_attrs["round"] == 1]
    assert len(second) == 3 and all(lr2.low <= v <= lr2.high for v in second)
    assert len(set(second)) == 3


def test_stop_ends_running_trials(jm, storage):
    spec = SearchSpec(params=(LR,), mode="random", budget=4, epochs=100)
    search = S.Search.create(storage, spec, RunConfig(), owner="tok:stop", label="t-stop")
    t_end = time.monotonic() + 120
    while len(search.running) < 2 and time.monotonic() < t_end:
        search.pump(jm)
        time.sleep(0.05)
    search.stop(jm)
    while not search.finished and time.monotonic() < t_end:
        search.pump(jm)
        time.sleep(0.05)
    assert search.finished and search.stopped
    assert len(search.study.trials) == 2  # nothing new was asked after the stop
    assert all(t.state == TrialState.FAIL for t in search.study.trials)
    assert {jm.store.get_run(t.user_attrs["run_id"])["status"] for t in search.study.trials} == {"stopped"}


def test_sync_records_trials_that_ended_while_nobody_pumped(jm, storage):
    spec = SearchSpec(params=(LR,), mode="random", budget=1, epochs=1)
    search = S.Search.create(storage, spec, RunConfig(), owner="tok:sync", label="t-sync")
    search.pump(jm)  # submits the one trial, then the page "closes"
    (run_id,) = search.running.values()
    jm.wait(run_id, 120)
    reloaded = ss.load_study(storage, search.study.study_name)
    assert reloaded.trials[0].state == TrialState.RUNNING
    assert ss.sync_study(reloaded, jm.store) == 1
    assert ss.load_study(storage, search.study.study_name).trials[0].state == TrialState.COMPLETE
