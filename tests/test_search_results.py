"""Reading a search: the trials table, the best trial across studies, the scatter's axes and the border warnings."""

from dataclasses import asdict

import optuna
import pytest
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState

from lab.workflows import search_results as sr
from lab.workflows.search_space import Param

LR = Param("lr", 1e-4, 1e-1, log=True)


def _study(values: list[float | None], rounds=((LR,),)) -> optuna.Study:
    """An in-memory study with one trial per value (None = failed), lr = 10^-(i+1), rounds stored as the runner does."""
    study = optuna.create_study(direction="maximize")
    study.set_user_attr("rounds", [[asdict(p) for p in r] for r in rounds])
    for i, v in enumerate(values):
        t = optuna.trial.create_trial(
            params={"lr": 10.0 ** -(i + 1)},
            distributions={"lr": FloatDistribution(1e-5, 1.0, log=True)},
            value=v,
            state=TrialState.COMPLETE if v is not None else TrialState.FAIL,
            user_attrs={"run_id": f"r{i}", "round": 0, "status": "completed" if v is not None else "failed"},
        )
        study.add_trial(t)
    return study


def test_border_warnings():
    assert sr.border_warnings((LR,), {"lr": 1e-4})[0].startswith("The best lr = 0.0001 sits on the lower border")
    assert "upper border" in sr.border_warnings((LR,), {"lr": 0.09})[0]
    assert sr.border_warnings((LR,), {"lr": 3e-3}) == []


def test_best_trial_and_best_of_pick_the_highest_completed_value():
    a, b = _study([0.5, None, 0.7]), _study([0.9, 0.2])
    assert sr.best_trial(a).value == 0.7 and sr.best_trial(a).params["lr"] == pytest.approx(1e-3)
    assert sr.best_trial(_study([None])) is None
    assert sr.best_of([a, None, b]).value == 0.9
    assert sr.best_of([_study([None]), None]) is None and sr.best_of([]) is None


def test_trials_frame_has_one_row_per_trial_with_its_values():
    df = sr.trials_frame(_study([0.5, None]))
    assert list(df["trial"]) == [1, 2] and list(df["round"]) == [1, 1]
    assert list(df["state"]) == ["complete", "fail"] and list(df["status"]) == ["completed", "failed"]
    assert df["lr"].tolist() == pytest.approx([0.1, 0.01])
    assert df["val_acc"].iloc[0] == 0.5 and list(df["run_id"]) == ["r0", "r1"]
    assert sr.param_columns(df) == ["lr"]
    empty = sr.trials_frame(optuna.create_study())
    assert list(empty.columns) == list(sr.COLUMNS) and sr.param_columns(empty) == []


def test_trials_frame_reads_a_running_trial_from_the_store():
    study = optuna.create_study(direction="maximize")
    trial = study.ask({"lr": FloatDistribution(1e-5, 1.0, log=True)})
    trial.set_user_attr("run_id", "live")

    class Store:
        def get_run(self, run_id):
            return {"status": "running", "summary": {"val_acc": 0.4, "val_loss": 1.5}} if run_id == "live" else None

    row = sr.trials_frame(study, Store()).iloc[0]
    assert (row["state"], row["status"], row["val_acc"], row["val_loss"]) == ("running", "running", 0.4, 1.5)


@pytest.mark.parametrize(
    "asked, expected",
    [
        ((None, None), ("a", "b")),  # nothing asked: the first two
        (("b", "a"), ("b", "a")),  # both searched and distinct: as asked
        (("b", "b"), ("b", "a")),  # the colour may not repeat x
        (("zz", "c"), ("a", "c")),  # an x not searched falls back to the first
    ],
)
def test_scatter_axes(asked, expected):
    assert sr.scatter_axes(["a", "b", "c"], *asked) == expected


def test_scatter_axes_with_one_or_no_setting():
    assert sr.scatter_axes(["a"], "a", "a") == ("a", None)
    assert sr.scatter_axes([], "lr", "weight_decay") == (None, None)


def test_study_warnings_use_the_range_of_the_best_trials_round():
    # lr = 0.1 (the best) sits on the upper border of 1e-4..1e-1; against a wider round it would not.
    assert "upper border" in sr.study_warnings(_study([0.9, 0.5]))[0]
    assert sr.study_warnings(_study([0.9], rounds=((Param("lr", 1e-3, 10.0, True),),))) == []
    assert sr.study_warnings(_study([None])) == []
    assert sr.rounds_of(_study([0.5])) == [(LR,)]
