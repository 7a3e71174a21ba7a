"""The router process of the gateway: one MESS+ policy, its event log, and the feedback rules.

Everything that changes the router goes through `RouterService` and is
appended to the event log first (`eventlog.EventLog`), then applied:

- `decide`: route the next request (t, exploration draw, argmin; `MessPlus.decide`);
- `record_costs`: the measured cost of each queried model (`MessPlus.observe_costs`);
- `feedback`: late, optional satisfaction (and per-model labels on explorations); the only event
  that moves the queue Q (`MessPlus.observe_feedback`), exactly as `feedback_rate` does in replay.

The class is synchronous and not thread-safe: the gateway calls it under one asyncio lock.
`RouterService.open` rebuilds the state after a restart from the last snapshot plus the later
events, re-executing each logged decision and checking it comes out the same.
"""

from __future__ import annotations

import json
import math
import sqlite3
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from messplus_core.errors import ConfigError
from ..routers.mess_plus import Decision, MessPlus, MessPlusSettings
from .eventlog import EventLog


class FeedbackError(Exception):
    """A feedback the gateway refuses; `status` is the HTTP status it answers with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class LogMismatch(RuntimeError):
    """Re-executing the event log gave another decision than the one logged (the log or the config changed)."""


@dataclass
class Totals:
    """Running sums for monitoring (restored with the router; not used by routing)."""

    requests: int = 0
    explorations: int = 0
    served: list[int] = field(default_factory=list)  # (M,) requests served by each model
    queried: list[int] = field(default_factory=list)  # (M,) backend calls per model
    cost: list[float] = field(default_factory=list)  # (M,) summed charged cost per model, cost units
    feedback: int = 0
    satisfied_sum: float = 0.0

    @classmethod
    def empty(cls, m: int) -> "Totals":
        """Zero totals for a zoo of m models."""
        return cls(served=[0] * m, queried=[0] * m, cost=[0.0] * m)


def decision_payload(d: Decision) -> dict[str, Any]:
    """A Decision as the event log's JSON payload (`decision_from_payload` inverts it exactly)."""
    return {"t": d.t, "serve": d.serve, "queried": list(d.queried), "explored": d.explored, "p_t": d.p_t,
            "q": d.q, "s_hat": None if d.s_hat is None else list(d.s_hat)}


def decision_from_payload(p: dict[str, Any]) -> Decision:
    """The Decision stored by `decision_payload` (KeyError for a payload missing a field)."""
    return Decision(t=p["t"], serve=p["serve"], queried=tuple(p["queried"]), explored=p["explored"], p_t=p["p_t"],
                    q=p["q"], s_hat=None if p["s_hat"] is None else tuple(p["s_hat"]))


class RouterService:
    """MESS+ over one zoo (`categories`, cheapest first) at SLA target `alpha`, with its event log.

    snapshot_every: store the router state every K events (K >= 1). feedback_ttl_s: feedback for a request
    older than this (s since its decision) is refused with 410 and never updates anything. grader: where an
    exploration's per-model labels come from when the feedback carries none: `none` (then only the served
    model's satisfaction is learnt) or `reported` (each queried backend's `messplus_label` in its logged
    answer: the capture stub's ground truth; needs explore_wait=all so answers are logged before the response).
    """

    def __init__(self, settings: MessPlusSettings, categories: tuple[str, ...], alpha: float, seed: int,
                 log: EventLog, snapshot_every: int, feedback_ttl_s: float, grader: str) -> None:
        if grader not in ("none", "reported"):
            raise ConfigError(f"serve: grader must be none or reported, got {grader!r}.")
        if settings.estimator != "model_mean":
            raise ConfigError("serve: only estimator=model_mean runs online so far (router=mess_plus); estimator=head "
                              "needs request embeddings in the gateway, which is not built yet.")
        if settings.energy_estimate == "known":
            raise ConfigError("serve: energy_estimate=known routes on each request's own measured cost, which a live gateway "
                              "only knows after the backends answered; use energy_estimate=running_mean (or last).")
        if settings.optimism_kind == "thompson":
            raise ConfigError("serve: optimism_kind=thompson is not supported online: MessPlus.state_dict() does not "
                              "save the posterior generator, so a restart would change decisions. Use optimism_kind=ucb.")
        if snapshot_every < 1:
            raise ConfigError(f"serve: snapshot_every must be >= 1, got {snapshot_every}.")
        if not feedback_ttl_s > 0:
            raise ConfigError(f"serve: feedback_ttl_s must be > 0, got {feedback_ttl_s}.")
        self.settings, self.categories, self.alpha, self.seed = settings, tuple(categories), alpha, seed
        self.log, self.snapshot_every, self.ttl, self.grader = log, snapshot_every, feedback_ttl_s, grader
        self.policy = MessPlus(settings, len(categories), alpha, seed)
        self.totals = Totals.empty(len(categories))
        self.snapshot_seq = 0
        self.open_decisions: dict[str, Decision] = {}  # decisions whose costs have not all arrived (bounded by in-flight)

    # -- construction and recovery -----------------------------------------------------------------

    @classmethod
    def open(cls, settings: MessPlusSettings, categories: tuple[str, ...], alpha: float, seed: int, log: EventLog,
             snapshot_every: int, feedback_ttl_s: float, grader: str) -> "RouterService":
        """A service over `log`: fresh if the log is empty, else the last snapshot plus every later event.

        Raises ConfigError if the log was written for another zoo, alpha, seed or settings.
        """
        service = cls(settings, categories, alpha, seed, log, snapshot_every, feedback_ttl_s, grader)
        identity = {"categories": list(categories), "alpha": alpha, "seed": seed, "settings": asdict(settings)}
        identity = _jsonable(identity)
        stored = log.meta()
        if not stored:
            log.set_meta(identity)
            return service
        if stored != identity:
            diff = sorted(k for k in identity if stored.get(k) != identity[k])
            raise ConfigError(f"serve: the state in {log.path} was written with other {diff} "
                              f"({ {k: stored.get(k) for k in diff} }); point state_dir at a new folder "
                              "or start with the configuration that wrote it.")
        service._recover()
        return service

    def _recover(self) -> None:
        snap = self.log.last_snapshot()
        after = 0
        if snap is not None:
            after, state = snap
            self.policy.load_state_dict({**state["policy"], "predictor": None})
            self.totals = Totals(**state["totals"])
            self.open_decisions = {rid: decision_from_payload(p) for rid, p in state["open"].items()}
            self.snapshot_seq = after
        for seq, kind, rid, payload, _ in self.log.events(after):
            self._apply(kind, rid, payload, replaying=True)

    def _apply(self, kind: str, rid: str, payload: dict[str, Any], replaying: bool = False) -> None:
        """Apply one logged event to the router (live right after it is appended; on recovery in log order)."""
        if kind == "decision":
            logged = decision_from_payload(payload)
            if replaying:
                d = self.policy.decide()
                if (d.t, d.serve, d.queried, d.explored) != (logged.t, logged.serve, logged.queried, logged.explored):
                    raise LogMismatch(f"event log {self.log.path}: re-executing request {rid} gave t={d.t} serve={d.serve} "
                                      f"queried={d.queried}, the log holds t={logged.t} serve={logged.serve} queried={logged.queried}.")
            self.open_decisions[rid] = logged
            self.totals.requests += 1
            self.totals.explorations += int(logged.explored)
            self.totals.served[logged.serve] += 1
        elif kind == "costs":
            d = self._decision(rid)
            costs = {int(m): float(c) for m, c in payload["costs"].items()}
            self.policy.observe_costs(d, costs)
            for m, c in costs.items():
                self.totals.queried[m] += 1
                self.totals.cost[m] += c
            if payload.get("final", True):
                self.open_decisions.pop(rid, None)
        elif kind == "feedback":
            d = self._decision(rid)
            labels = None if payload["labels"] is None else {int(m): float(v) for m, v in payload["labels"].items()}
            self.policy.observe_feedback(d, float(payload["satisfied"]), labels)
            self.totals.feedback += 1
            self.totals.satisfied_sum += float(payload["satisfied"])
        elif kind != "outputs":
            raise LogMismatch(f"event log {self.log.path}: unknown event kind {kind!r} for request {rid}.")

    def _append(self, kind: str, rid: str, payload: dict[str, Any]) -> tuple[int, float]:
        """Log first, then apply, then snapshot if due."""
        seq, ts = self.log.append(kind, rid, payload)
        self._apply(kind, rid, payload)
        if seq - self.snapshot_seq >= self.snapshot_every:
            self.log.snapshot(seq, self.state_dict())
            self.snapshot_seq = seq
        return seq, ts

    def _decision(self, rid: str) -> Decision:
        if rid in self.open_decisions:
            return self.open_decisions[rid]
        found = self.decision_event(rid)
        if found is None:
            raise LogMismatch(f"event log {self.log.path}: an event for request {rid} precedes its decision.")
        return decision_from_payload(found[0])

    def decision_event(self, rid: str) -> tuple[dict[str, Any], float] | None:
        """(payload, ts) of request `rid`'s decision event, None if unknown."""
        row = self.log.db.execute("SELECT payload, ts FROM events WHERE request_id = ? AND kind = 'decision'", (rid,)).fetchone()
        if row is None:
            return None
        return json.loads(row[0]), row[1]

    def has_costs(self, rid: str) -> bool:
        """Whether request `rid`'s costs are in the log."""
        return self.log.db.execute("SELECT 1 FROM events WHERE request_id = ? AND kind = 'costs'", (rid,)).fetchone() is not None

    # -- the live API --------------------------------------------------------------------------------

    def decide(self, rid: str, info: dict[str, Any] | None = None) -> Decision:
        """Route request `rid` (a fresh id): decide, log, apply. info: extra fields kept in the log (endpoint, ...)."""
        before = self.policy.state_dict()
        d = self.policy.decide()  # the policy's own step (t, coin, argmin); logged before anyone sees it
        try:
            self._append("decision", rid, {**decision_payload(d), **(info or {})})
        except sqlite3.Error:
            self.policy.load_state_dict(before)  # not logged: as if never decided (the log stays the truth)
            raise
        return d

    def record_costs(self, rid: str, costs: dict[int, float], details: dict[str, Any] | None = None, final: bool = True) -> None:
        """The measured cost of models that `rid` queried ({model index: cost}); final: no more costs will follow."""
        self._append("costs", rid, {"costs": {str(m): c for m, c in costs.items()}, "final": final, **(details or {})})

    def record_outputs(self, rid: str, outputs: dict[str, Any]) -> None:
        """Keep every queried model's answer of an exploration for labelling (`GET /v1/requests/{id}`); not routing."""
        self.log.append("outputs", rid, {"outputs": outputs})

    def feedback(self, rid: str, satisfied: float, labels: dict[str, float] | None, key: str,
                 now: float | None = None) -> dict[str, Any]:
        """Apply feedback once; raises FeedbackError (404 unknown id, 409 conflict, 410 expired, 422 bad labels).

        key: the idempotency key (an Idempotency-Key header or the client's source); the same key again returns
        the first answer with `duplicate: true` and changes nothing.
        """
        found = self.decision_event(rid)
        if found is None:
            raise FeedbackError(404, f"unknown request_id {rid!r}.")
        payload, decided_at = found
        d = decision_from_payload(payload)
        for seq, kind, fb, _ in self.log.request_events(rid):
            if kind == "feedback":
                if fb["key"] == key:
                    return {"request_id": rid, "accepted": True, "duplicate": True, "seq": seq, "Q": self.policy.q}
                raise FeedbackError(409, f"request {rid} already has feedback (key {fb['key']!r}); a request counts once in the queue.")
        if not 0.0 <= satisfied <= 1.0 or math.isnan(satisfied):
            raise FeedbackError(422, f"satisfied must lie in [0, 1], got {satisfied}.")
        indexed: dict[int, float] | None = None
        if labels is not None:
            if not d.explored:
                raise FeedbackError(409, f"request {rid} did not explore (it queried {self.categories[d.serve]} only): "
                                         "send per-model labels only for explorations.")
            queried = {self.categories[m] for m in d.queried}
            wrong = sorted(set(labels) - queried)
            if wrong:
                raise FeedbackError(422, f"labels for {wrong}, but request {rid} queried {sorted(queried)}.")
            bad = {k: v for k, v in labels.items() if not 0.0 <= float(v) <= 1.0}
            if bad:
                raise FeedbackError(422, f"labels must lie in [0, 1], got {bad}.")
            indexed = {self.categories.index(k): float(v) for k, v in labels.items()}
        if indexed is None and d.explored and self.grader == "reported":
            indexed = self._graded(rid, d)
        age = (time.time() if now is None else now) - decided_at
        if age > self.ttl:
            raise FeedbackError(410, f"feedback for {rid} arrived {age:.0f} s after its decision; the window is "
                                     f"feedback_ttl_s={self.ttl:g} s. It is not counted.")
        seq, _ = self._append("feedback", rid, {"satisfied": float(satisfied), "key": key,
                                                "labels": None if indexed is None else {str(m): v for m, v in indexed.items()}})
        return {"request_id": rid, "accepted": True, "duplicate": False, "seq": seq, "Q": self.policy.q}

    def _graded(self, rid: str, d: Decision) -> dict[int, float]:
        """Per-model labels of exploration `rid` from its logged answers' `messplus_label` (grader=reported)."""
        outputs = next((p["outputs"] for _, kind, p, _ in self.log.request_events(rid) if kind == "outputs"), None)
        if outputs is None:
            raise FeedbackError(409, f"request {rid}: its answers are not logged yet, so grader=reported has no labels; retry.")
        labels = {self.categories.index(cat): body.get("messplus_label") for cat, body in outputs.items()}
        missing = sorted(self.categories[m] for m, v in labels.items() if not isinstance(v, (int, float)))
        if missing:
            raise FeedbackError(422, f"grader=reported: the answers of {missing} for {rid} carry no numeric messplus_label; "
                                     "send labels in the feedback or use grader=none.")
        return {m: float(v) for m, v in labels.items()}

    # -- views ---------------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """What a snapshot stores (JSON): the policy's state without its predictor (the gateway's MESS+ runs
        without one), the monitoring totals and the decisions still waiting for costs."""
        state = self.policy.state_dict()
        state.pop("predictor")
        return {"policy": state, "totals": asdict(self.totals),
                "open": {rid: decision_payload(d) for rid, d in self.open_decisions.items()}}

    def router_state(self) -> dict[str, Any]:
        """What `GET /v1/router/state` shows."""
        p, tot = self.policy, self.totals
        return {"t": p.t, "Q": p.q, "alpha": self.alpha, "seed": self.seed, "categories": list(self.categories),
                "n_feedback": p.n_feedback, "cost_estimate": list(p.estimate), "resets": p.resets,
                "requests": tot.requests, "explorations": tot.explorations, "served": dict(zip(self.categories, tot.served)),
                "queried": dict(zip(self.categories, tot.queried)), "cost_total": dict(zip(self.categories, tot.cost)),
                "running_satisfaction": tot.satisfied_sum / tot.feedback if tot.feedback else None,
                "last_seq": self.log.last_seq, "snapshot_seq": self.snapshot_seq, "settings": asdict(self.settings)}

    def series(self, event: str) -> dict[str, Any]:
        """The live series after `event` (decision, costs or feedback), flat, for W&B (`live_log.LiveSeries`)."""
        p, tot = self.policy, self.totals
        row: dict[str, Any] = {"event": event, "t": p.t, "requests": tot.requests, "explorations": tot.explorations,
                               "Q": p.q, "n_feedback": tot.feedback,
                               "running_satisfaction": tot.satisfied_sum / tot.feedback if tot.feedback else None,
                               "cost_per_request": sum(tot.cost) / tot.requests if tot.requests else None}
        for m, cat in enumerate(self.categories):
            row[f"cost_per_request/{cat}"] = tot.cost[m] / tot.requests if tot.requests else None
            row[f"served/{cat}"] = tot.served[m]
            row[f"queried/{cat}"] = tot.queried[m]
        return {k: v for k, v in row.items() if v is not None}

    def request_view(self, rid: str) -> dict[str, Any] | None:
        """What `GET /v1/requests/{id}` shows: the decision, every cost and output, the feedback status."""
        events = self.log.request_events(rid)
        if not events:
            return None
        view: dict[str, Any] = {"request_id": rid, "costs": {}, "outputs": {}, "feedback": None}
        for seq, kind, payload, ts in events:
            if kind == "decision":
                view["decision"] = {**payload, "served_by": self.categories[payload["serve"]],
                                    "queried_models": [self.categories[m] for m in payload["queried"]], "decided_at": ts}
            elif kind == "costs":
                view["costs"].update({self.categories[int(m)]: c for m, c in payload["costs"].items()})
                view["cost_details"] = {k: v for k, v in payload.items() if k not in ("costs", "final")}
            elif kind == "outputs":
                view["outputs"].update(payload["outputs"])
            elif kind == "feedback":
                labels = payload["labels"]
                view["feedback"] = {"satisfied": payload["satisfied"], "key": payload["key"], "at": ts,
                                    "labels": None if labels is None else {self.categories[int(m)]: v for m, v in labels.items()}}
        decided_at = view["decision"]["decided_at"]
        view["feedback_status"] = ("received" if view["feedback"] else
                                   "expired" if time.time() - decided_at > self.ttl else "open")
        return view


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, sort_keys=True))
