"""The router interface that the replay engine drives.

A router only decides: `choose(t)` returns a model index or EXPLORE, and
`observe` hands it what a deployed system would learn afterwards (the costs of
the models that were queried, and satisfaction where feedback exists). The
engine, not the router, charges costs and counts explorations.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

EXPLORE = -1


@dataclass(frozen=True)
class RouterContext:
    """What a router may know when it is built for one stream.

    `features`: request embeddings in stream order (visible online, one by one).
    `mean_satisfaction` / `mean_cost`: per-model means over the whole benchmark,
    the prior knowledge the educated-guess baseline assumes.
    `hindsight_labels` / `hindsight_costs`: the whole stream's outcomes, for the
    oracle only (a bound, not a deployable router). `request_costs`: each
    request's own costs, for MESS+ with energy_estimate=known.
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

    @property
    def n_models(self) -> int:
        return len(self.categories)

    @property
    def request_costs(self) -> np.ndarray:
        return self.hindsight_costs


class Router(ABC):
    """One routing policy over one stream."""

    @abstractmethod
    def choose(self, t: int) -> int:
        """Model index (0 = cheapest) for request t (0-based), or EXPLORE to query every model."""

    def observe(self, t: int, served: int, satisfied: float | None, labels: np.ndarray | None,
                costs: dict[int, float]) -> None:
        """After request t: the served model, its satisfaction (None without feedback), all models'
        labels (explorations with feedback only) and the measured cost of each queried model."""

    def trace(self) -> dict[str, np.ndarray]:
        """Per-step internal state worth plotting (e.g. MESS+'s queue and p_t)."""
        return {}
