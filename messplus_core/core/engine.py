"""The replay engine: drives any router over a stream and charges every cost itself.

No router reports its own bill. On an exploration the engine queries the
models the router names (EXPLORE: every model, serving the largest one's
answer), charges the sum of their energy, time and cost, and reveals their
labels where the request has feedback; otherwise it charges the served model alone. A router
that runs a model of its own (MESS+'s predictor, a learned router) reports
how often it ran it; the engine prices that at `OverheadPrices` and adds it
to the energy, so that no router's own inference is hidden.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from messplus_core.core.algorithm import queue_path
from messplus_core.core.stream import Stream
from messplus_core.routers.base import EXPLORE, Explore, OverheadPrices, Router


@dataclass(frozen=True)
class Trace:
    """Per-step record of one replay (all arrays of length N)."""

    served: np.ndarray  # int8 model index whose answer was served
    explored: np.ndarray  # bool
    satisfied: np.ndarray  # label of the served answer: int8 0/1, or a float score in [0, 1] (graded)
    cost: np.ndarray  # charged optimised cost
    energy: np.ndarray  # charged J, the router's own overhead included
    time: np.ndarray  # charged s
    router_state: dict[str, np.ndarray] = field(default_factory=dict)
    overhead_energy: np.ndarray | None = None  # J of the router's own computation (part of `energy`)
    router_report: dict[str, float] = field(default_factory=dict)
    queried: np.ndarray | None = None  # (N, M) bool: the models that ran at step t (all those an exploration queried)

    def ideal_queue(self, alpha: float) -> np.ndarray:
        """The queue as if every request had given feedback (monitoring only)."""
        return queue_path(alpha, self.satisfied)


def replay(router: Router, stream: Stream, prices: OverheadPrices = OverheadPrices()) -> Trace:
    """Drive `router` over every request of `stream` (N requests, M models) and charge what it ran.

    Per step t: `router.choose(t)`; a model index is served and charged alone; EXPLORE or an `Explore` charges
    the sum of the queried models' cost (the stream's cost unit), energy (J) and time (s) and, where request t
    has feedback, reveals their (M,) labels (NaN for models not queried). Then `router.observe` receives the
    served model, its satisfaction (None without feedback), the revealed labels and the observed costs.
    After the stream, the router's `usage()` is priced at `prices` (J) and added to the energy.
    Returns a `Trace` of length-N arrays. Raises ValueError when the router names a model outside 0..M-1 or
    explores without serving a queried model.
    """
    n, m = stream.n, stream.n_models
    largest = m - 1
    labels = stream.labels.tolist()
    cost, energy, time = stream.cost.tolist(), stream.energy.tolist(), stream.time.tolist()
    feedback = stream.feedback.tolist()
    all_models = range(m)
    served = [0] * n
    explored = [False] * n
    charged = [0.0] * n
    charged_energy = [0.0] * n
    charged_time = [0.0] * n
    ran: list[tuple[int, ...]] = [()] * n  # models that ran per step (plain tuples: no NumPy call per step)
    for t in range(n):
        choice = router.choose(t)
        row_cost = cost[t]
        if choice == EXPLORE or isinstance(choice, Explore):
            queried, model = (all_models, largest) if choice == EXPLORE else (choice.models, choice.serve)
            if model not in queried or not all(0 <= q < m for q in queried):
                raise ValueError(f"{type(router).__name__} explored {choice} at step {t}; valid models: 0..{m - 1}, "
                                 "serving one of those queried.")
            explored[t] = True
            observed = {q: row_cost[q] for q in queried}
            charged[t] = sum(observed.values())
            charged_energy[t] = sum(energy[t][q] for q in queried)
            charged_time[t] = sum(time[t][q] for q in queried)
            revealed = _revealed(stream.labels[t], queried, m) if feedback[t] else None
        else:
            if not 0 <= choice < m:
                raise ValueError(f"{type(router).__name__} chose model {choice} at step {t}; valid: 0..{m - 1} or EXPLORE.")
            model = choice
            observed = {model: row_cost[model]}
            charged[t] = row_cost[model]
            charged_energy[t] = energy[t][model]
            charged_time[t] = time[t][model]
            revealed = None
        served[t] = model
        ran[t] = tuple(observed)
        satisfied = labels[t][model]
        router.observe(t, model, float(satisfied) if feedback[t] else None, revealed, observed)
    overhead = _overhead(router, prices, n)
    return Trace(
        served=np.asarray(served, dtype=np.int8),
        explored=np.asarray(explored, dtype=bool),
        satisfied=stream.labels[np.arange(n), served],
        cost=np.asarray(charged),
        energy=np.asarray(charged_energy) + overhead,
        time=np.asarray(charged_time),
        router_state=router.trace(),
        overhead_energy=overhead,
        router_report=router.report(),
        queried=_queried_mask(ran, m),
    )


def _revealed(labels: np.ndarray, queried: "range | tuple[int, ...]", m: int) -> np.ndarray:
    """(M,) labels of an exploration: every queried model's, NaN for models that did not run."""
    if len(queried) == m:
        return labels
    out = np.full(m, np.nan)
    out[list(queried)] = labels[list(queried)]
    return out


def _queried_mask(ran: list[tuple[int, ...]], m: int) -> np.ndarray:
    """(N, M) bool from the models that ran per step."""
    mask = np.zeros((len(ran), m), dtype=bool)
    lengths = [len(r) for r in ran]
    mask[np.repeat(np.arange(len(ran)), lengths), [q for r in ran for q in r]] = True
    return mask


def _overhead(router: Router, prices: OverheadPrices, n: int) -> np.ndarray:
    usage = router.usage()
    if usage is None:
        return np.zeros(n)
    return prices.inference_j * usage.inferences + prices.train_step_j * usage.train_steps
