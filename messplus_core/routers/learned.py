"""Learned routers in the style of the published baselines, trained offline on the training part.

- `threshold_2model` (RouteLLM style): only the cheapest and the most expensive
  model; a head predicts "the weak model fails on this request" and requests
  at or above a threshold go to the strong model.
- `cheapest_above_threshold` (RouterDC / NVIDIA-router style, every model): a
  multi-label head predicts each model's satisfaction; the cheapest model
  predicted at or above tau is served (none: the most satisfying prediction).
- `knn` (RouterBench style): the k nearest training requests in embedding
  space give each model's expected satisfaction; the model maximising
  expected satisfaction minus lambda times its mean training cost is served.

All three read the same frozen-encoder embeddings as MESS+ and fit on
`RouterContext.train` only; their knob is calibrated there (see
`calibration`). They do not learn online: at decision time each applies its
fitted rule to one request's embedding (`LearnedRouter`, an OnlineRouter).
Each runs one inference per routed request, which the engine charges at
`router_energy_j`; offline training happens before the stream and is not
charged.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Mapping

import numpy as np

from messplus_core.core.calibration import (Calibration, cheapest_above_choice, cheapest_compliant, lambda_candidates,
                                            out_of_fold, threshold_candidates, two_model_choice, utility_choice)
from ..predictors.mlp_head import MLPHead
from .base import Decision, Feedback, OnlineRouter, Replayed, Router, RouterContext, TrainingPart
from .registry import register

#: A fitted rule: (k, d) request embeddings -> (k,) model indices to serve (one request at decision time).
Rule = Callable[[np.ndarray], np.ndarray]


class LearnedRouter(OnlineRouter):
    """An offline-trained rule applied to one request at a time (an OnlineRouter), with its calibration reported.

    rule: (k, d) embeddings -> (k,) model indices, fixed after training (the state is only the request count t: a fresh
    router built from the same training part has the same rule).
    """

    def __init__(self, rule: Rule, calibration: Calibration, n_train: int) -> None:
        self.rule, self.calibration, self.n_train = rule, calibration, n_train
        self.t = 0

    def decide(self, features: np.ndarray | None = None) -> Decision:
        if features is None:
            raise ValueError("a learned router needs the request's embedding (RouterContext.features).")
        self.t += 1
        serve = int(self.rule(np.asarray(features)[None, :])[0])
        return Decision(self.t, serve, (serve,), inferences=1)

    def observe(self, decision: Decision, feedback: Feedback) -> int:
        return 0

    def state_dict(self) -> dict[str, Any]:
        return {"t": self.t, "calibrated_value": self.calibration.value}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state["calibrated_value"] != self.calibration.value:
            raise ValueError("learned router: the saved state belongs to a rule calibrated on another training part.")
        self.t = state["t"]

    def report(self) -> dict[str, float]:
        """Results columns: the calibrated knob, its satisfaction, cost and feasibility on the training part."""
        return {"calibrated_value": self.calibration.value, "train_satisfaction": self.calibration.train_satisfaction,
                "train_cost_per_request": self.calibration.train_cost, "train_feasible": float(self.calibration.feasible),
                "train_requests": float(self.n_train)}


def training_part(ctx: RouterContext, router: str) -> TrainingPart:
    """The context's training part; ValueError outside the train/test protocol or without embeddings."""
    if ctx.train is None:
        raise ValueError(f"{router} is trained offline: run it under the train/test protocol (split.enabled=auto or true).")
    if ctx.features is None or ctx.train.features is None:
        raise ValueError(f"{router} needs request embeddings (RouterContext.features).")
    return ctx.train


def head_fitter(ctx: RouterContext, x: np.ndarray, y: np.ndarray, params: dict[str, Any]) -> Callable[[np.ndarray, int], MLPHead]:
    """fit(rows, fold): a fresh head trained on x[rows], y[rows], seeded by the run's seed and the fold."""
    def fit(rows: np.ndarray, fold: int) -> MLPHead:
        head = MLPHead(x.shape[1], y.shape[1], seed=ctx.seed * 1000 + fold, **params["head"])
        return head.fit(x[rows], y[rows], **params["fit"])
    return fit


def out_of_fold_heads(ctx: RouterContext, x: np.ndarray, y: np.ndarray, params: dict[str, Any]) -> tuple[np.ndarray, MLPHead]:
    """(out-of-fold predictions on the training part, the head fitted on all of it)."""
    fit = head_fitter(ctx, x, y, params)
    oof = out_of_fold(lambda rows, held, fold: fit(rows, fold).predict(x[held]), len(x), params["folds"], ctx.seed)
    return oof, fit(np.arange(len(x)), 0)


#: The learned routers' numeric knobs (conf/router/<name>.yaml; `head.*` and `fit.*` are the MLP heads'):
#: key -> (int or float, the smallest value allowed or None, whether that value itself is allowed).
NUMERIC_KNOBS: dict[str, tuple[type, float | None, bool]] = {
    "router_energy_j": (float, 0.0, True), "margin": (float, None, True), "folds": (int, 2, True), "k": (int, 1, True),
    "head.hidden": (int, 1, True), "head.lr": (float, 0.0, False), "head.momentum": (float, 0.0, True),
    "head.weight_decay": (float, 0.0, True), "fit.epochs": (int, 1, True), "fit.batch_size": (int, 1, True)}


def check_learned(params: Mapping[str, Any], categories: tuple[str, ...]) -> None:
    """A learned router's settings that would otherwise fail inside a worker, mid-sweep (ValueError naming the key):
    each knob of `NUMERIC_KNOBS` the config sets is a number of its kind (not a bool) in its range, and `margin`
    is set (conf/router/<name>.yaml sets it: no default here)."""
    if "margin" not in params:
        raise ValueError("margin must be a number (conf/router/<name>.yaml sets it), got nothing.")
    for key, (kind, low, inclusive) in NUMERIC_KNOBS.items():
        section, _, name = key.rpartition(".")
        holder = params.get(section) if section else params
        if not isinstance(holder, Mapping) or name not in holder:
            continue  # a knob this router does not have (knn has no head, the heads no k)
        value = holder[name]
        if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
            raise ValueError(f"{key} must be an integer, got {value!r}.")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"{key} must be a number, got {value!r}.")
        if low is not None and (value < low or (value == low and not inclusive)):
            raise ValueError(f"{key} must be {'>=' if inclusive else '>'} {low:g}, got {value!r}.")


LEARNED = dict(features=True, trains_offline=True, check=check_learned)


def replayed(ctx: RouterContext, policy: LearnedRouter) -> Router:
    """The policy driven over the replayed test part, its calibration reported as results columns."""
    return Replayed(ctx, policy, report=policy.report)


@register("threshold_2model", order=20, colour=6, **LEARNED)
def threshold_2model(ctx: RouterContext, params: dict[str, Any]) -> Router:
    """RouteLLM-style router between the cheapest and the priciest model: an MLP head predicts the cheapest
    one's failure; the threshold is calibrated on out-of-fold predictions to alpha + `margin` on the training
    part. params: conf/router/threshold_2model.yaml (head, fit, folds, margin). ValueError via `training_part`."""
    train = training_part(ctx, "threshold_2model")
    weak, strong = 0, ctx.n_models - 1
    fails = 1.0 - train.labels[:, [weak]].astype(np.float64)
    oof, head = out_of_fold_heads(ctx, train.features, fails, params)
    p_fail = oof[:, 0]
    cal = cheapest_compliant(threshold_candidates(p_fail), lambda thr: two_model_choice(p_fail, thr, weak, strong),
                             train.labels, train.costs, ctx.alpha + params["margin"])
    threshold = np.array([cal.value])
    rule = lambda x: two_model_choice(head.predict(x)[:, 0], threshold, weak, strong)[0]
    return replayed(ctx, LearnedRouter(rule, cal, train.n))


@register("cheapest_above_threshold", order=20, colour=8, **LEARNED)
def cheapest_above_threshold(ctx: RouterContext, params: dict[str, Any]) -> Router:
    """RouterDC-style router over every model: a multi-label MLP head predicts (M,) satisfaction; the cheapest
    model predicted >= tau serves, tau calibrated out-of-fold to alpha + `margin` on the training part."""
    train = training_part(ctx, "cheapest_above_threshold")
    s_hat, head = out_of_fold_heads(ctx, train.features, train.labels.astype(np.float64), params)
    cal = cheapest_compliant(threshold_candidates(s_hat), lambda taus: cheapest_above_choice(s_hat, taus),
                             train.labels, train.costs, ctx.alpha + params["margin"])
    tau = np.array([cal.value])
    rule = lambda x: cheapest_above_choice(head.predict(x), tau)[0]
    return replayed(ctx, LearnedRouter(rule, cal, train.n))


@register("knn", order=20, colour=10, **LEARNED)
def knn(ctx: RouterContext, params: dict[str, Any]) -> Router:
    """RouterBench-style router: the k nearest training requests (cosine similarity of unit-norm embeddings)
    give each model's expected satisfaction; argmax of that minus lambda x mean training cost serves, lambda
    calibrated leave-one-out to alpha + `margin`. ValueError with fewer than 2 training requests."""
    train = training_part(ctx, "knn")
    if train.n < 2:
        raise ValueError(f"knn needs at least 2 labelled training requests, got {train.n}.")
    k = min(int(params["k"]), train.n - 1)
    labels = train.labels.astype(np.float64)
    cost = train.costs.mean(axis=0)
    similarity = train.features @ train.features.T  # unit-norm embeddings: cosine similarity
    np.fill_diagonal(similarity, -np.inf)  # leave-one-out: a request is not its own neighbour
    s_hat = neighbour_mean(similarity, labels, k)
    cal = cheapest_compliant(lambda_candidates(s_hat, cost), lambda lams: utility_choice(s_hat, cost, lams),
                             train.labels, train.costs, ctx.alpha + params["margin"])
    lam = np.array([cal.value])
    rule = lambda x: utility_choice(neighbour_mean(x @ train.features.T, labels, k), cost, lam)[0]
    return replayed(ctx, LearnedRouter(rule, cal, train.n))


def neighbour_mean(similarity: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """(q, n_train) similarities -> (q, M) mean labels of each query's k most similar training requests."""
    nearest = np.argpartition(-similarity, k - 1, axis=1)[:, :k]
    return labels[nearest].mean(axis=1)
