"""The three rules of MESS+, as pure functions.

Kept apart from the router so that each rule can be pinned down by a test on
hand-computed numbers, and reused by monitoring code (the ideal queue).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np


def explore_probability(t: int | np.ndarray, c: float, exponent: float = 0.25) -> float | np.ndarray:
    """p_t = min(1, c / t^exponent), with t counted from 1 (exponent 1/4 in the 2025 paper, 1/3 in 2024)."""
    return np.minimum(1.0, c / np.power(t, exponent))


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
    """argmin_m V*E_m + Q*(alpha - s_hat_m), the drift-plus-penalty exploit rule of MESS+ (Lyapunov optimisation).

    cost_estimate (M,) E_m and s_hat (M,) predicted satisfaction in [0, 1], in the zoo's order (cheapest
    first, so ties go to the cheaper model). alpha and s_hat are fractions and Q is a sum of per-request
    deficits, so Q*(alpha - s_hat) is in requests, and V*E_m must be too: with raw costs E_m is in J (or s,
    or $) per request and V in requests per J (the paper's V = 1e-4 on joules); with costs divided by the
    shadow price E_m is a fraction and V is in requests (the queue length at which the rule steps up to the
    next frontier model). Returns the model index in [0, M).
    """
    best, best_score = 0, v * cost_estimate[0] + q * (alpha - s_hat[0])
    for m in range(1, len(cost_estimate)):
        score = v * cost_estimate[m] + q * (alpha - s_hat[m])
        if score < best_score:
            best, best_score = m, score
    return best


def efficient_frontier(mean_cost: Sequence[float], mean_satisfaction: Sequence[float]) -> list[int]:
    """Models on the lower convex frontier of (satisfaction, cost), cheapest first.

    The frontier is the cheapest cost at which each satisfaction level can be
    reached by mixing models (the LP behind the static optimum): it starts at the
    cheapest model (the most satisfying among equally cheap ones) and from each
    vertex moves to the more satisfying model reached at the lowest cost per unit
    of satisfaction. Dominated models (costlier and no more satisfying than a
    mixture of others) are not on it. Inputs: (M,) each; returns model indices.
    """
    return _frontier([float(c) for c in mean_cost], [float(x) for x in mean_satisfaction])


def _frontier(cost: list[float], sat: list[float]) -> list[int]:
    """`efficient_frontier` on plain floats: M is small and this runs once per exploit decision (through
    `shadow_price`), where numpy's per-call overhead dominated."""
    low = min(cost)
    vertex = max((m for m in range(len(cost)) if cost[m] == low), key=lambda m: (sat[m], -m))
    frontier = [vertex]
    while True:
        higher = [m for m in range(len(sat)) if sat[m] > sat[vertex]]
        if not higher:
            return frontier
        slopes = {m: (cost[m] - cost[vertex]) / (sat[m] - sat[vertex]) for m in higher}
        least = min(slopes.values())
        # on a straight edge, go to its far end (the first most satisfying model among the least slopes)
        vertex = max((m for m in higher if slopes[m] == least), key=lambda m: (sat[m], -m))
        frontier.append(vertex)


def shadow_price(mean_cost: Sequence[float], mean_satisfaction: Sequence[float], alpha: float) -> float:
    """Cost per unit of satisfaction at the SLA target: the slope of the frontier segment that contains alpha.

    This is the Lagrange multiplier of the static-optimum LP `min p.E s.t. p.s >= alpha`
    (the price of one more unit of satisfaction), read off the efficient frontier
    (`efficient_frontier`). Edge cases, each chosen so that the exploit rule with
    costs divided by this price switches between two frontier models at Q = V:
    - alpha at or below the cheapest frontier model's satisfaction: the first
      segment's slope (the price of the next step up);
    - alpha above every model's satisfaction (infeasible): the slope from the
      cheapest model to the most satisfying one;
    - a single frontier model (it dominates every other) or all costs equal: 0,
      and the caller treats costs as equal (the price carries no information).
    Units: cost unit per unit of satisfaction (e.g. J per satisfied request).
    """
    cost = [float(c) for c in mean_cost]
    sat = [float(x) for x in mean_satisfaction]
    frontier = _frontier(cost, sat)
    if len(frontier) < 2:
        return 0.0
    if alpha > sat[frontier[-1]]:
        lo, hi = frontier[0], frontier[-1]
    else:
        k = next((i for i in range(1, len(frontier)) if sat[frontier[i]] >= alpha), 1)
        lo, hi = frontier[k - 1], frontier[k]
    return (cost[hi] - cost[lo]) / (sat[hi] - sat[lo])
