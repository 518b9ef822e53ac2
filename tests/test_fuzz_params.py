"""Fuzzing: any query string or control value gives a config or a clear message, never a traceback."""

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st_h
from streamlit.testing.v1 import AppTest

from lab.config import FIELDS, ConfigError, RunConfig
from lab.ui.controls import RESERVED_PARAMS

PAGE = str(Path(__file__).resolve().parents[1] / "pages" / "train.py")
KEYS = st_h.sampled_from(sorted(FIELDS) + list(RESERVED_PARAMS) + ["x", "", "lr ", "LR", "__class__"])
VALUES = st_h.one_of(
    st_h.text(max_size=30),
    st_h.sampled_from(["nan", "inf", "-1", "1e309", "true", "0x10", "", "relu", "9" * 40, "1.5", "-0"]),
)


@settings(max_examples=400, deadline=None)
@given(st_h.dictionaries(KEYS, VALUES, max_size=8))
def test_config_from_any_params_is_valid_or_explained(params):
    errors = []
    cfg = RunConfig.from_query(params, ignore=RESERVED_PARAMS, errors=errors)
    cfg.validate()  # whatever survives is a valid config
    for msg in errors:
        assert "\n" not in msg and "=" in msg and "is invalid" in msg


@settings(max_examples=300, deadline=None)
@given(st_h.sampled_from(sorted(FIELDS)), VALUES)
def test_single_field_either_applies_or_names_field_and_value(key, raw):
    try:
        cfg = RunConfig.from_query({key: raw})
    except ConfigError as e:
        assert e.field == key or e.field in FIELDS
        assert str(e).startswith(f"{e.field}=")
    else:
        assert isinstance(getattr(cfg, key), type(FIELDS[key].default))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st_h.dictionaries(KEYS, VALUES, max_size=5))
def test_train_page_survives_any_url(lab_server, params):
    at = AppTest.from_file(PAGE, default_timeout=60)
    for k, v in params.items():
        at.query_params[k] = v
    at.run()
    assert not at.exception, [e.message for e in at.exception]
