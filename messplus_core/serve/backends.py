"""Calls to the zoo's OpenAI-compatible backends (vLLM's `vllm serve`, or any compatible server) and their cost.

A call's cost, per `ServeSettings.cost`:
- `time`: the wall-clock seconds of the backend call as the gateway sees it (queueing and network included);
- `tokens`: prompt and completion tokens from the response's `usage` times a configured price per token;
- `reported`: the `messplus_cost` number the backend puts in its response (a backend that measures its own
  cost, e.g. Zeus on its node, or the capture stub, which returns the captured cost);
- `energy`: joules, the answer's tokens (prompt + completion from `usage`) x the backend's steady-state J/token
  from Zeus windows on its GPUs (`energy.BackendMeter`); None (pending) before the backend's first window closed.
Energy is never guessed: without a meter the response says `energy_j: null` and why.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from messplus_core.errors import ConfigError
from .energy import BackendMeter
from .streaming import assemble, chunks_of

CostSource = Literal["time", "tokens", "reported", "energy"]
COSTS = ("time", "tokens", "reported", "energy")
COST_SOURCES = {"time": "time (s of the backend call, as the gateway sees it)",
                "tokens": "tokens (usage x price_per_token)",
                "reported": "reported (the backend's messplus_cost)",
                "energy": "energy (Zeus, attributed by tokens)"}
ENERGY_NOT_MEASURED = ("not measured: the gateway runs without cost=energy (no Zeus window); run it on the backends' "
                       "node with cost=energy gpus=..., or use cost=reported from a metering backend")


class BackendError(Exception):
    """A backend failed or answered without what the configured cost needs; the gateway answers 502."""


@dataclass(frozen=True)
class Backend:
    """One zoo model's OpenAI-compatible server."""

    category: str
    url: str  # base URL up to and including /v1, e.g. http://gpu-node:8001/v1
    served_name: str  # the `model` the backend expects (vllm serve's --served-model-name)
    price: dict[str, float] = field(default_factory=dict)  # cost=tokens: {prompt, completion} per token


@dataclass(frozen=True)
class CallResult:
    """One backend call: its response, wall time (s) and the cost charged for it."""

    category: str
    body: dict[str, Any]  # the backend's JSON response
    seconds: float  # wall-clock time of the call
    cost: float | None  # in the configured cost's unit; None only for cost=energy before the backend's first window
    usage: dict[str, Any] | None
    streamed: bool = False  # a stream: true call the backend answered with its own stream (else one JSON body)
    tokens: int | None = None  # cost=energy: prompt + completion tokens the energy is attributed by
    j_per_token: float | None = None  # cost=energy: the backend's J/token charged (None: pending)


def backends_from_mapping(categories: tuple[str, ...], urls: dict[str, Any], served: dict[str, str],
                          prices: dict[str, Any], cost: str) -> tuple[Backend, ...]:
    """One Backend per zoo category (zoo order). Raises ConfigError naming the missing category or bad price."""
    if cost not in COSTS:
        raise ConfigError(f"serve: cost must be one of {list(COSTS)}, got {cost!r}.")
    missing = [c for c in categories if not urls.get(c)]
    if missing:
        raise ConfigError(f"serve: no backend URL for {missing} in backends: (conf/serve.yaml); give each zoo category "
                          "its OpenAI-compatible base URL, e.g. backends.small=http://127.0.0.1:8001/v1.")
    extra = sorted(set(urls) - set(categories))
    if extra:
        raise ConfigError(f"serve: backends {extra} are not categories of the zoo {list(categories)}.")
    out = []
    for cat in categories:
        price = {k: float(v) for k, v in (prices.get(cat) or {}).items()}
        if cost == "tokens" and set(price) != {"prompt", "completion"}:
            raise ConfigError(f"serve: cost=tokens needs price_per_token.{cat}: {{prompt: ..., completion: ...}} (got {price}).")
        out.append(Backend(cat, str(urls[cat]).rstrip("/"), served[cat], price))
    return tuple(out)


async def call(client: httpx.AsyncClient, backend: Backend, path: str, body: dict[str, Any], cost: CostSource,
               timeout_s: float, meter: BackendMeter | None = None) -> CallResult:
    """POST `body` (its `model` replaced by the backend's served name) to `<url><path>`; raises BackendError.
    meter: the backend's energy meter (cost=energy), which counts the answer's tokens."""
    start = time.perf_counter()
    payload = {k: v for k, v in body.items() if k not in ("stream", "stream_options")} | {"model": backend.served_name}
    try:
        resp = await client.post(backend.url + path, json=payload, timeout=timeout_s)
    except httpx.HTTPError as err:
        raise BackendError(f"backend {backend.category} ({backend.url}) failed: {type(err).__name__}: {err}") from err
    seconds = time.perf_counter() - start
    if resp.status_code != 200:
        raise BackendError(f"backend {backend.category} ({backend.url}) answered {resp.status_code}: {resp.text[:300]}")
    data = resp.json()
    return _result(backend, cost, data, seconds, False, meter)


async def call_stream(client: httpx.AsyncClient, backend: Backend, path: str, body: dict[str, Any], cost: CostSource,
                      timeout_s: float, sink: asyncio.Queue, meter: BackendMeter | None = None) -> CallResult:
    """POST `body` with `stream: true` (and `stream_options.include_usage`, for cost=tokens); put every chunk the
    backend sends on `sink` as it arrives, then None (always, also after an error). A backend that answers JSON
    instead (it does not stream) has its answer cut into chunks (`streaming.chunks_of`) once it is complete.

    Returns the CallResult of the whole answer (`body` assembled from the chunks; `seconds` until the stream
    ended; `streamed` whether the backend streamed). Raises BackendError, also for an error event mid-stream.
    """
    chat = path.endswith("/chat/completions")
    payload = {**body, "model": backend.served_name, "stream": True, "stream_options": {"include_usage": True}}
    start = time.perf_counter()
    try:
        async with client.stream("POST", backend.url + path, json=payload, timeout=timeout_s) as resp:
            if resp.status_code != 200:
                text = (await resp.aread()).decode(errors="replace")
                raise BackendError(f"backend {backend.category} ({backend.url}) answered {resp.status_code}: {text[:300]}")
            streamed = resp.headers.get("content-type", "").startswith("text/event-stream")
            if streamed:
                chunks = []
                async for line in resp.aiter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        break
                    chunk = json.loads(data)
                    if "error" in chunk:
                        raise BackendError(f"backend {backend.category} ({backend.url}) failed mid-stream: {chunk['error']}")
                    chunks.append(chunk)
                    await sink.put(chunk)
                whole = assemble(chunks, chat)
            else:
                whole = json.loads(await resp.aread())
                for chunk in chunks_of(whole, chat):
                    await sink.put(chunk)
    except httpx.HTTPError as err:
        raise BackendError(f"backend {backend.category} ({backend.url}) failed: {type(err).__name__}: {err}") from err
    except json.JSONDecodeError as err:
        raise BackendError(f"backend {backend.category} ({backend.url}) sent a chunk that is not JSON: {err}") from err
    finally:
        await sink.put(None)
    seconds = time.perf_counter() - start
    return _result(backend, cost, whole, seconds, streamed, meter)


def _result(backend: Backend, cost: CostSource, data: dict[str, Any], seconds: float, streamed: bool,
            meter: BackendMeter | None) -> CallResult:
    if cost != "energy":
        return CallResult(backend.category, data, seconds, _cost(backend, cost, data, seconds), data.get("usage"), streamed)
    usage = data.get("usage")
    if not usage or "prompt_tokens" not in usage:
        raise BackendError(f"backend {backend.category} returned no usage.prompt_tokens; cost=energy attributes by tokens.")
    if meter is None:
        raise ValueError(f"cost=energy without an energy meter for backend {backend.category}")
    tokens = int(usage["prompt_tokens"]) + int(usage.get("completion_tokens") or 0)
    jpt = meter.count(tokens)
    return CallResult(backend.category, data, seconds, None if jpt is None else tokens * jpt, usage, streamed, tokens, jpt)


def _cost(backend: Backend, cost: CostSource, data: dict[str, Any], seconds: float) -> float:
    """One call's cost in the configured unit (module docstring); raises BackendError if the answer lacks it."""
    usage = data.get("usage")
    if cost == "time":
        return float(seconds)
    if cost == "tokens":
        if not usage or "prompt_tokens" not in usage:
            raise BackendError(f"backend {backend.category} returned no usage.prompt_tokens; cost=tokens needs it.")
        return float(backend.price["prompt"] * usage["prompt_tokens"] + backend.price["completion"] * usage.get("completion_tokens", 0))
    if not isinstance(data.get("messplus_cost"), (int, float)):
        raise BackendError(f"backend {backend.category} returned no numeric messplus_cost; cost=reported needs it.")
    return float(data["messplus_cost"])
