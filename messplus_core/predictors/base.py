"""The satisfaction predictor interface that MESS+ and the learned routers train and query.

A predictor maps request features (an embedding, or hashed n-grams) to one satisfaction estimate per zoo
model, in the zoo's cost order. Implementations: `mlp_head.MLPHead` (the paper's frozen encoder + MLP
head), `ngram_linear.NgramLinear`.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np


class Predictor(Protocol):
    """Per-model satisfaction estimates from request features, learned online one example at a time."""

    steps: int  #: optimiser steps per `learn` call (the engine charges each one)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """(n, dim) features -> (n, n_models) estimated satisfaction in [0, 1] (a probability for 0/1 labels,
        an expected score for graded satisfaction)."""
        ...

    def learn(self, x: np.ndarray, y: np.ndarray) -> None:
        """Learn from one request: x (dim,) features, y (n_models,) observed satisfaction in [0, 1], NaN for a
        model whose label is unknown (e.g. only the served model's label on an exploited request)."""
        ...
