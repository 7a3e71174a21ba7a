"""Reference routers and bounds: one fixed model, the educated guess, the static optimum and the hindsight oracle.

`single_model` and `educated_guess` are per-request policies (`OnlineRouter`);
the oracle plans the whole stream from hindsight (it is a bound, not a router)
and `static_optimum` is an expected-value bound computed from the data, never replayed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from messplus_core.core.bounds import graded_oracle_assignment, oracle_assignment, static_mixture
from messplus_core.core.rng import EDUCATED_GUESS, generator
from .base import Decision, Feedback, OnlineRouter, Replayed, Router, RouterContext
from .registry import RouterSpec, add, register


class SingleModel(OnlineRouter):
    """Always the same model (an OnlineRouter). index: the model's position in the zoo, cheapest first."""

    def __init__(self, categories: tuple[str, ...], model: str) -> None:
        if model not in categories:
            raise ValueError(f"single_model: unknown model category {model!r}; zoo has {list(categories)}.")
        self.index = categories.index(model)
        self.t = 0

    def decide(self, features: np.ndarray | None = None) -> Decision:
        self.t += 1
        return Decision(self.t, self.index, (self.index,))

    def observe(self, decision: Decision, feedback: Feedback) -> int:
        return 0

    def state_dict(self) -> dict[str, Any]:
        return {"t": self.t, "index": self.index}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.t, self.index = state["t"], state["index"]


class EducatedGuess(OnlineRouter):
    """Random routing with the cheapest fixed probabilities that meet alpha in expectation (exact LP; an OnlineRouter).

    mean_satisfaction, mean_cost: (M,) per-model means (the prior knowledge it assumes); one draw from its
    own generator (`rng.EDUCATED_GUESS`) per request.
    """

    def __init__(self, mean_satisfaction: np.ndarray, mean_cost: np.ndarray, alpha: float, seed: int) -> None:
        self.mixture = static_mixture(mean_satisfaction, mean_cost, alpha)
        self.rng = generator(seed, EDUCATED_GUESS)
        self.t = 0

    def decide(self, features: np.ndarray | None = None) -> Decision:
        self.t += 1
        serve = int(self.rng.choice(len(self.mixture.probabilities), p=self.mixture.probabilities))
        return Decision(self.t, serve, (serve,))

    def observe(self, decision: Decision, feedback: Feedback) -> int:
        return 0

    def state_dict(self) -> dict[str, Any]:
        return {"t": self.t, "rng": self.rng.bit_generator.state, "probabilities": self.mixture.probabilities.tolist()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if not np.allclose(state["probabilities"], self.mixture.probabilities, rtol=0, atol=1e-15):
            raise ValueError("educated_guess: the saved state belongs to another mixture (other data or alpha).")
        self.t = state["t"]
        self.rng.bit_generator.state = state["rng"]


@register("single_model", per_model=True, order=20)
def single_model(ctx: RouterContext, params: dict[str, Any]) -> Router:
    """Always the zoo category `params["model"]` (one run per model); ValueError for a category not in the zoo."""
    return Replayed(ctx, SingleModel(ctx.categories, params["model"]))


@register("educated_guess", order=10, colour=4)
def educated_guess(ctx: RouterContext, params: dict[str, Any]) -> Router:
    """The cheapest fixed mixture meeting alpha in expectation on the context's per-model means, drawn per request."""
    return Replayed(ctx, EducatedGuess(ctx.mean_satisfaction, ctx.mean_cost, ctx.alpha, ctx.seed))


class Oracle(Router):
    """Per-request hindsight: the cheapest assignment reaching alpha on this stream. A floor, not deployable.

    Graded satisfaction (float scores) uses `graded_oracle_assignment`; its
    fractional lower bound is reported as `oracle_lower_bound_per_request`.
    """

    def __init__(self, ctx: RouterContext) -> None:
        solve = graded_oracle_assignment if ctx.graded else oracle_assignment
        self.assignment = solve(ctx.stream_labels, ctx.request_costs, ctx.alpha)
        self.plan = self.assignment.models.tolist()

    def choose(self, t: int) -> int:
        return self.plan[t]

    def report(self) -> dict[str, float]:
        bound = self.assignment.lower_bound
        return {} if bound is None else {"oracle_lower_bound_per_request": bound / max(1, len(self.plan))}


@register("oracle", bound=True, hindsight_labels=True, hindsight_costs=True, order=99, colour=14,
          plot_style={"ls": ":", "marker": "v", "ms": 4}, describe="per-request hindsight")
def oracle(ctx: RouterContext, params: dict[str, Any]) -> Router:
    """The hindsight oracle (a bound): reads the stream's own labels and costs, which its entry declares."""
    return Oracle(ctx)


#: The cheapest fixed mixture's expected satisfaction and cost (the LP `static_mixture`): a bound beside the routers.
add(RouterSpec("static_optimum", build=None, bound=True, expected=static_mixture, order=98, colour=15,
               plot_style={"ls": "--", "marker": "s", "ms": 4}, describe="cheapest fixed mixture, expected values"))
