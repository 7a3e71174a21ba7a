"""The router interfaces: the per-request policy (`OnlineRouter`) and the replay engine's `Router`.

An online-capable router is a policy that routes one request at a time:
`decide(features) -> Decision`, then `observe(decision, feedback)` with what a
deployed system learns afterwards (the costs of the models that were queried,
and satisfaction where feedback exists), and `state_dict` / `load_state_dict`
to save and restore it exactly. It holds no array as long as the stream.

The replay engine (`core/engine.py`) drives a `Router`: `choose(t)` returns a
model index or EXPLORE, `observe(t, ...)` reports the outcome. `Replayed`
turns any OnlineRouter into one, feeding it the stream's request t; a router
that plans from hindsight (the oracle) implements `Router` directly. The
engine, not the router, charges costs and counts explorations; a router that
runs a model of its own reports how much it ran (`usage`) and the engine
prices that too.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Protocol, runtime_checkable

import numpy as np

EXPLORE = -1  # explore the classic way: query every model, serve the largest one's answer


@dataclass(frozen=True)
class Explore:
    """An exploration of some models: each of `models` runs (all charged, all labels revealed with feedback),
    and `serve`'s answer is returned. `EXPLORE` is Explore(every model, serve the largest)."""

    models: tuple[int, ...]
    serve: int


@dataclass(frozen=True)
class TrainingPart:
    """What an offline router may fit on: the stream's training part, requests with feedback only.

    Built from the training slice of the stream and nothing else, so the test
    part's labels cannot reach a calibration through it.
    """

    features: np.ndarray | None  # (n, d) request embeddings
    labels: np.ndarray  # (n, M) int8: every model's satisfaction
    costs: np.ndarray  # (n, M) the optimised cost of every model

    @property
    def n(self) -> int:
        """n, the number of training requests."""
        return len(self.labels)


@dataclass(frozen=True)
class RouterContext:
    """What a router may know when it is built for one stream.

    `features`: request embeddings in stream order (visible online, one by one).
    `mean_satisfaction` / `mean_cost`: per-model means over the whole benchmark,
    the prior knowledge the educated-guess baseline assumes.
    `hindsight_labels` / `hindsight_costs`: (n, M) the whole stream's outcomes.
    The evaluate stage fills them only for a router whose registry entry
    declares it needs them (the oracle, a bound; MESS+ with
    energy_estimate=known reads `request_costs`, each request's own costs);
    every other router gets None, so it cannot peek at them.
    `graded`: satisfaction is a graded score in [0, 1] (float labels), not 0/1.
    `train`: the training part under the train/test protocol (None on the full
    stream); there the stream is the test part, and `mean_satisfaction` /
    `mean_cost` are the training part's.
    """

    categories: tuple[str, ...]
    alpha: float
    seed: int
    n: int
    features: np.ndarray | None
    mean_satisfaction: np.ndarray
    mean_cost: np.ndarray
    hindsight_labels: np.ndarray | None = None
    hindsight_costs: np.ndarray | None = None
    train: TrainingPart | None = None
    graded: bool = False

    @property
    def n_models(self) -> int:
        """M, the number of zoo models."""
        return len(self.categories)

    @property
    def request_costs(self) -> np.ndarray:
        """(n, M) each request's own costs; ValueError when the router did not declare it needs them."""
        return _declared(self.hindsight_costs, "hindsight_costs")

    @property
    def stream_labels(self) -> np.ndarray:
        """(n, M) the stream's own labels; ValueError when the router did not declare it needs them."""
        return _declared(self.hindsight_labels, "hindsight_labels")


def _declared(value: np.ndarray | None, what: str) -> np.ndarray:
    if value is None:
        raise ValueError(f"this router reads the stream's {what.split('_')[1]} in hindsight but its registry entry does "
                         f"not declare `{what}`; declare it in its @register(...) (routers/registry.py).")
    return value


@dataclass(frozen=True)
class Usage:
    """How much a router ran its own model at each step (priced by the engine, not by the router)."""

    inferences: np.ndarray  # (N,) forward passes at step t
    train_steps: np.ndarray  # (N,) optimiser steps at step t


@dataclass(frozen=True)
class OverheadPrices:
    """What the engine charges for a router's own computation: J per inference and J per optimiser step."""

    inference_j: float = 0.0
    train_step_j: float = 0.0


class Router(ABC):
    """One routing policy over one stream."""

    @abstractmethod
    def choose(self, t: int) -> "int | Explore":
        """Model index (0 = cheapest) for request t (0-based), EXPLORE to query every model, or an Explore."""

    def observe(self, t: int, served: int, satisfied: float | None, labels: np.ndarray | None,
                costs: dict[int, float]) -> None:
        """After request t: the served model, its satisfaction in [0, 1] (None without feedback), the (M,)
        labels of an exploration with feedback (NaN for models it did not query; None otherwise) and
        {model: measured cost} of each queried model, in the stream's cost unit (J or s)."""

    def trace(self) -> dict[str, np.ndarray]:
        """Per-step internal state worth plotting (e.g. MESS+'s queue and p_t)."""
        return {}

    def usage(self) -> Usage | None:
        """The router's own computation per step, after the replay; None: it runs no model."""
        return None

    def report(self) -> dict[str, float]:
        """Scalars worth a results column (e.g. a learned router's calibrated threshold)."""
        return {}


@dataclass(frozen=True)
class Decision:
    """What an online router decided for one request (t counted from 1).

    serve: the model whose answer is returned; queried: every model that runs (all of them charged; the
    served one alone when not exploring); explored: an exploration (every queried model's label is revealed
    with feedback); p_t: the exploration probability; q: the queue when deciding (MESS+; 0 elsewhere);
    s_hat: (M,) satisfaction estimates used (None where none exist); inferences: forward passes of the
    router's own predictor made for this decision (priced by the engine at `OverheadPrices.inference_j`).
    """

    t: int
    serve: int
    queried: tuple[int, ...]
    explored: bool = False
    p_t: float = 0.0
    q: float = 0.0
    s_hat: tuple[float, ...] | None = None
    inferences: int = 0


@dataclass(frozen=True)
class Feedback:
    """What a deployed system learns about one decision after it ran.

    costs: {model: measured cost} of each queried model (cost units); satisfied: the served answer's
    satisfaction in [0, 1], None without feedback; labels: {model: satisfaction} of every model an
    exploration queried (with feedback only); features: (d,) the request's embedding, for routers that
    learn from it.
    """

    costs: Mapping[int, float]
    satisfied: float | None = None
    labels: Mapping[int, float] | None = None
    features: np.ndarray | None = None


@runtime_checkable
class OnlineRouter(Protocol):
    """A per-request routing policy: the same object routes a replayed stream (through `Replayed`) and live traffic."""

    def decide(self, features: np.ndarray | None = None) -> Decision:
        """Route the next request. features: (d,) its embedding (None for routers that read none)."""

    def observe(self, decision: Decision, feedback: Feedback) -> int:
        """Learn from what `decision` produced; returns the optimiser steps of its own predictor (0: none)."""

    def state_dict(self) -> dict[str, Any]:
        """Everything that determines future decisions (generator state included)."""

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a `state_dict()`: the router then continues exactly as the one that saved it."""


class Replayed(Router):
    """Drives an OnlineRouter over a replayed stream through the engine's choose/observe interface.

    choose(t) hands the policy request t's embedding; observe(t, ...) turns the engine's outcome into a
    Feedback. Only the current Decision is kept. The per-step predictor use (inferences, optimiser steps)
    is recorded for the engine to price.
    """

    def __init__(self, ctx: RouterContext, policy: OnlineRouter,
                 report: "Callable[[], dict[str, float]] | None" = None) -> None:
        self.ctx, self.policy, self._report = ctx, policy, report
        self.current: Decision | None = None
        self.inferences = np.zeros(ctx.n)
        self.train_steps = np.zeros(ctx.n)

    def features(self, t: int) -> np.ndarray | None:
        """(d,) request t's embedding, or None when the stream carries none."""
        return None if self.ctx.features is None else self.ctx.features[t]

    def decide(self, t: int) -> Decision:
        """The policy's Decision for request t (0-based; a subclass may hand it more, e.g. known costs)."""
        return self.policy.decide(self.features(t))

    def choose(self, t: int) -> "int | Explore":
        d = self.current = self.decide(t)
        self.inferences[t] = d.inferences
        if not d.explored:
            return d.serve
        m = self.ctx.n_models
        if d.queried == tuple(range(m)) and d.serve == m - 1:
            return EXPLORE
        return Explore(d.queried, d.serve)

    def observe(self, t: int, served: int, satisfied: float | None, labels: np.ndarray | None,
                costs: dict[int, float]) -> None:
        d = self.current
        revealed = None if labels is None else {m: float(labels[m]) for m in d.queried}
        feedback = Feedback(costs, satisfied, revealed, self.features(t) if satisfied is not None else None)
        self.train_steps[t] = self.policy.observe(d, feedback)

    def usage(self) -> Usage | None:
        """The policy's own predictor use per step; None when it ran none."""
        if not (self.inferences.any() or self.train_steps.any()):
            return None
        return Usage(inferences=self.inferences, train_steps=self.train_steps)

    def report(self) -> dict[str, float]:
        return {} if self._report is None else self._report()
