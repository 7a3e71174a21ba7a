"""Reference routers: one fixed model, the educated guess, and the hindsight oracle."""

from __future__ import annotations

import numpy as np

from messplus_core.core.bounds import graded_oracle_assignment, oracle_assignment, static_mixture
from messplus_core.core.rng import EDUCATED_GUESS, generator
from .base import Router, RouterContext


class SingleModel(Router):
    """Always the same model."""

    def __init__(self, ctx: RouterContext, *, model: str) -> None:
        if model not in ctx.categories:
            raise ValueError(f"single_model: unknown model category {model!r}; zoo has {list(ctx.categories)}.")
        self.index = ctx.categories.index(model)

    def choose(self, t: int) -> int:
        return self.index


class PlannedRouter(Router):
    """Follows a routing plan fixed before the stream starts."""

    def __init__(self, plan: np.ndarray) -> None:
        self.plan = plan.tolist()

    def choose(self, t: int) -> int:
        return self.plan[t]


class EducatedGuess(PlannedRouter):
    """Random routing with the cheapest fixed probabilities that meet alpha in expectation (exact LP)."""

    def __init__(self, ctx: RouterContext) -> None:
        self.mixture = static_mixture(ctx.mean_satisfaction, ctx.mean_cost, ctx.alpha)
        rng = generator(ctx.seed, EDUCATED_GUESS)
        super().__init__(rng.choice(ctx.n_models, size=ctx.n, p=self.mixture.probabilities))


class Oracle(PlannedRouter):
    """Per-request hindsight: the cheapest assignment reaching alpha on this stream. A floor, not deployable.

    Graded satisfaction (float scores) uses `graded_oracle_assignment`; its
    fractional lower bound is reported as `oracle_lower_bound_per_request`.
    """

    def __init__(self, ctx: RouterContext) -> None:
        graded = np.issubdtype(np.asarray(ctx.hindsight_labels).dtype, np.floating)
        solve = graded_oracle_assignment if graded else oracle_assignment
        self.assignment = solve(ctx.hindsight_labels, ctx.hindsight_costs, ctx.alpha)
        super().__init__(self.assignment.models)

    def report(self) -> dict[str, float]:
        bound = self.assignment.lower_bound
        return {} if bound is None else {"oracle_lower_bound_per_request": bound / max(1, len(self.plan))}
