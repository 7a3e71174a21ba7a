import numpy as np
import pytest

from helpers.config import predictor_head
from helpers.evaluate import preset_levers
from helpers.data import synthetic_frame, write_capture

from messplus_core.core.algorithm import queue_path
from messplus_core.core.engine import replay
from messplus_core.core.stream import make_stream
from messplus_core.data.capture_csv import load_capture
from messplus_core.evaluate.experiment import RunSpec, router_context
from messplus_core.predictors import make_predictor
from messplus_core.routers import EXPLORE, Router
from messplus_core.routers.mess_plus import MessPlus, MessPlusSettings, ReplayedMessPlus
from messplus_core.specs import BenchmarkSpec, ModelZoo

ZOO = ModelZoo.from_mapping({"name": "z", "models": [
    {"category": c, "model": c, "cost_rank": i} for i, c in enumerate(("small", "medium", "large"))]})


@pytest.fixture
def data(tmp_path):
    root = write_capture(tmp_path, {"arc_challenge": synthetic_frame(80)})
    return load_capture(root, BenchmarkSpec.from_mapping("arc_challenge", {"metric": "acc_norm", "alpha": 0.6}), ZOO, "energy",
                        drop_incomplete=False)


def energy_stream(data, seed, feedback_rate=1.0, features=None):
    """The shuffled stream with energy as the optimised cost; every request reports feedback unless `feedback_rate` < 1."""
    return make_stream(data, seed, "energy", feedback_rate, features)


class Scripted(Router):
    """Explores on even steps, serves model 0 otherwise, and records what it is told."""

    def __init__(self):
        self.seen = []

    def choose(self, t):
        return EXPLORE if t % 2 == 0 else 0

    def observe(self, t, served, satisfied, labels, costs):
        self.seen.append((served, satisfied, labels, costs))


def test_engine_charges_every_queried_model_on_exploration(data):
    stream = energy_stream(data, seed=1)
    router = Scripted()
    trace = replay(router, stream)
    explore = np.arange(stream.n) % 2 == 0
    np.testing.assert_array_equal(trace.explored, explore)
    np.testing.assert_allclose(trace.energy[explore], stream.energy[explore].sum(axis=1))
    np.testing.assert_allclose(trace.energy[~explore], stream.energy[~explore, 0])
    np.testing.assert_allclose(trace.time[explore], stream.time[explore].sum(axis=1))
    assert (trace.served[explore] == 2).all() and (trace.served[~explore] == 0).all()
    np.testing.assert_array_equal(trace.satisfied[explore], stream.labels[explore, 2])
    # the router learns all labels and all costs on explorations, only the served model's otherwise
    served, satisfied, labels, costs = router.seen[0]
    np.testing.assert_array_equal(labels, stream.labels[0])
    assert sorted(costs) == [0, 1, 2]
    served, satisfied, labels, costs = router.seen[1]
    assert labels is None and list(costs) == [0] and satisfied == stream.labels[1, 0]


def test_engine_rejects_an_invalid_choice(data):
    class Bad(Router):
        def choose(self, t):
            return 7

    with pytest.raises(ValueError, match="chose model 7 at step 0"):
        replay(Bad(), energy_stream(data, seed=1))


def mess_plus(data, stream, alpha=0.6, feedback_rate=1.0, **kw):
    """The paper's MESS+ (estimator=head, raw costs, Q_0 = 0) over the stream (drawn with `feedback_rate`)."""
    ctx = router_context(data, RunSpec("arc_challenge", "mess_plus_paper", alpha, stream.seed, feedback_rate), "energy", stream.features,
                         stream.labels, stream.cost, None, kw)
    predictor = make_predictor("mlp_head", stream.features.shape[1], 3, stream.seed, predictor_head())
    settings = MessPlusSettings.from_params({**preset_levers("mess_plus_paper"), **kw})
    return ReplayedMessPlus(ctx, MessPlus(settings, 3, alpha, stream.seed, predictor))


def features(data):
    return np.random.default_rng(0).normal(size=(data.n, 8))


def test_mess_plus_with_p_one_always_explores_and_serves_the_largest(data):
    stream = energy_stream(data, seed=3, features=features(data))
    trace = replay(mess_plus(data, stream, V=1e-3, c=5.0), stream)
    assert trace.explored.all()
    assert (trace.served == 2).all()
    assert trace.energy.sum() == pytest.approx(stream.energy.sum())


def test_decision_queue_only_moves_on_feedback(data):
    stream = energy_stream(data, seed=3, feedback_rate=0.3, features=features(data))
    router = mess_plus(data, stream, feedback_rate=0.3, V=1e-3, c=0.2)
    trace = replay(router, stream)
    q = trace.router_state["Q"]
    moved = np.flatnonzero(np.diff(np.concatenate([[0.0], q])) != 0)
    assert set(moved) <= set(np.flatnonzero(stream.feedback))
    # the ideal queue sees every request
    np.testing.assert_allclose(trace.ideal_queue(0.6), queue_path(0.6, trace.satisfied))
    assert 0 < stream.feedback.mean() < 0.6


def test_no_feedback_means_no_queue_and_no_training(data):
    stream = energy_stream(data, seed=3, feedback_rate=1e-9, features=features(data))
    router = mess_plus(data, stream, feedback_rate=1e-9, V=1e-3, c=0.5)
    trace = replay(router, stream)
    assert not stream.feedback.any()
    assert (trace.router_state["Q"] == 0).all()
    assert router.policy.predictor.buffer_x == []
    # with Q = 0 and equal 1 J estimates until observed, exploitation is pure cost: the cheapest model
    assert (trace.served[~trace.explored] == 0).all()


@pytest.mark.parametrize("mode", ["running_mean", "last", "known"])
def test_energy_estimates(data, mode):
    stream = energy_stream(data, seed=5, features=features(data))
    router = mess_plus(data, stream, V=1e-3, c=0.3, energy_estimate=mode)
    trace = replay(router, stream)
    if mode == "running_mean":
        for m in range(3):
            seen = stream.energy[(trace.served == m) | trace.explored, m]
            assert router.policy.estimate[m] == pytest.approx(seen.mean())
    elif mode == "last":
        last = np.flatnonzero(trace.explored)[-1]
        np.testing.assert_allclose(router.policy.estimate, stream.energy[last])
    else:
        assert router.policy.estimate == [1.0, 1.0, 1.0]  # never used: the request's own cost is


def test_unobserved_models_start_at_the_prior(data):
    stream = energy_stream(data, seed=5, features=features(data))
    router = mess_plus(data, stream, V=1.0, c=1e-6, energy_prior=[5.0, 1.0, 9.0])
    assert router.choose(0) == 1  # Q = 0: the cheapest estimate wins
