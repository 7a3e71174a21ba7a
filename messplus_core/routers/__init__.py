"""Routers behind one registry (`registry.py`): `conf/router/<name>.yaml` configures the entry of that name.

Importing this package imports every module in it, and each module registers
its own routers with `@register`: a new router is one module here plus one
YAML. Each builder takes the stream's RouterContext and the router's
parameters (from its config, plus the sweep's V and c for MESS+, or the zoo
category for a per-model router).
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

from .base import (EXPLORE, Decision, Feedback, OnlineRouter, OverheadPrices, Replayed, Router, RouterContext,
                   TrainingPart)
from . import registry
from .registry import RouterSpec, build_router, check_router_names, register

for _module in sorted(m.name for m in pkgutil.iter_modules(__path__)):
    importlib.import_module(f"{__name__}.{_module}")  # each router module registers its routers

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
