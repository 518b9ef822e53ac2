"""RunConfig: JSON and URL round-trips, validation messages, limits."""

import json
from dataclasses import fields

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lab import registry
from lab.config import FIELDS, ConfigError, Limits, RunConfig, field_type


def _value_strategy(f):
    kind = field_type(f.name)
    if f.name in registry.CHOICES:
        return st.sampled_from(list(registry.CHOICES[f.name]))
    lo, hi = f.metadata["lo"], f.metadata["hi"]
    if kind is bool:
        return st.booleans()
    if kind is int:
        return st.integers(min_value=int(lo), max_value=int(min(hi, 10**6)))
    return st.floats(min_value=lo, max_value=hi, allow_nan=False, allow_infinity=False)


def _configs():
    # Only fields without cross-field rules vary freely; that keeps every draw valid.
    free = [
        f
        for f in fields(RunConfig)
        if f.name
        not in ("stochastic_depth", "mixup", "cutmix", "activation", "subset", "toy_samples", "max_steps", "batch_size")
    ]
    return st.fixed_dictionaries({f.name: _value_strategy(f) for f in free}).map(lambda d: RunConfig.from_dict(d))


@settings(max_examples=60, deadline=None)
@given(_configs())
def test_json_round_trip_is_lossless(cfg):
    assert RunConfig.from_json(cfg.to_json()) == cfg


@settings(max_examples=60, deadline=None)
@given(_configs())
def test_query_round_trip_is_lossless(cfg):
    q = cfg.to_query()
    assert all(isinstance(v, str) for v in q.values())
    assert RunConfig.from_query(q) == cfg


def test_query_holds_only_changes_and_the_seed():
    cfg = RunConfig(lr=0.1, seed=7)
    assert cfg.to_query() == {"lr": "0.1", "seed": "7"}


def test_every_choice_field_has_a_registry_default():
    for name, options in registry.CHOICES.items():
        assert name in FIELDS
        assert FIELDS[name].default in options


def test_every_field_is_documented_and_grouped():
    for f in fields(RunConfig):
        assert f.metadata["help"] and f.metadata["group"]


@pytest.mark.parametrize(
    "params, field, words",
    [
        ({"activation": "relux"}, "activation", "choose one of: sigmoid"),
        ({"lr": "abc"}, "lr", "a number"),
        ({"lr": "-1"}, "lr", "from 1e-07 to 10"),
        ({"lr": "nan"}, "lr", "finite"),
        ({"depth": "2.5"}, "depth", "whole number"),
        ({"aug_flip": "maybe"}, "aug_flip", "true or false"),
        ({"colour": "red"}, "colour", "unknown setting"),
        ({"batch_size": "5000"}, "batch_size", "at most 1024"),
        ({"stochastic_depth": "0.2"}, "stochastic_depth", "residual"),
    ],
)
def test_bad_values_name_field_value_and_allowed(params, field, words):
    with pytest.raises(ConfigError) as e:
        RunConfig.from_query(params)
    assert e.value.field == field
    msg = str(e.value)
    assert "\n" not in msg and field in msg and words in msg
    assert list(params.values())[0] in msg


def test_wrong_json_types_are_rejected():
    with pytest.raises(ConfigError, match="a whole number"):
        RunConfig.from_dict({"depth": 2.0})
    with pytest.raises(ConfigError, match="true or false"):
        RunConfig.from_dict({"batch_norm": 1})
    assert RunConfig.from_dict({"lr": 1}).lr == 1.0  # a JSON integer is a fine float


def test_bad_json_text():
    with pytest.raises(ConfigError, match="valid JSON"):
        RunConfig.from_json("{not json")
    with pytest.raises(ConfigError, match="JSON object"):
        RunConfig.from_json(json.dumps([1, 2]))


def test_limits_are_configurable():
    small = Limits(max_batch=32)
    with pytest.raises(ConfigError, match="at most 32"):
        RunConfig(batch_size=64).validate(small)
    RunConfig(batch_size=64).validate(Limits())


def test_replace_validates():
    with pytest.raises(ConfigError):
        RunConfig().replace(optimizer="lbfgs")
    assert RunConfig().replace(optimizer="sgd").optimizer == "sgd"


def test_regularizers_are_marked_in_the_field_metadata_and_default_to_off():
    marked = {f.name for f in fields(RunConfig) if f.metadata["regularizer"]}
    group = {f.name for f in fields(RunConfig) if f.metadata["group"] == "Regularization"}
    assert marked == (group - {"restore_best"}) | {"weight_decay"}
    assert all(not FIELDS[name].default for name in marked)  # off by default, so overfit_config resets to default


def test_when_a_field_matters_is_field_metadata():
    base = RunConfig().to_dict()
    when = {name: f.metadata["when"] for name, f in FIELDS.items()}
    assert when["depth"](base) and not when["depth"]({**base, "model": "cnn"})
    assert not when["fc_width"]({**base, "model": "cnn"}) and when["fc_width"]({**base, "model": "cnn", "fc_layers": 2})
    assert when["aug_flip"](base) and not when["aug_flip"]({**base, "dataset": "spiral"})
    assert when["noise"]({**base, "dataset": "spiral"}) and when["lr"] is None


def test_a_lenient_query_drops_bad_parameters_and_names_them():
    errors = []
    cfg = RunConfig.from_query({"lr": "fast", "depth": "99", "width": "32", "run": "x"}, ignore=("run",), errors=errors)
    assert cfg.width == 32 and cfg.lr == RunConfig().lr and cfg.depth == RunConfig().depth
    assert errors == ["lr='fast' is invalid: a number", "depth=99 is invalid: a value from 0 to 20"]
    with pytest.raises(ConfigError, match="lr='fast'"):
        RunConfig.from_query({"lr": "fast"})
