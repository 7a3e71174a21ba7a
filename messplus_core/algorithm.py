"""The three rules of MESS+, as pure functions.

Kept apart from the router so that each rule can be pinned down by a test on
hand-computed numbers, and reused by monitoring code (the ideal queue).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np


def explore_probability(t: int | np.ndarray, c: float) -> float | np.ndarray:
    """p_t = min(1, c / t^(1/4)), with t counted from 1."""
    return np.minimum(1.0, c / np.power(t, 0.25))


def queue_update(q: float, alpha: float, satisfied: float) -> float:
    """Virtual SLA queue: Q <- max(0, Q + alpha - s)."""
    return max(0.0, q + alpha - satisfied)


def queue_path(alpha: float, satisfied: np.ndarray) -> np.ndarray:
    """Queue after every step when every request updates it (the 'ideal' queue), vectorised.

    The recursion Q_t = max(0, Q_{t-1} + x_t) with Q_0 = 0 is Lindley's; its
    closed form is S_t - min(0, min_{k<=t} S_k) with S the partial sums of x.
    """
    partial = np.cumsum(alpha - np.asarray(satisfied, dtype=np.float64))
    return partial - np.minimum(0.0, np.minimum.accumulate(partial))


def exploit_choice(v: float, cost_estimate: Sequence[float], q: float, alpha: float, s_hat: Sequence[float]) -> int:
    """argmin_m V*E_m + Q*(alpha - s_hat_m); models are cheapest first, so ties go to the cheaper one."""
    best, best_score = 0, v * cost_estimate[0] + q * (alpha - s_hat[0])
    for m in range(1, len(cost_estimate)):
        score = v * cost_estimate[m] + q * (alpha - s_hat[m])
        if score < best_score:
            best, best_score = m, score
    return best
