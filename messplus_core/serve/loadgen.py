"""Load generator: replay a capture's benchmark against a running gateway, post feedback, write a results row.

The requests go out in the evaluate stage's shuffled order with its feedback mask
(`stream.make_stream(data, seed, cost, feedback_rate)`), so a live run and the replay of the same seed sit
in one results.csv. Each request carries its `doc_id` in `metadata` (the capture stub answers by it).
Feedback for request i (where the mask says so) is the capture's label of the model that served, plus every
queried model's label on an exploration, posted after a uniform random delay in [0, feedback_delay_s]
(0: before the next request of that client, the lockstep of the replay with one client).

The row's satisfaction is the captured label of the served model; its energy and time are the capture's for
every model the gateway queried (what the replay charges for the same decisions); `cost` per step is what the
gateway charged. Bounded by `max_requests` and `max_seconds`: it stops by itself.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np

from messplus_core.core.engine import Trace
from messplus_core.core.stream import Stream
from messplus_core.data.capture_csv import CaptureData
from messplus_core.evaluate.experiment import RunSpec, summarize


@dataclass(frozen=True)
class LoadSettings:
    """How the load generator replays a capture against the gateway: clients, feedback delay (s), limits.

    The keys of conf/loadgen.yaml, which holds their defaults (none is written here); `token` comes from the
    environment variable `token_env` names (None: no bearer token).
    """

    url: str  # the gateway's base URL up to /v1
    clients: int
    feedback_delay_s: float
    max_requests: int | None
    max_seconds: float
    seed: int  # stream order, feedback mask and feedback delays
    endpoint: str  # chat | completions
    send_labels: bool  # False: per-model labels come from the gateway's grader (grader=reported)
    token: str | None = None
    max_tokens: int = 16  # completion tokens asked of the backends (not a config key)


@dataclass
class LiveRun:
    """What the gateway did for each request sent (index = position in the stream)."""

    n: int
    served: dict[int, int] = field(default_factory=dict)
    queried: dict[int, tuple[int, ...]] = field(default_factory=dict)
    explored: dict[int, bool] = field(default_factory=dict)
    t: dict[int, int] = field(default_factory=dict)
    q: dict[int, float] = field(default_factory=dict)
    cost: dict[int, float] = field(default_factory=dict)
    request_id: dict[int, str] = field(default_factory=dict)
    latency_s: dict[int, float] = field(default_factory=dict)
    feedback_sent: int = 0
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0


def request_body(stream_text: str, doc_id: int, endpoint: str, max_tokens: int) -> dict[str, Any]:
    """The OpenAI request for one document: chat `messages` or a completions `prompt`, with the doc_id in
    `metadata` (the capture stubs answer by it)."""
    base = {"model": "messplus", "max_tokens": max_tokens, "metadata": {"doc_id": str(doc_id)}}
    if endpoint == "chat":
        return base | {"messages": [{"role": "user", "content": stream_text}]}
    return base | {"prompt": stream_text}


async def run_load(client: httpx.AsyncClient, data: CaptureData, stream: Stream, settings: LoadSettings) -> LiveRun:
    """Send the stream's requests from `settings.clients` concurrent clients; returns what the gateway did."""
    n = stream.n if settings.max_requests is None else min(stream.n, settings.max_requests)
    run = LiveRun(n=n)
    headers = {"Authorization": f"Bearer {settings.token}"} if settings.token else {}
    path = "/chat/completions" if settings.endpoint == "chat" else "/completions"
    categories = data.categories
    delays = random.Random(settings.seed)
    next_index = iter(range(n))
    deadline = time.monotonic() + settings.max_seconds
    background: list[asyncio.Task] = []

    async def send_feedback(i: int, delay: float) -> None:
        if delay:
            await asyncio.sleep(delay)
        served = run.served[i]
        fb: dict[str, Any] = {"request_id": run.request_id[i], "satisfied": float(stream.labels[i, served]), "source": "loadgen"}
        if run.explored[i] and settings.send_labels:
            fb["labels"] = {categories[m]: float(stream.labels[i, m]) for m in run.queried[i]}
        resp = await client.post(settings.url + "/feedback", json=fb, headers=headers)
        if resp.status_code != 200:
            run.errors.append(f"feedback {i}: {resp.status_code} {resp.text[:200]}")
        else:
            run.feedback_sent += 1

    async def worker() -> None:
        for i in next_index:
            if time.monotonic() > deadline:
                return
            row = int(stream.order[i])
            start = time.perf_counter()
            resp = await client.post(settings.url + path, json=request_body(data.texts[row], int(data.doc_ids[row]),
                                                                             settings.endpoint, settings.max_tokens))
            run.latency_s[i] = time.perf_counter() - start
            if resp.status_code != 200:
                run.errors.append(f"request {i} (doc_id {data.doc_ids[row]}): {resp.status_code} {resp.text[:200]}")
                continue
            info = resp.json()["messplus"]
            run.request_id[i], run.t[i], run.q[i] = info["request_id"], info["t"], info["Q"]
            run.served[i] = categories.index(info["served_by"])
            run.queried[i] = tuple(categories.index(c) for c in info["queried"])
            run.explored[i], run.cost[i] = info["explored"], info["cost"]
            if stream.feedback[i]:
                delay = delays.uniform(0, settings.feedback_delay_s) if settings.feedback_delay_s else 0.0
                if delay == 0.0:
                    await send_feedback(i, 0.0)
                else:
                    background.append(asyncio.create_task(send_feedback(i, delay)))

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(settings.clients)))
    await asyncio.gather(*background)
    run.seconds = time.perf_counter() - start
    return run


def live_trace(run: LiveRun, stream: Stream) -> Trace:
    """The run as the replay engine's Trace, over the requests the gateway answered (in stream order)."""
    done = sorted(run.served)
    served = np.array([run.served[i] for i in done], dtype=np.int8)
    idx = np.array(done, dtype=int)

    def charged(values: np.ndarray) -> np.ndarray:
        return np.array([sum(values[i, m] for m in run.queried[i]) for i in done], dtype=float)

    return Trace(served=served, explored=np.array([run.explored[i] for i in done], dtype=bool),
                 satisfied=stream.labels[idx, served].astype(np.int8), cost=np.array([run.cost[i] for i in done]),
                 energy=charged(stream.energy), time=charged(stream.time),
                 router_state={"Q": np.array([run.q[i] for i in done])})


def results_row(run: LiveRun, stream: Stream, gateway_state: dict[str, Any], router_name: str, feedback_rate: float,
                cost: str) -> dict[str, Any]:
    """The evaluate stage's results.csv row for the live run (scenario `live`), plus throughput columns."""
    settings = gateway_state["settings"]
    spec = RunSpec(benchmark=stream.benchmark, router=router_name, alpha=gateway_state["alpha"], seed=stream.seed,
                   feedback_rate=feedback_rate, V=settings["V"], c=settings["c"], scenario="live")
    row = summarize(spec, live_trace(run, stream), stream.categories, cost)
    lat = np.array(list(run.latency_s.values()))
    return row | {"live_seconds": run.seconds, "live_requests_per_s": len(run.served) / run.seconds if run.seconds else None,
                  "live_latency_p50_s": float(np.percentile(lat, 50)) if len(lat) else None,
                  "live_latency_p99_s": float(np.percentile(lat, 99)) if len(lat) else None,
                  "live_errors": len(run.errors), "final_queue": gateway_state["Q"]}
