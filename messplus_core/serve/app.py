"""The FastAPI gateway: OpenAI-compatible completions routed by MESS+, feedback, state and metrics.

Endpoints:
- POST /v1/chat/completions, /v1/completions: `model: "messplus"` routes; a zoo category or model name
  passes straight to that backend (no decision). The response is the serving backend's, with `model` set to
  the model that served and a `messplus` object (request_id, t, explored, p_t, Q, s_hat, served_by, queried,
  cost, cost_kind, cost_source, energy_j); the same as `X-MessPlus-*` headers. With cost=energy the answer
  carries each queried model's tokens and J/token (`energy.py`); before a backend's first Zeus window closed its
  energy is `null` with `energy_pending` saying why, and the router is charged when that window closes.
- POST /v1/feedback {request_id, satisfied, labels?, source?}: bearer token; idempotent (Idempotency-Key
  header, else request_id + source); 404 unknown id, 409 labels for a request that did not explore or a second
  feedback, 410 after feedback_ttl_s, 422 bad values.
- GET /v1/requests/{id} (bearer token), GET /v1/router/state, GET /metrics (Prometheus), GET /health.

Concurrency: the decision (t, exploration draw, argmin, log append) runs under one asyncio lock; backend
calls run outside it, concurrently on an exploration. A completion with an `Idempotency-Key` header is decided
once: a retry (after a dropped connection or a gateway restart) re-runs the logged decision's backends and
charges its costs once.

Streaming (`stream: true`): the served model is called with `stream: true` and its chunks are relayed as they
arrive (on an exploration too; the other queried models are called without streaming and logged as before).
The first chunk carries the decision in `messplus`, the last one the decision with the charged cost and
`streamed_by_backend`; a backend that does not stream (it answers JSON) has its whole answer cut into chunks
(`streaming.chunks_of`), so the client gets a stream, all of it at once.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
import uuid
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any, AsyncIterator, Awaitable, Callable

import httpx
from fastapi import FastAPI, Header, HTTPException, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from pydantic import BaseModel

from ..routers.mess_plus import Decision
from .backends import COST_SOURCES, ENERGY_NOT_MEASURED, Backend, BackendError, CallResult, CostSource, call, call_stream
from .energy import PENDING, UNMEASURED, BackendMeter, EnergyMeters
from .live_log import LiveSeries
from .service import FeedbackError, RouterService, decision_from_payload
from .streaming import DONE, event

ROUTED_MODEL = "messplus"


@dataclass(frozen=True)
class GatewaySettings:
    """How the gateway talks to backends and clients: conf/serve.yaml's keys (its defaults live there only)."""

    backends: tuple[Backend, ...]  # zoo order, cheapest first
    cost: CostSource
    token: str | None  # bearer token for feedback and request views; None only with auth=none
    backend_timeout_s: float
    explore_wait: str  # served: answer when the served model returns | all: after every queried model
    energy: EnergyMeters | None = None  # cost=energy: the backends' Zeus meters (energy.energy_meters)


class Feedback(BaseModel):
    """POST /v1/feedback's body: the served answer's satisfaction in [0, 1], optionally each queried model's
    label by category (explorations only), and the sender (`source`, the idempotency key without a header)."""

    request_id: str
    satisfied: float
    labels: dict[str, float] | None = None
    source: str = "client"


class _Metrics:
    """Prometheus collector reading the service's totals at scrape time (so a restart restores them)."""

    def __init__(self, service: RouterService) -> None:
        self.service = service

    def collect(self):  # noqa: ANN201 - prometheus_client's collector protocol
        st = self.service.router_state()
        yield CounterMetricFamily("messplus_requests", "Routed requests", value=st["requests"])
        yield CounterMetricFamily("messplus_explorations", "Routed requests that explored", value=st["explorations"])
        yield CounterMetricFamily("messplus_feedback", "Feedback applied", value=st["n_feedback"])
        yield GaugeMetricFamily("messplus_queue", "MESS+ virtual queue Q", value=st["Q"])
        yield GaugeMetricFamily("messplus_t", "Decisions made (t)", value=st["t"])
        sat = GaugeMetricFamily("messplus_running_satisfaction", "Mean satisfaction over feedback received")
        sat.add_metric([], st["running_satisfaction"] if st["running_satisfaction"] is not None else float("nan"))
        yield sat
        served = CounterMetricFamily("messplus_served", "Requests served per model", labels=["model"])
        calls = CounterMetricFamily("messplus_backend_calls", "Backend calls per model", labels=["model"])
        cost = CounterMetricFamily("messplus_cost", "Charged cost per model (cost units)", labels=["model"])
        est = GaugeMetricFamily("messplus_cost_estimate", "MESS+ per-request cost estimate per model", labels=["model"])
        for m, cat in enumerate(st["categories"]):
            served.add_metric([cat], st["served"][cat])
            calls.add_metric([cat], st["queried"][cat])
            cost.add_metric([cat], st["cost_total"][cat])
            est.add_metric([cat], st["cost_estimate"][m])
        yield from (served, calls, cost, est)


def create_app(service: RouterService, settings: GatewaySettings, client: httpx.AsyncClient | None = None,
               series: LiveSeries | None = None) -> FastAPI:
    """The gateway over `service`. client: the HTTP client for backends (tests pass one with ASGI transports).
    series: W&B live logging (`logger=wandb`), fed one row per router event and closed at shutdown."""
    lock = asyncio.Lock()
    by_name: dict[str, int] = {}
    for m, b in enumerate(settings.backends):
        by_name[b.category] = by_name[b.served_name] = m
    categories = tuple(b.category for b in settings.backends)
    registry = CollectorRegistry()
    registry.register(_Metrics(service))
    pending: set[asyncio.Task] = set()
    holder: dict[str, httpx.AsyncClient] = {}

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        holder["client"] = client or httpx.AsyncClient(limits=httpx.Limits(max_connections=256, max_keepalive_connections=64))
        windows = asyncio.create_task(settings.energy.run()) if settings.energy is not None else None
        yield
        if windows is not None:
            windows.cancel()
            settings.energy.stop()  # the last windows; answers still waiting for a first J/token get it or stay unmeasured
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        if client is None:
            await holder["client"].aclose()
        if series is not None:
            await asyncio.to_thread(series.close)

    app = FastAPI(title="MESS+ gateway", lifespan=lifespan)
    app.state.service = service

    def http_client() -> httpx.AsyncClient:
        if "client" not in holder:  # in-process use without lifespan (httpx ASGITransport)
            holder["client"] = client or httpx.AsyncClient()
        return holder["client"]

    def publish(event: str) -> None:
        """Hand the series after a router event to the W&B thread (a queue put; never waits on W&B)."""
        if series is not None:
            series.record(service.series(event))

    def check_token(authorization: str | None) -> None:
        if settings.token is None:
            return
        given = (authorization or "").removeprefix("Bearer ").strip()
        if not secrets.compare_digest(given.encode(), settings.token.encode()):
            raise HTTPException(401, "missing or wrong bearer token (Authorization: Bearer <token>).")

    async def finish(rid: str, tasks: dict[int, asyncio.Task], explored: bool, record: bool) -> dict[int, CallResult]:
        """Wait for every queried backend, then log their costs (and an exploration's outputs) under the lock.
        record=False: a retried request whose costs are already in the log (they count once)."""
        done: dict[int, CallResult] = {}
        errors: dict[str, str] = {}
        for m, task in tasks.items():
            try:
                done[m] = await task
            except BackendError as err:
                errors[categories[m]] = str(err)
        unmeasured: dict[str, str] = {}
        for m, r in list(done.items()):
            if r.cost is None:  # cost=energy before the backend's first window: charged when it closes
                jpt = await meter(m).estimate()
                if jpt is None:
                    unmeasured[categories[m]] = UNMEASURED
                else:
                    done[m] = replace(r, cost=r.tokens * jpt, j_per_token=jpt)
        if record:
            energy = {} if settings.energy is None else {
                "tokens": {categories[m]: r.tokens for m, r in done.items()},
                "j_per_token": {categories[m]: r.j_per_token for m, r in done.items()}, "energy_unmeasured": unmeasured}
            async with lock:
                service.record_costs(rid, {m: r.cost for m, r in done.items() if r.cost is not None},
                                     {"cost_kind": settings.cost, "cost_source": COST_SOURCES[settings.cost],
                                      "seconds": {categories[m]: r.seconds for m, r in done.items()},
                                      "usage": {categories[m]: r.usage for m, r in done.items()}, "errors": errors, **energy})
                publish("costs")
                if explored:
                    service.record_outputs(rid, {categories[m]: r.body for m, r in done.items()})
        return done

    def decision_info(rid: str, d: Decision, retried: bool) -> dict[str, Any]:
        return {"request_id": rid, "routed": True, "retried": retried, "t": d.t, "explored": d.explored,
                "p_t": d.p_t, "Q": d.q, "s_hat": None if d.s_hat is None else dict(zip(categories, d.s_hat)),
                "served_by": categories[d.serve], "queried": [categories[m] for m in d.queried], **cost_kind()}

    def cost_kind() -> dict[str, Any]:
        """Which cost the answer reports; without cost=energy, that energy is not measured (never 0)."""
        kind = {"cost_kind": settings.cost, "cost_source": COST_SOURCES[settings.cost]}
        return kind if settings.energy is not None else kind | {"energy_j": None, "energy_note": ENERGY_NOT_MEASURED}

    def meter(m: int) -> BackendMeter | None:
        """Model m's energy meter (cost=energy), else None."""
        return None if settings.energy is None else settings.energy[categories[m]]

    def cost_info(results: dict[int, CallResult], n_queried: int) -> dict[str, Any]:
        pending = [categories[m] for m, r in results.items() if r.cost is None]
        info: dict[str, Any] = {"cost": None if pending else sum(r.cost for r in results.values()),
                                "cost_complete": len(results) == n_queried and not pending,
                                "cost_per_model": {categories[m]: r.cost for m, r in results.items()}}
        if settings.energy is not None:
            info |= {"energy_j": info["cost"], "tokens": {categories[m]: r.tokens for m, r in results.items()},
                     "j_per_token": {categories[m]: r.j_per_token for m, r in results.items()}}
            if pending:
                info["energy_pending"] = {cat: PENDING for cat in pending}
        return info

    async def routed(path: str, body: dict[str, Any], key: str | None) -> Response:
        """Decide (once per Idempotency-Key: a retry re-runs the logged decision's backends), call, answer."""
        rid = "mp-" + (hashlib.sha256(key.encode()).hexdigest()[:32] if key else uuid.uuid4().hex)
        async with lock:
            logged = service.decision_event(rid) if key else None
            if logged is None:
                d, record = service.decide(rid, {"endpoint": path, "idempotency_key": key}), True
                publish("decision")
            else:
                d, record = decision_from_payload(logged[0]), not service.has_costs(rid)
        sink: asyncio.Queue | None = asyncio.Queue() if body.get("stream") else None
        tasks = {m: asyncio.create_task(
                     call_stream(http_client(), settings.backends[m], path, body, settings.cost, settings.backend_timeout_s, sink,
                                 meter(m))
                     if sink is not None and m == d.serve else
                     call(http_client(), settings.backends[m], path, body, settings.cost, settings.backend_timeout_s, meter(m)))
                 for m in d.queried}
        finisher = asyncio.create_task(finish(rid, tasks, d.explored, record))
        pending.add(finisher)
        finisher.add_done_callback(pending.discard)
        info = decision_info(rid, d, logged is not None)
        wait_all = settings.explore_wait == "all" or not d.explored

        async def outcome() -> dict[int, CallResult]:
            """The results the answer reports: every queried model's (wait_all), else the served model's."""
            if wait_all:
                results = await asyncio.shield(finisher)
                if d.serve not in results:
                    await tasks[d.serve]  # re-raises the served backend's error
                return results
            return {d.serve: await tasks[d.serve]}

        if sink is not None:
            return await stream_answer(path, sink, tasks[d.serve], outcome, info, len(d.queried), body)
        try:
            results = await outcome()
        except BackendError as err:
            return backend_error(err, rid)
        return respond(results[d.serve], info | cost_info(results, len(d.queried)))

    def backend_error(err: BackendError, rid: str | None) -> JSONResponse:
        error = {"message": str(err), "type": "backend_error"} | ({"request_id": rid} if rid else {})
        return JSONResponse({"error": error}, status_code=502, headers={"X-MessPlus-Request-Id": rid} if rid else None)

    def headers_of(info: dict[str, Any], category: str) -> dict[str, str]:
        headers = {"X-MessPlus-Request-Id": str(info.get("request_id", "")), "X-MessPlus-Served-By": category,
                   "X-MessPlus-Cost-Kind": info["cost_kind"]}
        if info.get("cost") is not None:
            headers["X-MessPlus-Cost"] = repr(info["cost"])
        if info["routed"]:
            headers |= {"X-MessPlus-T": str(info["t"]), "X-MessPlus-Explored": str(info["explored"]).lower(),
                        "X-MessPlus-P-T": repr(info["p_t"]), "X-MessPlus-Q": repr(info["Q"]),
                        "X-MessPlus-S-Hat": json.dumps(info["s_hat"])}
        return headers

    def respond(result: CallResult, info: dict[str, Any]) -> Response:
        body = {**result.body, "model": settings.backends[by_name[result.category]].served_name, "messplus": info}
        return JSONResponse(body, headers=headers_of(info, result.category))

    async def stream_answer(path: str, sink: asyncio.Queue, served: asyncio.Task,
                            outcome: Callable[[], Awaitable[dict[int, CallResult]]], info: dict[str, Any], n_queried: int,
                            body: dict[str, Any]) -> Response:
        """Relay the served backend's chunks as server-sent events, `model` set to the served model. The first
        chunk carries the decision (`messplus`, no cost yet), the last one the decision with the charged cost and
        `streamed_by_backend`. A backend that fails before its first chunk gets a 502; after it, an error event."""
        rid = info.get("request_id")
        first = await sink.get()
        if first is None:
            try:
                await served
            except BackendError as err:
                return backend_error(err, rid)
        category = info["served_by"]
        name = settings.backends[by_name[category]].served_name
        usage_asked = bool((body.get("stream_options") or {}).get("include_usage"))
        kind = "chat.completion.chunk" if path.endswith("/chat/completions") else "text_completion"

        async def events() -> AsyncIterator[str]:
            chunk, held, opening = first, None, True
            while chunk is not None:
                if chunk.get("choices") or usage_asked:  # a usage-only chunk only for a client that asked for it
                    out = {**chunk, "model": name} | ({"messplus": info} if opening else {})
                    opening = False
                    if held is not None:
                        yield event(held)
                    held = out
                chunk = await sink.get()
            try:
                results = await outcome()
                final = info | cost_info(results, n_queried) | {"streamed_by_backend": (await served).streamed}
                held = held or {"id": rid, "object": kind, "model": name, "choices": []}
                yield event({**held, "messplus": final})
            except BackendError as err:
                if held is not None:
                    yield event(held)
                yield event({"error": {"message": str(err), "type": "backend_error", "request_id": rid}})
            yield DONE

        return StreamingResponse(events(), media_type="text/event-stream", headers=headers_of(info, category))

    async def completions(path: str, request: Request, key: str | None) -> Response:
        try:
            body = await request.json()
        except json.JSONDecodeError as err:
            raise HTTPException(400, f"request body is not JSON: {err}") from err
        if not isinstance(body, dict) or "model" not in body:
            raise HTTPException(400, f"body needs a `model`: {ROUTED_MODEL!r} to route, or one of {sorted(by_name)}.")
        model = body["model"]
        if model == ROUTED_MODEL:
            return await routed(path, body, key)
        if model not in by_name:
            raise HTTPException(404, f"unknown model {model!r}: use {ROUTED_MODEL!r} to route, or one of {sorted(by_name)}.")
        backend = settings.backends[by_name[model]]
        info = {"routed": False, "served_by": backend.category, **cost_kind()}
        if body.get("stream"):
            sink: asyncio.Queue = asyncio.Queue()
            task = asyncio.create_task(call_stream(http_client(), backend, path, body, settings.cost, settings.backend_timeout_s, sink,
                                                   meter(by_name[model])))

            async def outcome() -> dict[int, CallResult]:
                return {by_name[model]: await task}
            return await stream_answer(path, sink, task, outcome, info, 1, body)
        try:
            result = await call(http_client(), backend, path, body, settings.cost, settings.backend_timeout_s, meter(by_name[model]))
        except BackendError as err:
            return backend_error(err, None)
        return respond(result, info | cost_info({by_name[model]: result}, 1))

    @app.post("/v1/chat/completions")
    async def chat(request: Request, idempotency_key: str | None = Header(None)) -> Response:
        return await completions("/chat/completions", request, idempotency_key)

    @app.post("/v1/completions")
    async def text(request: Request, idempotency_key: str | None = Header(None)) -> Response:
        return await completions("/completions", request, idempotency_key)

    @app.post("/v1/feedback")
    async def feedback(fb: Feedback, authorization: str | None = Header(None),
                       idempotency_key: str | None = Header(None)) -> dict[str, Any]:
        check_token(authorization)
        key = f"key:{idempotency_key}" if idempotency_key else f"source:{fb.source}"
        async with lock:
            try:
                answer = service.feedback(fb.request_id, fb.satisfied, fb.labels, key)
            except FeedbackError as err:
                raise HTTPException(err.status, str(err)) from err
            if not answer["duplicate"]:
                publish("feedback")
            return answer

    @app.get("/v1/requests/{request_id}")
    async def request_view(request_id: str, authorization: str | None = Header(None)) -> dict[str, Any]:
        check_token(authorization)
        view = service.request_view(request_id)
        if view is None:
            raise HTTPException(404, f"unknown request_id {request_id!r}.")
        return view

    @app.get("/v1/router/state")
    async def router_state() -> dict[str, Any]:
        state = service.router_state()
        return state if settings.energy is None else state | {"energy": settings.energy.view()}

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        names = [ROUTED_MODEL] + [b.served_name for b in settings.backends]
        return {"object": "list", "data": [{"id": n, "object": "model", "owned_by": "messplus"} for n in names]}

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type="text/plain; version=0.0.4")

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {"ok": True, "t": service.policy.t}

    return app
