"""Per-request graded scores against hand-computed values, and the benchmark YAML's satisfaction rules."""

import math

import pytest

from messplus_core.core.satisfaction import Satisfaction, bleu1, rouge1
from messplus_core.errors import ConfigError
from messplus_core.specs import BenchmarkSpec


def test_bleu1_exact_match_is_one():
    assert bleu1("Le chat rouge dort.", "Le chat rouge dort.") == pytest.approx(1.0)


def test_bleu1_is_unigram_precision_times_brevity_penalty():
    # sacrebleu's 13a tokenizer splits the final period: reference = [Le, chat, rouge, dort, .] (5 tokens).
    # Hypothesis [Le, chat] (2 tokens): precision 2/2 = 1, brevity penalty exp(1 - 5/2).
    assert bleu1("Le chat", "Le chat rouge dort.") == pytest.approx(math.exp(1 - 5 / 2), abs=1e-4)
    # [Le, chien, rouge, dort, .] vs the same reference: 4 of 5 unigrams match, same length: BP 1.
    assert bleu1("Le chien rouge dort.", "Le chat rouge dort.") == pytest.approx(4 / 5, abs=1e-4)
    # Clipped counts: "le le le" against "le chat": 1 of 3 matches; longer than the reference, so BP 1.
    assert bleu1("le le le", "le chat") == pytest.approx(1 / 3, abs=1e-4)


def test_bleu1_of_an_empty_generation_is_zero():
    assert bleu1("", "Le chat rouge dort.") == 0.0


def test_rouge1_is_the_unigram_f_measure():
    # rouge-score lower-cases and drops punctuation: reference {the, cat, sat, on, the, mat} (6),
    # hypothesis {the, cat, on, mat} (4); overlap 4 -> P = 4/4, R = 4/6, F = 2PR/(P+R) = 0.8.
    assert rouge1("The cat on mat.", "The cat sat on the mat.") == pytest.approx(0.8)
    # Clipped: hypothesis {the, the, the} vs reference {the, cat}: overlap 1, P = 1/3, R = 1/2, F = 0.4.
    assert rouge1("the the the", "the cat") == pytest.approx(0.4)
    assert rouge1("dog", "the cat") == 0.0


def test_benchmark_yaml_declares_graded_and_binary_satisfaction():
    graded = BenchmarkSpec.from_mapping("gen", {"task": "gen_demo", "satisfaction": {"metric": "bleu1", "kind": "graded"}, "alpha": 0.5})
    assert (graded.metric, graded.kind, graded.threshold) == ("bleu1", "graded", None)
    legacy = BenchmarkSpec.from_mapping("arc", {"metric": "acc_norm", "alpha": 0.5})
    assert legacy.satisfaction == Satisfaction("acc_norm", "binary", None)
    thresholded = BenchmarkSpec.from_mapping("gen", {"satisfaction": {"metric": "rouge1", "kind": "binary", "threshold": 0.3}, "alpha": 0.5})
    assert thresholded.threshold == 0.3 and thresholded.kind == "binary"
    assert BenchmarkSpec.from_mapping("gen", {"satisfaction": {"metric": "bleu1"}, "alpha": 0.5}).kind == "graded"


@pytest.mark.parametrize("cfg,message", [
    ({"satisfaction": {"metric": "bleu4"}}, "satisfaction metric must be one of"),
    ({"satisfaction": {"metric": "bleu1", "kind": "binary"}}, "bleu1 is a graded score; use kind: graded, or kind: binary with a threshold"),
    ({"satisfaction": {"metric": "bleu1", "kind": "graded", "threshold": 0.5}}, "a satisfaction threshold turns a graded score"),
    ({"satisfaction": {"metric": "rouge1", "kind": "binary", "threshold": 1.5}}, r"threshold must lie in \(0, 1\]"),
    ({"satisfaction": {"metric": "acc", "kind": "fuzzy"}}, "kind must be binary or graded"),
    ({"metric": "acc", "satisfaction": {"metric": "bleu1"}}, "disagree"),
    ({"satisfaction": {"metric": "bleu1", "scale": 100}}, r"unknown satisfaction key\(s\) \['scale'\]"),
])
def test_bad_satisfaction_is_a_config_error(cfg, message):
    with pytest.raises(ConfigError, match=message):
        BenchmarkSpec.from_mapping("b", {"alpha": 0.5, **cfg})


def test_bleu1_never_exceeds_one():
    # sacrebleu's log-space arithmetic gives 100.00000000000004 for this perfect match; the loader refuses > 1.
    assert bleu1("la maison rouge court", " la maison rouge court") == 1.0
    assert all(0.0 <= bleu1(h, "le livre noir bouge") <= 1.0 for h in ("le livre noir bouge", "le livre", "x y z w v"))
