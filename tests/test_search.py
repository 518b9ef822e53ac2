"""Hyperparameter search: ranges, specs, zoom, border warnings, and real parallel trials through the job manager."""

import math
import time

import optuna
import pytest
from optuna.trial import TrialState

from lab.config import ConfigError, RunConfig
from lab.jobs import JobManager
from lab.settings import Settings
from lab.workflows import search as S

LR = S.Param("lr", 1e-4, 1e-1, log=True)
WD = S.Param("weight_decay", 1e-6, 1e-2, log=True)


# ---- pure parts ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "param, field, words",
    [
        (S.Param("lr", 0.1, 0.01, True), "lr range", "low value below"),
        (S.Param("lr", 0.0, 0.1, True), "lr range", "values from 1e-07 to 10"),
        (S.Param("weight_decay", 0.0, 0.1, True), "weight_decay range", "above 0 on a log scale"),
        (S.Param("dropout", 0.0, 2.0), "dropout range", "values from 0 to 0.95"),
        (S.Param("optimizer", 0.0, 1.0), "search parameter", "a numeric setting"),
        (S.Param("depth", 2.0, 2.5), "depth range", "two whole numbers"),
    ],
)
def test_bad_ranges_name_the_field_value_and_rule(param, field, words):
    with pytest.raises(ConfigError) as e:
        param.check()
    assert e.value.field == field and words in str(e.value)


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"budget": 0}, "budget"),
        ({"budget": 1000}, "budget"),
        ({"rounds": 9}, "rounds"),
        ({"zoom": 2.0}, "zoom"),
        ({"epochs": 0}, "epochs"),
        ({"mode": "bayes"}, "mode"),
        ({"params": ()}, "parameters"),
        ({"params": (LR, LR)}, "parameters"),
        ({"mode": "grid", "budget": 3}, "budget"),
    ],
)
def test_bad_specs_are_refused(changes, field):
    spec = S.SearchSpec(**{"params": (LR, WD), "budget": 4, **changes})
    with pytest.raises(ConfigError) as e:
        spec.check()
    assert e.value.field == field


def test_grid_values_are_log_spaced_and_ints_deduplicated():
    assert LR.grid(4) == pytest.approx([1e-4, 1e-3, 1e-2, 1e-1])
    assert S.Param("dropout", 0.0, 0.5).grid(3) == pytest.approx([0.0, 0.25, 0.5])
    assert S.Param("depth", 1, 2).grid(5) == [1, 2]
    assert S.grid_points(9, 2) == 3 and S.grid_points(8, 2) == 2 and S.grid_points(4, 1) == 4


def test_zoom_centres_on_the_best_and_narrows():
    (lr,) = S.zoom_params((LR,), {"lr": 1e-3}, 0.5)
    assert math.sqrt(lr.low * lr.high) == pytest.approx(1e-3, rel=0.01)
    assert math.log10(lr.high / lr.low) == pytest.approx(1.5, rel=0.01)


def test_zoom_follows_a_best_value_on_the_border_but_stays_within_the_setting_limits():
    (lr,) = S.zoom_params((S.Param("lr", 1e-2, 10.0, True),), {"lr": 10.0}, 0.5)
    assert lr.high == 10.0 and lr.low == pytest.approx(10**-0.5, rel=0.01)  # shifted inside, same width
    (lr,) = S.zoom_params((LR,), {"lr": 0.1}, 0.5)
    assert lr.high > 0.1  # a best value on the border moves the window beyond the old range
    (depth,) = S.zoom_params((S.Param("depth", 1, 8),), {"depth": 1}, 0.2)
    assert depth.low == 0 and depth.high == 2 and isinstance(depth.low, int)


def test_border_warnings():
    assert S.border_warnings((LR,), {"lr": 1e-4})[0].startswith("The best lr = 0.0001 sits on the lower border")
    assert "upper border" in S.border_warnings((LR,), {"lr": 0.09})[0]
    assert S.border_warnings((LR,), {"lr": 3e-3}) == []


def test_trial_config_keeps_the_base_and_the_seed():
    cfg = S.trial_config(RunConfig(seed=7, dropout=0.1), {"lr": 0.02, "width": 31.6}, epochs=2)
    assert cfg.lr == 0.02 and cfg.width == 32 and cfg.seed == 7 and cfg.dropout == 0.1 and cfg.epochs == 2


def test_storage_path_sits_next_to_the_run_store(tmp_path):
    assert S.storage_path(tmp_path / "runs.db") == tmp_path / "runs.optuna.db"


# ---- through the job manager --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def jm(tmp_path_factory):
    path = tmp_path_factory.mktemp("search") / "runs.db"
    manager = JobManager(Settings(store=str(path), workers=2, max_runs_per_session=2))
    assert manager.wait_ready(300)
    yield manager
    manager.shutdown()


@pytest.fixture(scope="module")
def storage(jm):
    return S.open_storage(S.storage_path(jm.store_path))


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
    spec = S.SearchSpec(params=(LR, WD), mode="random", budget=4, epochs=3, seed=1)
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
    fresh = optuna.storages.RDBStorage(f"sqlite:///{S.storage_path(jm.store_path)}")
    again = optuna.load_study(study_name=search.study.study_name, storage=fresh)
    assert [t.state for t in again.trials] == [TrialState.COMPLETE] * 4
    assert [t.user_attrs["run_id"] for t in again.trials] == run_ids
    assert [t.value for t in again.trials] == [r["summary"]["val_acc"] for r in rows]
    for t in again.trials:
        assert 1e-4 <= t.params["lr"] <= 1e-1 and 1e-6 <= t.params["weight_decay"] <= 1e-2
    df = S.trials_frame(again, jm.store)
    assert list(df["status"]) == ["completed"] * 4 and df["val_acc"].notna().all()
    assert search.study.study_name in [s["name"] for s in S.list_studies(fresh, "tok")]
    assert S.list_studies(fresh, "other") == []


def test_grid_search_zooms_into_the_best_region(jm, storage):
    spec = S.SearchSpec(params=(LR,), mode="grid", budget=7, rounds=2, zoom=0.5, epochs=1)
    search = S.Search.create(storage, spec, RunConfig(), owner="tok:search", label="t-grid")
    _drive(search, jm)
    trials = search.study.trials
    assert len(trials) == 7 and search.total == 7  # 4 grid points (the budget split 4 + 3), then 3
    first = sorted(t.params["lr"] for t in trials if t.user_attrs["round"] == 0)
    assert first == pytest.approx([1e-4, 1e-3, 1e-2, 1e-1], rel=1e-3)  # a full grid, no point twice
    rounds = S.rounds_of(search.study)
    assert len(rounds) == 2
    best_first = max((t for t in trials if t.user_attrs["round"] == 0 and t.value is not None), key=lambda t: t.value)
    (lr2,) = rounds[1]
    assert math.sqrt(lr2.low * lr2.high) == pytest.approx(best_first.params["lr"], rel=0.02)
    second = [t.params["lr"] for t in trials if t.user_attrs["round"] == 1]
    assert len(second) == 3 and all(lr2.low <= v <= lr2.high for v in second)
    assert len(set(second)) == 3


def test_stop_ends_running_trials(jm, storage):
    spec = S.SearchSpec(params=(LR,), mode="random", budget=4, epochs=100)
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
    spec = S.SearchSpec(params=(LR,), mode="random", budget=1, epochs=1)
    search = S.Search.create(storage, spec, RunConfig(), owner="tok:sync", label="t-sync")
    search.pump(jm)  # submits the one trial, then the page "closes"
    (run_id,) = search.running.values()
    jm.wait(run_id, 120)
    reloaded = S.load_study(storage, search.study.study_name)
    assert reloaded.trials[0].state == TrialState.RUNNING
    assert S.sync_study(reloaded, jm.store) == 1
    assert S.load_study(storage, search.study.study_name).trials[0].state == TrialState.COMPLETE
