"""MESS+: explore with probability p_t, else minimise V*E_m + Q*(alpha - s_hat_m)."""

from __future__ import annotations

from typing import Literal, Sequence

import numpy as np

from ..algorithm import exploit_choice, explore_probability, queue_update
from ..predictors import Predictor
from .base import EXPLORE, Router, RouterContext, Usage

EnergyEstimate = Literal["running_mean", "last", "known"]
REFERENCE_INITIAL_COST = 1.0  # the authors' simulator starts every estimate at 1 J


class MessPlus(Router):
    """The MESS+ policy with a learned satisfaction predictor.

    Exploration draws are made up front from the seed (they depend on t only),
    so the predictor can be evaluated once per stretch between explorations,
    as one batch, instead of once per request.

    energy_estimate: `running_mean` (default) of each model's observed costs;
    `last`: the last exploration's costs, as the authors' simulator did;
    `known`: the request's own cost, as the 2024 workshop paper assumed.
    A model's estimate is `energy_prior` (default 1 J each) until observed.
    """

    def __init__(self, ctx: RouterContext, predictor: Predictor, *, V: float, c: float,
                 energy_estimate: EnergyEstimate = "running_mean", energy_prior: Sequence[float] | None = None) -> None:
        if ctx.features is None:
            raise ValueError("MESS+ needs request embeddings (RouterContext.features).")
        if energy_estimate not in ("running_mean", "last", "known"):
            raise ValueError(f"energy_estimate must be running_mean, last or known, got {energy_estimate!r}.")
        m = ctx.n_models
        self.ctx, self.predictor, self.V, self.alpha = ctx, predictor, V, ctx.alpha
        self.mode = energy_estimate
        self.estimate = [float(e) for e in energy_prior] if energy_prior is not None else [REFERENCE_INITIAL_COST] * m
        if len(self.estimate) != m:
            raise ValueError(f"energy_prior has {len(self.estimate)} values for {m} models.")
        self.cost_sum, self.cost_count = [0.0] * m, [0] * m
        self.p = explore_probability(np.arange(1, ctx.n + 1), c)
        self.explore = np.random.default_rng([ctx.seed, 1]).random(ctx.n) < self.p
        # next_explore[t]: first exploration index strictly after t (n if none).
        positions = np.flatnonzero(self.explore)
        self.next_explore = np.append(positions, ctx.n)[np.searchsorted(positions, np.arange(ctx.n), side="right")]
        self.q = 0.0
        self.q_trace = np.zeros(ctx.n)
        self.train_steps = np.zeros(ctx.n)
        self.s_hat: list[list[float]] = []
        self.s_hat_start = self.s_hat_end = 0

    def choose(self, t: int) -> int:
        if self.explore[t]:
            return EXPLORE
        if t >= self.s_hat_end:
            self.s_hat_start, self.s_hat_end = t, int(self.next_explore[t])
            self.s_hat = self.predictor.predict(self.ctx.features[t:self.s_hat_end]).tolist()
        costs = self.ctx.request_costs[t] if self.mode == "known" else self.estimate
        return exploit_choice(self.V, costs, self.q, self.alpha, self.s_hat[t - self.s_hat_start])

    def observe(self, t: int, served: int, satisfied: float | None, labels: np.ndarray | None,
                costs: dict[int, float]) -> None:
        if self.mode == "running_mean":
            for m, cost in costs.items():
                self.cost_sum[m] += cost
                self.cost_count[m] += 1
                self.estimate[m] = self.cost_sum[m] / self.cost_count[m]
        elif self.mode == "last" and self.explore[t]:
            self.estimate = [costs[m] for m in range(len(self.estimate))]
        if satisfied is not None:
            self.q = queue_update(self.q, self.alpha, satisfied)
        if labels is not None:
            self.predictor.learn(self.ctx.features[t], labels)
            self.train_steps[t] = self.predictor.steps
        self.q_trace[t] = self.q

    def trace(self) -> dict[str, np.ndarray]:
        return {"Q": self.q_trace, "p_t": self.p}

    def usage(self) -> Usage:
        """One predictor inference per exploited request; the predictor's steps per exploration with feedback."""
        return Usage(inferences=(~self.explore).astype(np.float64), train_steps=self.train_steps)
