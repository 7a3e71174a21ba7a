"""The router interface that the replay engine drives.

A router only decides: `choose(t)` returns a model index or EXPLORE, and
`observe` hands it what a deployed system would learn afterwards (the costs of
the models that were queried, and satisfaction where feedback exists). The
engine, not the router, charges costs and counts explorations; a router that
runs a model of its own reports how much it ran (`usage`) and the engine
prices that too.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

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
    `hindsight_labels` / `hindsight_costs`: the whole stream's outcomes, for the
    oracle only (a bound, not a deployable router). `request_costs`: each
    request's own costs, for MESS+ with energy_estimate=known.
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
    hindsight_labels: np.ndarray
    hindsight_costs: np.ndarray
    train: TrainingPart | None = None

    @property
    def n_models(self) -> int:
        """M, the number of zoo models."""
        return len(self.categories)

    @property
    def request_costs(self) -> np.ndarray:
        """(N, M) each request's own optimised cost (the hindsight costs), for energy_estimate=known."""
        return self.hindsight_costs


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
