"""MESS+ as a per-request policy: explore with probability p_t, else minimise V*E_m/lambda + Q*(alpha - s_hat_m).

One class carries every lever of the algorithm (`MessPlusSettings`); two presets
in `conf/router/` pick them:

- `mess_plus_paper`: the NeurIPS 2025 paper's algorithm as published (MLP head
  trained on explorations, costs in raw units, Q_0 = 0, explorations query every
  model and serve the largest);
- `mess_plus`: this project's default, which meets the SLA in every seed at a
  cost near the static optimum (README, "MESS+ presets"): per-model running
  means of satisfaction with an optimism bonus, costs in units of the shadow
  price (so V counts requests), a warm-started queue with a bank of satisfied
  requests, little exploration, change detection.

The policy is driven one request at a time (`decide`, `observe_costs`, `observe_feedback`), holds no
array as long as the stream, and its whole state can be saved and restored
(`state_dict` / `load_state_dict`), so the same object routes a replayed stream
(through the engine's `choose`/`observe`) and live traffic, where costs are known when
the answer returns and feedback arrives later, for some requests only.

Why the default works (README has the measurements):
- Q <- max(0, Q + alpha + eps_t - s) on every request with feedback gives, over the
  requests with feedback, satisfied >= T*alpha + sum(eps_t) + (Q_0 - Q_T) deterministically.
  Starting at Q_0 = V + bank, where the policy operates near Q = V, leaves
  `bank` satisfied requests of margin whatever the stream length; the tightening
  eps_t = tightening*(M-1)/sqrt(N_t) (N_t labelled requests so far) adds a margin
  that pays for what the optimism bonus spends while M models are still being
  learnt, and shrinks as the estimates settle (pessimistic-optimistic
  constrained bandits: Liu, Li, Shi, Ying, NeurIPS 2021).
- With costs divided by the shadow price lambda (`algorithm.shadow_price`), the
  exploit rule switches between the two frontier models that bracket alpha
  exactly at Q = V, on any zoo and in any cost unit: V is measured in requests.
"""

from __future__ import annotations

import math
import numbers
from collections import deque
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal, Mapping, Sequence

import numpy as np

from scipy.special import expit

from messplus_core.core.algorithm import efficient_frontier, explore_probability, queue_update, shadow_price
from messplus_core.core.rng import EXPLORATION, POSTERIOR, generator
from messplus_core.errors import ConfigError
from ..predictors import make_predictor
from ..predictors.base import Predictor
from ..predictors.quality import roc_auc
from .base import Decision, Feedback, Replayed, RouterContext
from .registry import register

Estimator = Literal["head", "model_mean", "blend"]
CostScale = Literal["raw", "shadow_price"]
EnergyEstimate = Literal["running_mean", "last", "known"]
REFERENCE_INITIAL_COST = 1.0  # the authors' simulator starts every cost estimate at 1 (J)
#: While no mean meets alpha, a model with fewer than 1/RESCUE_SHARE of the most-labelled model's labels keeps
#: its optimism bonus through the fade (`MessPlus._optimistic_means`).
RESCUE_SHARE = 10
#: Side queries run only while at least this share of requests brings feedback: a side query is paid on every
#: request but yields a label only with feedback (at 20% feedback they cost 1.78x against 1.30x the static
#: optimum without them, published capture).
SIDE_QUERY_MIN_FEEDBACK = 0.5
#: Keys of a MESS+ router config that are not levers of the policy: read by the builder and the engine.
NOT_LEVERS = {"predictor", "predictor_energy_j", "model"}


@dataclass(frozen=True)
class MessPlusSettings:
    """Every lever of MESS+ (keys of `conf/router/mess_plus*.yaml`; README "MESS+ presets" explains each).

    V: weight of cost against the queue. With `cost_scale=raw` in cost units^-1
       (the paper: 1e-4 on joules); with `shadow_price` in requests (the queue
       length at which the policy steps up to the next frontier model).
    c, explore_exponent: p_t = min(1, c / t^explore_exponent), t from 1 (paper eq. for p_t; 1/4 in 2025, 1/3 in 2024).
    forced_explorations: the first k requests always explore (every model gets a first observation).
    estimator: `head` (the paper: a predictor over request embeddings trained on explorations),
       `model_mean` (each model's running mean satisfaction over all feedback, shrunk toward
       the pooled mean with `prior_weight` observations, plus `optimism`*sqrt(max(s(1-s), variance_floor)/n)
       on every model but the cheapest, capped at 1), or `blend`: those means plus the head's
       per-request deviation in logit space, times a factor kappa in [0, 1] fitted by maximum likelihood on
       held-out feedback (each label scored before the head trains on it; the head trains on every label),
       so per-request signal is used where it exists and ignored (kappa = 0) where it does not.
    blend_refit_every: refit kappa after this many held-out labels (estimator=blend).
    cost_scale: `raw` (V*E_m) or `shadow_price` (V*E_m/lambda, lambda the frontier slope at alpha).
    bank: Q_0 = bank, plus V when `warm_start` (the queue starts at its operating point).
    tightening: the queue counts alpha + eps_t instead of alpha, eps_t = tightening*(M-1)/sqrt(N_t), N_t the
       requests with feedback so far plus the calibration set's (`calibrate`); 0: the target is alpha itself.
       A pessimistic (tightened) constraint against the optimistic estimates (Liu et al., NeurIPS 2021): over T
       requests it banks about 2*tightening*(M-1)*sqrt(T) more satisfied requests, in proportion to the models
       still to learn, so the margin covers what optimism spends on a large zoo and a short stream.
    feedback_z: with sparse feedback, the queue is read as Q + feedback_z*sqrt(n_fb (1-r) alpha (1-alpha)),
       r the observed feedback rate: the requests without feedback are not counted by the queue, and this
       margin covers their binomial spread (0 with full feedback).
    explore_models: `all` (the paper) or `frontier` (models on the frontier of the optimistic estimates,
       plus the cheapest; every model at the first exploration).
    explore_serve: whose answer an exploration serves: `largest` (the paper) or `best_estimate`.
    energy_estimate: `running_mean` of observed costs, `last` exploration's costs (the authors' simulator),
       or `known` (the request's own cost, the 2024 workshop paper).
    energy_prior: cost estimate per model before any observation (None: 1 each, as the reference).
    side_queries: an exploit decision whose optimistic choice is cheaper than its choice on the plain means
       serves the plain choice and runs the optimistic one beside it (both charged; its label arrives with the
       feedback): learning a cheap model then costs its price, not satisfaction. A pricier optimistic choice is
       served as before (optimism there spends cost, not satisfaction). Off while fewer than
       SIDE_QUERY_MIN_FEEDBACK of requests bring feedback. estimator=model_mean only.
    prior_from_training: where the evaluation protocol has a training part (router=compare), every model's
       labels and costs on it seed the running means before the stream starts (`calibrate`), the same
       information the offline routers fit on; the full stream and live traffic start without it.
    change_window, change_z: a model whose last `change_window` labels differ from its earlier ones by more
       than `change_z` standard errors resets every statistic and forces an exploration (0: off).
    """

    V: float
    c: float
    explore_exponent: float
    forced_explorations: int
    estimator: Estimator
    prior_weight: float
    optimism: float
    optimism_kind: Literal["ucb", "thompson"]
    optimism_scope: Literal["decisions", "explorations"]
    optimism_fade: float
    variance_floor: float
    tightening: float
    cost_scale: CostScale
    bank: float
    warm_start: bool
    feedback_z: float
    explore_models: Literal["all", "frontier"]
    explore_serve: Literal["largest", "best_estimate"]
    energy_estimate: EnergyEstimate
    energy_prior: tuple[float, ...] | None
    change_window: int
    change_z: float
    blend_refit_every: int
    prior_from_training: bool
    side_queries: bool

    def __post_init__(self) -> None:
        for lever in fields(self):  # types first: a value such as 'abc' from the command line fails here, by name
            value = getattr(self, lever.name)
            if lever.type == "float" and not (_is_number(value) and math.isfinite(value)):
                raise ValueError(f"mess_plus.{lever.name} must be a number, got {value!r}.")
            if lever.type == "int" and (isinstance(value, bool) or not isinstance(value, numbers.Integral)):
                raise ValueError(f"mess_plus.{lever.name} must be an integer, got {value!r}.")
            if lever.type == "bool" and not isinstance(value, bool):
                raise ValueError(f"mess_plus.{lever.name} must be true or false, got {value!r}.")
        if self.energy_prior is not None and not (isinstance(self.energy_prior, tuple)
                                                  and all(_is_number(e) for e in self.energy_prior)):
            prior = list(self.energy_prior) if isinstance(self.energy_prior, tuple) else self.energy_prior
            raise ValueError(f"mess_plus.energy_prior must be null or a list of numbers (one per model), got {prior!r}.")
        choices = {"estimator": ("head", "model_mean", "blend"), "optimism_kind": ("ucb", "thompson"), "cost_scale": ("raw", "shadow_price"),
                   "explore_models": ("all", "frontier"), "explore_serve": ("largest", "best_estimate"),
                   "energy_estimate": ("running_mean", "last", "known")}
        for key, allowed in choices.items():
            if getattr(self, key) not in allowed:
                raise ValueError(f"mess_plus.{key} must be one of {allowed}, got {getattr(self, key)!r}.")
        for key in ("V", "c", "explore_exponent"):
            if not getattr(self, key) > 0:
                raise ValueError(f"mess_plus.{key} must be > 0, got {getattr(self, key)}.")
        for key in ("bank", "prior_weight", "optimism", "feedback_z", "forced_explorations", "change_window", "tightening"):
            if getattr(self, key) < 0:
                raise ValueError(f"mess_plus.{key} must be >= 0, got {getattr(self, key)}.")

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> "MessPlusSettings":
        """From a preset's config plus the sweep's V and c. Every lever must be there: the preset YAMLs
        (conf/router/mess_plus*.yaml) are the only place their values live. Raises ValueError on a key that is no
        lever (a typo), on a missing lever and on a value of the wrong type (e.g. tightening='abc')."""
        keys = set(cls.__dataclass_fields__)
        unknown = sorted(set(params) - keys - NOT_LEVERS)
        if unknown:
            raise ValueError(f"mess_plus: unknown setting(s) {unknown}; the levers are {sorted(keys - {'V', 'c'})}.")
        missing = sorted(keys - set(params))
        if missing:
            raise ValueError(f"mess_plus: lever(s) {missing} not set; each preset's YAML sets every lever "
                             "(conf/router/mess_plus_paper.yaml lists them all with the published values).")
        picked = {k: params[k] for k in keys}
        prior = picked["energy_prior"]
        if isinstance(prior, (list, tuple)):  # anything else is refused by __post_init__
            picked["energy_prior"] = tuple(float(e) if _is_number(e) else e for e in prior)
        for key in ("forced_explorations", "change_window", "blend_refit_every"):
            if isinstance(picked[key], float) and picked[key].is_integer():  # 3.0 is 3; 2.5 or 'abc' are refused
                picked[key] = int(picked[key])
        return cls(**picked)


def _is_number(value: Any) -> bool:
    """A real number (int, float or a numpy scalar), not a bool (YAML's true would otherwise count as 1)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


@dataclass
class _Stats:
    """Per-model feedback and cost statistics (plain lists: M is small and updates are one at a time)."""

    sat_sum: list[float]
    sat_n: list[int]
    cost_sum: list[float]
    cost_n: list[int]
    window: list[deque] = field(default_factory=list)

    @classmethod
    def empty(cls, m: int, window: int) -> "_Stats":
        return cls([0.0] * m, [0] * m, [0.0] * m, [0] * m, [deque(maxlen=max(window, 1)) for _ in range(m)])


class MessPlus:
    """MESS+ over one zoo (models indexed cheapest first) at one SLA target alpha.

    Per request: `decide(features)` -> Decision; when the answers return, `observe_costs(decision, costs)`;
    when (and if) satisfaction feedback arrives, `observe_feedback(decision, satisfied, labels)`.
    `observe(decision, feedback)` does both at once (the `OnlineRouter` protocol the replay drives).
    features: (d,) request embedding (needed by `estimator=head` and `blend` only).
    """

    def __init__(self, settings: MessPlusSettings, n_models: int, alpha: float, seed: int,
                 predictor: Predictor | None = None) -> None:
        if settings.estimator in ("head", "blend") and predictor is None:
            raise ValueError(f"mess_plus: estimator={settings.estimator} needs a predictor (conf/predictor).")
        prior = settings.energy_prior
        if prior is not None and len(prior) != n_models:
            raise ValueError(f"energy_prior has {len(prior)} values for {n_models} models.")
        self.settings, self.m, self.alpha, self.predictor = settings, n_models, alpha, predictor
        self.rng = generator(seed, EXPLORATION)  # one draw per request: the exploration coin
        self.posterior_rng = generator(seed, POSTERIOR)  # Thompson draws (optimism_kind=thompson)
        self.t = 0
        self.q = (settings.V if settings.warm_start else 0.0) + settings.bank
        self.n_feedback = 0
        self.n_calibration = 0  # labelled requests of the calibration set (`calibrate`): information the tightening counts
        self.stats = _Stats.empty(n_models, settings.change_window)
        self.estimate = list(prior) if prior is not None else [REFERENCE_INITIAL_COST] * n_models
        self.force_next = settings.forced_explorations
        self.resets = 0
        # estimator=blend: the head's mean logit per model (to centre its deviations), held-out
        # (mean logit, deviation, label) triples scored before the head learns each label, and kappa
        self.logit_sum, self.logit_n = [0.0] * n_models, 0
        self.held_out: deque = deque(maxlen=5000)
        self.kappa = 0.0

    # -- the per-request API ------------------------------------------------------------------------

    def decide(self, features: np.ndarray | None = None, request_costs: Sequence[float] | None = None) -> Decision:
        """Route the next request (t advances by one) and return its Decision.

        features: (d,) the request's embedding, for estimator=head or blend (None otherwise). request_costs:
        (M,) its own costs, for energy_estimate=known only. Explores with probability p_t (always while forced
        explorations remain); otherwise serves argmin_m V*E_m + Q*(alpha - s_hat_m), Q with the sparse-feedback
        margin, E_m in cost units or, with cost_scale=shadow_price, divided by the shadow price (units of V:
        `MessPlusSettings`).
        """
        s = self.settings
        self.t += 1
        p = float(explore_probability(self.t, s.c, s.explore_exponent))
        coin = self.rng.random()
        explore = self.force_next > 0 or coin < p
        costs = list(request_costs) if s.energy_estimate == "known" and request_costs is not None else self.estimate
        if explore:
            self.force_next = max(0, self.force_next - 1)
            return self._exploration(p, costs)
        s_hat = self._satisfaction(features)
        scaled = self._scaled_costs(costs, s_hat)
        q = self.q + self._sparse_margin()
        scores = [s.V * scaled[m] + q * (self.alpha - s_hat[m]) for m in range(self.m)]
        serve = min(range(self.m), key=scores.__getitem__)  # first minimum: ties go to the cheaper model
        if s.side_queries and s.estimator == "model_mean" and self._feedback_rate() >= SIDE_QUERY_MIN_FEEDBACK:
            safe = self._plain_choice(costs, q)
            if costs[serve] < costs[safe]:
                return Decision(self.t, safe, tuple(sorted({serve, safe})), True, p, self.q, tuple(s_hat))
        return Decision(self.t, serve, (serve,), False, p, self.q, tuple(s_hat), inferences=int(s.estimator in ("head", "blend")))

    def observe(self, decision: Decision, feedback: Feedback) -> int:
        """The OnlineRouter step: `observe_costs`, then `observe_feedback` when the request has feedback.
        Returns the predictor's optimiser steps (0: none)."""
        self.observe_costs(decision, dict(feedback.costs))
        if feedback.satisfied is None:
            return 0
        labels = None if feedback.labels is None else dict(feedback.labels)
        return self.observe_feedback(decision, feedback.satisfied, labels, feedback.features)

    def _plain_choice(self, costs: Sequence[float], q: float) -> int:
        """The exploit choice on the plain (shrunk) means, without any optimism bonus."""
        means = self._shrunk_means()
        scaled = self._scaled_costs(costs, means)
        scores = [self.settings.V * scaled[m] + q * (self.alpha - means[m]) for m in range(self.m)]
        return min(range(self.m), key=scores.__getitem__)

    def _feedback_rate(self) -> float:
        """Share of the earlier requests whose feedback has arrived (1 before the first request has passed)."""
        return self.n_feedback / (self.t - 1) if self.t > 1 else 1.0

    def observe_costs(self, decision: Decision, costs: dict[int, float]) -> None:
        """The measured cost of each model `decision` queried ({model: cost}, cost units): updates the estimates.
        Known when the answer returns, before any satisfaction feedback."""
        s, st = self.settings, self.stats
        for m, cost in costs.items():
            st.cost_sum[m] += cost
            st.cost_n[m] += 1
        if s.energy_estimate == "running_mean":
            for m in costs:
                self.estimate[m] = st.cost_sum[m] / st.cost_n[m]
        elif s.energy_estimate == "last" and decision.explored:
            for m, cost in costs.items():
                self.estimate[m] = cost

    def observe_feedback(self, decision: Decision, satisfied: float, labels: dict[int, float] | None = None,
                         features: np.ndarray | None = None) -> int:
        """Satisfaction feedback for `decision` (it may arrive late; requests without any never call this).

        satisfied: the served answer's satisfaction in [0, 1]; it moves the queue. labels: {model: satisfaction}
        of every model an exploration queried. features: (d,) the request's embedding, for estimator=head (it
        trains on explorations with every model's label). Returns the predictor's optimiser steps (0: none).
        """
        s = self.settings
        self.n_feedback += 1
        self.q = queue_update(self.q, self.alpha + self._tightening(), satisfied)
        observed = labels if labels is not None else {decision.serve: satisfied}
        if s.estimator == "blend":
            self._hold_out(np.asarray(features), observed)
        if s.estimator in ("model_mean", "blend"):
            for m, label in observed.items():
                self._add_label(m, float(label))
            if s.change_window and self._changed(observed):
                self._reset()
        if s.estimator == "blend":
            y = np.full(self.m, np.nan)
            y[list(observed)] = list(observed.values())
            self.predictor.learn(np.asarray(features), y)
            return self.predictor.steps
        if s.estimator == "head" and labels is not None and len(labels) == self.m:
            self.predictor.learn(np.asarray(features), np.array([labels[m] for m in range(self.m)]))
            return self.predictor.steps
        return 0

    def calibrate(self, labels: np.ndarray, costs: np.ndarray) -> None:
        """Seed the running means with a labelled calibration set before the first request.

        labels: (n, M) every model's satisfaction in [0, 1]; costs: (n, M) their costs (cost units).
        The labels count as observations of each model (estimators model_mean and blend), the costs set
        the cost estimates, and the forced explorations are dropped (every model has observations).
        Raises ValueError on a shape that does not match the zoo.
        """
        labels, costs = np.asarray(labels, dtype=np.float64), np.asarray(costs, dtype=np.float64)
        if labels.ndim != 2 or labels.shape[1] != self.m or costs.shape != labels.shape:
            raise ValueError(f"calibrate: labels {labels.shape} and costs {costs.shape} must both be (n, {self.m}).")
        if not len(labels):
            return
        st = self.stats
        for m in range(self.m):
            st.sat_sum[m] += float(labels[:, m].sum())
            st.sat_n[m] += len(labels)
            st.window[m].extend(labels[:, m].tolist())
            st.cost_sum[m] += float(costs[:, m].sum())
            st.cost_n[m] += len(costs)
            self.estimate[m] = st.cost_sum[m] / st.cost_n[m]
        self.force_next = 0
        self.n_calibration += len(labels)

    def state_dict(self) -> dict[str, Any]:
        """Everything that determines future decisions (JSON-friendly, the predictor excepted)."""
        st = self.stats
        return {"settings": asdict(self.settings), "alpha": self.alpha, "t": self.t, "q": self.q,
                "n_feedback": self.n_feedback, "n_calibration": self.n_calibration, "rng": self.rng.bit_generator.state,
                "posterior_rng": self.posterior_rng.bit_generator.state, "estimate": list(self.estimate),
                "force_next": self.force_next, "resets": self.resets,
                "blend": {"logit_sum": list(self.logit_sum), "logit_n": self.logit_n, "kappa": self.kappa,
                          "held_out": [list(h) for h in self.held_out]},
                "stats": {"sat_sum": list(st.sat_sum), "sat_n": list(st.sat_n), "cost_sum": list(st.cost_sum),
                          "cost_n": list(st.cost_n), "window": [list(w) for w in st.window]},
                "predictor": self.predictor}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a `state_dict()` (the predictor object included) into this policy: the next decisions are
        exactly those the saved policy would have made. KeyError for a state missing a field."""
        st = state["stats"]
        self.t, self.q, self.n_feedback = state["t"], state["q"], state["n_feedback"]
        self.n_calibration = state["n_calibration"]
        self.rng.bit_generator.state = state["rng"]
        self.posterior_rng.bit_generator.state = state["posterior_rng"]
        self.estimate, self.force_next, self.resets = list(state["estimate"]), state["force_next"], state["resets"]
        self.stats = _Stats(list(st["sat_sum"]), list(st["sat_n"]), list(st["cost_sum"]), list(st["cost_n"]),
                            [deque(w, maxlen=max(self.settings.change_window, 1)) for w in st["window"]])
        self.predictor = state["predictor"]
        blend = state["blend"]
        self.logit_sum, self.logit_n, self.kappa = list(blend["logit_sum"]), blend["logit_n"], blend["kappa"]
        self.held_out = deque((tuple(h) for h in blend["held_out"]), maxlen=self.held_out.maxlen)

    # -- estimates --------------------------------------------------------------------------------

    def _satisfaction(self, features: np.ndarray | None) -> list[float]:
        """(M,) estimated satisfaction of each model for this request."""
        if self.settings.estimator == "head":
            return self.predictor.predict(np.asarray(features)[None, :])[0].tolist()
        if self.settings.estimator == "blend":
            deviation = self._deviation(np.asarray(features), count=True)
            base = self._optimistic_means() if self.settings.optimism_scope == "decisions" else self._shrunk_means()
            return [float(expit(_logit(b) + self.kappa * d)) for b, d in zip(base, deviation)]
        if self.settings.optimism_scope == "explorations":
            return self._shrunk_means()
        return self._optimistic_means()

    def _shrunk_means(self) -> list[float]:
        st, w = self.stats, self.settings.prior_weight
        pooled = self._pooled()
        return [(st.sat_sum[m] + w * pooled) / (st.sat_n[m] + w) if st.sat_n[m] + w > 0 else pooled
                for m in range(self.m)]

    def _deviation(self, features: np.ndarray, count: bool = False) -> list[float]:
        """(M,) the head's logit for this request minus its mean logit so far (count: add it to that mean)."""
        logits = [_logit(p) for p in self.predictor.predict(features[None, :])[0]]
        if count:
            self.logit_n += 1
            self.logit_sum = [a + b for a, b in zip(self.logit_sum, logits)]
        n = max(self.logit_n, 1)
        return [h - total / n for h, total in zip(logits, self.logit_sum)]

    def _hold_out(self, features: np.ndarray, observed: dict[int, float]) -> None:
        """Score each new label before anything learns it, and refit kappa every `blend_refit_every` labels."""
        deviation, means = self._deviation(features), self._shrunk_means()
        for m, label in observed.items():
            self.held_out.append((_logit(means[m]), deviation[m], float(label)))
            if len(self.held_out) % self.settings.blend_refit_every == 0:
                self.kappa = fit_blend_factor(*map(np.array, zip(*self.held_out)))

    def _pooled(self) -> float:
        """Mean satisfaction over every label of every model (alpha before any)."""
        total_n = sum(self.stats.sat_n)
        return sum(self.stats.sat_sum) / total_n if total_n else self.alpha

    def _optimistic_means(self, faded: bool = True) -> list[float]:
        """Shrunk means plus an upper-confidence bonus on every model but the cheapest (capped at 1).

        The bonus keeps a model that looked bad after a few unlucky labels in play, so it is served
        again and re-estimated instead of being locked out (UCB, Auer et al. 2002). It fades as the
        queue climbs above Q_0 (`_optimism_left`): optimism spends satisfaction. One exception keeps
        the bonus: while no plain mean meets alpha, every model with fewer than 1/RESCUE_SHARE of the
        most-labelled model's labels. The estimates themselves are then in doubt, and without the bonus
        a good model ranked low by a few unlucky labels is never tried again while the queue climbs
        without end (a lock-in). Measured on the 11-model zoo: one hard first request left every model
        looking bad, and a 0.55 model served 379 of 400 requests (satisfaction 0.54 against alpha 0.75)
        while the rescue was limited to models pricier than the best mean. It ends once the model has
        been sampled.
        """
        s, st = self.settings, self.stats
        means = self._shrunk_means()
        if s.optimism_kind == "thompson":
            w, pooled = s.prior_weight, self._pooled()
            a = [st.sat_sum[m] + w * pooled + 1 for m in range(self.m)]
            b = [st.sat_n[m] - st.sat_sum[m] + w * (1 - pooled) + 1 for m in range(self.m)]
            return self.posterior_rng.beta(a, b).tolist()
        left = self._optimism_left() if faded else 1.0
        infeasible = max(means) < self.alpha
        most_labels = max(st.sat_n)
        out = [means[0]]
        for m in range(1, self.m):
            n, mean = st.sat_n[m], means[m]
            rescued = infeasible and n * RESCUE_SHARE < most_labels
            weight = s.optimism * (1.0 if rescued else left)
            bonus = weight * math.sqrt(max(mean * (1 - mean), s.variance_floor) / n) if n else 1.0
            out.append(min(1.0, mean + bonus))
        return out

    def _optimism_left(self) -> float:
        """Share of the optimism bonus still in force: 1 while the queue is at or below its start Q_0; it fades
        to 0 as the queue climbs `optimism_fade` requests above Q_0. Optimism spends satisfaction to learn;
        once the queue has spent its bank and `optimism_fade` more, decisions rest on the plain means until it
        recovers. (Fading before Q_0 instead locks estimates in: measured, README.)"""
        s = self.settings
        if not s.optimism_fade:
            return 1.0
        start = (s.V if s.warm_start else 0.0) + s.bank
        return min(1.0, max(0.0, 1.0 - (self.q - start) / s.optimism_fade))

    def _scaled_costs(self, costs: Sequence[float], s_hat: Sequence[float]) -> list[float]:
        """Costs as the exploit rule weighs them: raw, or divided by the shadow price at alpha."""
        if self.settings.cost_scale == "raw":
            return list(costs)
        price = shadow_price(costs, s_hat, self.alpha)
        return [e / price for e in costs] if price > 0 else [0.0] * self.m

    def _tightening(self) -> float:
        """eps_t, how far above alpha the queue counts the target for the next label (`MessPlusSettings.tightening`)."""
        s = self.settings
        if not s.tightening:
            return 0.0
        return s.tightening * (self.m - 1) / math.sqrt(max(self.n_feedback + self.n_calibration, 1))

    def _sparse_margin(self) -> float:
        """How much the decision reads the queue above Q with sparse feedback (0 with full feedback).

        The queue counts only requests with feedback, a share r of the stream. Its bank then stands
        for bank/r satisfied requests of the whole stream, so all but r of it is released
        (-bank*(1-r)); the requests it never sees are a binomial sample whose spread over n_fb/r requests
        is about sqrt(n_fb (1-r) alpha (1-alpha)) in queue units, covered by feedback_z of them.
        """
        s = self.settings
        if not self.n_feedback:
            return 0.0
        rate = self.n_feedback / self.t
        spread = math.sqrt(self.n_feedback * (1 - rate) * self.alpha * (1 - self.alpha))
        return s.feedback_z * spread - s.bank * (1 - rate)

    def _exploration(self, p: float, costs: Sequence[float]) -> Decision:
        s = self.settings
        if s.explore_models == "all" or not any(self.stats.sat_n):
            queried = tuple(range(self.m))
        else:
            s_hat = self._optimistic_means(faded=False)  # explorations are where learning is cheap: full optimism
            queried = tuple(sorted({0, *efficient_frontier(costs, s_hat)}))
        if s.explore_serve == "largest" or not any(self.stats.sat_n):
            serve = queried[-1]
        else:
            means = self._shrunk_means()
            serve = max(queried, key=lambda m: (means[m], m))
        return Decision(self.t, serve, queried, True, p, self.q, None)

    def _add_label(self, m: int, label: float) -> None:
        st = self.stats
        st.sat_sum[m] += label
        st.sat_n[m] += 1
        st.window[m].append(label)

    def _changed(self, observed: dict[int, float]) -> bool:
        """Two-sample z test of each observed model's last `change_window` labels against its earlier ones."""
        s, st = self.settings, self.stats
        w = s.change_window
        for m in observed:
            n = st.sat_n[m]
            if n < 2 * w:
                continue
            recent = sum(st.window[m])
            earlier_mean, recent_mean = (st.sat_sum[m] - recent) / (n - w), recent / w
            pooled = st.sat_sum[m] / n
            se = math.sqrt(max(pooled * (1 - pooled), s.variance_floor) * (1 / w + 1 / (n - w)))
            if abs(recent_mean - earlier_mean) > s.change_z * se:
                return True
        return False

    def _reset(self) -> None:
        """After a detected shift: forget every statistic and explore next, so estimates restart from the new regime."""
        self.stats = _Stats.empty(self.m, self.settings.change_window)
        self.force_next = max(self.force_next, 1)
        self.resets += 1


def _logit(p: float) -> float:
    p = min(max(p, 1e-4), 1 - 1e-4)
    return math.log(p / (1 - p))


def fit_blend_factor(offset: np.ndarray, deviation: np.ndarray, label: np.ndarray, iterations: int = 20) -> float:
    """kappa in [0, 1] maximising sum log-likelihood of `label` under sigmoid(offset + kappa * deviation).

    A one-parameter logistic regression with a fixed offset (the model means in logit space), solved by
    Newton's method and clipped to [0, 1]: 0 when the head's deviations carry no signal on held-out labels.
    Inputs: (n,) arrays; labels in [0, 1].
    """
    kappa = 0.0
    for _ in range(iterations):
        p = expit(offset + kappa * deviation)
        grad = float(deviation @ (label - p))
        hess = float((deviation * deviation) @ (p * (1 - p)))
        if hess <= 1e-12:
            break
        step = grad / hess
        kappa = min(1.0, max(0.0, kappa + step))
        if abs(step) < 1e-6:
            break
    return kappa


class ReplayedMessPlus(Replayed):
    """A `MessPlus` over a replayed stream (`Replayed`), plus what only MESS+ needs from the replay.

    The replay hands the request's embedding (and, for energy_estimate=known, its own costs) to
    `decide`, and turns the engine's observations back into `learn`. It records the per-step queue
    and p_t for plots, and the predictor's use for the engine to price. With a predictor (estimator
    head or blend) it also scores each label a request reveals for the models it queried (explorations, and
    side queries where on) before the predictor learns it, and
    reports the held-out (prequential) ROC AUC of those scores, pooled over models, as `predictor_auc`
    (and how many labels it rests on, `predictor_auc_labels`); that monitoring
    inference is not charged (it is measurement, not routing).
    """

    def __init__(self, ctx: RouterContext, policy: MessPlus) -> None:
        if policy.settings.estimator in ("head", "blend") and ctx.features is None:
            raise ValueError(f"MESS+ with estimator={policy.settings.estimator} needs request embeddings "
                             "(RouterContext.features).")
        super().__init__(ctx, policy)
        if policy.settings.prior_from_training and ctx.train is not None:
            policy.calibrate(ctx.train.labels, ctx.train.costs)
        self.known_costs = ctx.request_costs if policy.settings.energy_estimate == "known" else None
        self.q_trace = np.zeros(ctx.n)
        self.p_trace = np.zeros(ctx.n)
        self.auc_pairs: tuple[list[float], list[float]] = ([], [])  # (predicted, label), scored before the predictor learns

    def decide(self, t: int) -> Decision:
        d = self.policy.decide(self.features(t), None if self.known_costs is None else self.known_costs[t])
        self.p_trace[t] = d.p_t
        return d

    def observe(self, t: int, served: int, satisfied: float | None, labels: np.ndarray | None,
                costs: dict[int, float]) -> None:
        d = self.current
        if satisfied is not None and labels is not None and self.policy.predictor is not None:
            predicted = self.policy.predictor.predict(np.asarray(self.features(t))[None, :])[0]
            self.auc_pairs[0].extend(float(predicted[m]) for m in d.queried)
            self.auc_pairs[1].extend(float(labels[m]) for m in d.queried)
        super().observe(t, served, satisfied, labels, costs)
        self.q_trace[t] = self.policy.q

    def trace(self) -> dict[str, np.ndarray]:
        return {"Q": self.q_trace, "p_t": self.p_trace}

    def report(self) -> dict[str, float]:
        out = {"change_resets": float(self.policy.resets), "blend_kappa": self.policy.kappa}
        if self.policy.predictor is not None:
            out["predictor_auc"] = roc_auc(np.array(self.auc_pairs[0]), np.array(self.auc_pairs[1]))
            out["predictor_auc_labels"] = float(len(self.auc_pairs[1]))
        return out


def check_mess_plus(params: Mapping[str, Any], categories: tuple[str, ...]) -> None:
    """A preset's levers, validated before any data is read (placeholder V and c: the sweep's are checked by
    the grid). Raises ValueError naming the lever and what it takes."""
    MessPlusSettings.from_params({**params, "V": 1.0, "c": 1.0})
    prior = params.get("energy_prior")
    if prior is not None and len(prior) != len(categories):
        raise ValueError(f"energy_prior needs one value per model of the zoo ({list(categories)}), got {list(prior)!r}.")


def _reads_features(params: Mapping[str, Any]) -> bool:
    return params["estimator"] in ("head", "blend")


def _knows_costs(params: Mapping[str, Any]) -> bool:
    return params.get("energy_estimate") == "known"


#: Every MESS+ preset spans the sweep's V x c, learns online (so it also runs on the full stream under the
#: train/test protocol), reads the predictor config when its estimator reads features, and (energy_estimate=known
#: only) each request's own costs.
PRESET = dict(sweeps=("V", "c"), features=_reads_features, predictor=True, learns_online=True, preset=True,
              hindsight_costs=_knows_costs, check=check_mess_plus)


@register("mess_plus", order=0, colour=0, **PRESET)
@register("mess_plus_paper", order=1, colour=2, **PRESET)
@register("mess_plus_2024", order=2, **PRESET)  # the 2024 workshop paper's settings (conf/router/mess_plus_2024.yaml)
def mess_plus(ctx: RouterContext, params: dict[str, Any]) -> ReplayedMessPlus:
    """Any MESS+ preset: its levers from the router config, V and c from the sweep."""
    try:
        settings = MessPlusSettings.from_params(params)
    except (TypeError, ValueError) as err:
        raise ConfigError(str(err)) from err
    predictor = None
    if settings.estimator in ("head", "blend"):
        if ctx.features is None:
            raise ValueError(f"MESS+ with estimator={settings.estimator} needs request embeddings (RouterContext.features).")
        pred = params["predictor"]
        head = dict(pred["head"])
        if pred["name"] == "mlp_head" and ctx.graded:
            head.setdefault("loss", "mse")  # graded satisfaction: regress the score
        predictor = make_predictor(pred["name"], ctx.features.shape[1], ctx.n_models, ctx.seed, head)
    return ReplayedMessPlus(ctx, MessPlus(settings, ctx.n_models, ctx.alpha, ctx.seed, predictor))
