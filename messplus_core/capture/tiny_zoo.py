"""The tiny zoo: three small Llama models built locally, offline, on first use.

Tests, CI and `make demo` need real causal LMs that load through lm-eval's
`hf` backend without a network. Each tiny model is a Llama-architecture
model of a size given in `conf/model_zoo/tiny.yaml` (`build:`), with a
byte-level BPE tokenizer trained here, and is briefly trained (from a fixed
seed) on the facts that the demo benchmark's easy items ask about and on
a third of the gen_demo translations, so that the bigger models answer more of
them correctly, as a real zoo would. Hard items are not in that text; all
three models answer those near chance.

A build writes into a temporary folder and renames it into place under a
file lock, so concurrent capture jobs (Slurm array tasks) can share one
models folder safely.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Mapping

from tqdm.auto import tqdm

from messplus_core.errors import ConfigError
from messplus_core.util.io import atomic_path, file_lock
from .demo_data import read_demo
from .gen_demo_data import training_pairs as gen_training_pairs


BUILD_FILE = "build.json"
SPECIAL_TOKENS = ["<s>", "</s>", "<pad>"]


@dataclass(frozen=True)
class TinySpec:
    """Architecture and training budget of one tiny model (a `build:` entry of the zoo)."""

    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    intermediate_size: int
    train_steps: int
    vocab_size: int = 384
    learning_rate: float = 1e-3
    seed: int = 1234
    corpus_version: int = 2  # 1: demo facts only; 2: plus gen_demo translations (a model built from 1 is refused)
    train_buckets: int = 4  # length buckets summed into each full-batch step (1: one batch padded to the longest line)

    @classmethod
    def from_mapping(cls, where: str, cfg: Mapping[str, Any]) -> "TinySpec":
        """From a zoo model's `build:` mapping. Raises ConfigError (prefixed with `where`) for unknown or missing
        keys and a hidden_size that is not a multiple of num_attention_heads."""
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(cfg) - known)
        if unknown:
            raise ConfigError(f"{where}: unknown build key(s) {unknown}; known: {sorted(known)}.")
        try:
            spec = cls(**dict(cfg))
        except TypeError as err:
            raise ConfigError(f"{where}: incomplete build spec ({err}).") from err
        if spec.hidden_size % spec.num_attention_heads:
            raise ConfigError(f"{where}: hidden_size must be a multiple of num_attention_heads.")
        if spec.train_buckets < 1:
            raise ConfigError(f"{where}: train_buckets must be at least 1 (got {spec.train_buckets}).")
        return spec


def training_pairs() -> list[tuple[str, str, str]]:
    """The tiny models' training corpus as (prompt, answer, benchmark): each easy demo fact once, as the prompt
    lm-eval shows and its answer (in first-seen order; later demo items that re-ask a fact add nothing), then
    each seen gen_demo sentence as the gen_demo prompt and its translation."""
    mc = list(dict.fromkeys(
        (f"Question: {row['question']}\nAnswer:", row["choices"][row["answer"]], "demo")
        for row in read_demo()
        if row["difficulty"] == "easy"
    ))
    return mc + [(f"English: {src}\nFrench:", tgt, "gen_demo") for src, tgt in gen_training_pairs()]


def training_text() -> list[str]:
    """The training corpus as lines: prompt, a space, answer."""
    return [f"{prompt} {answer}" for prompt, answer, _ in training_pairs()]


def is_built(folder: Path) -> bool:
    """True when `folder` holds a finished build (its build.json; builds land whole, by an atomic move)."""
    return (folder / BUILD_FILE).is_file()


def built_record(folder: Path, spec: TinySpec) -> dict[str, Any] | None:
    """The build record of a tiny model in `folder`, None if not built; an error if built from another spec."""
    if not is_built(folder):
        return None
    record = json.loads((folder / BUILD_FILE).read_text())
    if record["spec"] != asdict(spec):
        raise ConfigError(
            f"tiny model {folder} was built with {record['spec']}, but the zoo now asks for {asdict(spec)}. "
            f"Delete {folder} (and captures made with it) to rebuild, or point MESSPLUS_TINY_DIR elsewhere."
        )
    return record


def ensure_built(folder: Path, spec: TinySpec) -> dict[str, Any]:
    """Build the tiny model into `folder` unless it is there; return its build record."""
    folder = Path(folder)
    if not is_built(folder):
        folder.parent.mkdir(parents=True, exist_ok=True)
        with file_lock(folder.parent / f".{folder.name}.lock"):
            if not is_built(folder):
                shutil.rmtree(folder, ignore_errors=True)  # a build that died before its rename
                _build(folder, spec)
    record = built_record(folder, spec)
    assert record is not None
    return record


def _train_tokenizer(corpus: list[str], vocab_size: int):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(corpus, trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>")


def _build(folder: Path, spec: TinySpec) -> None:
    import torch

    started = time.perf_counter()
    # printed (the capture stage's own lines are printed; its log shows warnings only)
    tqdm.write(f"building tiny model {folder.name} into {folder} (once; trained locally for {spec.train_steps} steps, "
               "about a minute on two cores)")
    corpus = training_text()
    tokenizer = _train_tokenizer(corpus, spec.vocab_size)
    threads = torch.get_num_threads()
    # One thread: the same weights on every machine (no thread-dependent float
    # reductions), and no OpenMP spin-waiting when other jobs share the cores.
    torch.set_num_threads(1)
    try:
        model, loss = _train(tokenizer, training_pairs(), spec)
    finally:
        torch.set_num_threads(threads)

    with atomic_path(folder) as tmp:
        shutil.rmtree(tmp, ignore_errors=True)
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        weights = hashlib.sha256((tmp / "model.safetensors").read_bytes()).hexdigest()
        record = {
            "spec": asdict(spec),
            "parameters": int(sum(p.numel() for p in model.parameters())),
            "final_train_loss": loss,
            "corpus_lines": len(corpus),
            "weights_sha256": weights,
            "build_seconds": round(time.perf_counter() - started, 2),
        }
        (tmp / BUILD_FILE).write_text(json.dumps(record, indent=2))
    tqdm.write(f"built tiny model {folder.name}: {record['parameters']} parameters, loss {loss:.3f}, {record['build_seconds']:.1f} s")


def _train(tokenizer: Any, corpus: list[tuple[str, str, str]], spec: TinySpec) -> tuple[Any, float]:
    """A fresh Llama of the spec's size, trained full-batch on the corpus from the spec's seed.

    The loss is each line's mean answer-token cross-entropy, weighted so that
    each benchmark's lines weigh the same in total: the translations' longer
    answers would otherwise drown the one-word facts. Each step's gradient is
    the whole corpus's, summed over length buckets (`_length_buckets`), each
    padded only to its own longest line: the same full-batch step as one
    padded batch (padding sits after each line, which causal attention never
    reads), for about a third less compute.
    """
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(spec.seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=spec.hidden_size,
        num_hidden_layers=spec.num_hidden_layers,
        num_attention_heads=spec.num_attention_heads,
        num_key_value_heads=spec.num_attention_heads,
        intermediate_size=spec.intermediate_size,
        max_position_embeddings=256,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
    )
    model = LlamaForCausalLM(config)
    buckets = _loss_buckets(tokenizer, corpus, spec.train_buckets)
    optimizer = torch.optim.AdamW(model.parameters(), lr=spec.learning_rate)
    model.train()
    loss = float("nan")
    for _ in tqdm(range(spec.train_steps), desc="training tiny model", unit="step", leave=False):
        loss = _accumulate_gradients(model, buckets)
        optimizer.step()
        optimizer.zero_grad()
    model.eval()
    return model, loss


def _loss_buckets(tokenizer: Any, corpus: list[tuple[str, str, str]], n_buckets: int) -> list[tuple[Any, Any, Any, Any]]:
    """Per length bucket: the padded batch, its answer-only targets (shifted by one), answer tokens per line, line weights.

    A line's weight makes each benchmark's lines weigh the same in total, whatever the bucketing.
    """
    import torch

    groups = [group for _, _, group in corpus]
    weights = [1.0 / (groups.count(g) * len(set(groups))) for g in groups]
    buckets = []
    for rows in _length_buckets(tokenizer, corpus, n_buckets):
        batch, labels = _answer_only_batch(tokenizer, [corpus[i] for i in rows])
        targets = labels[:, 1:]
        answer_tokens = (targets != -100).sum(dim=1).clamp(min=1)
        buckets.append((batch, targets, answer_tokens, torch.tensor([weights[i] for i in rows])))
    return buckets


def _accumulate_gradients(model: Any, buckets: list[tuple[Any, Any, Any, Any]]) -> float:
    """Backpropagate the whole corpus's weighted loss, bucket by bucket (gradients add up); returns that loss."""
    import torch

    total = 0.0
    for batch, targets, answer_tokens, weights in buckets:
        logits = model(**batch).logits[:, :-1]
        token_loss = torch.nn.functional.cross_entropy(logits.transpose(1, 2), targets, ignore_index=-100, reduction="none")
        loss = ((token_loss.sum(dim=1) / answer_tokens) * weights).sum()
        loss.backward()
        total += float(loss.detach())
    return total


def _length_buckets(tokenizer: Any, corpus: list[tuple[str, str, str]], buckets: int) -> list[list[int]]:
    """The corpus's line indices, shortest first, cut into `buckets` groups of (nearly) equal size.

    The corpus mixes one-word facts (about 15 tokens) and translations (up to
    about 35): one batch padded to the longest line computes about 1.7 times
    the real tokens; four buckets bring that to about 1.1.
    """
    lengths = [len(tokenizer(f"{prompt} {answer}</s>")["input_ids"]) for prompt, answer, _ in corpus]
    order = sorted(range(len(corpus)), key=lambda i: (lengths[i], i))
    size = -(-len(order) // buckets)
    return [order[k : k + size] for k in range(0, len(order), size)]


def _answer_only_batch(tokenizer, corpus: list[tuple[str, str, str]]):
    """Tokenised corpus whose loss covers only each line's answer, so the budget goes to the facts.

    No BOS token in front: lm-eval's hf backend feeds these models plain text
    (their tokenizer adds no special tokens), so they train on what they are
    asked. Each line ends with EOS, so generation learns to stop.
    """
    prompts = [prompt for prompt, _, _ in corpus]
    batch = tokenizer([f"{prompt} {answer}</s>" for prompt, answer, _ in corpus], padding=True, return_tensors="pt")
    labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
    for row, prompt in enumerate(prompts):
        labels[row, : len(tokenizer(prompt)["input_ids"])] = -100
    return batch, labels
