"""Multiple-choice documents sent through an OpenAI-compatible server and scored exactly as the capture scores them.

The capture's label of a multiple-choice document is lm-eval's per-sample metric (`acc` or `acc_norm`) over
the log-likelihood of each answer choice given the context (`capture/lm_eval_runner.py`). Live, one request
carries every choice: `POST /v1/completions` with `prompt: [context + continuation, ...]`, `echo: true`,
`logprobs: 1`, `max_tokens: 1`, `temperature: 0` (what lm-eval's `local-completions` model sends to vLLM's server).
A choice's log-likelihood is the sum of the logprobs of the prompt tokens that start at or after the end of the
context (found by `text_offset`, so the client needs no tokenizer); the label is lm-eval's own
`task.process_results(doc, [(loglikelihood, is_greedy), ...])`.

The same request goes through the gateway (`model: "messplus"`): the served model's answer gives the served
label; on an exploration every queried model's logged answer (`GET /v1/requests/{id}`) gives its label.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..capture.lm_eval_runner import manager_for


@dataclass(frozen=True)
class ChoiceDocument:
    """One multiple-choice document as lm-eval builds it: `requests` holds (context, continuation) per choice."""

    doc_id: int
    doc: dict[str, Any]
    requests: tuple[tuple[str, str], ...]


class ScoringError(ValueError):
    """A server's answer cannot be read as lm-eval would score it (missing logprobs, context not on a token boundary)."""


def load_documents(task_name: str, limit: int | None = None) -> tuple[Any, list[ChoiceDocument]]:
    """(lm-eval's task object, its first `limit` documents' requests in doc_id order), as the capture builds them.

    Raises ScoringError for a task that is not multiple-choice (generation tasks are graded from text instead).
    """
    task = manager_for([task_name]).load([task_name])["tasks"][task_name]
    if task.OUTPUT_TYPE != "multiple_choice":
        raise ScoringError(f"lm-eval task {task_name!r} is {task.OUTPUT_TYPE}, not multiple_choice.")
    task.build_all_requests(limit=limit, rank=0, world_size=1)
    by_doc: dict[int, list[Any]] = {}
    for inst in task.instances:
        by_doc.setdefault(int(inst.doc_id), []).append(inst)
    docs = [ChoiceDocument(d, insts[0].doc, tuple(tuple(i.arguments) for i in sorted(insts, key=lambda i: i.idx)))
            for d, insts in sorted(by_doc.items())]
    return task, docs


def scoring_body(doc: ChoiceDocument, model: str) -> dict[str, Any]:
    """The `/v1/completions` body that asks `model` for every choice's prompt logprobs (lm-eval's local-completions)."""
    return {"model": model, "prompt": [ctx + cont for ctx, cont in doc.requests], "echo": True, "logprobs": 1,
            "max_tokens": 1, "temperature": 0, "metadata": {"doc_id": str(doc.doc_id)}}


def loglikelihoods(doc: ChoiceDocument, response: dict[str, Any]) -> list[tuple[float, bool]]:
    """(log-likelihood of the continuation, whether every continuation token is the top-1) per choice, in order.

    response: a `/v1/completions` answer to `scoring_body(doc, ...)`. Raises ScoringError when it lacks
    echoed logprobs or when a context does not end on a token boundary of the scored text (then no client
    can split the tokens as lm-eval's HF backend does).
    """
    choices = sorted(response.get("choices") or [], key=lambda c: c.get("index", 0))
    if len(choices) != len(doc.requests):
        raise ScoringError(f"doc {doc.doc_id}: {len(doc.requests)} choices sent, {len(choices)} answered.")
    out = []
    for (ctx, cont), choice in zip(doc.requests, choices):
        lp = choice.get("logprobs") or {}
        offsets, values, tokens = lp.get("text_offset"), lp.get("token_logprobs"), lp.get("tokens")
        if not offsets or values is None or tokens is None:
            raise ScoringError(f"doc {doc.doc_id}: the answer carries no echoed logprobs (send echo=true, logprobs=1).")
        end = len(ctx) + len(cont)
        positions = [i for i, o in enumerate(offsets) if len(ctx) <= o < end]
        if not positions or offsets[positions[0]] != len(ctx):
            raise ScoringError(f"doc {doc.doc_id}: the context {ctx[-30:]!r} does not end on a token boundary "
                               f"(token offsets {offsets}); the continuation's tokens cannot be told apart.")
        top = lp.get("top_logprobs") or [None] * len(tokens)
        greedy = all(top[i] is not None and max(top[i], key=top[i].get) == tokens[i] for i in positions)
        out.append((float(sum(values[i] for i in positions)), greedy))
    return out


def label(task: Any, doc: ChoiceDocument, response: dict[str, Any], metric: str) -> float:
    """lm-eval's per-sample `metric` (acc, acc_norm) of `doc` from one server answer: the capture's label."""
    results = task.process_results(doc.doc, loglikelihoods(doc, response))
    if metric not in results:
        raise ScoringError(f"lm-eval's {task.config.task} gives {sorted(results)}, not {metric!r}.")
    return float(results[metric])
