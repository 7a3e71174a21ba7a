"""One run of the evaluation grid: a router on one seeded stream, summarised.

A `RunSpec` names everything that makes a run; `execute_run` replays it and
returns its record: the results row (`results.csv`) and a subsampled per-step
history (plots and W&B). Pure: no file I/O.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .bounds import static_mixture
from .capture_data import CaptureData, CostKind
from .engine import Trace, replay
from .routers import build_router
from .routers.base import RouterContext
from .stream import make_stream

HISTORY_POINTS = 200


@dataclass(frozen=True)
class RunSpec:
    benchmark: str
    router: str  # registry name
    alpha: float
    seed: int
    feedback_rate: float = 1.0
    V: float | None = None  # MESS+ only
    c: float | None = None  # MESS+ only
    model: str | None = None  # single_model only: the zoo category
    config_hash: str = ""  # router/predictor/cost settings: a changed setting is a different run

    @property
    def label(self) -> str:
        return f"{self.router}:{self.model}" if self.model else self.router

    @property
    def run_id(self) -> str:
        return hashlib.sha1(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:16]


def settings_hash(settings: dict[str, Any]) -> str:
    return hashlib.sha1(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:12]


def router_context(data: CaptureData, spec: RunSpec, cost: CostKind, stream_features: np.ndarray | None,
                   stream_labels: np.ndarray, stream_cost: np.ndarray) -> RouterContext:
    return RouterContext(
        categories=data.categories,
        alpha=spec.alpha,
        seed=spec.seed,
        n=data.n,
        features=stream_features,
        mean_satisfaction=data.labels.mean(axis=0),
        mean_cost=data.cost(cost).mean(axis=0),
        hindsight_labels=stream_labels,
        hindsight_costs=stream_cost,
    )


def execute_run(spec: RunSpec, data: CaptureData, features: np.ndarray | None, params: dict[str, Any],
                cost: CostKind) -> dict[str, Any]:
    """Replay `spec` and return {"run_id", "row", "history"}."""
    stream = make_stream(data, spec.seed, cost, spec.feedback_rate, features)
    ctx = router_context(data, spec, cost, stream.features, stream.labels, stream.cost)
    router_params = {**params, "V": spec.V, "c": spec.c, "model": spec.model}
    trace = replay(build_router(spec.router, ctx, router_params), stream)
    return {"run_id": spec.run_id, "row": summarize(spec, trace, data.categories, cost), "history": history(spec, trace, data.categories)}


def _base_row(spec: RunSpec, cost: CostKind) -> dict[str, Any]:
    return {
        "benchmark": spec.benchmark,
        "router": spec.label,
        "alpha": spec.alpha,
        "V": spec.V,
        "c": spec.c,
        "seed": spec.seed,
        "feedback_rate": spec.feedback_rate,
        "cost": cost,
    }


def summarize(spec: RunSpec, trace: Trace, categories: tuple[str, ...], cost: CostKind) -> dict[str, Any]:
    n = len(trace.served)
    satisfaction = float(trace.satisfied.mean())
    shares = np.bincount(trace.served, minlength=len(categories)) / n
    row = _base_row(spec, cost) | {
        "n_requests": n,
        "satisfaction": satisfaction,
        "sla_met": bool(satisfaction >= spec.alpha),
        "energy_j_total": float(trace.energy.sum()),
        "energy_j_per_request": float(trace.energy.sum() / n),
        "time_s_total": float(trace.time.sum()),
        "time_s_per_request": float(trace.time.sum() / n),
        "explore_steps": int(trace.explored.sum()),
        "explore_energy_j": float(trace.energy[trace.explored].sum()),
        "final_queue_ideal": float(trace.ideal_queue(spec.alpha)[-1]),
    }
    row |= {f"share_{cat}": float(s) for cat, s in zip(categories, shares)}
    row["run_id"] = spec.run_id
    return row


def history(spec: RunSpec, trace: Trace, categories: tuple[str, ...]) -> dict[str, list]:
    """Running metrics at up to HISTORY_POINTS evenly spaced steps (t counted from 1)."""
    n = len(trace.served)
    steps = np.unique(np.linspace(0, n - 1, min(n, HISTORY_POINTS)).astype(int))
    count = np.arange(1, n + 1)
    ideal = trace.ideal_queue(spec.alpha)
    out: dict[str, list] = {
        "t": (steps + 1).tolist(),
        "satisfaction": (np.cumsum(trace.satisfied) / count)[steps].tolist(),
        "energy_per_request": (np.cumsum(trace.energy) / count)[steps].tolist(),
        "cost": trace.cost[steps].tolist(),
        "chosen": np.where(trace.explored, -1, trace.served)[steps].tolist(),
        "explorations": np.cumsum(trace.explored)[steps].tolist(),
        "Q": trace.router_state.get("Q", ideal)[steps].tolist(),
        "Q_ideal": ideal[steps].tolist(),
    }
    if "p_t" in trace.router_state:
        out["p_t"] = trace.router_state["p_t"][steps].tolist()
    for m, cat in enumerate(categories):
        out[f"share_{cat}"] = (np.cumsum(trace.served == m) / count)[steps].tolist()
    return out


def static_optimum_row(data: CaptureData, benchmark: str, alpha: float, cost: CostKind) -> dict[str, Any]:
    """The cheapest fixed mixture's expected outcome: a bound, reported beside the routers."""
    mix = static_mixture(data.labels.mean(axis=0), data.cost(cost).mean(axis=0), alpha)
    energy = float(mix.probabilities @ data.energy.mean(axis=0))
    time = float(mix.probabilities @ data.time.mean(axis=0))
    spec = RunSpec(benchmark=benchmark, router="static_optimum", alpha=alpha, seed=-1)
    row = _base_row(spec, cost) | {
        "seed": None,
        "n_requests": data.n,
        "satisfaction": mix.expected_satisfaction,
        "sla_met": bool(mix.expected_satisfaction >= alpha - 1e-12),
        "energy_j_total": energy * data.n,
        "energy_j_per_request": energy,
        "time_s_total": time * data.n,
        "time_s_per_request": time,
        "explore_steps": 0,
        "explore_energy_j": 0.0,
        "final_queue_ideal": None,
    }
    row |= {f"share_{cat}": float(p) for cat, p in zip(data.categories, mix.probabilities)}
    row["run_id"] = spec.run_id
    return row
