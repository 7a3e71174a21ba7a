"""Hindsight references: the cheapest static mixture (an LP) and the per-request oracle.

`static_mixture` is the cheapest fixed routing distribution whose expected
satisfaction reaches alpha, given each model's mean satisfaction and mean
cost; it drives the `educated_guess` router and its expected cost is the
`static_optimum` bound. `oracle_assignment` is the cheapest per-request
assignment that reaches alpha on the stream itself: the floor no router can beat.
For graded satisfaction (scores in [0, 1], the 2024 setting) `graded_oracle_assignment`
solves the same problem on the summed score, a multiple-choice knapsack, by
its fractional relaxation (exact lower bound) rounded up on one request.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linprog


@dataclass(frozen=True)
class Mixture:
    """A fixed routing distribution over the zoo (`static_mixture`'s answer), in the cost unit it was given."""

    probabilities: np.ndarray  # (M,)
    expected_satisfaction: float
    expected_cost: float  # per request
    feasible: bool  # False: alpha exceeds the best model's mean satisfaction; the best model is used


def static_mixture(mean_satisfaction: np.ndarray, mean_cost: np.ndarray, alpha: float) -> Mixture:
    """The static optimum: min_p p.cost  s.t.  p.satisfaction >= alpha, sum p = 1, p >= 0.

    mean_satisfaction, mean_cost: (M,) per-model means (satisfaction in [0, 1]; cost per request in any unit:
    J, s or $); alpha in [0, 1]. Solved exactly by scipy's `linprog` (HiGHS). An alpha above every model's mean
    is infeasible: the most satisfying model (cheapest among ties) is returned with `feasible=False`.
    Raises RuntimeError if HiGHS fails on a feasible alpha (not expected; its message is kept).
    """
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
    """One model per request (the oracle's answer): `satisfaction` is the mean, `cost` the total over N requests."""

    models: np.ndarray  # (N,) model index per request
    satisfaction: float
    cost: float  # total
    feasible: bool
    lower_bound: float | None = None  # graded only: the fractional relaxation's total cost, <= any assignment's


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


def _frontier_steps(scores: np.ndarray, costs: np.ndarray) -> tuple[np.ndarray, list[tuple[float, int, int, float, float]]]:
    """Per request: its start (cheapest model, highest score among equally cheap ones) and the upgrade steps
    along the upper convex hull of its (cost, score) points, as (efficiency, request, model, d_score, d_cost)."""
    n, m = scores.shape
    start = np.lexsort((-scores, costs), axis=-1)[:, 0] if n else np.zeros(0, dtype=int)
    steps: list[tuple[float, int, int, float, float]] = []
    for i in range(n):
        cur = int(start[i])
        while True:
            gain = scores[i] - scores[i, cur]
            extra = costs[i] - costs[i, cur]
            ok = (gain > 1e-12) & (extra > 0)
            if not ok.any():
                break
            eff = np.where(ok, gain / np.where(ok, extra, 1.0), -np.inf)
            nxt = int(max(np.flatnonzero(eff == eff.max()), key=lambda j: scores[i, j]))  # ties: the larger step
            steps.append((float(eff[nxt]), i, nxt, float(gain[nxt]), float(extra[nxt])))
            cur = nxt
    return start, steps


def graded_oracle_assignment(scores: np.ndarray, costs: np.ndarray, alpha: float) -> Assignment:
    """Cheapest assignment of one model per request whose summed score reaches alpha * N (scores in [0, 1]).

    A multiple-choice knapsack. Its fractional relaxation is solved exactly
    like a fractional knapsack: every request starts at its cheapest model;
    its possible upgrades are the steps along the upper convex hull of its
    (cost, score) points (only those can be optimal); steps of all requests
    are taken in order of score gained per unit cost until alpha * N is
    reached. At most the last step is fractional; taking it whole gives the
    returned assignment, which reaches alpha at a cost at most that one step
    above `lower_bound`, the relaxation's cost, itself a floor for every
    assignment. If alpha * N is out of reach, every request gets its most
    satisfying model at least cost and the result is marked infeasible.
    """
    scores = np.asarray(scores, dtype=np.float64)
    costs = np.asarray(costs, dtype=np.float64)
    n = len(scores)
    rows = np.arange(n)
    start, steps = _frontier_steps(scores, costs)
    choice = start.copy()
    need = alpha * n - float(scores[rows, start].sum())
    bound = float(costs[rows, start].sum())
    steps.sort(key=lambda step: (-step[0], step[1]))  # per request the hull's efficiencies decrease: order kept
    gained = 0.0
    for _, i, model, d_score, d_cost in steps:
        if gained >= need - 1e-9:
            break
        part = min(1.0, (need - gained) / d_score)
        choice[i] = model
        gained += d_score
        bound += part * d_cost
    feasible = gained >= need - 1e-9
    return Assignment(choice, float(scores[rows, choice].mean()), float(costs[rows, choice].sum()), bool(feasible),
                      lower_bound=bound)
