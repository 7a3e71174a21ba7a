"""An OpenAI-compatible server over local transformers causal LMs: the tiny zoo (or any small model) served for real.

On GPU nodes the gateway's backends are `vllm serve`; this server is for CPU machines and tests, where vLLM
does not run. It implements the part of the OpenAI API the gateway and the load test use:

- `POST /v1/completions`: `prompt` (a string or a list of strings: one choice each), `max_tokens` (default 16;
  0 decodes nothing), `echo`, `logprobs` (k >= 0: `tokens`, `token_logprobs`, `top_logprobs` (k entries),
  `text_offset`), `temperature` (absent or 0: greedy; > 0: sampling from `seed`), `stop`, `stream`
  (with `stream_options.include_usage`). Echo with logprobs is how lm-eval's `local-completions` model scores
  multiple-choice answers against vLLM's server; `multiple_choice.py` reads it back.
- `POST /v1/chat/completions`: the messages rendered with the tokenizer's chat template, or, for a tokenizer
  without one (the tiny zoo's), their contents joined by newlines; `max_tokens`, `temperature`, `seed`, `stop`,
  `stream`. Logprobs on chat are refused (400).

Scoring follows lm-eval's HF backend (`HFLM`): the prompt is tokenized without special tokens, the first token
gets no logprob, token i's logprob is log softmax of the logits at i-1. `text_offset[i]` is where token i starts
in the returned text (the end of token i-1), so a client finds the continuation's tokens without a tokenizer.
One request per model computes at a time (a lock), in a worker thread, so the event loop keeps serving.

    python -m messplus_core.serve.hf_server --model small=outputs/models/tiny/small \\
        --model medium=outputs/models/tiny/medium --port 8001      # each at http://127.0.0.1:8001/<name>/v1
    (--model DIR alone serves one model at /v1; its served name is the path as given)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any, AsyncIterator, Iterator

import anyio
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

DEFAULT_MAX_TOKENS = 16


@dataclass(frozen=True)
class Scored:
    """Per-token logprobs of one text: token i spans text[offsets[i]:offsets[i+1]] (the last to the end)."""

    tokens: list[str]
    offsets: list[int]  # (n,) character offset of each token in the text
    logprobs: list[float | None]  # (n,) log p(token i | tokens < i); None for the first token
    top: list[dict[str, float] | None]  # (n,) the k most likely tokens at each position; None for the first


class LocalModel:
    """One transformers causal LM and its tokenizer on `device` (float32 by default: the tiny zoo's dtype)."""

    def __init__(self, path: str, device: str = "cpu", dtype: str = "float32") -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.path = path
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.model = AutoModelForCausalLM.from_pretrained(path, dtype=getattr(torch, dtype)).to(device).eval()
        self.device = device
        self.lock = asyncio.Lock()  # one computation at a time per model

    # -- text in, ids out ------------------------------------------------------------------------------

    def encode(self, text: str) -> list[int]:
        """The tokenizer's ids of `text`, without special tokens."""
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def chat_prompt(self, messages: list[dict[str, Any]]) -> str:
        """The chat rendered by the tokenizer's template; without one, the message contents joined by newlines."""
        if getattr(self.tokenizer, "chat_template", None):
            return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return "\n".join(_content(m) for m in messages)

    # -- computation (called in a worker thread) -------------------------------------------------------

    def score(self, ids: list[int], k: int) -> Scored:
        """Logprob of every token of `ids` given the ones before it (one forward pass), and the top k at each."""
        import torch

        with torch.inference_mode():
            logits = self.model(torch.tensor([ids], device=self.device)).logits[0].float()
            logp = torch.log_softmax(logits, dim=-1)
        lps: list[float | None] = [None]
        top: list[dict[str, float] | None] = [None]
        for i in range(1, len(ids)):
            lps.append(float(logp[i - 1, ids[i]]))
            if k > 0:
                values, indices = torch.topk(logp[i - 1], k)
                top.append({self.tokenizer.decode([int(j)]): float(v) for v, j in zip(values, indices)})
            else:
                top.append(None)
        tokens = [self.tokenizer.decode(ids[: i + 1]) for i in range(len(ids))]
        offsets = [0] + [len(t) for t in tokens[:-1]]
        return Scored([t[o:] for t, o in zip(tokens, offsets)], offsets, lps, top)

    def generation_kwargs(self, body: dict[str, Any]) -> dict[str, Any]:
        """transformers' generate() arguments for an OpenAI request body (sampling seeds torch from `seed`)."""
        max_new = int(body.get("max_tokens") or body.get("max_completion_tokens") or DEFAULT_MAX_TOKENS)
        temperature = float(body.get("temperature") or 0.0)
        kwargs: dict[str, Any] = {"max_new_tokens": max_new, "do_sample": temperature > 0,
                                  "pad_token_id": self.tokenizer.pad_token_id or self.tokenizer.eos_token_id}
        if temperature > 0:
            kwargs |= {"temperature": temperature, "seed": int(body.get("seed") or 0)}
        stop = _stops(body)
        if stop:
            kwargs |= {"stop_strings": stop, "tokenizer": self.tokenizer}
        return kwargs

    def generate(self, ids: list[int], body: dict[str, Any]) -> tuple[list[int], str, str]:
        """Decode after `ids`: (new token ids, text cut at the first stop string, finish_reason)."""
        import torch

        max_tokens = body.get("max_tokens")
        if max_tokens is not None and int(max_tokens) == 0:
            return [], "", "length"
        kwargs = self.generation_kwargs(body)
        torch.manual_seed(kwargs.pop("seed", 0))
        with torch.inference_mode():
            out = self.model.generate(torch.tensor([ids], device=self.device), attention_mask=torch.ones(1, len(ids), dtype=torch.long,
                                      device=self.device), **kwargs)
        new = [int(x) for x in out[0, len(ids):]]
        text, stopped = _cut(self.tokenizer.decode(new, skip_special_tokens=True), _stops(body))
        eos = bool(new) and new[-1] == self.tokenizer.eos_token_id
        return new, text, "stop" if stopped or eos or len(new) < kwargs["max_new_tokens"] else "length"

    def stream(self, ids: list[int], body: dict[str, Any]) -> Iterator[str]:
        """Decode after `ids`, yielding text pieces as they are produced (transformers' TextIteratorStreamer)."""
        import torch
        from transformers import TextIteratorStreamer

        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True)
        kwargs = self.generation_kwargs(body)
        torch.manual_seed(kwargs.pop("seed", 0))

        def run() -> None:
            with torch.inference_mode():
                self.model.generate(torch.tensor([ids], device=self.device), streamer=streamer,
                                    attention_mask=torch.ones(1, len(ids), dtype=torch.long, device=self.device), **kwargs)

        worker = threading.Thread(target=run, daemon=True)
        worker.start()
        yield from streamer
        worker.join()


def _content(message: dict[str, Any]) -> str:
    content = message.get("content") or ""
    return content if isinstance(content, str) else "".join(p.get("text", "") for p in content)


def _stops(body: dict[str, Any]) -> list[str]:
    stop = body.get("stop")
    return [stop] if isinstance(stop, str) else list(stop or [])


def _cut(text: str, stops: list[str]) -> tuple[str, bool]:
    """`text` up to the first stop string; whether one was found."""
    cuts = [text.index(s) for s in stops if s in text]
    return (text[: min(cuts)], True) if cuts else (text, False)


def create_model_app(model: LocalModel, served_name: str) -> FastAPI:
    """The OpenAI-compatible app of one model, answering to `model: served_name` (404 for another name)."""
    app = FastAPI(title=f"transformers server: {served_name}")

    def check(body: dict[str, Any]) -> None:
        if body.get("model") != served_name:
            raise HTTPException(404, f"this server serves {served_name!r}, not {body.get('model')!r}.")
        if body.get("n", 1) != 1:
            raise HTTPException(400, "n > 1 is not supported; send one request per sample.")

    def usage(prompt: int, completion: int) -> dict[str, int]:
        return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}

    def completion_choice(index: int, prompt: str, body: dict[str, Any]) -> tuple[dict[str, Any], int, int]:
        ids = model.encode(prompt)
        new, text, finish = model.generate(ids, body)
        choice: dict[str, Any] = {"index": index, "text": (prompt if body.get("echo") else "") + text,
                                  "finish_reason": finish, "logprobs": None}
        k = body.get("logprobs")
        if k is not None:
            full = ids + new
            scored = model.score(full, int(k))
            start = 0 if body.get("echo") else len(ids)
            shift = 0 if body.get("echo") else len(model.tokenizer.decode(ids))
            choice["logprobs"] = {"tokens": scored.tokens[start:], "token_logprobs": scored.logprobs[start:],
                                  "top_logprobs": scored.top[start:], "text_offset": [o - shift for o in scored.offsets[start:]]}
        return choice, len(ids), len(new)

    def envelope(kind: str, body: dict[str, Any]) -> dict[str, Any]:
        return {"id": f"{kind}-{uuid.uuid4().hex[:16]}", "created": int(time.time()), "model": served_name, **body}

    async def sse(kind: str, object_name: str, pieces: Iterator[str], chat: bool, n_prompt: int,
                  body: dict[str, Any]) -> AsyncIterator[str]:
        """The OpenAI chunk stream of one choice: a chunk per text piece, a finish chunk, usage if asked, [DONE]."""
        base = envelope(kind, {"object": object_name})
        stops = _stops(body)
        text, stopped = "", False
        async with model.lock:
            if chat:
                yield _event({**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]})
            while True:
                piece = await anyio.to_thread.run_sync(next, pieces, None)
                if piece is None:
                    break
                cut, stopped = _cut(text + piece, stops)
                delta, text = cut[len(text):], cut
                if delta:
                    yield _event({**base, "choices": [_delta(chat, delta)]})
                if stopped:
                    break
        n_new = len(model.encode(text))
        finish = "stop" if stopped or n_new < model.generation_kwargs(body)["max_new_tokens"] else "length"
        yield _event({**base, "choices": [{**_delta(chat, ""), "finish_reason": finish}]})
        if (body.get("stream_options") or {}).get("include_usage"):
            yield _event({**base, "choices": [], "usage": usage(n_prompt, n_new)})
        yield "data: [DONE]\n\n"

    @app.post("/v1/completions")
    async def completions(request: Request) -> Response:
        body = await request.json()
        check(body)
        prompts = body.get("prompt", "")
        prompts = [prompts] if isinstance(prompts, str) else list(prompts)
        if not prompts or not all(isinstance(p, str) for p in prompts):
            raise HTTPException(400, "prompt must be a string or a list of strings (token-id prompts are not supported).")
        if body.get("stream"):
            if len(prompts) != 1 or body.get("echo") or body.get("logprobs") is not None:
                raise HTTPException(400, "stream=true takes one prompt without echo or logprobs.")
            ids = model.encode(prompts[0])
            return StreamingResponse(sse("cmpl", "text_completion", model.stream(ids, body), False, len(ids), body),
                                     media_type="text/event-stream")
        async with model.lock:
            done = await anyio.to_thread.run_sync(lambda: [completion_choice(i, p, body) for i, p in enumerate(prompts)])
        return JSONResponse(envelope("cmpl", {"object": "text_completion", "choices": [c for c, _, _ in done],
                                              "usage": usage(sum(p for _, p, _ in done), sum(n for _, _, n in done))}))

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Response:
        body = await request.json()
        check(body)
        if body.get("logprobs"):
            raise HTTPException(400, "logprobs on chat completions are not supported by this server; use /v1/completions.")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise HTTPException(400, "messages must be a non-empty list.")
        ids = model.encode(model.chat_prompt(messages))
        if body.get("stream"):
            return StreamingResponse(sse("chatcmpl", "chat.completion.chunk", model.stream(ids, body), True, len(ids), body),
                                     media_type="text/event-stream")
        async with model.lock:
            new, text, finish = await anyio.to_thread.run_sync(model.generate, ids, body)
        return JSONResponse(envelope("chatcmpl", {"object": "chat.completion", "usage": usage(len(ids), len(new)), "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish, "logprobs": None}]}))

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": served_name, "object": "model", "owned_by": "messplus"}]}

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {"ok": True}

    return app


def _delta(chat: bool, text: str) -> dict[str, Any]:
    return {"index": 0, "delta": {"content": text}, "finish_reason": None} if chat else \
           {"index": 0, "text": text, "finish_reason": None, "logprobs": None}


def _event(chunk: dict[str, Any]) -> str:
    return f"data: {json.dumps(chunk)}\n\n"


def create_server(models: dict[str, LocalModel]) -> FastAPI:
    """Several models in one app: name `n` answers under `/<n>/v1/...` to `model: <its path>`."""
    app = FastAPI(title="transformers servers")
    for name, model in models.items():
        app.mount(f"/{name}", create_model_app(model, model.path))
    return app


def main() -> None:
    """Serve local transformers models over HTTP (uvicorn): one PATH at /v1, or each NAME=PATH at /NAME/v1."""
    import torch
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", required=True,
                        help="NAME=PATH (served at /NAME/v1; repeat for several) or one PATH (served at /v1)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (1: stable times on a shared machine)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if len(args.model) == 1 and "=" not in args.model[0]:
        model = LocalModel(args.model[0], args.device, args.dtype)
        app = create_model_app(model, model.path)
    else:
        pairs = [spec.split("=", 1) for spec in args.model]
        if any(len(p) != 2 or not p[0] for p in pairs):
            parser.error("with several models, give each as NAME=PATH")
        app = create_server({name: LocalModel(path, args.device, args.dtype) for name, path in pairs})
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
