"""One run of the evaluation grid: a router on one seeded stream, summarised.

A `RunSpec` names everything that makes a run; `execute_run` replays it and
returns its record: the results row (`results.csv`) and a subsampled per-step
history (plots and W&B). Pure: no file I/O.

Under the train/test protocol (`split="test"`) the seeded stream is cut into
a training part and a test part; the router is built with the training part
(`RouterContext.train`) and replayed on the test part only, so nothing it fits
or calibrates can see a test label. `split="full"` replays the whole stream.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from messplus_core.core.engine import Trace, replay
from messplus_core.core.stream import CostKind, Stream, make_stream, split_stream
from messplus_core.core.uncertainty import bootstrap_means
from messplus_core.data.capture_csv import CaptureData
from messplus_core.routers import build_router, overhead_prices, registry
from messplus_core.routers.base import RouterContext, TrainingPart

HISTORY_POINTS = 200
#: The version of everything in the code that shapes a run's result (replay engine, routers, stream, bounds,
#: row schema). Part of every run_id: raise it with any change that alters results, so that runs stored by
#: older code are never reused as if they were current.
RESULT_VERSION = 2


@dataclass(frozen=True)
class RunSpec:
    """One run of the grid: a router at one (benchmark, alpha, seed, split, V, c); its fields are its identity."""

    benchmark: str
    router: str  # registry name
    alpha: float
    seed: int
    feedback_rate: float  # share of requests that report satisfaction (conf/evaluate.yaml feedback_rate)
    V: float | None = None  # routers that sweep V and c only (the MESS+ presets)
    c: float | None = None  # routers that sweep V and c only
    model: str | None = None  # a per-model router only (registry `per_model`): the zoo category
    config_hash: str = ""  # router/predictor/cost/scenario settings: a changed setting is a different run
    scenario: str = "none"  # the scenario config that asked for this run (`none`: the main grid)
    split: str = "full"  # `full` stream, or the `test` part of the train/test protocol
    train_fraction: float | None = None  # test split only: the training part's share of the stream
    shuffle: bool = True  # False: the stream keeps capture order (the non-stationary scenario)
    data_digest: str = ""  # CaptureData.digest of the stream's data: a changed capture is a different run

    @property
    def label(self) -> str:
        """The router's results label: `<router>:<category>` for a per-model router (registry `per_model`), else the name."""
        return f"{self.router}{registry.MODEL_SEPARATOR}{self.model}" if self.model else self.router

    @property
    def run_id(self) -> str:
        """16 hex digits of SHA-1 over every field and RESULT_VERSION: equal ids mean a stored run may be reused."""
        identity = asdict(self) | {"result_version": RESULT_VERSION}
        return hashlib.sha1(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]


def settings_hash(settings: dict[str, Any]) -> str:
    """12 hex digits of SHA-1 over `settings` as sorted JSON (non-JSON values by str): RunSpec.config_hash."""
    return hashlib.sha1(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:12]


def router_context(data: CaptureData, spec: RunSpec, cost: CostKind, stream_features: np.ndarray | None,
                   stream_labels: np.ndarray, stream_cost: np.ndarray, train: TrainingPart | None = None,
                   params: dict[str, Any] | None = None) -> RouterContext:
    """The context for the replayed stream; with a training part, the prior means are that part's, not the data's.

    The stream's own labels and costs (hindsight) go in only where the router's registry entry declares it
    needs them for `params` (the oracle; MESS+ with energy_estimate=known: the costs); every other router
    gets None, so no hindsight can leak into it.
    """
    entry, params = registry.get(spec.router), params or {}
    return RouterContext(
        categories=data.categories,
        alpha=spec.alpha,
        seed=spec.seed,
        n=len(stream_labels),
        features=stream_features,
        mean_satisfaction=data.labels.mean(axis=0) if train is None else train.labels.mean(axis=0),
        mean_cost=data.cost(cost).mean(axis=0) if train is None else train.costs.mean(axis=0),
        hindsight_labels=stream_labels if entry.needs_hindsight_labels(params) else None,
        hindsight_costs=stream_cost if entry.needs_hindsight_costs(params) else None,
        train=train,
        graded=bool(np.issubdtype(stream_labels.dtype, np.floating)),
    )


def replay_parts(spec: RunSpec, data: CaptureData, features: np.ndarray | None,
                 cost: CostKind) -> tuple[Stream, TrainingPart | None]:
    """(the stream to replay, the training part): the whole stream and None, or the test and training parts.

    The training part keeps only requests with feedback: a request without
    feedback has no label, for an offline router as for MESS+.
    """
    stream = make_stream(data, spec.seed, cost, spec.feedback_rate, features, spec.shuffle)
    if spec.split == "full":
        return stream, None
    if spec.split != "test" or spec.train_fraction is None:
        raise ValueError(f"split must be 'full' or 'test' (with train_fraction), got {spec.split!r}.")
    train, test = split_stream(stream, spec.train_fraction)
    labelled = train.feedback
    if not labelled.any():
        raise ValueError(f"{spec.benchmark} seed {spec.seed}: no request of the training part has feedback; "
                         "raise split.train_fraction or feedback_rate.")
    part = TrainingPart(features=None if train.features is None else train.features[labelled],
                        labels=train.labels[labelled], costs=train.cost[labelled])
    return test, part


def execute_run(spec: RunSpec, data: CaptureData, features: np.ndarray | None, params: dict[str, Any],
                cost: CostKind) -> dict[str, Any]:
    """Replay `spec` and return {"run_id", "row", "history", "bootstrap"}.

    `bootstrap`: per-request resampled means of satisfaction and of the reported cost per request
    (energy J incl. the router's own, or time s), for the report's 95% intervals (`uncertainty`).
    """
    stream, train = replay_parts(spec, data, features, cost)
    router_params = {**params, "V": spec.V, "c": spec.c, "model": spec.model}
    ctx = router_context(data, spec, cost, stream.features, stream.labels, stream.cost, train, router_params)
    trace = replay(build_router(spec.router, ctx, router_params), stream, overhead_prices(params))
    row = summarize(spec, trace, data.categories, cost) | token_columns(data, stream.order, trace)
    return {"run_id": spec.run_id, "row": row, "history": history(spec, trace, data.categories),
            "bootstrap": {"satisfaction": bootstrap_means(trace.satisfied, spec.seed),
                          "cost": bootstrap_means(trace.energy if cost == "energy" else trace.time, spec.seed)}}


TOKEN_COLUMNS = ("prompt_tokens_per_request", "generated_tokens_per_request")


def token_columns(data: CaptureData, order: np.ndarray, trace: Trace) -> dict[str, float]:
    """Prompt and generated tokens per request, counted like the costs: every queried model's on an exploration,
    the served model's otherwise. NaN for captures without token counts (multiple-choice benchmarks)."""
    if data.tokens is None or trace.queried is None:
        return dict.fromkeys(TOKEN_COLUMNS, float("nan"))
    charged = (data.tokens[order] * trace.queried[:, :, None]).sum(axis=1)  # (N, 2)
    return dict(zip(TOKEN_COLUMNS, (float(v) for v in charged.mean(axis=0))))


def _base_row(spec: RunSpec, cost: CostKind) -> dict[str, Any]:
    return {
        "scenario": spec.scenario,
        "benchmark": spec.benchmark,
        "router": spec.label,
        "split": spec.split,
        "alpha": spec.alpha,
        "V": spec.V,
        "c": spec.c,
        "seed": spec.seed,
        "feedback_rate": spec.feedback_rate,
        "train_fraction": spec.train_fraction,
        "cost": cost,
    }


def summarize(spec: RunSpec, trace: Trace, categories: tuple[str, ...], cost: CostKind) -> dict[str, Any]:
    """One results.csv row of a replay: the spec's fields, mean satisfaction, whether it met alpha, energy (J)
    and time (s) totals and per request, explorations, the router's own overhead (J), the ideal queue's final
    value, each model's share of served requests, every scalar of the router's `report()`, and the run_id.
    Raises ValueError when a report key clashes with a results column."""
    n = len(trace.served)
    satisfaction = float(trace.satisfied.mean())
    shares = np.bincount(trace.served, minlength=len(categories)) / n
    overhead = 0.0 if trace.overhead_energy is None else float(trace.overhead_energy.sum())
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
        "exploit_largest_share": exploit_largest_share(trace, len(categories)),
        "overhead_j_total": overhead,
        "overhead_j_per_request": overhead / n,
        "final_queue_ideal": float(trace.ideal_queue(spec.alpha)[-1]),
    }
    row |= {f"share_{cat}": float(s) for cat, s in zip(categories, shares)}
    clash = sorted(set(trace.router_report) & (set(row) | {"run_id"}))
    if clash:
        raise ValueError(f"router {spec.label} reports {clash}, which are results columns already; rename them in its report().")
    row |= {k: float(v) for k, v in trace.router_report.items()}  # every key a router reports becomes a column
    row["run_id"] = spec.run_id
    return row


def exploit_largest_share(trace: Trace, n_models: int) -> float:
    """Share of the exploited (not explored) requests that the most expensive model served; NaN if none was exploited.

    For MESS+ this is the share of exploit decisions at which the virtual queue stood above the largest model's
    threshold: the exploit rule argmin_m V*E_m + Q*(alpha - s_hat_m) is linear in Q, so (while the largest model
    has the highest estimate s_hat) it picks that model exactly when Q exceeds
    max_m V*(E_L - E_m) / (s_hat_L - s_hat_m), costs as the rule weighs them (raw, or divided by the shadow price
    lambda: then the threshold is V times the frontier's last slope over lambda, i.e. V when alpha lies on the
    segment into the largest model and above V otherwise). For a router without explorations it equals the
    largest model's share of requests; for the static optimum, the largest model's weight in the mixture.
    """
    exploited = ~trace.explored
    count = int(exploited.sum())
    return float((trace.served[exploited] == n_models - 1).sum() / count) if count else float("nan")


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


def bound_row(spec: RunSpec, data: CaptureData, cost: CostKind) -> dict[str, Any]:
    """An expected-value bound's outcome on the requests `spec` scores, beside the routers.

    `spec.router` names a registry entry with `expected` (the static optimum: the cheapest fixed mixture,
    `core.bounds.static_mixture`). On the full stream the bound is the
    benchmark's (seed -1, reported without a seed); on a test split it is that
    seed's test part, the requests every router of that seed is scored on.
    """
    if spec.split == "full":
        labels, costs, energies, times = data.labels, data.cost(cost), data.energy, data.time
    else:
        part, _ = replay_parts(spec, data, None, cost)
        labels, costs, energies, times = part.labels, part.cost, part.energy, part.time
    n = len(labels)
    order = np.arange(data.n) if spec.split == "full" else part.order
    mix = registry.get(spec.router).expected(labels.mean(axis=0), costs.mean(axis=0), spec.alpha)
    energy = float(mix.probabilities @ energies.mean(axis=0))
    time = float(mix.probabilities @ times.mean(axis=0))
    row = _base_row(spec, cost) | {
        "seed": spec.seed if spec.split == "test" else None,
        "n_requests": n,
        "satisfaction": mix.expected_satisfaction,
        "sla_met": bool(mix.expected_satisfaction >= spec.alpha - 1e-12),
        "energy_j_total": energy * n,
        "energy_j_per_request": energy,
        "time_s_total": time * n,
        "time_s_per_request": time,
        "explore_steps": 0,
        "explore_energy_j": 0.0,
        "exploit_largest_share": float(mix.probabilities[-1]),
        "overhead_j_total": 0.0,
        "overhead_j_per_request": 0.0,
        "final_queue_ideal": None,
    }
    row |= {f"share_{cat}": float(p) for cat, p in zip(data.categories, mix.probabilities)}
    row |= dict.fromkeys(TOKEN_COLUMNS, float("nan")) if data.tokens is None else \
        dict(zip(TOKEN_COLUMNS, (float(v) for v in mix.probabilities @ data.tokens[order].mean(axis=0))))
    row["run_id"] = spec.run_id
    return row
