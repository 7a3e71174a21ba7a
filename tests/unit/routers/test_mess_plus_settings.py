"""MESS+'s levers are type-checked by name: a value of the wrong type (e.g. `routers.mess_plus.tightening=abc` on
the command line) is refused with "mess_plus.<lever> must be a number, got 'abc'", never a Python comparison error."""

import dataclasses

import pytest

from helpers.evaluate import default_mess_plus

from messplus_core.routers.mess_plus import MessPlusSettings

LEVERS = {f.name: f.type for f in dataclasses.fields(MessPlusSettings)}
WANTED = {"float": "a number", "int": "an integer", "bool": "true or false"}


def settings(**over):
    return MessPlusSettings.from_params({**default_mess_plus(), "V": 10.0, "c": 0.1, **over})


@pytest.mark.parametrize("lever", sorted(k for k, t in LEVERS.items() if t in WANTED))
def test_every_numeric_and_boolean_lever_refuses_a_string_by_name(lever):
    with pytest.raises(ValueError, match=rf"^mess_plus\.{lever} must be {WANTED[LEVERS[lever]]}, got 'abc'\.$"):
        settings(**{lever: "abc"})


@pytest.mark.parametrize("lever, value", [("tightening", True), ("optimism", float("nan")), ("bank", float("inf")),
                                          ("forced_explorations", 2.5), ("change_window", "3"), ("warm_start", 1)])
def test_bools_non_finite_numbers_and_fractional_counts_are_refused(lever, value):
    with pytest.raises(ValueError, match=rf"^mess_plus\.{lever} must be "):
        settings(**{lever: value})


@pytest.mark.parametrize("prior", ["abc", 5, [1, "x", 3], [1, True, 3]])
def test_energy_prior_is_null_or_a_list_of_numbers(prior):
    with pytest.raises(ValueError, match=r"^mess_plus\.energy_prior must be null or a list of numbers"):
        settings(energy_prior=prior)


def test_integral_floats_and_ints_for_floats_are_accepted():
    s = settings(forced_explorations=3.0, bank=12, energy_prior=[1, 2.5, 3])
    assert s.forced_explorations == 3 and isinstance(s.forced_explorations, int) and s.energy_prior == (1.0, 2.5, 3.0)
