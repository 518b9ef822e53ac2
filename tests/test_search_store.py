"""Search storage: where the Optuna file lives, which studies a session sees, and how a run's end is told."""

import optuna
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState

from lab.workflows import search_store as ss


def test_storage_path_sits_next_to_the_run_store(tmp_path):
    assert ss.storage_path(tmp_path / "runs.db") == tmp_path / "runs.optuna.db"


def _named(storage, name: str, owner: str, created: float) -> None:
    study = optuna.create_study(storage=storage, study_name=name)
    study.set_user_attr("owner", owner)
    study.set_user_attr("created", created)


def test_list_studies_keeps_the_sessions_studies_newest_first_and_leaves_out_one():
    storage = optuna.storages.InMemoryStorage()
    _named(storage, "old", "tok", 1.0)
    _named(storage, "new", "tok:search", 2.0)
    _named(storage, "theirs", "other", 3.0)
    _named(storage, "prefix", "tokens", 4.0)  # another token that merely starts the same
    assert [s["name"] for s in ss.list_studies(storage, "tok")] == ["new", "old"]
    assert [s["name"] for s in ss.list_studies(storage, "tok", exclude="new")] == ["old"]
    assert ss.list_studies(storage, "") == []


def test_study_choices_label_each_study_with_its_trials():
    studies = [{"name": "b", "trials": 4}, {"name": "a", "trials": 1}]
    assert ss.study_choices(studies) == {"b": "b (4 trials)", "a": "a (1 trials)"}
    assert list(ss.study_choices(studies)) == ["b", "a"]  # the order given (newest first)


def _asked(study):
    return study.ask({"lr": FloatDistribution(1e-5, 1.0, log=True)})


def test_record_run_completes_a_finished_run_and_fails_the_rest():
    study = optuna.create_study(direction="maximize")
    done, diverged, gone = _asked(study), _asked(study), _asked(study)
    ss.record_run(study, done, {"status": "completed", "summary": {"val_acc": 0.8, "val_loss": 0.6}})
    ss.record_run(study, diverged.number, {"status": "diverged", "summary": {"val_acc": 0.1}})
    ss.record_run(study, gone, None)
    t = study.trials
    assert [x.state for x in t] == [TrialState.COMPLETE, TrialState.FAIL, TrialState.FAIL]
    assert t[0].value == 0.8 and t[0].user_attrs["val_loss"] == 0.6
    assert t[2].user_attrs["reason"] == "the run disappeared from the store"


def test_sync_study_records_only_runs_that_have_ended():
    study = optuna.create_study(direction="maximize")
    ended, running = _asked(study), _asked(study)
    ended.set_user_attr("run_id", "a")
    running.set_user_attr("run_id", "b")
    rows = {"a": {"status": "completed", "summary": {"val_acc": 0.7}}, "b": {"status": "running", "summary": {}}}

    class Store:
        def get_run(self, run_id):
            return rows.get(run_id)

    assert ss.sync_study(study, Store()) == 1
    assert [x.state for x in study.trials] == [TrialState.COMPLETE, TrialState.RUNNING]
