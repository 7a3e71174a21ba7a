"""Graded satisfaction through the evaluate stage: the 2024 table's rows on a synthetic gen_demo capture."""

import numpy as np
import pandas as pd
import pytest

from helpers.config import predictor_head, router_head
from helpers.data import synthetic_frame, write_capture
from helpers.evaluate import config

from messplus_core.evaluate.pipeline import run_evaluation
from messplus_core.predictors.mlp_head import MLPHead
from messplus_core.predictors.ngram_linear import NgramLinear

NGRAM_HEAD = predictor_head("ngram_linear")

CATS = ("small", "medium", "large")


def graded_capture(root, n=150):
    frame = synthetic_frame(n, seed=4, benchmark="gen_demo", metric="bleu1")
    rng = np.random.default_rng(4)
    for m, cat in enumerate(CATS):  # scores in [0, 1] that grow with model size and depend on the text
        topic_bonus = frame["input_text"].str.contains("easy").to_numpy() * 0.3
        score = np.clip(0.15 + 0.2 * m + topic_bonus + rng.normal(0, 0.1, n), 0, 1).round(4)
        frame[f"label_{cat}"] = frame[f"bleu1_{cat}"] = score
        frame[f"prompt_tokens_{cat}"] = 12
        frame[f"generated_tokens_{cat}"] = 5 + m + rng.integers(0, 3, n)
    write_capture(root, {"gen_demo": frame})
    return frame


@pytest.fixture(scope="module")
def graded_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("graded")
    frame = graded_capture(root / "capture")
    cfg = config(f"data_dir={root / 'capture'}", "model_zoo=tiny", "benchmark=gen_demo", "cost=time", "logger=none",
                 f"cache_dir={root / 'cache'}", "n_jobs=1", "seed=42")
    out = run_evaluation(cfg, root / "out")
    return frame, out["frame"], (root / "out" / "summary.md").read_text()


def test_the_2024_table_rows(graded_run):
    _, results, summary = graded_run
    routers = set(results["router"])
    assert {"single_model:small", "single_model:large", "educated_guess", "mess_plus", "mess_plus_2024", "oracle",
            "static_optimum"} <= routers
    preset = results[results["router"] == "mess_plus_2024"].iloc[0]
    assert (preset["V"], preset["c"]) == (0.1, 3.0)
    assert "mess_plus_2024" in summary


def test_satisfaction_is_the_mean_score_and_tokens_are_reported(graded_run):
    frame, results, _ = graded_run
    for cat in ("small", "large"):
        row = results[results["router"] == f"single_model:{cat}"].iloc[0]
        assert row["satisfaction"] == pytest.approx(frame[f"label_{cat}"].mean())
        assert row["generated_tokens_per_request"] == pytest.approx(frame[f"generated_tokens_{cat}"].mean())
        assert row["prompt_tokens_per_request"] == 12
    mess = results[results["router"] == "mess_plus"].iloc[0]
    # An exploration decodes with every model: its tokens are all models' (like its cost).
    assert mess["generated_tokens_per_request"] >= frame["generated_tokens_small"].mean()


def test_graded_bounds(graded_run):
    _, results, _ = graded_run
    oracle = results[results["router"] == "oracle"].iloc[0]
    static = results[results["router"] == "static_optimum"].iloc[0]
    assert oracle["satisfaction"] >= 0.5 - 1e-9 and static["satisfaction"] == pytest.approx(0.5)
    assert oracle["oracle_lower_bound_per_request"] <= oracle["time_s_per_request"] + 1e-12
    assert oracle["time_s_per_request"] <= static["time_s_per_request"]


def test_ngram_linear_predictor_runs_mess_plus(tmp_path):
    graded_capture(tmp_path / "capture")
    cfg = config(f"data_dir={tmp_path / 'capture'}", "model_zoo=tiny", "benchmark=gen_demo", "cost=time", "logger=none",
                 f"cache_dir={tmp_path / 'cache'}", "n_jobs=1", "seed=42", "router=[mess_plus,mess_plus_2024]",
                 "predictor=ngram_linear")
    results = run_evaluation(cfg, tmp_path / "out")["frame"]
    assert set(results["router"]) == {"mess_plus", "mess_plus_2024", "static_optimum"}
    mess = results[results["router"] != "static_optimum"]
    assert mess["explore_steps"].gt(0).all() and mess["satisfaction"].between(0, 1).all()


def test_ngram_linear_learns_a_graded_target():
    from messplus_core.data.embeddings import hashed_ngrams

    texts = [f"{w} sentence number {i}" for i in range(200) for w in ("easy",)] + \
            [f"{w} sentence number {i}" for i in range(200) for w in ("hard",)]
    x = hashed_ngrams(texts)
    y = np.array([[0.9, 0.95]] * 200 + [[0.1, 0.5]] * 200)
    pred = NgramLinear(x.shape[1], 2, seed=0, **NGRAM_HEAD)
    assert pred.predict(x[:2]).tolist() == [[0.5, 0.5]] * 2  # the prior before any example
    order = np.random.default_rng(0).permutation(400)
    for i in order:
        pred.learn(x[i], y[i])
    easy, hard = pred.predict(hashed_ngrams(["easy sentence number 999", "hard sentence number 999"]))
    assert easy[0] > 0.7 and hard[0] < 0.3 and hard[1] == pytest.approx(0.5, abs=0.15)
    # An unknown label (NaN) trains nothing: a model that never had one still predicts the prior.
    partial = NgramLinear(x.shape[1], 2, seed=0, **NGRAM_HEAD)
    partial.learn(x[0], np.array([0.9, np.nan]))
    assert partial.predict(x[:1])[0, 1] == 0.5 and partial.predict(x[:1])[0, 0] != 0.5


def test_mlp_head_regression_loss_fits_scores():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 8)) / np.sqrt(8)
    y = np.stack([0.2 + 0.6 * (x[:, 0] > 0), np.full(300, 0.4)], axis=1)
    offline = router_head("threshold_2model")  # the learned routers' head (lr 0.05)
    head = MLPHead(8, 2, seed=0, loss="mse", **offline).fit(x, y, epochs=60, batch_size=16)
    err = np.abs(head.predict(x) - y).mean()
    assert err < 0.08
    with pytest.raises(ValueError, match="loss must be bce"):
        MLPHead(8, 2, seed=0, loss="hinge", **offline)
    with pytest.raises(ValueError, match="without steps and batch_size"):
        head.learn(x[0], y[0])
