"""Calibrating a learned router's one knob on its training part: the cheapest setting that reaches alpha there.

Each learned router has one knob (a threshold, or the weight lambda of cost
against satisfaction) that trades satisfaction for cost. Calibration applies
the router's decision rule at every setting where its decisions on the
training part can change, scores each setting by the training part's labels
and costs, and keeps the cheapest one whose training satisfaction reaches
alpha (plus an optional safety margin). The scores it ranks are out-of-fold
predictions, so the knob is not fitted to the predictor's own training fit
(which would be over-confident and miss alpha on new requests).

Nothing here can see a test part: every function takes training arrays only.
The decision rules are shared with deployment, so the rule calibrated is the
rule served.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from messplus_core.core.rng import CALIBRATION_FOLDS, generator

CHUNK = 256  # candidate settings scored at once (bounds memory at CHUNK x n_train x M)


@dataclass(frozen=True)
class Calibration:
    """The calibrated knob of a learned router and how the rule fared on the training part (cost per request)."""

    value: float  # the chosen knob setting
    train_satisfaction: float  # mean satisfaction of the rule on the training part
    train_cost: float  # mean cost per request of the rule on the training part
    feasible: bool  # False: no setting reached the target; the most satisfying one was kept


def cheapest_compliant(values: np.ndarray, decide: Callable[[np.ndarray], np.ndarray], labels: np.ndarray,
                       costs: np.ndarray, target: float) -> Calibration:
    """The setting among `values` with the least training cost whose training satisfaction is >= target.

    `decide(settings)` maps k settings to a (k, n) array of model indices, one
    per training request. Ties in cost go to the higher satisfaction. If no
    setting reaches the target, the most satisfying one (then the cheapest) is kept.
    """
    values = np.asarray(values, dtype=np.float64)
    rows = np.arange(len(labels))
    sat = np.empty(len(values))
    cost = np.empty(len(values))
    for start in range(0, len(values), CHUNK):
        choices = decide(values[start:start + CHUNK])
        sat[start:start + CHUNK] = labels[rows, choices].mean(axis=1)
        cost[start:start + CHUNK] = costs[rows, choices].mean(axis=1)
    ok = sat >= target - 1e-12
    if ok.any():
        best = min(np.flatnonzero(ok), key=lambda i: (cost[i], -sat[i]))
    else:
        best = min(range(len(values)), key=lambda i: (-sat[i], cost[i]))
    return Calibration(float(values[best]), float(sat[best]), float(cost[best]), bool(ok.any()))


def out_of_fold(fit_predict: Callable[[np.ndarray, np.ndarray, int], np.ndarray], n: int, folds: int,
                seed: int) -> np.ndarray:
    """Predictions for each of n training requests from a model fitted on the other folds.

    `fit_predict(fit_rows, predict_rows, fold)` fits on the first index array
    and returns predictions for the second (fold counts from 1, for seeding).
    Fewer than `folds` requests: leave-one-out.
    """
    if n < 2:
        raise ValueError(f"out-of-fold calibration needs at least 2 labelled training requests, got {n}.")
    if folds < 2:
        raise ValueError(f"out-of-fold calibration needs folds >= 2, got {folds}.")
    order = generator(seed, CALIBRATION_FOLDS).permutation(n)
    parts = np.array_split(order, min(folds, n))
    predictions = [fit_predict(np.concatenate(parts[:k] + parts[k + 1:]), part, k + 1) for k, part in enumerate(parts)]
    out = np.empty((n, *predictions[0].shape[1:]), dtype=np.float64)
    for part, pred in zip(parts, predictions):
        out[part] = pred
    return out


# --- decision rules: (settings (k,), scores) -> (k, n) model index per request -------------------------------

def two_model_choice(p_fail: np.ndarray, thresholds: np.ndarray, weak: int, strong: int) -> np.ndarray:
    """The strong model where the predicted failure probability of the weak one is >= the threshold."""
    return np.where(p_fail[None, :] >= thresholds[:, None], strong, weak)


def cheapest_above_choice(s_hat: np.ndarray, taus: np.ndarray) -> np.ndarray:
    """The cheapest model (lowest index) whose predicted satisfaction is >= tau; none: the most satisfying one."""
    eligible = s_hat[None, :, :] >= taus[:, None, None]
    fallback = np.broadcast_to(s_hat.argmax(axis=1), eligible.shape[:2])
    return np.where(eligible.any(axis=2), eligible.argmax(axis=2), fallback)


def utility_choice(s_hat: np.ndarray, cost: np.ndarray, lambdas: np.ndarray) -> np.ndarray:
    """argmax over models of s_hat - lambda * cost (ties: the cheaper model)."""
    return (s_hat[None, :, :] - lambdas[:, None, None] * cost[None, None, :]).argmax(axis=2)


# --- the settings where decisions can change ----------------------------------------------------------------

def threshold_candidates(scores: np.ndarray) -> np.ndarray:
    """For a `score >= threshold` rule: every distinct score, plus +inf (the rule never fires)."""
    return np.append(np.unique(scores), np.inf)


def lambda_candidates(s_hat: np.ndarray, cost: np.ndarray) -> np.ndarray:
    """One lambda inside every interval between the breakpoints where argmax(s_hat - lambda*cost) can change."""
    i, j = np.triu_indices(len(cost), k=1)
    dc = cost[j] - cost[i]
    valid = dc != 0
    breaks = (s_hat[:, j[valid]] - s_hat[:, i[valid]]) / dc[valid]
    breaks = np.unique(breaks[breaks > 0])
    if len(breaks) == 0:
        return np.zeros(1)
    return np.concatenate([[0.0, breaks[0] / 2], (breaks[:-1] + breaks[1:]) / 2, [breaks[-1] * 2]])
