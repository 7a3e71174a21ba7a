"""Named random streams: every consumer of randomness in a run draws from a generator of its own.

A stream is numpy's PCG64 seeded from a SeedSequence over (run seed, stream number), so an extra draw in
one place never shifts the numbers another place sees. The stream numbers are the ones the project has
always used, so results stay identical to earlier versions. The replay order and the MLP head's initial
weights use the bare seed (`generator(seed)`).
"""

from __future__ import annotations

import numpy as np

EXPLORATION = 1  #: MESS+: the exploration coin, one draw per request
POSTERIOR = 2  #: MESS+ with optimism_kind=thompson: the posterior draws
EDUCATED_GUESS = 3  #: the educated-guess baseline's random choice
CALIBRATION_FOLDS = 5  #: learned routers: the out-of-fold split of the training part
FEEDBACK = 7  #: which stream positions report satisfaction (the feedback mask)
#: Bootstrap resampling of per-seed summaries. It shares number 7 with FEEDBACK (as it always has): the same
#: numbers serve two unrelated draws (a stream's feedback mask, a report table's resamples).
BOOTSTRAP = 7


def generator(seed: int, stream: int | None = None) -> np.random.Generator:
    """The generator of `stream` for run seed `seed` (`np.random.default_rng([seed, stream])`); with no
    stream, `np.random.default_rng(seed)`. `seed` must be a non-negative int (numpy's SeedSequence rule)."""
    return np.random.default_rng(seed if stream is None else [seed, stream])
