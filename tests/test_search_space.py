"""Search space: ranges and specs are checked by name, grids are spaced as asked, zoom stays inside the limits."""

import math

import pytest

from lab.config import FIELDS, ConfigError, RunConfig
from lab.workflows import search_space as sp
from lab.workflows.search_space import Param, SearchSpec

LR = Param("lr", 1e-4, 1e-1, log=True)
WD = Param("weight_decay", 1e-6, 1e-2, log=True)


@pytest.mark.parametrize(
    "param, field, words",
    [
        (Param("lr", 0.1, 0.01, True), "lr range", "low value below"),
        (Param("lr", 0.0, 0.1, True), "lr range", "values from 1e-07 to 10"),
        (Param("weight_decay", 0.0, 0.1, True), "weight_decay range", "above 0 on a log scale"),
        (Param("dropout", 0.0, 2.0), "dropout range", "values from 0 to 0.95"),
        (Param("optimizer", 0.0, 1.0), "search parameter", "a numeric setting"),
        (Param("depth", 2.0, 2.5), "depth range", "two whole numbers"),
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
    spec = SearchSpec(**{"params": (LR, WD), "budget": 4, **changes})
    with pytest.raises(ConfigError) as e:
        spec.check()
    assert e.value.field == field


def test_grid_values_are_log_spaced_and_ints_deduplicated():
    assert LR.grid(4) == pytest.approx([1e-4, 1e-3, 1e-2, 1e-1])
    assert Param("dropout", 0.0, 0.5).grid(3) == pytest.approx([0.0, 0.25, 0.5])
    assert Param("depth", 1, 2).grid(5) == [1, 2]
    assert sp.grid_points(9, 2) == 3 and sp.grid_points(8, 2) == 2 and sp.grid_points(4, 1) == 4


def test_zoom_centres_on_the_best_and_narrows():
    (lr,) = sp.zoom_params((LR,), {"lr": 1e-3}, 0.5)
    assert math.sqrt(lr.low * lr.high) == pytest.approx(1e-3, rel=0.01)
    assert math.log10(lr.high / lr.low) == pytest.approx(1.5, rel=0.01)


def test_zoom_follows_a_best_value_on_the_border_but_stays_within_the_setting_limits():
    (lr,) = sp.zoom_params((Param("lr", 1e-2, 10.0, True),), {"lr": 10.0}, 0.5)
    assert lr.high == 10.0 and lr.low == pytest.approx(10**-0.5, rel=0.01)  # shifted inside, same width
    (lr,) = sp.zoom_params((LR,), {"lr": 0.1}, 0.5)
    assert lr.high > 0.1  # a best value on the border moves the window beyond the old range
    (depth,) = sp.zoom_params((Param("depth", 1, 8),), {"depth": 1}, 0.2)
    assert depth.low == 0 and depth.high == 2 and isinstance(depth.low, int)


def test_trial_config_keeps_the_base_and_the_seed():
    cfg = sp.trial_config(RunConfig(seed=7, dropout=0.1), {"lr": 0.02, "width": 31.6}, epochs=2)
    assert cfg.lr == 0.02 and cfg.width == 32 and cfg.seed == 7 and cfg.dropout == 0.1 and cfg.epochs == 2


def test_param_and_spec_round_trip_through_their_stored_dicts():
    spec = SearchSpec(params=(LR, Param("depth", 1, 4, values=(1.0, 3.0))), mode="grid", budget=6, rounds=2, seed=3)
    assert SearchSpec.from_dict(spec.to_dict()) == spec
    assert Param.from_dict({"name": "lr", "low": 1e-4, "high": 0.1, "log": True, "values": [1e-3]}) == Param(
        "lr", 1e-4, 0.1, True, (1e-3,)
    )


def test_default_param_uses_the_suggested_range_and_every_default_is_searchable():
    assert sp.default_param("dropout") == Param("dropout", 0.0, 0.5, False)
    for name in sp.DEFAULT_RANGES:
        sp.default_param(name).check()  # raises if a default range left the setting's limits
        assert FIELDS[name].metadata["lo"] <= sp.DEFAULT_RANGES[name][0]


def test_is_log_looks_the_parameter_up_by_name():
    params = (LR, Param("dropout", 0.0, 0.5))
    assert sp.is_log(params, "lr") is True
    assert sp.is_log(params, "dropout") is False
    assert sp.is_log(params, "width") is False and sp.is_log(params, None) is False


def test_cast_values_rounds_whole_number_settings_only():
    assert sp.cast_values({"width": 31.6, "depth": 2.4, "lr": 1}) == {"width": 32, "depth": 2, "lr": 1.0}
    assert isinstance(sp.cast_values({"lr": 1})["lr"], float)


def test_apply_params_changes_only_the_searched_settings():
    base = RunConfig(seed=7, epochs=5, dropout=0.1)
    cfg = sp.apply_params(base, {"lr": 0.02, "weight_decay": 1e-4})
    assert cfg == base.replace(lr=0.02, weight_decay=1e-4)  # epochs and seed kept, unlike trial_config
