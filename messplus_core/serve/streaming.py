"""OpenAI streaming (`stream: true`): server-sent events of `chat.completion.chunk` / `text_completion` chunks.

- `event`: one chunk as an SSE `data:` line; `DONE` ends a stream;
- `assemble`: the chunks of one streamed answer joined into the non-streamed response body (what the gateway
  logs as a model's output of an exploration, and what `cost=tokens` / `cost=reported` read);
- `chunks_of`: a whole (non-streamed) answer cut into chunks, for a backend that does not stream (it answers
  JSON to `stream: true`, as the capture stub does): the client still gets a stream, but all of it at once,
  after the backend finished (the gateway says so with `messplus.streamed_by_backend: false`).

Only the first choice (`index` 0) is streamed: the gateway and its backends answer `n: 1`.
"""

from __future__ import annotations

import json
import re
from typing import Any

DONE = "data: [DONE]\n\n"


def event(chunk: dict[str, Any]) -> str:
    """One chunk as a server-sent event: `data: <json>` and a blank line."""
    return f"data: {json.dumps(chunk)}\n\n"


def _piece(chunk: dict[str, Any], chat: bool) -> str:
    for choice in chunk.get("choices") or []:
        if choice.get("index", 0) == 0:
            return ((choice.get("delta") or {}).get("content") if chat else choice.get("text")) or ""
    return ""


def assemble(chunks: list[dict[str, Any]], chat: bool) -> dict[str, Any]:
    """The response body equivalent to `chunks` (text joined, last finish_reason, usage, backend extras)."""
    text = "".join(_piece(c, chat) for c in chunks)
    finish = next((ch.get("finish_reason") for c in reversed(chunks) for ch in c.get("choices") or []
                   if ch.get("finish_reason")), None)
    usage = next((c["usage"] for c in reversed(chunks) if c.get("usage")), None)
    extras = {k: v for c in chunks for k, v in c.items() if k.startswith("messplus_")}
    first = chunks[0] if chunks else {}
    choice = ({"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish} if chat else
              {"index": 0, "text": text, "finish_reason": finish, "logprobs": None})
    return {"id": first.get("id"), "object": "chat.completion" if chat else "text_completion", "created": first.get("created"),
            "model": first.get("model"), "choices": [choice], "usage": usage, **extras}


def chunks_of(body: dict[str, Any], chat: bool) -> list[dict[str, Any]]:
    """A whole answer as stream chunks: (chat: a role chunk,) one chunk per word with its trailing whitespace,
    a finish chunk, and a usage chunk (empty `choices`) when the answer has usage."""
    choice = (body.get("choices") or [{}])[0]
    text = ((choice.get("message") or {}).get("content") if chat else choice.get("text")) or ""
    base = {"id": body.get("id"), "object": "chat.completion.chunk" if chat else "text_completion",
            "created": body.get("created"), "model": body.get("model")}
    extras = {k: v for k, v in body.items() if k.startswith("messplus_")}

    def one(piece: str, finish: str | None = None) -> dict[str, Any]:
        delta = {"index": 0, "delta": {"content": piece}, "finish_reason": finish} if chat else \
                {"index": 0, "text": piece, "finish_reason": finish, "logprobs": None}
        return {**base, "choices": [delta]}

    out = [{**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]}] if chat else []
    out += [one(p) for p in re.findall(r"\s*\S+\s*|\s+", text)]
    out.append({**one("", choice.get("finish_reason") or "stop"), **extras})
    if body.get("usage"):
        out.append({**base, "choices": [], "usage": body["usage"]})
    return out
