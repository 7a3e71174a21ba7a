"""A replay stream: one benchmark's requests in a seeded order, with the feedback draw.

Every router of a (benchmark, seed) pair sees the same order and the same
feedback mask, so their differences are theirs alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .capture_data import CaptureData, CostKind


@dataclass(frozen=True)
class Stream:
    benchmark: str
    categories: tuple[str, ...]
    seed: int
    order: np.ndarray  # (N,) row indices into the CaptureData
    labels: np.ndarray  # (N, M) int8
    cost: np.ndarray  # (N, M) what routers optimise (energy or time)
    energy: np.ndarray  # (N, M) J, NaN where unmeasured
    time: np.ndarray  # (N, M) s
    features: np.ndarray | None  # (N, d) request embeddings, when a router needs them
    feedback: np.ndarray  # (N,) bool: does request t report its satisfaction?

    @property
    def n(self) -> int:
        return len(self.order)

    @property
    def n_models(self) -> int:
        return len(self.categories)


def make_stream(data: CaptureData, seed: int, cost: CostKind = "energy", feedback_rate: float = 1.0,
                features: np.ndarray | None = None, shuffle: bool = True) -> Stream:
    """Shuffle the benchmark with `seed` (numpy PCG64) and draw which requests give feedback."""
    order = np.random.default_rng(seed).permutation(data.n) if shuffle else np.arange(data.n)
    feedback = np.random.default_rng([seed, 7]).random(data.n) < feedback_rate
    return Stream(
        benchmark=data.benchmark,
        categories=data.categories,
        seed=seed,
        order=order,
        labels=data.labels[order],
        cost=data.cost(cost)[order],
        energy=data.energy[order],
        time=data.time[order],
        features=None if features is None else features[order],
        feedback=feedback,
    )
