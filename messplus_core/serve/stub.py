"""A stub OpenAI-compatible backend for one zoo model, answering from a capture (tests and the load test).

It looks the request up by `metadata.doc_id` (the load generator sends it) or, failing that, by the prompt
text, and answers with that row's captured outcome for its model: `messplus_label` (the satisfaction label),
`messplus_cost` (the captured cost in `cost` units: energy J or time s, so the gateway's `cost=reported` charges
exactly what the replay charges), and `messplus_doc_id`. No model runs; `usage` counts whitespace tokens.

    python -m messplus_core.serve.stub --data-dir DIR --benchmark arc_challenge --zoo llama3 --port 8001
    (every category at http://127.0.0.1:8001/<category>/v1; --category small serves one at /v1)
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI, HTTPException, Request
from omegaconf import OmegaConf

from messplus_core.core.stream import CostKind
from messplus_core.data.capture_csv import CaptureData, load_capture
from messplus_core.errors import CaptureError
from messplus_core.specs import BenchmarkSpec, ModelZoo


def prompt_text(body: dict[str, Any]) -> str:
    """The prompt of a chat (last user message) or text completion request."""
    if "messages" in body:
        msgs = [m for m in body["messages"] if m.get("role") == "user"] or body["messages"]
        content = msgs[-1].get("content", "")
        return content if isinstance(content, str) else " ".join(p.get("text", "") for p in content)
    prompt = body.get("prompt", "")
    return prompt if isinstance(prompt, str) else str(prompt[0])


def create_stub(data: CaptureData, category: str, cost: CostKind = "energy", delay_s: float = 0.0) -> FastAPI:
    """A backend serving zoo model `category` of `data`; delay_s: sleep per request (simulated inference)."""
    if category not in data.categories:
        raise ValueError(f"stub: category {category!r} is not in the capture's zoo {list(data.categories)}.")
    m = data.categories.index(category)
    row_of = {int(d): i for i, d in enumerate(data.doc_ids)}
    by_text = {t: i for i, t in enumerate(data.texts)}
    costs = data.cost(cost)[:, m]
    app = FastAPI(title=f"capture stub: {data.benchmark}/{category}")

    def answer(body: dict[str, Any], chat: bool) -> dict[str, Any]:
        doc = (body.get("metadata") or {}).get("doc_id")
        text = prompt_text(body)
        row = row_of.get(int(doc)) if doc is not None else by_text.get(text)
        if row is None:
            raise HTTPException(404, f"stub {category}: no capture row for doc_id={doc!r} / this prompt.")
        label = int(data.labels[row, m])
        content = f"[{category}] doc {int(data.doc_ids[row])}: label {label}"
        prompt_tokens, completion_tokens = len(text.split()), len(content.split())
        choice = ({"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"} if chat else
                  {"index": 0, "text": content, "finish_reason": "stop", "logprobs": None})
        return {"id": "stub-" + uuid.uuid4().hex[:12], "object": "chat.completion" if chat else "text_completion",
                "created": int(time.time()), "model": body.get("model", category), "choices": [choice],
                "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                          "total_tokens": prompt_tokens + completion_tokens},
                "messplus_label": label, "messplus_cost": float(costs[row]), "messplus_doc_id": int(data.doc_ids[row])}

    async def handle(request: Request, chat: bool) -> dict[str, Any]:
        body = await request.json()
        if delay_s:
            await asyncio.sleep(delay_s)
        return answer(body, chat)

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> dict[str, Any]:
        return await handle(request, True)

    @app.post("/v1/completions")
    async def completions(request: Request) -> dict[str, Any]:
        return await handle(request, False)

    return app


def create_stubs(data: CaptureData, cost: CostKind = "energy", delay_s: float = 0.0) -> FastAPI:
    """Every zoo model's stub in one app: category `c` answers under `/<c>/v1/...`."""
    app = FastAPI(title=f"capture stubs: {data.benchmark}")
    for cat in data.categories:
        app.mount(f"/{cat}", create_stub(data, cat, cost, delay_s))
    return app


def main() -> None:
    """Serve capture stubs over HTTP (uvicorn): one category at /v1, or all at /<category>/v1. Exits with the
    loader's message when the capture cannot be read."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--benchmark", required=True)
    parser.add_argument("--zoo", default="llama3", help="conf/model_zoo/<zoo>.yaml")
    parser.add_argument("--category", default="all", help="one zoo category (at /v1), or all (each at /<category>/v1)")
    parser.add_argument("--cost", default="energy", choices=("energy", "time"))
    parser.add_argument("--delay-s", type=float, default=0.0, help="simulated inference time per request")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    conf = Path(__file__).resolve().parents[2] / "conf"
    zoo = ModelZoo.from_mapping(OmegaConf.to_container(OmegaConf.load(conf / "model_zoo" / f"{args.zoo}.yaml"), resolve=True))
    spec = BenchmarkSpec.from_mapping(args.benchmark, OmegaConf.to_container(OmegaConf.load(conf / "benchmark" / f"{args.benchmark}.yaml")))
    try:
        data = load_capture(args.data_dir, spec, zoo, args.cost, drop_incomplete=False)  # a stub answers every captured request
    except CaptureError as err:
        raise SystemExit(f"stub: {err}") from err
    app = create_stubs(data, args.cost, args.delay_s) if args.category == "all" else create_stub(data, args.category, args.cost, args.delay_s)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
