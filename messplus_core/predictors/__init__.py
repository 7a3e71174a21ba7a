"""Satisfaction predictors behind a small registry (`conf/predictor/*.yaml` names one by `name`)."""

from __future__ import annotations

from typing import Any

from messplus_core.errors import ConfigError
from .base import Predictor
from .mlp_head import MLPHead
from .ngram_linear import NgramLinear

PREDICTORS: dict[str, type] = {"mlp_head": MLPHead, "ngram_linear": NgramLinear}


def make_predictor(name: str, dim: int, n_outputs: int, seed: int, params: dict[str, Any]) -> Predictor:
    """A fresh predictor `name` for `dim`-dimensional features and `n_outputs` models; ConfigError for an unknown name."""
    if name not in PREDICTORS:
        raise ConfigError(f"unknown predictor '{name}'; available: {sorted(PREDICTORS)} (set predictor.name).")
    return PREDICTORS[name](dim, n_outputs, seed=seed, **params)
