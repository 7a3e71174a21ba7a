"""A CPU stand-in for the parts of vLLM that lm-eval's `VLLM` backend calls, computed with transformers.

It returns what vLLM documents (vllm/outputs.py `RequestOutput`,
vllm/logprobs.py `Logprob`, `SamplingParams.prompt_logprobs`), filled with the
tiny models' real log-probabilities:

- `LLM.generate(prompts, sampling_params)` returns one `RequestOutput` per
  prompt, in order;
- `RequestOutput.prompt_logprobs` has one entry per prompt token: `None` for
  the first (nothing to condition on), then a dict `token_id -> Logprob`
  holding the prompt token itself, whatever its rank, plus the top
  `prompt_logprobs` tokens (so 1 to k+1 entries, the prompt token first);
- `Logprob(logprob, rank, decoded_token)`: rank 1 is the most likely token;
  `decoded_token` is None with `detokenize=False`;
- a prompt longer than `max_model_len` is refused, as vLLM refuses it.

`install(root)` writes a `vllm` package (and its dist-info, which lm-eval's
version checks read) into `root`, re-exporting these classes, so that
`lm_eval.models.vllm_causallms` imports and runs unchanged on a machine
without vLLM. Nothing here is used outside the tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar, TypedDict

VERSION = "0.11.0"  # >= 0.9: lm-eval takes the chat-template path that reads llm_engine.model_config


@dataclass
class Logprob:
    logprob: float
    rank: int | None = None
    decoded_token: str | None = None


class SamplingParams:
    """The fields lm-eval sets; anything else is kept as given."""

    def __init__(self, *, temperature: float = 1.0, max_tokens: int | None = 16, prompt_logprobs: int | None = None,
                 logprobs: int | None = None, detokenize: bool = True, **other: Any) -> None:
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.prompt_logprobs = prompt_logprobs
        self.logprobs = logprobs
        self.detokenize = detokenize
        self.other = other


class TokensPrompt(TypedDict):
    prompt_token_ids: list[int]


@dataclass
class CompletionOutput:
    index: int
    text: str
    token_ids: list[int]
    cumulative_logprob: float | None
    logprobs: Any
    finish_reason: str | None = None


@dataclass
class RequestOutput:
    request_id: str
    prompt: str | None
    prompt_token_ids: list[int]
    prompt_logprobs: list[dict[int, Logprob] | None] | None
    outputs: list[CompletionOutput]
    finished: bool


@dataclass
class LoRARequest:
    lora_name: str
    lora_int_id: int
    lora_path: str = ""


class LLM:
    """`vllm.LLM` for the tiny models: one float32 forward pass per prompt on CPU."""

    created: ClassVar[list["LLM"]] = []

    def __init__(self, model: str, max_model_len: int | None = None, tokenizer: str | None = None, **engine_args: Any) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.engine_args = {"model": model, "max_model_len": max_model_len, **engine_args}
        self.model = AutoModelForCausalLM.from_pretrained(model, dtype=torch.float32).eval()
        self.tokenizer = AutoTokenizer.from_pretrained(tokenizer or model)
        limit = max_model_len or self.model.config.max_position_embeddings
        self.llm_engine = SimpleNamespace(model_config=SimpleNamespace(max_model_len=limit))
        self.sampling_params_seen: list[SamplingParams] = []
        LLM.created.append(self)

    def generate(self, prompts: list[TokensPrompt], sampling_params: Any = None, use_tqdm: bool = True,
                 lora_request: Any = None) -> list[RequestOutput]:
        params = sampling_params if isinstance(sampling_params, list) else [sampling_params or SamplingParams()] * len(prompts)
        self.sampling_params_seen.extend(params)
        return [self._one(str(i), list(p["prompt_token_ids"]), sp) for i, (p, sp) in enumerate(zip(prompts, params, strict=True))]

    def _one(self, request_id: str, ids: list[int], sp: SamplingParams) -> RequestOutput:
        import torch

        limit = self.llm_engine.model_config.max_model_len
        if len(ids) > limit:
            raise ValueError(f"The decoder prompt (length {len(ids)}) is longer than the maximum model length of {limit}.")
        with torch.no_grad():
            logprobs = torch.log_softmax(self.model(torch.tensor([ids])).logits[0].float(), dim=-1)
        prompt_lps: list[dict[int, Logprob] | None] | None = None
        if sp.prompt_logprobs is not None:
            prompt_lps = [None] + [self.position(logprobs[pos - 1], ids[pos], sp.prompt_logprobs, sp.detokenize)
                                   for pos in range(1, len(ids))]
        nxt = int(logprobs[-1].argmax())
        completion = CompletionOutput(0, "", [nxt], float(logprobs[-1, nxt]), None, "length")
        return RequestOutput(request_id, None, ids, prompt_lps, [completion], True)

    def position(self, row: Any, token: int, k: int, detokenize: bool) -> dict[int, Logprob]:
        """One prompt position: the prompt token with its rank, then the top-k (rank 1 = most likely)."""
        def decoded(t: int) -> str | None:
            return self.tokenizer.decode([t]) if detokenize else None

        entry = {token: Logprob(float(row[token]), int((row > row[token]).sum()) + 1, decoded(token))}
        values, indices = row.topk(k) if k > 0 else (row[:0], row[:0].long())
        for rank, (value, t) in enumerate(zip(values.tolist(), indices.tolist()), start=1):
            entry.setdefault(int(t), Logprob(float(value), rank, decoded(int(t))))
        return entry


def get_tokenizer(name: str, *args: Any, tokenizer_mode: str = "auto", trust_remote_code: bool = False,
                  revision: str | None = None, **kwargs: Any) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(name, revision=revision, trust_remote_code=trust_remote_code, **kwargs)


def resolve_hf_chat_template(*args: Any, **kwargs: Any) -> None:
    return None  # the tiny models have no chat template


MODULES = {
    "vllm/__init__.py": "from vllm_standin import LLM, SamplingParams, TokensPrompt, RequestOutput, CompletionOutput\n",
    "vllm/logprobs.py": "from vllm_standin import Logprob\n",
    "vllm/outputs.py": "from vllm_standin import RequestOutput, CompletionOutput\n",
    "vllm/lora/__init__.py": "",
    "vllm/lora/request.py": "from vllm_standin import LoRARequest\n",
    "vllm/tokenizers/__init__.py": "from vllm_standin import get_tokenizer\n",
    "vllm/entrypoints/__init__.py": "",
    "vllm/entrypoints/chat_utils.py": "from vllm_standin import resolve_hf_chat_template\n",
}


def install(root: Path) -> None:
    """Write the `vllm` package and its dist-info into `root` (put `root` on sys.path to use it)."""
    for rel, text in MODULES.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    info = root / f"vllm-{VERSION}.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: vllm\nVersion: {VERSION}\n")
