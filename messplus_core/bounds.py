"""Hindsight references: the cheapest static mixture (an LP) and the per-request oracle.

`static_mixture` is the cheapest fixed routing distribution whose expected
satisfaction reaches alpha, given each model's mean satisfaction and mean
cost; it drives the `educated_guess` router and its expected cost is the
`static_optimum` bound. `oracle_assignment` is the cheapest per-request
assignment that reaches alpha on the stream itself: the floor no router can beat.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linprog


@dataclass(frozen=True)
class Mixture:
    probabilities: np.ndarray  # (M,)
    expected_satisfaction: float
    expected_cost: float  # per request
    feasible: bool  # False: alpha exceeds the best model's mean satisfaction; the best model is used


def static_mixture(mean_satisfaction: np.ndarray, mean_cost: np.ndarray, alpha: float) -> Mixture:
    """min_p p.cost  s.t.  p.satisfaction >= alpha, sum p = 1, p >= 0 (solved exactly by HiGHS)."""
    sat = np.asarray(mean_satisfaction, dtype=np.float64)
    cost = np.asarray(mean_cost, dtype=np.float64)
    m = len(sat)
    if alpha > sat.max():
        # Infeasible SLA: the closest one can get is the most satisfying model (cheapest among ties).
        best = min(np.flatnonzero(sat == sat.max()), key=lambda i: cost[i])
        p = np.zeros(m)
        p[best] = 1.0
        return Mixture(p, float(sat[best]), float(cost[best]), feasible=False)
    result = linprog(c=cost, A_ub=-sat[None, :], b_ub=[-alpha], A_eq=np.ones((1, m)), b_eq=[1.0], bounds=[(0, 1)] * m, method="highs")
    if not result.success:  # cannot happen for a feasible alpha; keep the solver's words if it does
        raise RuntimeError(f"static mixture LP failed: {result.message}")
    p = np.clip(result.x, 0.0, 1.0)
    p /= p.sum()
    return Mixture(p, float(p @ sat), float(p @ cost), feasible=True)


@dataclass(frozen=True)
class Assignment:
    models: np.ndarray  # (N,) model index per request
    satisfaction: float
    cost: float  # total
    feasible: bool


def oracle_assignment(labels: np.ndarray, costs: np.ndarray, alpha: float) -> Assignment:
    """Cheapest assignment of one model per request with mean satisfaction >= alpha (exact).

    Per request only two choices can be optimal: the cheapest model overall
    (satisfying or not) and the cheapest satisfying model. Switching a request
    from the first to the second gains exactly one satisfied request, so taking
    the cheapest switches first until ceil(alpha*N) requests are satisfied is
    optimal. If the stream cannot reach alpha, every satisfiable request is
    satisfied at least cost and the result is marked infeasible.
    """
    labels = np.asarray(labels, dtype=bool)
    costs = np.asarray(costs, dtype=np.float64)
    n = len(labels)
    rows = np.arange(n)
    cheapest = np.argmin(costs, axis=1)
    sat_costs = np.where(labels, costs, np.inf)
    cheapest_sat = np.argmin(sat_costs, axis=1)
    satisfiable = labels.any(axis=1)
    choice = cheapest.copy()
    base_ok = labels[rows, cheapest]
    need = math.ceil(alpha * n - 1e-9) - int(base_ok.sum())
    switchable = np.flatnonzero(satisfiable & ~base_ok)
    feasible = need <= len(switchable)
    if need > 0:
        extra = sat_costs[switchable, cheapest_sat[switchable]] - costs[switchable, cheapest[switchable]]
        take = switchable[np.argsort(extra, kind="stable")[:need]]
        choice[take] = cheapest_sat[take]
    satisfied = labels[rows, choice]
    return Assignment(choice, float(satisfied.mean()), float(costs[rows, choice].sum()), bool(feasible))
