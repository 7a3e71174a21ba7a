"""backend=vllm's scoring pinned on CPU: lm-eval's VLLM class, run unchanged against a stand-in engine.

The stand-in (`vllm_standin.py`) returns vLLM's documented `prompt_logprobs`
structure filled with the tiny models' real log-probabilities (computed with
transformers), so what these tests pin is the arithmetic between vLLM's
output and the capture's shard: lm-eval's context/continuation tokenisation,
the truncation to `max_model_len - 1` tokens, the continuation slice of
`prompt_logprobs`, the sum and is_greedy, and `make_lm`'s engine arguments.
Reference: lm-eval's own HFLM on the same requests. What stays unverified is
vLLM itself computing those numbers on a GPU (scripts/gpu_check.sh, check 2).
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any, Iterator

import pandas as pd
import pytest
import vllm_standin
from helpers.capture import LIMIT, tiny_zoo
from vllm_standin import Logprob, RequestOutput

from messplus_core.capture.backends import make_lm
from messplus_core.capture.energy import EnergyMeter, EnergySettings
from messplus_core.capture.lm_eval_runner import PerDocumentLM, run_lm_eval
from messplus_core.capture.shards import ShardIdentity, ShardWriter, read_shard, shard_path
from messplus_core.gpu_check.workloads import demo_requests

TOL = 1e-4  # nats; float32 on CPU, padded batches (HFLM) vs one prompt at a time (stand-in)


@pytest.fixture(scope="module")
def vllm_cls(tmp_path_factory: pytest.TempPathFactory, tiny_dir: Path) -> Iterator[Any]:
    """lm-eval's VLLM class, imported against the stand-in; vllm is gone from sys.modules and sys.path afterwards.

    Torch runs on one thread meanwhile (as the tiny zoo's cpu_threads: 1): on
    a busy two-core machine several threads spin-wait and make these tests
    about 15 times slower.
    """
    import torch

    root = tmp_path_factory.mktemp("vllm_standin")
    vllm_standin.install(root)
    mp = pytest.MonkeyPatch()
    mp.syspath_prepend(str(root))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        from lm_eval.models.vllm_causallms import VLLM

        yield VLLM
    finally:
        torch.set_num_threads(threads)
        mp.undo()
        for name in [n for n in sys.modules if n == "vllm" or n.startswith("vllm.") or n == "lm_eval.models.vllm_causallms"]:
            del sys.modules[name]
        importlib.invalidate_caches()
        vllm_standin.LLM.created.clear()


def _output(prompt_logprobs: list[dict[int, Logprob] | None]) -> RequestOutput:
    return RequestOutput("0", None, [], prompt_logprobs, [], True)


def test_the_stand_in_returns_vllms_documented_structure(vllm_cls: Any, tiny_dir: Path) -> None:
    """None first; then the prompt token with its true rank plus the top-k (rank 1 first), k+1 entries at most."""
    model = tiny_zoo().models[0]
    llm = vllm_standin.LLM(model=model.model)
    ids = llm.tokenizer("Question: What color is snow?\nAnswer: white")["input_ids"]
    (out,) = llm.generate([{"prompt_token_ids": ids}], vllm_standin.SamplingParams(prompt_logprobs=3, detokenize=False))
    lps = out.prompt_logprobs
    assert len(lps) == len(ids) and lps[0] is None
    off_top = 0
    for token, entry in zip(ids[1:], lps[1:]):
        assert token in entry and 3 <= len(entry) <= 4
        assert next(iter(entry)) == token  # the prompt token first, as vLLM lists it
        top = min(entry.values(), key=lambda lp: lp.rank)
        assert top.rank == 1 and top.logprob == max(lp.logprob for lp in entry.values())
        assert all(lp.decoded_token is None and lp.logprob <= 0 for lp in entry.values())
        off_top += entry[token].rank > 1
    assert off_top > 0, "the test prompt must have tokens that are not the top-1, or the greedy case goes unchecked"


def test_parse_logprobs_slices_the_continuation_sums_and_checks_greedy(vllm_cls: Any) -> None:
    """Distinct values per position: an off-by-one at the context/continuation boundary changes the sum."""
    tokens = [5, 6, 7, 8, 9]
    lps = [
        None,
        {6: Logprob(-1.0, 1)},
        {7: Logprob(-2.0, 2), 1: Logprob(-0.5, 1)},
        {8: Logprob(-0.25, 1), 3: Logprob(-3.0, 2), 4: Logprob(-4.0, 3)},  # prompt token is the top-1
        {9: Logprob(-1.5, 3), 2: Logprob(-0.1, 1), 4: Logprob(-0.9, 2)},  # prompt token is not the top-1, extra top-k
    ]
    assert vllm_cls._parse_logprobs(tokens, _output(lps), ctxlen=3) == (-1.75, False)
    assert vllm_cls._parse_logprobs(tokens, _output(lps), ctxlen=4) == (-1.5, False)
    assert vllm_cls._parse_logprobs(tokens[:4], _output(lps[:4]), ctxlen=3) == (-0.25, True)
    assert vllm_cls._parse_logprobs(tokens, _output(lps), ctxlen=1) == (-4.75, False)
    # vLLM's FlatLogprobs (VLLM_FLAT_LOGPROBS) gives the first position as an empty dict, not None
    assert vllm_cls._parse_logprobs(tokens, _output([{}, *lps[1:]]), ctxlen=3) == (-1.75, False)


@pytest.mark.parametrize("category", ["small", "medium", "large"])
def test_vllm_backend_scores_demo_requests_as_lm_evals_hflm(vllm_cls: Any, tiny_dir: Path, category: str) -> None:
    from lm_eval.models.huggingface import HFLM

    model = next(m for m in tiny_zoo().models if m.category == category)
    requests = [inst for group in demo_requests(20) for inst in group]
    lm = make_lm(model, model.model, "vllm", "cuda", 16)
    ours = lm.loglikelihood(requests, disable_tqdm=True)
    reference = HFLM(pretrained=model.model, device="cpu", dtype="float32", batch_size=16).loglikelihood(requests, disable_tqdm=True)
    assert len(ours) == len(reference) == 80
    worst = max(abs(a - b) for (a, _), (b, _) in zip(ours, reference))
    assert worst < TOL, f"max |d ll| {worst}"
    assert [g for _, g in ours] == [g for _, g in reference]

    engine = vllm_standin.LLM.created[-1]
    for key, want in {"tensor_parallel_size": 1, "gpu_memory_utilization": 0.05, "max_model_len": 256,
                      "dtype": "float32", "quantization": None, "model": model.model}.items():
        assert engine.engine_args[key] == want, key
    sp = engine.sampling_params_seen[-1]
    assert (sp.prompt_logprobs, sp.temperature, sp.max_tokens, sp.detokenize) == (1, 0, 1, False)


def test_a_context_longer_than_max_model_len_keeps_its_last_tokens(vllm_cls: Any, tiny_dir: Path) -> None:
    """lm-eval keeps the last max_model_len - 1 tokens; the continuation is scored on that window."""
    import torch
    from lm_eval.api.instance import Instance

    model = tiny_zoo().models[-1]
    lm = make_lm(model, model.model, "vllm", "cuda", 16)
    context = " ".join(["Question: Which month comes after May? Answer: June."] * 30) + "\nQuestion: What color is snow?\nAnswer:"
    request = Instance("loglikelihood", {}, (context, " white"), 0, ("demo", 0, 1))
    [(ll, _)] = lm.loglikelihood([request], disable_tqdm=True)

    ctx_enc, cont_enc = lm._encode_pair(context, " white")
    assert len(ctx_enc) + len(cont_enc) > 256
    window = (ctx_enc + cont_enc)[-255:]
    hf = vllm_standin.LLM.created[-1].model
    with torch.no_grad():
        logprobs = torch.log_softmax(hf(torch.tensor([window])).logits[0].float(), dim=-1)
    start = len(window) - len(cont_enc)
    expected = sum(float(logprobs[pos - 1, window[pos]]) for pos in range(start, len(window)))
    assert abs(ll - expected) < TOL


def test_a_capture_unit_with_backend_vllm_labels_every_document_as_hf(
    vllm_cls: Any, tiny_dir: Path, reference_capture: Path, tmp_path: Path
) -> None:
    """lm-eval -> PerDocumentLM -> VLLM -> stand-in: the labels and shard log-likelihoods of the hf CPU capture."""
    frame = pd.read_csv(reference_capture / "demo.csv").set_index("doc_id")
    for model in tiny_zoo().models:
        ident = ShardIdentity("tiny", "demo", "demo", model.category, model.model, "vllm", "cuda")
        writer = ShardWriter(shard_path(tmp_path, "demo", model.category), ident, 10)
        lm = PerDocumentLM(
            load=lambda m=model: make_lm(m, m.model, "vllm", "cuda", 16),
            meter=EnergyMeter((), EnergySettings(fallback="none", watts=None)), writer=writer, label=model.category,
        )
        try:
            outcome = run_lm_eval(lm, "demo", LIMIT)
        finally:
            writer.close()
        labels = {d: int(m["acc"]) for d, m in outcome.metrics.items()}
        assert labels == frame[f"label_{model.category}"].astype(int).to_dict(), model.category
        ours = read_shard(shard_path(tmp_path, "demo", model.category)).records
        theirs = read_shard(shard_path(reference_capture, "demo", model.category)).records
        assert sorted(ours) == sorted(theirs) == list(range(LIMIT))
        for d in ours:
            assert ours[d].request_hash == theirs[d].request_hash
            assert max(abs(a - b) for (a, _), (b, _) in zip(ours[d].loglikelihoods, theirs[d].loglikelihoods)) < TOL
