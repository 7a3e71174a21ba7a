"""The default MESS+ on a synthetic 11-model zoo priced in dollars (tests/helpers/large_zoo.py), 20 seeds.

What holds on every stream is the queue's bound; meeting alpha in every seed does not hold yet on a zoo this
large (the open problem of the README's "MESS+ presets" section), and the strict xfail below turns into a
failure the day it does, so the README's table gets updated.
"""

import numpy as np
import pytest

from helpers.large_zoo import ALPHA, large_zoo_stream

from messplus_core.core.bounds import static_mixture
from messplus_core.core.engine import replay
from messplus_core.routers import build_router
from messplus_core.routers.base import RouterContext
from helpers.evaluate import default_mess_plus

SEEDS = range(42, 62)
DEFAULT = default_mess_plus()
pytestmark = pytest.mark.slow


def _run(n, seed, feedback_rate=1.0, **levers):
    stream = large_zoo_stream(n, seed, feedback_rate)
    ctx = RouterContext(categories=stream.categories, alpha=ALPHA, seed=seed, n=n, features=None,
                        mean_satisfaction=stream.labels.mean(0), mean_cost=stream.cost.mean(0),
                        hindsight_labels=stream.labels, hindsight_costs=stream.cost)
    trace = replay(build_router("mess_plus", ctx, {**DEFAULT, "V": 100.0, "c": 0.005, **levers}), stream)
    optimum = static_mixture(stream.labels.mean(0), stream.cost.mean(0), ALPHA).expected_cost
    return stream, trace, trace.cost.mean() / optimum


@pytest.mark.parametrize("n", [400, 1500])
def test_queue_bound_and_cost_on_the_large_zoo(n):
    ratios = []
    for seed in SEEDS:
        stream, trace, ratio = _run(n, seed)
        q_end = trace.router_state["Q"][-1]
        assert trace.satisfied.sum() >= n * ALPHA + (100.0 + DEFAULT["bank"]) - q_end - 1e-9
        ratios.append(ratio)
    # measured: mean 1.51x (n=400) and 1.45x (n=1500) the static optimum, worst seed 3.7x
    assert np.mean(ratios) < 2.0


@pytest.mark.xfail(strict=True, reason="open problem: on 11 models the default misses alpha in some seeds "
                                       "(measured 0/20 met at n=400, 5/20 at 1500, 16/20 at 5000; worst satisfaction 0.578, 0.738, 0.711 against alpha 0.75)")
@pytest.mark.parametrize("n", [400, 1500, 5000])
def test_default_meets_alpha_in_every_seed_on_the_large_zoo(n):
    assert all(_run(n, seed)[1].satisfied.mean() >= ALPHA for seed in SEEDS)


def test_side_queries_meet_alpha_in_every_seed_on_the_long_large_zoo_stream():
    """side_queries=true (opt-in): learning a cheap model costs its price instead of satisfaction. Measured: alpha
    met in 15/20, 18/20 and 20/20 seeds at 400, 1,500 and 5,000 requests, at 2.56x, 2.06x and 1.60x the static
    optimum; this pins the 5,000-request result."""
    runs = [_run(5000, seed, side_queries=True) for seed in SEEDS]
    assert all(trace.satisfied.mean() >= ALPHA for _, trace, _ in runs)
    assert np.mean([ratio for _, _, ratio in runs]) < 1.8
