"""A replay stream: one benchmark's requests in a seeded order, with the feedback draw.

Every router of a (benchmark, seed) pair sees the same order and the same
feedback mask, so their differences are theirs alone. `split_stream` cuts that
same stream into a training part (its first requests) and a test part (the
rest, in the same order): offline routers fit on the one, every router is
scored on the other.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal

import numpy as np

from messplus_core.core.rng import FEEDBACK, generator

if TYPE_CHECKING:  # the loader needs pandas; a stream only reads its arrays
    from messplus_core.data.capture_csv import CaptureData

#: The cost a router optimises: energy (J) or wall time (s) per request.
CostKind = Literal["energy", "time"]


@dataclass(frozen=True)
class Stream:
    """One benchmark's N requests in replay order, M models cheapest first, and who gives feedback.

    `labels` is int8 0/1, or float scores in [0, 1] for graded satisfaction. Built by `make_stream`.
    """

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
        """N, the number of requests."""
        return len(self.order)

    @property
    def n_models(self) -> int:
        """M, the number of zoo models."""
        return len(self.categories)


def make_stream(data: CaptureData, seed: int, cost: CostKind, feedback_rate: float,
                features: np.ndarray | None = None, shuffle: bool = True) -> Stream:
    """Shuffle the benchmark with `seed` (numpy PCG64) and draw which requests give feedback.

    cost: the cost routers optimise, `energy` (J) or `time` (s): `Stream.cost` (N, M). feedback_rate: the share
    of requests in [0, 1] that report satisfaction (`Stream.feedback` (N,) bool). Both come from the stage's
    config (conf/evaluate.yaml `cost`, `feedback_rate`): no default here. features: (N, d) embeddings in capture
    order, or None. shuffle: False keeps capture order (the non-stationary scenario).
    """
    order = generator(seed).permutation(data.n) if shuffle else np.arange(data.n)
    feedback = feedback_mask(data.n, seed, feedback_rate)
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


def feedback_mask(n: int, seed: int, feedback_rate: float) -> np.ndarray:
    """(n,) bool: which stream positions report satisfaction. Depends on n, the seed and the rate only."""
    return generator(seed, FEEDBACK).random(n) < feedback_rate


def train_size(n: int, train_fraction: float) -> int:
    """Requests in the training part of an n-request stream: round(train_fraction * n), kept within 1..n-1
    (0 when n < 2: such a stream has no split)."""
    return min(max(1, round(train_fraction * n)), n - 1)


def labelled_training_requests(n: int, seed: int, feedback_rate: float, train_fraction: float) -> int:
    """How many training-part requests of this stream report satisfaction: knowable before any data is replayed."""
    return int(feedback_mask(n, seed, feedback_rate)[:max(train_size(n, train_fraction), 0)].sum())


def split_stream(stream: Stream, train_fraction: float) -> tuple[Stream, Stream]:
    """(training part, test part): the first round(train_fraction * N) requests of the stream and the rest.

    For a shuffled stream the training part is a random sample per seed; for an
    unshuffled one (the non-stationary scenario) it is the history that preceded
    deployment. Both parts keep their requests' feedback draws.
    """
    if not 0.0 < train_fraction < 1.0:
        raise ValueError(f"train_fraction must lie in (0, 1), got {train_fraction}.")
    n_train = train_size(stream.n, train_fraction)
    return _part(stream, slice(0, n_train)), _part(stream, slice(n_train, stream.n))


def _part(stream: Stream, rows: slice) -> Stream:
    return replace(
        stream,
        order=stream.order[rows],
        labels=stream.labels[rows],
        cost=stream.cost[rows],
        energy=stream.energy[rows],
        time=stream.time[rows],
        features=None if stream.features is None else stream.features[rows],
        feedback=stream.feedback[rows],
    )
