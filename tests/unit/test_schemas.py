"""Each stage's schema (messplus_core/schemas.py): a bad key or value is one ConfigError line naming the key,
the value and the fix; a config built without a key is refused instead of falling back to a code default."""

import pytest

from helpers.config import compose

from messplus_core.errors import ConfigError
from messplus_core.schemas import validate_stage

STAGE_BASE = {"evaluate": (), "capture": ("model_zoo=tiny",), "serve": ()}


@pytest.mark.parametrize("stage", sorted(STAGE_BASE))
def test_the_shipped_config_of_every_stage_passes_its_schema(stage):
    validate_stage(stage, compose(stage, *STAGE_BASE[stage]))


@pytest.mark.parametrize("stage, override, message", [
    # a scalar where a group of settings is expected
    ("evaluate", "split=test", r"evaluate: split is a group of settings \(\['enabled', 'train_fraction'\]\), got 'test'; "
                               r"set one of its keys, e.g. split.enabled=\.\.\., not split=VALUE"),
    ("evaluate", "summary=3", r"summary is a group of settings, got 3"),
    ("capture", "generation=greedy", r"capture: generation is a group of settings .*got 'greedy'"),
    ("capture", "energy=5", r"capture: energy is a group of settings \(\['fallback', 'watts'\]\), got 5"),
    ("serve", "backends=x", r"serve: backends is a group of settings, got 'x'"),
    # a wrong type or choice
    ("evaluate", "drop_incomplete=1", r"drop_incomplete must be true or false, got 1\."),
    ("evaluate", "cost_unit=[1,2]", r"cost_unit must be a string \(or null\), got \[1, 2\]"),
    ("evaluate", "report=maybe", r"report must be true or false, got 'maybe'"),
    ("capture", "batch_size=0", r"batch_size must be an integer >= 1, got 0\."),
    ("capture", "limit=abc", r"limit must be an integer \(or null\), got 'abc'"),
    ("capture", "energy.watts=-1", r"energy.watts must be a number > 0.0 \(or null\), got -1"),
    ("capture", "print_units=yes", r"print_units must be true or false, got 'yes'"),
    ("serve", "port=abc", r"port must be an integer, got 'abc'"),
    ("serve", "auth=token", r"auth must be bearer or none, got 'token'"),
    ("serve", "synchronous=OFF", r"synchronous must be NORMAL or FULL, got 'OFF'"),
    # an unknown key (a `+key=` override, or a typo in a config of one's own)
    ("evaluate", "+n_job=2", r"evaluate: unknown key n_job=2; conf/evaluate.yaml has \[.*'n_jobs'.*\]"),
    ("evaluate", "+split.train_fracton=0.3", r"unknown key split.train_fracton=0.3; split has \['enabled', 'train_fraction'\]"),
    ("capture", "+energy.wats=300", r"unknown key energy.wats=300; energy has \['fallback', 'watts'\]"),
    ("serve", "+prot=1", r"serve: unknown key prot=1"),
])
def test_bad_values_are_one_line_naming_key_value_and_fix(stage, override, message):
    with pytest.raises(ConfigError, match=message) as err:
        validate_stage(stage, compose(stage, *STAGE_BASE[stage], override))
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("stage, key", [("evaluate", "feedback_rate"), ("capture", "backend"), ("serve", "cost")])
def test_a_missing_key_is_refused_not_defaulted_in_code(stage, key):
    cfg = compose(stage, *STAGE_BASE[stage])
    del cfg[key]
    with pytest.raises(ConfigError, match=rf"{stage}: key {key} is missing; conf/{stage}.yaml sets it"):
        validate_stage(stage, cfg)


def test_several_bad_keys_are_all_named_on_one_line():
    with pytest.raises(ConfigError) as err:
        validate_stage("evaluate", compose("evaluate", "split=test", "n_jobs=-1", "cost=money"))
    text = str(err.value)
    assert "\n" not in text
    assert "split is a group" in text and "n_jobs must be an integer >= 0, got -1" in text and "cost must be energy or time" in text
