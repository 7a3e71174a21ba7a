"""Satisfaction predictors behind a small registry (`conf/predictor/*.yaml` names one by `name`)."""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from ..zoo import ConfigError
from .mlp_head import MLPHead
from .ngram_linear import NgramLinear


class Predictor(Protocol):
    steps: int  # optimiser steps per `learn` call (the engine charges each one)

    def predict(self, x: np.ndarray) -> np.ndarray: ...
    def learn(self, x: np.ndarray, y: np.ndarray) -> None: ...


PREDICTORS: dict[str, type] = {"mlp_head": MLPHead, "ngram_linear": NgramLinear}


def make_predictor(name: str, dim: int, n_outputs: int, seed: int, params: dict[str, Any]) -> Predictor:
    if name not in PREDICTORS:
        raise ConfigError(f"unknown predictor '{name}'; available: {sorted(PREDICTORS)} (set predictor.name).")
    return PREDICTORS[name](dim, n_outputs, seed=seed, **params)
