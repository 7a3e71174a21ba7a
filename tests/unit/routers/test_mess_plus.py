"""MESS+'s levers and presets: the shadow price, the queue's SLA bound, the paper preset against a reference,
the per-request state, and the engine's partial explorations."""

import copy

import numpy as np
import pytest

from helpers.config import predictor_head
from helpers.data import synthetic_frame, write_capture
from helpers.evaluate import default_mess_plus, preset_levers

from messplus_core.core.algorithm import (efficient_frontier, exploit_choice, explore_probability, queue_update,
                                          shadow_price)
from messplus_core.core.engine import replay
from messplus_core.core.stream import make_stream
from messplus_core.data.capture_csv import load_capture
from messplus_core.errors import ConfigError
from messplus_core.evaluate.experiment import RunSpec, router_context
from messplus_core.predictors import make_predictor
from messplus_core.routers import build_router
from messplus_core.routers.base import Explore, Router
from messplus_core.routers.mess_plus import MessPlus, MessPlusSettings
from messplus_core.specs import BenchmarkSpec, ModelZoo

ZOO = ModelZoo.from_mapping({"name": "z", "models": [
    {"category": c, "model": c, "cost_rank": i} for i, c in enumerate(("small", "medium", "large"))]})
DEFAULT = default_mess_plus()


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = write_capture(tmp_path_factory.mktemp("cap"), {"arc_challenge": synthetic_frame(600)})
    return load_capture(root, BenchmarkSpec.from_mapping("arc_challenge", {"metric": "acc_norm", "alpha": 0.6}), ZOO, "energy",
                        drop_incomplete=False)


# -- the shadow price against hand-computed frontiers ------------------------------------------------------------

def test_frontier_skips_dominated_models():
    # (cost, satisfaction): B is dominated by the A-C chord, D costs more than C for less
    cost, sat = [1.0, 4.0, 5.0, 6.0], [0.5, 0.55, 0.8, 0.7]
    assert efficient_frontier(cost, sat) == [0, 2]
    assert shadow_price(cost, sat, 0.6) == pytest.approx((5 - 1) / (0.8 - 0.5))


def test_shadow_price_on_the_segment_that_holds_alpha():
    cost, sat = [1.0, 2.0, 10.0], [0.5, 0.7, 0.8]
    assert efficient_frontier(cost, sat) == [0, 1, 2]
    assert shadow_price(cost, sat, 0.6) == pytest.approx(1 / 0.2)
    assert shadow_price(cost, sat, 0.75) == pytest.approx(8 / 0.1)
    assert shadow_price(cost, sat, 0.7) == pytest.approx(1 / 0.2)  # at a vertex: the segment below it


def test_shadow_price_when_the_cheapest_model_already_meets_alpha():
    cost, sat = [1.0, 3.0, 9.0], [0.9, 0.95, 0.97]
    assert shadow_price(cost, sat, 0.8) == pytest.approx(2 / 0.05)  # the price of the first step up


def test_shadow_price_when_no_model_meets_alpha():
    cost, sat = [1.0, 3.0, 9.0], [0.3, 0.5, 0.6]
    assert shadow_price(cost, sat, 0.9) == pytest.approx(8 / 0.3)  # cheapest to most satisfying


def test_shadow_price_without_a_trade_off():
    assert shadow_price([1.0, 2.0, 3.0], [0.9, 0.8, 0.7], 0.5) == 0.0  # the cheapest dominates everything
    assert shadow_price([2.0, 2.0], [0.5, 0.7], 0.6) == 0.0  # equal costs: the better one dominates


def test_with_costs_in_shadow_prices_the_switch_is_at_q_equals_v():
    cost, sat, alpha, V = [10.0, 50.0, 400.0], [0.5, 0.7, 0.8], 0.6, 100.0
    price = shadow_price(cost, sat, alpha)
    scaled = [e / price for e in cost]
    assert exploit_choice(V, scaled, V - 0.01, alpha, sat) == 0
    assert exploit_choice(V, scaled, V + 0.01, alpha, sat) == 1


def test_explore_probability_exponent():
    assert explore_probability(16, 1.0) == pytest.approx(0.5)
    assert explore_probability(8, 1.0, 1 / 3) == pytest.approx(0.5)


# -- the queue bound ---------------------------------------------------------------------------------------------

def _replay(data, name, params, seed, feedback_rate=1.0, V=100.0, c=0.01):
    stream = make_stream(data, seed, "energy", feedback_rate, np.random.default_rng(0).normal(size=(data.n, 8)))
    ctx = router_context(data, RunSpec("arc_challenge", name, 0.6, seed, feedback_rate), "energy", stream.features, stream.labels, stream.cost)
    params = {**params, "V": V, "c": c, "predictor": {"name": "mlp_head", "head": predictor_head()}}
    router = build_router(name, ctx, params)
    return stream, router, replay(router, stream)


@pytest.mark.parametrize("feedback_rate", [1.0, 0.2])
@pytest.mark.parametrize("seed", [42, 43, 44])
def test_queue_bound_holds_on_every_replay(data, seed, feedback_rate):
    """Over the T requests with feedback: satisfied >= T*alpha + sum_k eps_k + (Q_0 - Q_T), the queue's deterministic
    bound with the tightening eps_k = tightening*(M-1)/sqrt(k) on the k-th label."""
    stream, router, trace = _replay(data, "mess_plus", DEFAULT, seed, feedback_rate)
    fb = stream.feedback
    q0, q_end = 100.0 + DEFAULT["bank"], trace.router_state["Q"][-1]
    eps = DEFAULT["tightening"] * (stream.labels.shape[1] - 1) / np.sqrt(np.arange(1, fb.sum() + 1))
    assert eps.sum() > 1.0  # the default tightens: the bound below is stronger than the plain queue's
    assert trace.satisfied[fb].sum() >= fb.sum() * 0.6 + eps.sum() + q0 - q_end - 1e-9
    # the queue moved only on requests with feedback
    q = np.concatenate([[q0], trace.router_state["Q"]])
    assert set(np.flatnonzero(np.diff(q) != 0)) <= set(np.flatnonzero(fb))


def test_the_default_lands_near_alpha_near_the_static_optimum(data):
    """600 requests whose cheapest model is far below alpha 0.6. Measured (seeds 42-44): satisfaction 0.607, 0.603,
    0.632 at 1.01x, 1.12x and 1.61x the static optimum (seed 44 keeps serving the large model after its
    explorations; the tightening adds about 5 satisfied requests of margin over 600)."""
    from messplus_core.core.bounds import static_mixture
    for seed in (42, 43, 44):
        stream, _, trace = _replay(data, "mess_plus", DEFAULT, seed)
        mix = static_mixture(stream.labels.mean(0), stream.cost.mean(0), 0.6)
        assert 0.6 <= trace.satisfied.mean() <= 0.6 + 0.04
        assert trace.cost.mean() <= 1.7 * mix.expected_cost


# -- the paper preset against a reference implementation --------------------------------------------------------

def _reference_paper(stream, alpha, V, c, seed):
    """MESS+ as published, written as directly as possible: explorations drawn up front, the MLP head trained on
    every exploration, V on raw costs, estimates at 1 until observed, the largest model served on explorations."""
    n, m = stream.labels.shape
    head = make_predictor("mlp_head", stream.features.shape[1], m, seed, predictor_head())
    explore = np.random.default_rng([seed, 1]).random(n) < explore_probability(np.arange(1, n + 1), c)
    q, cost_sum, cost_n, est = 0.0, np.zeros(m), np.zeros(m), np.ones(m)
    served, qs = [], []
    for t in range(n):
        if explore[t]:
            model, queried = m - 1, range(m)
        else:
            s_hat = head.predict(stream.features[t:t + 1])[0]
            model, queried = exploit_choice(V, est, q, alpha, s_hat), [None]
            queried = [model]
        for k in queried:
            cost_sum[k] += stream.cost[t, k]
            cost_n[k] += 1
            est[k] = cost_sum[k] / cost_n[k]
        if stream.feedback[t]:
            q = queue_update(q, alpha, stream.labels[t, model])
            if explore[t]:
                head.learn(stream.features[t], stream.labels[t])
        served.append(model)
        qs.append(q)
    return np.array(served), np.array(qs), explore


@pytest.mark.parametrize("feedback_rate", [1.0, 0.3])
def test_paper_preset_equals_the_reference(data, feedback_rate):
    paper = preset_levers("mess_plus_paper")
    stream, _, trace = _replay(data, "mess_plus_paper", paper, 42, feedback_rate, V=1e-3, c=0.5)
    served, qs, explore = _reference_paper(stream, 0.6, 1e-3, 0.5, 42)
    np.testing.assert_array_equal(trace.explored, explore)
    np.testing.assert_array_equal(trace.served, served)
    np.testing.assert_allclose(trace.router_state["Q"], qs)


# -- the per-request state ---------------------------------------------------------------------------------------

def _drive(policy, stream, start, stop, decisions):
    for t in range(start, stop):
        d = policy.decide()
        decisions.append((d.serve, d.queried, d.explored))
        labels = {k: float(stream.labels[t, k]) for k in d.queried} if d.explored else None
        satisfied = float(stream.labels[t, d.serve]) if stream.feedback[t] else None
        policy.observe_costs(d, {k: stream.cost[t, k] for k in d.queried})
        if satisfied is not None:
            policy.observe_feedback(d, satisfied, labels)


@pytest.mark.parametrize("optimism_kind", ["ucb", "thompson"])
def test_state_restores_exactly_mid_stream(data, optimism_kind):
    stream = make_stream(data, 7, "energy", 0.5)
    settings = MessPlusSettings.from_params({**DEFAULT, "V": 100.0, "c": 0.2, "optimism_kind": optimism_kind})
    whole, resumed = [], []
    a = MessPlus(settings, 3, 0.6, 7)
    _drive(a, stream, 0, stream.n, whole)
    b = MessPlus(settings, 3, 0.6, 7)
    _drive(b, stream, 0, 250, resumed)
    state = copy.deepcopy(b.state_dict())
    c = MessPlus(settings, 3, 0.6, 7)
    c.load_state_dict(state)
    _drive(c, stream, 250, stream.n, resumed)
    assert resumed == whole
    assert c.q == a.q and c.t == a.t == stream.n


def test_unknown_or_bad_levers_are_config_errors(data):
    stream = make_stream(data, 1, "energy", 1.0)
    ctx = router_context(data, RunSpec("arc_challenge", "mess_plus", 0.6, 1, 1.0), "energy", None, stream.labels, stream.cost)
    with pytest.raises(ConfigError, match="unknown setting"):
        build_router("mess_plus", ctx, {**DEFAULT, "V": 1.0, "c": 0.1, "optimsm": 2})
    with pytest.raises(ConfigError, match="cost_scale must be one of"):
        build_router("mess_plus", ctx, {**DEFAULT, "V": 1.0, "c": 0.1, "cost_scale": "dollars"})


# -- the fade of optimism and the training-part prior ------------------------------------------------------------

def _policy_with_labels(q_above_start, n_labels, means=(0.5, 0.7, 0.6), alpha=0.75):
    settings = MessPlusSettings.from_params({**DEFAULT, "V": 100.0, "c": 0.01})
    policy = MessPlus(settings, 3, alpha, 1)
    for m, (n, mean) in enumerate(zip(n_labels, means)):
        for i in range(n):
            policy._add_label(m, float(i < round(mean * n)))
    policy.q = settings.V + settings.bank + q_above_start
    return policy


def test_in_deficit_the_bonus_fades_except_on_an_undersampled_model_while_no_mean_meets_alpha():
    # model 1 has the best mean (0.7); model 2 is pricier with few labels
    calm = _policy_with_labels(0.0, (40, 40, 2))
    means = calm._shrunk_means()
    assert max(range(3), key=means.__getitem__) == 1
    assert calm._optimistic_means()[1] > means[1] and calm._optimistic_means()[2] > means[2]  # at Q_0: all in force
    rescued = _policy_with_labels(1000.0, (40, 40, 2))  # no mean meets alpha 0.75, model 2 has 2 < 40/10 labels
    assert rescued._optimistic_means()[1] == pytest.approx(rescued._shrunk_means()[1])  # it spends satisfaction: faded
    assert rescued._optimistic_means()[2] == pytest.approx(calm._optimistic_means()[2])  # it spends cost: kept
    sampled = _policy_with_labels(1000.0, (40, 40, 5))  # 5 labels >= 40/10: sampled enough, faded
    assert sampled._optimistic_means()[2] == pytest.approx(sampled._shrunk_means()[2])
    feasible = _policy_with_labels(1000.0, (40, 40, 2), alpha=0.65)  # the best mean meets alpha: no rescue
    assert feasible._optimistic_means()[2] == pytest.approx(feasible._shrunk_means()[2])
    cheaper = _policy_with_labels(1000.0, (40, 2, 40), means=(0.5, 0.6, 0.7))  # undersampled and cheaper than the best
    assert cheaper._optimistic_means()[1] > cheaper._shrunk_means()[1] + 0.1  # rescued too: the means are in doubt
    assert cheaper._optimistic_means()[2] == pytest.approx(cheaper._shrunk_means()[2])


def _side_query_policy(feedback_share=1.0, **over):
    # model 1: 3 labels (its bonus makes it look best); model 2: 40 labels, the best plain mean
    settings = MessPlusSettings.from_params({**DEFAULT, "V": 100.0, "c": 1e-9, "forced_explorations": 0, **over})
    policy = MessPlus(settings, 3, 0.7, 1)
    for m, (n, mean) in enumerate([(40, 0.5), (3, 0.6), (40, 0.8)]):
        for i in range(n):
            policy._add_label(m, float(i < round(mean * n)))
    policy.t, policy.n_feedback = 100, round(99 * feedback_share)
    policy.estimate = [1.0, 2.0, 10.0]
    return policy


def test_a_cheaper_optimistic_choice_runs_beside_the_plain_choice_instead_of_serving():
    without = _side_query_policy(side_queries=False).decide()
    assert (without.serve, without.queried, without.explored) == (1, (1,), False)  # optimism alone would serve model 1
    side = _side_query_policy(side_queries=True).decide()
    assert (side.serve, side.queried, side.explored) == (2, (1, 2), True)  # served: the plain means' choice
    sparse = _side_query_policy(feedback_share=0.3, side_queries=True).decide()  # most side queries would bring no label
    assert (sparse.serve, sparse.queried) == (1, (1,))


def test_calibrate_seeds_the_means_and_drops_forced_explorations():
    settings = MessPlusSettings.from_params({**DEFAULT, "V": 100.0, "c": 0.01})
    policy = MessPlus(settings, 3, 0.6, 1)
    labels = np.array([[0, 1, 1], [0, 0, 1], [1, 1, 1], [0, 1, 1]])
    costs = np.array([[1.0, 2.0, 9.0], [1.0, 4.0, 11.0], [1.0, 2.0, 10.0], [1.0, 4.0, 10.0]])
    policy.calibrate(labels, costs)
    assert policy.stats.sat_n == [4, 4, 4] and policy.stats.sat_sum == [1.0, 3.0, 4.0]
    assert policy.estimate == pytest.approx([1.0, 3.0, 10.0])
    assert not policy.decide().explored  # the forced explorations are dropped: every model has labels
    # the tightening counts the calibration set as information held: eps = tightening*(M-1)/sqrt(4 labelled requests)
    assert policy._tightening() == pytest.approx(DEFAULT["tightening"] * 2 / 2.0)
    with pytest.raises(ValueError, match=r"must both be \(n, 3\)"):
        policy.calibrate(labels[:, :2], costs[:, :2])


def test_the_training_part_seeds_the_default_only_under_the_split_protocol(data):
    from messplus_core.routers.base import TrainingPart
    stream = make_stream(data, 3, "energy", 1.0)
    spec = RunSpec("arc_challenge", "mess_plus", 0.6, 3, 1.0)
    part = TrainingPart(features=None, labels=stream.labels[:50], costs=stream.cost[:50])
    with_part = router_context(data, spec, "energy", None, stream.labels, stream.cost, part)
    without = router_context(data, spec, "energy", None, stream.labels, stream.cost)
    params = {**DEFAULT, "V": 100.0, "c": 0.01}
    assert build_router("mess_plus", with_part, params).policy.stats.sat_n == [50, 50, 50]
    assert build_router("mess_plus", without, params).policy.stats.sat_n == [0, 0, 0]
    assert build_router("mess_plus", with_part, {**params, "prior_from_training": False}).policy.stats.sat_n == [0, 0, 0]


# -- partial explorations in the engine --------------------------------------------------------------------------

def test_engine_charges_only_the_models_an_exploration_queries(data):
    class Partial(Router):
        def __init__(self):
            self.labels = []

        def choose(self, t):
            return Explore((0, 2), serve=0)

        def observe(self, t, served, satisfied, labels, costs):
            self.labels.append((labels, sorted(costs)))

    stream = make_stream(data, 1, "energy", 1.0)
    router = Partial()
    trace = replay(router, stream)
    np.testing.assert_allclose(trace.cost, stream.cost[:, 0] + stream.cost[:, 2])
    assert (trace.served == 0).all() and trace.explored.all()
    labels, queried = router.labels[0]
    assert queried == [0, 2] and np.isnan(labels[1]) and labels[2] == stream.labels[0, 2]


# -- the blend estimator -----------------------------------------------------------------------------------------

def test_blend_factor_is_zero_without_signal_and_positive_with_it():
    from messplus_core.routers.mess_plus import fit_blend_factor
    rng = np.random.default_rng(0)
    deviation = rng.normal(size=4000)
    offset = np.zeros(4000)
    noise = (rng.random(4000) < 0.5).astype(float)
    assert fit_blend_factor(offset, deviation, noise) < 0.05
    signal = (rng.random(4000) < 1 / (1 + np.exp(-0.6 * deviation))).astype(float)
    assert fit_blend_factor(offset, deviation, signal) == pytest.approx(0.6, abs=0.1)
    strong = (rng.random(4000) < 1 / (1 + np.exp(-3 * deviation))).astype(float)
    assert fit_blend_factor(offset, deviation, strong) == 1.0  # capped: the head's deviations are only shrunk


def test_blend_learns_a_factor_where_texts_carry_signal(data):
    # features that encode each request's topic (which decides the labels in synthetic_frame)
    topics = np.array([t.split(" on ")[1] for t in data.texts])
    onehot = (topics[:, None] == np.unique(topics)[None, :]).astype(float)
    features = np.hstack([onehot, np.zeros((data.n, 4))]) / 1.0
    stream = make_stream(data, 42, "energy", 1.0, features)
    ctx = router_context(data, RunSpec("arc_challenge", "mess_plus", 0.6, 42, 1.0), "energy", stream.features, stream.labels, stream.cost)
    router = build_router("mess_plus", ctx, {**DEFAULT, "estimator": "blend", "V": 100.0, "c": 0.01,
                                             "predictor": {"name": "mlp_head", "head": predictor_head()}})
    trace = replay(router, stream)
    assert router.policy.kappa > 0.2
    assert trace.router_report["blend_kappa"] == router.policy.kappa


def test_predictor_auc_is_scored_on_labels_before_the_predictor_learns_them(data):
    from messplus_core.predictors.quality import roc_auc
    assert roc_auc(np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 0, 1, 1])) == pytest.approx(0.75)
    assert roc_auc(np.array([0.5, 0.5]), np.array([0.0, 1.0])) == 0.5  # a tie counts half
    assert np.isnan(roc_auc(np.array([0.2, 0.9]), np.array([1, 1])))  # one class: undefined
    topics = np.array([t.split(" on ")[1] for t in data.texts])
    features = (topics[:, None] == np.unique(topics)[None, :]).astype(float)  # the topic decides the labels
    stream = make_stream(data, 42, "energy", 1.0, features)
    ctx = router_context(data, RunSpec("arc_challenge", "mess_plus", 0.6, 42, 1.0), "energy", stream.features, stream.labels, stream.cost)
    head = build_router("mess_plus", ctx, {**DEFAULT, "estimator": "blend", "V": 100.0, "c": 0.3,
                                           "predictor": {"name": "mlp_head", "head": predictor_head()}})
    report = replay(head, stream).router_report
    auc, scored, labels = report["predictor_auc"], *head.auc_pairs
    assert len(scored) == len(labels) == report["predictor_auc_labels"] > 50 and auc == roc_auc(np.array(scored), np.array(labels)) and auc > 0.6
    means = build_router("mess_plus", ctx, {**DEFAULT, "V": 100.0, "c": 0.3})  # estimator=model_mean: no predictor
    assert "predictor_auc" not in replay(means, stream).router_report
