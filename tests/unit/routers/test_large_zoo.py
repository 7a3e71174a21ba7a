"""The default MESS+ on a synthetic 11-model zoo priced in dollars (tests/helpers/large_zoo.py), 20 seeds.

What holds on every stream is the queue's bound (with the tightening's margin); the default meets alpha in every
one of the 20 seeds at 400, 1,500 and 5,000 requests (README "MESS+ presets" has the costs).
"""

import numpy as np
import pytest

from helpers.large_zoo import ALPHA, MODELS, large_zoo_stream

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


def _tightening_sum(n_feedback):
    """sum_k eps_k over the labelled requests: the margin the tightening adds to the queue's bound."""
    return DEFAULT["tightening"] * (len(MODELS) - 1) * np.sum(1 / np.sqrt(np.arange(1, n_feedback + 1)))


@pytest.mark.parametrize("n,max_mean_ratio", [(400, 3.2), (1500, 2.4), (5000, 1.7)])
def test_default_meets_alpha_in_every_seed_and_the_queue_bound_on_the_large_zoo(n, max_mean_ratio):
    """Measured: alpha met in 20/20 seeds at every length, at 2.85x, 2.10x and 1.52x the static optimum (mean over
    seeds; worst satisfaction 0.752, 0.759, 0.762). On seeds 62-81, not used to choose the levers: 19/20 at 400
    requests (worst 0.743), 20/20 at 1,500 and 5,000."""
    ratios = []
    for seed in SEEDS:
        stream, trace, ratio = _run(n, seed)
        q_end = trace.router_state["Q"][-1]
        assert trace.satisfied.sum() >= n * ALPHA + _tightening_sum(n) + (100.0 + DEFAULT["bank"]) - q_end - 1e-9
        assert trace.satisfied.mean() >= ALPHA, f"seed {seed}: {trace.satisfied.mean():.3f} < alpha {ALPHA}"
        ratios.append(ratio)
    assert np.mean(ratios) < max_mean_ratio
