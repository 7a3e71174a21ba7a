"""95% intervals for a router's satisfaction and cost per request: bootstrap over requests, combined over seeds.

Per run, `bootstrap_means` resamples the replayed requests with replacement
(B replicates, a fixed generator seeded by the run's seed) and keeps the
replicates' means. Over the seeds of one (benchmark, router, alpha, V, c),
`combined_interval` averages replicate b of every seed (the figure the tables
report is the mean over seeds) and takes the 2.5th and 97.5th percentiles of
those averages: the percentile bootstrap (Efron & Tibshirani 1993, ch. 13),
with requests resampled within each seed and the seeds kept as they ran.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from messplus_core.core.rng import BOOTSTRAP, generator

REPLICATES = 200
LEVEL = 0.95


def bootstrap_means(values: np.ndarray, seed: int, replicates: int = REPLICATES) -> list[float]:
    """`replicates` means of `values` (N,) resampled with replacement; NaN values give NaN means.

    Rounded to 6 significant digits (they are stored in every run record).
    """
    values = np.asarray(values, dtype=np.float64)
    n = len(values)
    if n == 0:
        return []
    rng = generator(abs(int(seed)), BOOTSTRAP)
    means = values[rng.integers(0, n, size=(replicates, n))].mean(axis=1)
    return [float(f"{m:.6g}") for m in means]


@dataclass(frozen=True)
class Interval:
    """A closed interval [low, high] of a mean, in the unit of the values it was computed from."""

    low: float
    high: float

    def contains(self, x: float) -> bool:
        """low <= x <= high, with 1e-12 of slack for float round-off."""
        return self.low - 1e-12 <= x <= self.high + 1e-12


def combined_interval(per_seed: Sequence[Sequence[float] | None], level: float = LEVEL) -> Interval | None:
    """Percentile interval of the mean over seeds; None when a seed has no replicates (older records, bounds)."""
    if not per_seed or any(not reps for reps in per_seed):
        return None
    b = min(len(reps) for reps in per_seed)
    stacked = np.array([list(reps)[:b] for reps in per_seed], dtype=np.float64)
    if np.isnan(stacked).any():
        return None
    mean_over_seeds = stacked.mean(axis=0)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(mean_over_seeds, [tail, 100 - tail])
    return Interval(float(low), float(high)) if math.isfinite(low) else None
