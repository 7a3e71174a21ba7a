"""Routers behind one registry (`registry.py`): `conf/router/<name>.yaml` configures the entry of that name.

Importing this package registers every router the project ships (each module
registers its own with `@register`). Each builder takes the stream's
RouterContext and the router's parameters (from its config, plus the sweep's
V and c for MESS+, or the zoo category for a per-model router).
"""

from __future__ import annotations

from typing import Any

from . import baselines, learned, mess_plus  # noqa: F401  (each registers its routers)
from .base import (EXPLORE, Decision, Feedback, OnlineRouter, OverheadPrices, Replayed, Router, RouterContext,
                   TrainingPart)
from . import registry
from .registry import RouterSpec, build_router, check_router_names, register

#: The MESS+ presets the project ships (the online gateway serves one of them).
MESS_PLUS_ROUTERS = registry.names(preset=True)


def overhead_prices(params: dict[str, Any]) -> OverheadPrices:
    """The energy of a router's own computation, from its config: `router_energy_j` (J per routed request, the
    learned routers) or `predictor_energy_j` ({inference, train_step} in J, MESS+'s predictor); absent: free."""
    predictor = params.get("predictor_energy_j") or {}
    return OverheadPrices(inference_j=float(params.get("router_energy_j") or predictor.get("inference") or 0.0),
                          train_step_j=float(predictor.get("train_step") or 0.0))


__all__ = ["EXPLORE", "MESS_PLUS_ROUTERS", "Decision", "Feedback", "OnlineRouter", "Replayed", "Router", "RouterContext",
           "RouterSpec", "TrainingPart", "build_router", "check_router_names", "overhead_prices", "register", "registry"]
