"""Routers behind a small registry: `conf/router/<name>.yaml` configures the entry of that name.

Each builder takes the stream's RouterContext and the router's parameters
(from its config, plus the sweep's V and c for MESS+).
"""

from __future__ import annotations

from typing import Any, Callable

from ..predictors import make_predictor
from ..zoo import ConfigError
from .base import EXPLORE, OverheadPrices, Router, RouterContext
from .baselines import EducatedGuess, Oracle, SingleModel
from .learned import cheapest_above_threshold, knn, threshold_2model
from .mess_plus import MessPlus


def _mess_plus(ctx: RouterContext, params: dict[str, Any]) -> Router:
    pred = params["predictor"]
    predictor = make_predictor(pred["name"], ctx.features.shape[1], ctx.n_models, ctx.seed, pred["head"])
    return MessPlus(ctx, predictor, V=params["V"], c=params["c"], energy_estimate=params.get("energy_estimate", "running_mean"),
                    energy_prior=params.get("energy_prior"))


ROUTERS: dict[str, Callable[[RouterContext, dict[str, Any]], Router]] = {
    "mess_plus": _mess_plus,
    "single_model": lambda ctx, params: SingleModel(ctx, model=params["model"]),
    "educated_guess": lambda ctx, params: EducatedGuess(ctx),
    "oracle": lambda ctx, params: Oracle(ctx),
    "threshold_2model": threshold_2model,
    "cheapest_above_threshold": cheapest_above_threshold,
    "knn": knn,
}

#: Routers that fit on a training part before the stream: they run only under the train/test protocol.
OFFLINE_ROUTERS = {"threshold_2model", "cheapest_above_threshold", "knn"}

#: Routers whose decisions use request embeddings (the evaluate stage embeds texts only for these).
NEEDS_FEATURES = {"mess_plus"} | OFFLINE_ROUTERS


def overhead_prices(params: dict[str, Any]) -> OverheadPrices:
    """The energy of a router's own computation, from its config: `router_energy_j` (J per routed request, the
    learned routers) or `predictor_energy_j` ({inference, train_step} in J, MESS+'s predictor); absent: free."""
    predictor = params.get("predictor_energy_j") or {}
    return OverheadPrices(inference_j=float(params.get("router_energy_j") or predictor.get("inference") or 0.0),
                          train_step_j=float(predictor.get("train_step") or 0.0))


def check_router_names(names: list[str]) -> None:
    unknown = [n for n in names if n not in ROUTERS]
    if unknown:
        raise ConfigError(f"unknown router(s) {unknown}; available: {sorted(ROUTERS)} (router=<name> or router=[a,b]).")


def build_router(name: str, ctx: RouterContext, params: dict[str, Any]) -> Router:
    check_router_names([name])
    return ROUTERS[name](ctx, params)


__all__ = ["EXPLORE", "ROUTERS", "NEEDS_FEATURES", "OFFLINE_ROUTERS", "Router", "RouterContext", "build_router",
           "check_router_names", "overhead_prices"]
