"""A synthetic large zoo for the MESS+ robustness checks: 11 models priced in dollars, some dominated.

Each model has a mean satisfaction on a realistic concave frontier of price (a small open model at
$0.05 per million tokens up to a frontier model at $15), plus three dominated models (pricier than a
frontier model and no better). Requests differ in difficulty, so the models' labels are correlated
(a hard request fails for most models), and in length, so a request's dollar cost is the model's price
times its tokens. Everything is drawn from the seed: the checks replay the same streams every time.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit, logit

from messplus_core.core.stream import Stream

#: (name, $ per 1M tokens, mean satisfaction): cheapest first; dominated ones marked in their names.
MODELS = (
    ("m0", 0.05, 0.42), ("m1", 0.15, 0.55), ("m2_dominated", 0.30, 0.52), ("m3", 0.40, 0.64),
    ("m4", 0.90, 0.71), ("m5_dominated", 1.20, 0.66), ("m6", 2.00, 0.77), ("m7", 3.50, 0.81),
    ("m8_dominated", 5.00, 0.78), ("m9", 8.00, 0.85), ("m10", 15.0, 0.88),
)
ALPHA = 0.75


def large_zoo_stream(n: int, seed: int, feedback_rate: float = 1.0) -> Stream:
    """One stream of n requests: labels (n, 11) in {0, 1}, cost (n, 11) in $ per request."""
    rng = np.random.default_rng([seed, 2024])
    price = np.array([p for _, p, _ in MODELS]) / 1e6
    quality = np.array([q for _, _, q in MODELS])
    difficulty = rng.normal(0.0, 1.2, size=(n, 1))
    # the logit shift keeps each model's mean near its quality while difficulty correlates the labels
    probs = expit(logit(quality)[None, :] * 1.35 - difficulty)
    labels = (rng.random((n, len(MODELS))) < probs).astype(np.int8)
    tokens = rng.lognormal(np.log(600), 0.5, size=(n, 1))
    cost = tokens * price[None, :]
    return Stream(benchmark="large_zoo", categories=tuple(name for name, _, _ in MODELS), seed=seed, order=np.arange(n),
                  labels=labels, cost=cost, energy=cost, time=tokens * np.linspace(0.01, 0.2, len(MODELS))[None, :] / 600,
                  features=None, feedback=np.random.default_rng([seed, 7]).random(n) < feedback_rate)
