"""Learned routers: calibration on the training part only, the train/test protocol, and the engine's overhead charge."""

import dataclasses
import itertools

import numpy as np
import pandas as pd
import pytest

from helpers.config import predictor_head, router_head
from helpers.data import synthetic_frame, write_capture
from helpers.evaluate import REAL_BENCHMARKS, config, evaluate_real_twice, preset_levers

from messplus_core.core.calibration import (cheapest_above_choice, cheapest_compliant, lambda_candidates, out_of_fold,
                                            threshold_candidates, two_model_choice, utility_choice)
from messplus_core.core.engine import replay
from messplus_core.data.capture_csv import load_capture
from messplus_core.errors import ConfigError
from messplus_core.evaluate.experiment import RunSpec, execute_run, replay_parts, router_context
from messplus_core.evaluate.pipeline import plan
from messplus_core.routers import build_router, overhead_prices, registry
from messplus_core.specs import BenchmarkSpec, ModelZoo

ZOO = ModelZoo.from_mapping({"name": "z", "models": [
    {"category": c, "model": c, "cost_rank": i} for i, c in enumerate(("small", "medium", "large"))]})
LEARNED = sorted(registry.names(trains_offline=True))
PARAMS = {
    "threshold_2model": {"router_energy_j": 0.0, "margin": 0.0, "folds": 3, "head": {**router_head("threshold_2model"), "hidden": 16}, "fit": {"epochs": 5, "batch_size": 16}},
    "cheapest_above_threshold": {"router_energy_j": 0.0, "margin": 0.0, "folds": 3, "head": {**router_head("cheapest_above_threshold"), "hidden": 16}, "fit": {"epochs": 5, "batch_size": 16}},
    "knn": {"router_energy_j": 0.0, "margin": 0.0, "k": 5},
    "educated_guess": {},
}


# --- calibration rules on hand-made numbers -------------------------------------------------------------------

def test_cheapest_compliant_picks_the_cheapest_setting_reaching_the_target():
    labels = np.array([[0, 1], [1, 1], [0, 1], [1, 1]])
    costs = np.array([[1.0, 10.0]] * 4)
    p_fail = np.array([0.9, 0.1, 0.6, 0.2])
    decide = lambda thr: two_model_choice(p_fail, thr, 0, 1)
    # target 1.0: both failing requests (p_fail 0.9 and 0.6) must go to the strong model -> threshold 0.6
    cal = cheapest_compliant(threshold_candidates(p_fail), decide, labels, costs, 1.0)
    assert (cal.value, cal.train_satisfaction, cal.train_cost, cal.feasible) == (0.6, 1.0, 5.5, True)
    # target 0.5: the weak model alone reaches it -> the threshold that never fires
    assert cheapest_compliant(threshold_candidates(p_fail), decide, labels, costs, 0.5).value == np.inf


def test_an_unreachable_target_keeps_the_most_satisfying_setting():
    labels = np.array([[0, 0], [1, 0]])
    costs = np.array([[1.0, 5.0], [1.0, 5.0]])
    p_fail = np.array([0.8, 0.3])
    cal = cheapest_compliant(threshold_candidates(p_fail), lambda t: two_model_choice(p_fail, t, 0, 1), labels, costs, 0.9)
    # best reachable: 0.5, by the weak model alone (cost 1) or the strong one on request 0 (cost 3): the cheaper wins
    assert (cal.feasible, cal.train_satisfaction, cal.value) == (False, 0.5, np.inf)


def test_cheapest_above_serves_the_cheapest_confident_model_else_the_most_likely():
    s_hat = np.array([[0.9, 0.8, 0.95], [0.2, 0.7, 0.6], [0.1, 0.3, 0.4]])
    np.testing.assert_array_equal(cheapest_above_choice(s_hat, np.array([0.65]))[0], [0, 1, 2])
    np.testing.assert_array_equal(cheapest_above_choice(s_hat, np.array([0.0, 2.0])), [[0, 0, 0], [2, 1, 2]])


def test_lambda_candidates_reach_every_decision_a_dense_grid_reaches():
    rng = np.random.default_rng(0)
    s_hat = rng.integers(0, 6, (40, 3)) / 5  # kNN-style means: many ties
    cost = np.array([50.0, 300.0, 1500.0])
    dense = {tuple(row) for row in utility_choice(s_hat, cost, np.concatenate([[0.0], np.geomspace(1e-7, 1.0, 4000)]))}
    exact = {tuple(row) for row in utility_choice(s_hat, cost, lambda_candidates(s_hat, cost))}
    assert dense <= exact


def test_out_of_fold_never_predicts_a_request_with_a_model_fitted_on_it():
    seen = []

    def fit_predict(fit_rows, predict_rows, fold):
        assert not set(fit_rows) & set(predict_rows)
        seen.append(fold)
        return np.full((len(predict_rows), 2), float(fold))

    out = out_of_fold(fit_predict, 23, 5, seed=1)
    assert sorted(seen) == [1, 2, 3, 4, 5] and out.shape == (23, 2) and set(out[:, 0]) == {1, 2, 3, 4, 5}


# --- the train/test protocol on a synthetic capture -----------------------------------------------------------

@pytest.fixture
def data(tmp_path):
    root = write_capture(tmp_path, {"arc_challenge": synthetic_frame(300)})
    return load_capture(root, BenchmarkSpec.from_mapping("arc_challenge", {"metric": "acc_norm", "alpha": 0.6}), ZOO, "energy",
                        drop_incomplete=False)


def features(data):
    vectors = np.random.default_rng(0).normal(size=(data.n, 16))
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def spec(router, seed=42, alpha=0.6, feedback_rate=1.0, **kw):
    return RunSpec("arc_challenge", router, alpha, seed, feedback_rate, split="test", train_fraction=0.3, **kw)


def built(router, data, seed=42):
    s = spec(router, seed)
    stream, train = replay_parts(s, data, features(data), "energy")
    ctx = router_context(data, s, "energy", stream.features, stream.labels, stream.cost, train)
    return build_router(router, ctx, PARAMS[router]), stream


def calibration_of(router):
    policy = router.policy
    return policy.mixture.probabilities.tolist() if hasattr(policy, "mixture") else dataclasses.astuple(policy.calibration)


@pytest.mark.parametrize("name", LEARNED + ["educated_guess"])
def test_calibration_never_sees_the_test_part(data, name):
    router, stream = built(name, data)
    test_rows = stream.order
    poisoned = data.labels.copy()
    poisoned[test_rows] = 1 - poisoned[test_rows]  # every test label flipped
    again, again_stream = built(name, dataclasses.replace(data, labels=poisoned))
    assert calibration_of(again) == calibration_of(router)
    np.testing.assert_array_equal(replay(again, again_stream).served, replay(router, stream).served)
    # ... while poisoning the training part does move it: the check above can fail
    train_rows = np.setdiff1d(np.arange(data.n), test_rows)
    poisoned = data.labels.copy()
    poisoned[train_rows] = 1 - poisoned[train_rows]
    moved, _ = built(name, dataclasses.replace(data, labels=poisoned))
    assert calibration_of(moved) != calibration_of(router)


def test_every_router_of_a_seed_is_scored_on_the_same_test_part_in_the_same_order(data):
    parts = {name: replay_parts(spec(name), data, features(data), "energy")[0] for name in LEARNED + ["mess_plus", "oracle"]}
    orders = [p.order for p in parts.values()]
    assert all(np.array_equal(o, orders[0]) for o in orders)
    full, none = replay_parts(RunSpec("arc_challenge", "mess_plus", 0.6, 42, 1.0), data, None, "energy")
    assert none is None and np.array_equal(full.order[-len(orders[0]):], orders[0])
    assert len(orders[0]) == data.n - round(0.3 * data.n)


def test_learned_routers_train_only_on_requests_with_feedback(data):
    s = spec("knn", feedback_rate=0.4)
    stream, train = replay_parts(s, data, features(data), "energy")
    assert train.n < round(0.3 * data.n) and train.n > 0


@pytest.mark.parametrize("name", LEARNED)
def test_the_engine_charges_each_routed_request_the_routers_own_energy(data, name):
    free = execute_run(spec(name), data, features(data), PARAMS[name], "energy")["row"]
    paid = execute_run(spec(name), data, features(data), {**PARAMS[name], "router_energy_j": 5.0}, "energy")["row"]
    assert free["overhead_j_total"] == 0.0
    assert paid["overhead_j_per_request"] == pytest.approx(5.0)
    assert paid["energy_j_per_request"] == pytest.approx(free["energy_j_per_request"] + 5.0)


def test_the_engine_charges_mess_plus_per_inference_and_per_training_step(data):
    s = RunSpec("arc_challenge", "mess_plus", 0.6, 42, 1.0, V=1e-3, c=0.5)
    stream, _ = replay_parts(s, data, features(data), "energy")
    head = {**predictor_head(), "hidden": 16, "steps": 3}
    prices = overhead_prices({"predictor_energy_j": {"inference": 2.0, "train_step": 7.0}})
    ctx = router_context(data, s, "energy", stream.features, stream.labels, stream.cost)
    params = {**preset_levers("mess_plus_paper"), "predictor": {"name": "mlp_head", "head": head}, "V": 1e-3, "c": 0.5}
    trace = replay(build_router("mess_plus", ctx, params), stream, prices)
    explored = trace.explored
    np.testing.assert_allclose(trace.overhead_energy, np.where(explored, 7.0 * 3, 2.0))
    np.testing.assert_allclose(trace.energy, np.where(explored, stream.energy.sum(axis=1), stream.energy[np.arange(stream.n), trace.served]) + trace.overhead_energy)


# --- the protocol through the config --------------------------------------------------------------------------

@pytest.fixture
def base(synthetic_capture, tmp_path):
    return [f"data_dir={synthetic_capture}", f"cache_dir={tmp_path / 'cache'}", "logger=none", "benchmark=[arc_challenge,boolq]", "n_jobs=2"]


def test_router_compare_turns_the_protocol_on(base):
    p = plan(config(*base, "router=compare"))
    splits = {(s.router, s.split) for s in p.specs}
    for preset in ("mess_plus", "mess_plus_paper"):
        assert (preset, "full") in splits and (preset, "test") in splits
    # the oracle also runs on the full stream: the MESS+ full-stream entries are measured against it
    assert ("oracle", "full") in splits and ("oracle", "test") in splits
    assert {split for router, split in splits if not router.startswith("mess_plus") and router != "oracle"} == {"test"}
    assert {s.train_fraction for s in p.specs if s.split == "test"} == {0.2}
    assert {s.router for s in p.specs} >= set(LEARNED)


@pytest.mark.parametrize("override,message", [
    ("split.enabled=false", r"train offline and run only under the train/test protocol"),
    ("split.train_fraction=1.0", r"split.train_fraction must lie in \(0, 1\)"),
    ("split.enabled=maybe", "split.enabled must be auto, true or false"),
])
def test_bad_protocol_settings_are_rejected_before_compute(base, override, message):
    with pytest.raises(ConfigError, match=message):
        plan(config(*base, "router=compare", override))


def test_the_default_router_set_keeps_the_full_stream(base):
    assert {s.split for s in plan(config(*base)).specs} == {"full"}
    assert {s.split for s in plan(config(*base, "split.enabled=true")).specs} == {"test", "full"}


# --- on the authors' published capture ------------------------------------------------------------------------

REAL = REAL_BENCHMARKS


@pytest.fixture(scope="module")
def real_runs(tmp_path_factory, embedding_cache):
    return evaluate_real_twice(tmp_path_factory, embedding_cache, "router=compare")


@pytest.mark.parametrize(("router", "bench"), list(itertools.product(LEARNED, REAL)))
def test_real_learned_routers_meet_alpha_on_their_training_part(real_runs, router, bench):
    frame = real_runs[0]["frame"]
    rows = frame[(frame["router"] == router) & (frame["benchmark"] == bench)]
    assert len(rows) == 3 and rows["train_feasible"].all()
    assert (rows["train_satisfaction"] >= REAL[bench]).all()


def test_real_table_holds_every_router_and_both_bounds(real_runs):
    summary = real_runs[0]["summary"].read_text()
    for router in ["mess_plus", "mess_plus (full stream)", "educated_guess", "single_model:small", "single_model:medium",
                   "single_model:large", *LEARNED]:
        assert f"| {router} |" in summary
    assert "*static_optimum* (bound)" in summary and "*oracle* (bound)" in summary
    assert "### Cost relative to mess_plus" in summary and "### MESS+ against the best other router" in summary
    frame = real_runs[0]["frame"]
    assert set(frame.loc[frame["split"] == "test", "n_requests"]) == {1172 - round(0.2 * 1172), 3270 - round(0.2 * 3270)}


def test_real_same_seed_gives_identical_results(real_runs):
    pd.testing.assert_frame_equal(real_runs[0]["frame"], real_runs[1]["frame"])
    assert real_runs[0]["summary"].read_text() == real_runs[1]["summary"].read_text()


@pytest.mark.parametrize("name", ["threshold_2model", "cheapest_above_threshold", "knn"])
def test_every_numeric_knob_of_a_learned_router_refuses_a_wrong_type_or_range_by_name(name):
    """`routers.knn.router_energy_j=abc`, `routers.threshold_2model.head.lr=abc` or `fit.epochs=2.5` used to pass the
    check and fail later, inside a worker; each knob the router's config sets is now refused by name."""
    from messplus_core.routers.learned import NUMERIC_KNOBS

    check = registry.get(name).check
    check(PARAMS[name], ("small", "medium", "large"))
    tried = 0
    for key, (kind, low, inclusive) in NUMERIC_KNOBS.items():
        section, _, knob = key.rpartition(".")
        if knob not in ((PARAMS[name].get(section) or {}) if section else PARAMS[name]):
            continue
        bad_values = ["abc", True, 2.5 if kind is int else float("nan")]
        if low is not None:
            bad_values.append(low - 1 if inclusive else low)
        for bad in bad_values:
            params = {**PARAMS[name], section: {**PARAMS[name][section], knob: bad}} if section else {**PARAMS[name], knob: bad}
            with pytest.raises(ValueError, match=rf"^{key} must be "):
                check(params, ("small", "medium", "large"))
            tried += 1
    assert tried >= 11  # knn has 3 knobs (11 bad values), the two MLP routers 8
