"""Per-request satisfaction: which score a benchmark's label is, and the graded scores for generated text.

A benchmark declares its satisfaction in its YAML,
`satisfaction: {metric: ..., kind: binary|graded, threshold: optional}`:

- `acc`, `acc_norm`, `exact_match`: lm-eval's own per-sample metrics, 0 or 1
  (multiple-choice and short-answer tasks);
- `bleu1`: sentence-level BLEU-1 of the generated text against the reference,
  from sacrebleu (unigram precision times the brevity penalty, sacrebleu's
  13a tokenisation, `effective_order=True`), divided by 100 so it lies in [0, 1];
- `rouge1`: ROUGE-1 F-measure from rouge-score (Lin 2004; its default
  tokenizer, no stemming), in [0, 1].

lm-eval aggregates BLEU and ROUGE over the whole corpus only, so the two
graded scores are computed here, one request at a time, from the text the
model generated and lm-eval's reference. `kind: graded` makes the score itself
the satisfaction s in [0, 1] (the 2024 MESS+ setting: Q <- max(0, Q + alpha - s));
`kind: binary` with a `threshold` turns a graded score into 1[score >= threshold].
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable, Mapping

#: Per-sample 0/1 metrics that lm-eval computes itself.
LM_EVAL_METRICS = ("acc", "acc_norm", "exact_match")
KINDS = ("binary", "graded")


@lru_cache(maxsize=1)
def _bleu1() -> Any:
    from sacrebleu.metrics import BLEU

    return BLEU(max_ngram_order=1, effective_order=True)


@lru_cache(maxsize=1)
def _rouge1() -> Any:
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rouge1"], use_stemmer=False)


def bleu1(hypothesis: str, reference: str) -> float:
    """Sentence BLEU-1 in [0, 1]: sacrebleu's unigram precision x brevity penalty exp(min(0, 1 - r/h)) / 100.

    sacrebleu computes in log space, so a perfect match can come out as 100.00000000000004: clipped to [0, 1].
    """
    return min(1.0, max(0.0, float(_bleu1().sentence_score(hypothesis, [reference]).score) / 100.0))


def rouge1(hypothesis: str, reference: str) -> float:
    """ROUGE-1 F-measure in [0, 1] (rouge-score, no stemming): 2PR/(P+R) over unigram overlap."""
    return float(_rouge1().score(reference, hypothesis)["rouge1"].fmeasure)


#: Graded scores computed here from (generated text, reference).
GRADED_METRICS: dict[str, Callable[[str, str], float]] = {"bleu1": bleu1, "rouge1": rouge1}


@dataclass(frozen=True)
class Satisfaction:
    """What a benchmark's per-request satisfaction is: a metric, binary or graded, and an optional threshold."""

    metric: str = "acc"
    kind: str = "binary"
    threshold: float | None = None

    @property
    def graded(self) -> bool:
        """True: satisfaction is a score in [0, 1]; False: a 0/1 label."""
        return self.kind == "graded"

    @property
    def computed(self) -> bool:
        """True: scored by this module from the generated text; False: lm-eval's own per-sample metric."""
        return self.metric in GRADED_METRICS

    def score(self, hypothesis: str, reference: str) -> float:
        """This metric's score in [0, 1] of a generated text against its reference (computed metrics only:
        KeyError for lm-eval's own `acc`/`acc_norm`, which come with the capture)."""
        return GRADED_METRICS[self.metric](hypothesis, reference)

    @classmethod
    def from_mapping(cls, where: str, cfg: Mapping[str, Any] | None, legacy_metric: str | None) -> "Satisfaction":
        """From a benchmark's `satisfaction:` block, or from its older `metric:` key (binary then)."""
        from messplus_core.errors import ConfigError

        raw = dict(cfg or {})
        unknown = sorted(set(raw) - {"metric", "kind", "threshold"})
        if unknown:
            raise ConfigError(f"{where}: unknown satisfaction key(s) {unknown}; known: metric, kind, threshold.")
        metric = str(raw.get("metric", legacy_metric or "acc"))
        if legacy_metric is not None and metric != legacy_metric:
            raise ConfigError(f"{where}: `metric: {legacy_metric}` and `satisfaction.metric: {metric}` disagree; keep one.")
        known = (*LM_EVAL_METRICS, *GRADED_METRICS)
        if metric not in known:
            raise ConfigError(f"{where}: satisfaction metric must be one of {list(known)}, got {metric!r}.")
        kind = str(raw.get("kind", "graded" if metric in GRADED_METRICS else "binary"))
        if kind not in KINDS:
            raise ConfigError(f"{where}: satisfaction kind must be binary or graded, got {kind!r}.")
        threshold = raw.get("threshold")
        if threshold is not None:
            threshold = float(threshold)
            if kind != "binary" or metric not in GRADED_METRICS:
                raise ConfigError(f"{where}: a satisfaction threshold turns a graded score ({list(GRADED_METRICS)}) into a "
                                  f"binary label; drop it or set kind: binary with such a metric (got {metric}, {kind}).")
            if not 0.0 < threshold <= 1.0:
                raise ConfigError(f"{where}: satisfaction threshold must lie in (0, 1], got {threshold}.")
        elif kind == "binary" and metric in GRADED_METRICS:
            raise ConfigError(f"{where}: {metric} is a graded score; use kind: graded, or kind: binary with a threshold.")
        return cls(metric=metric, kind=kind, threshold=threshold)
