"""Calls to the zoo's OpenAI-compatible backends (vLLM's `vllm serve`, or any compatible server) and their cost.

A call's cost, per `ServeSettings.cost`:
- `time`: the wall-clock seconds of the backend call as the gateway sees it (queueing and network included);
- `tokens`: prompt and completion tokens from the response's `usage` times a configured price per token;
- `reported`: the `messplus_cost` number the backend puts in its response (a backend that measures its own
  cost, e.g. Zeus on its node, or the capture stub, which returns the captured cost).
Energy is never guessed: without a meter the response says `energy_j: null` and why.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from messplus_core.errors import ConfigError

CostSource = Literal["time", "tokens", "reported"]
ENERGY_NOT_MEASURED = ("not measured: the gateway sees no backend GPU (no Zeus window); "
                       "run the gateway on the backends' node or use cost=reported from a metering backend")


class BackendError(Exception):
    """A backend failed or answered without what the configured cost needs; the gateway answers 502."""


@dataclass(frozen=True)
class Backend:
    category: str
    url: str  # base URL up to and including /v1, e.g. http://gpu-node:8001/v1
    served_name: str  # the `model` the backend expects (vllm serve's --served-model-name)
    price: dict[str, float] = field(default_factory=dict)  # cost=tokens: {prompt, completion} per token


@dataclass(frozen=True)
class CallResult:
    category: str
    body: dict[str, Any]  # the backend's JSON response
    seconds: float  # wall-clock time of the call
    cost: float  # in the configured cost's unit
    usage: dict[str, Any] | None


def backends_from_mapping(categories: tuple[str, ...], urls: dict[str, Any], served: dict[str, str],
                          prices: dict[str, Any], cost: str) -> tuple[Backend, ...]:
    """One Backend per zoo category (zoo order). Raises ConfigError naming the missing category or bad price."""
    if cost not in ("time", "tokens", "reported"):
        raise ConfigError(f"serve: cost must be time, tokens or reported, got {cost!r} (energy needs a metering backend: cost=reported).")
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
               timeout_s: float) -> CallResult:
    """POST `body` (its `model` replaced by the backend's served name) to `<url><path>`; raises BackendError."""
    start = time.perf_counter()
    try:
        resp = await client.post(backend.url + path, json={**body, "model": backend.served_name}, timeout=timeout_s)
    except httpx.HTTPError as err:
        raise BackendError(f"backend {backend.category} ({backend.url}) failed: {type(err).__name__}: {err}") from err
    seconds = time.perf_counter() - start
    if resp.status_code != 200:
        raise BackendError(f"backend {backend.category} ({backend.url}) answered {resp.status_code}: {resp.text[:300]}")
    data = resp.json()
    usage = data.get("usage")
    if cost == "time":
        value = seconds
    elif cost == "tokens":
        if not usage or "prompt_tokens" not in usage:
            raise BackendError(f"backend {backend.category} returned no usage.prompt_tokens; cost=tokens needs it.")
        value = backend.price["prompt"] * usage["prompt_tokens"] + backend.price["completion"] * usage.get("completion_tokens", 0)
    else:
        if not isinstance(data.get("messplus_cost"), (int, float)):
            raise BackendError(f"backend {backend.category} returned no numeric messplus_cost; cost=reported needs it.")
        value = float(data["messplus_cost"])
    return CallResult(backend.category, data, seconds, float(value), usage)
