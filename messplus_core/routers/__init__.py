"""Routers behind a small registry: `conf/router/<name>.yaml` configures the entry of that name.

Each builder takes the stream's RouterContext and the router's parameters
(from its config, plus the sweep's V and c for MESS+).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from messplus_core.errors import ConfigError
from ..predictors import make_predictor
from .base import EXPLORE, OverheadPrices, Router, RouterContext
from .baselines import EducatedGuess, Oracle, SingleModel
from .learned import cheapest_above_threshold, knn, threshold_2model
from .mess_plus import MessPlus, MessPlusSettings, ReplayedMessPlus


def _mess_plus(ctx: RouterContext, params: dict[str, Any]) -> Router:
    """Any MESS+ preset: its levers from the router config, V and c from the sweep."""
    try:
        settings = MessPlusSettings.from_params(params)
    except (TypeError, ValueError) as err:
        raise ConfigError(str(err)) from err
    predictor = None
    if settings.estimator in ("head", "blend"):
        if ctx.features is None:
            raise ValueError(f"MESS+ with estimator={settings.estimator} needs request embeddings (RouterContext.features).")
        pred = params["predictor"]
        head = dict(pred["head"])
        if pred["name"] == "mlp_head" and np.issubdtype(ctx.hindsight_labels.dtype, np.floating):
            head.setdefault("loss", "mse")  # graded satisfaction: regress the score
        predictor = make_predictor(pred["name"], ctx.features.shape[1], ctx.n_models, ctx.seed, head)
    return ReplayedMessPlus(ctx, MessPlus(settings, ctx.n_models, ctx.alpha, ctx.seed, predictor))


ROUTERS: dict[str, Callable[[RouterContext, dict[str, Any]], Router]] = {
    "mess_plus": _mess_plus,
    "mess_plus_paper": _mess_plus,
    "mess_plus_2024": _mess_plus,  # the 2024 workshop paper's settings (conf/router/mess_plus_2024.yaml)
    "single_model": lambda ctx, params: SingleModel(ctx, model=params["model"]),
    "educated_guess": lambda ctx, params: EducatedGuess(ctx),
    "oracle": lambda ctx, params: Oracle(ctx),
    "threshold_2model": threshold_2model,
    "cheapest_above_threshold": cheapest_above_threshold,
    "knn": knn,
}

#: Routers that fit on a training part before the stream: they run only under the train/test protocol.
OFFLINE_ROUTERS = {"threshold_2model", "cheapest_above_threshold", "knn"}

#: The MESS+ presets: they span the sweep's V x c, learn online (so they also run on the full stream under the
#: train/test protocol) and are the routers the report compares everything against.
MESS_PLUS_ROUTERS = ("mess_plus", "mess_plus_paper", "mess_plus_2024")


def is_mess_plus(label: str) -> bool:
    """True for a MESS+ preset's results label, e.g. `mess_plus_paper` or `mess_plus (full stream)`."""
    return label.split(" ")[0] in MESS_PLUS_ROUTERS


def needs_features(name: str, params: dict[str, Any]) -> bool:
    """Whether a router's decisions use request embeddings (the evaluate stage embeds texts only for these)."""
    if name in MESS_PLUS_ROUTERS:
        return params.get("estimator", MessPlusSettings.estimator) in ("head", "blend")
    return name in OFFLINE_ROUTERS


def overhead_prices(params: dict[str, Any]) -> OverheadPrices:
    """The energy of a router's own computation, from its config: `router_energy_j` (J per routed request, the
    learned routers) or `predictor_energy_j` ({inference, train_step} in J, MESS+'s predictor); absent: free."""
    predictor = params.get("predictor_energy_j") or {}
    return OverheadPrices(inference_j=float(params.get("router_energy_j") or predictor.get("inference") or 0.0),
                          train_step_j=float(predictor.get("train_step") or 0.0))


def check_router_names(names: list[str]) -> None:
    """ConfigError naming every entry of `names` that is not in ROUTERS, and the available names."""
    unknown = [n for n in names if n not in ROUTERS]
    if unknown:
        raise ConfigError(f"unknown router(s) {unknown}; available: {sorted(ROUTERS)} (router=<name> or router=[a,b]).")


def build_router(name: str, ctx: RouterContext, params: dict[str, Any]) -> Router:
    """The router `name` for one stream, from its context and config parameters. ConfigError for an unknown
    name or bad MESS+ settings; ValueError when the router needs embeddings or a training part it lacks."""
    check_router_names([name])
    return ROUTERS[name](ctx, params)


__all__ = ["EXPLORE", "MESS_PLUS_ROUTERS", "ROUTERS", "OFFLINE_ROUTERS", "is_mess_plus", "needs_features", "Router",
           "RouterContext", "build_router",
           "check_router_names", "overhead_prices"]
