"""The tiny zoo's length-bucketed training step equals one step on the whole corpus padded as one batch."""

from __future__ import annotations

import pytest
import torch

from messplus_core.capture.tiny_zoo import (TinySpec, _accumulate_gradients, _length_buckets, _loss_buckets,
                                            _train_tokenizer, training_pairs, training_text)
from messplus_core.errors import ConfigError


@pytest.fixture(scope="module")
def tokenizer():
    return _train_tokenizer(training_text(), 384)


def test_buckets_cover_every_line_once_shortest_first(tokenizer) -> None:
    corpus = training_pairs()
    buckets = _length_buckets(tokenizer, corpus, 4)
    assert sorted(i for b in buckets for i in b) == list(range(len(corpus))) and len(buckets) == 4
    longest = [max(len(tokenizer(f"{corpus[i][0]} {corpus[i][1]}</s>")["input_ids"]) for i in b) for b in buckets]
    assert longest == sorted(longest) and longest[0] < longest[-1]


def test_bucketed_step_has_the_one_batch_loss_and_gradient(tokenizer) -> None:
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                                         num_key_value_heads=2, intermediate_size=64, max_position_embeddings=256,
                                         pad_token_id=tokenizer.pad_token_id, tie_word_embeddings=False))
    corpus = training_pairs()
    results = []
    for n in (1, 4):
        model.zero_grad()
        loss = _accumulate_gradients(model, _loss_buckets(tokenizer, corpus, n))
        results.append((loss, [p.grad.clone() for p in model.parameters()]))
    (one_loss, one_grads), (four_loss, four_grads) = results
    assert four_loss == pytest.approx(one_loss, rel=1e-5)
    for a, b in zip(one_grads, four_grads):
        torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-6)


def test_train_buckets_must_be_positive() -> None:
    spec = {"hidden_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 128, "train_steps": 1}
    assert TinySpec.from_mapping("m", spec).train_buckets == 4
    with pytest.raises(ConfigError, match="train_buckets must be at least 1"):
        TinySpec.from_mapping("m", spec | {"train_buckets": 0})
