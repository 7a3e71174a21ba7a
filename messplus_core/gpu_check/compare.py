"""Comparisons of two capture folders of the same zoo and benchmark (pure: files in, figures out).

A capture folder holds `<benchmark>.csv` (labels, energy, time per document
and model) and, per model, the shard `<benchmark>/<category>.shard.jsonl`
with every answer choice's log-likelihood (see `messplus_core.capture`).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from ..capture.shards import read_shard, shard_path


def doc_loglikelihoods(out_dir: Path, benchmark: str, category: str) -> dict[int, list[float]]:
    """Per document, the log-likelihood (nats) of each answer choice, in lm-eval's request order."""
    records = read_shard(shard_path(out_dir, benchmark, category)).records
    return {d: [ll for ll, _ in r.loglikelihoods] for d, r in records.items()}


def argmax_margin(lls: Sequence[float]) -> tuple[int, float]:
    """The chosen answer (argmax, first on ties, as lm-eval's np.argmax) and its lead over the runner-up (nats).

    The margin says how close a document is to flipping: a label that differs
    between two devices on a margin of 1e-6 is float noise, on 1.0 a bug.
    """
    best = max(range(len(lls)), key=lambda i: (lls[i], -i))
    others = [ll for i, ll in enumerate(lls) if i != best]
    return best, (lls[best] - max(others)) if others else math.inf


@dataclass(frozen=True)
class LabelDiff:
    """One document whose label (or chosen answer) differs between captures a and b."""

    doc_id: int
    category: str
    label_a: int
    label_b: int
    choice_a: int
    choice_b: int
    margin_a: float
    margin_b: float


def compare_captures(a: Path, b: Path, benchmark: str, categories: Sequence[str]) -> dict[str, Any]:
    """Labels doc for doc, chosen answers and log-likelihoods of capture b against capture a.

    Returns `docs` (compared per category), `label_diffs` (LabelDiff dicts),
    `choice_diffs` (documents whose argmax differs, label or not),
    `max_abs_ll_diff` and `mean_abs_ll_diff` (nats, over every request),
    and `missing` (doc_ids present in only one capture, per category).
    """
    frame_a = pd.read_csv(Path(a) / f"{benchmark}.csv").set_index("doc_id")
    frame_b = pd.read_csv(Path(b) / f"{benchmark}.csv").set_index("doc_id")
    diffs: list[LabelDiff] = []
    missing: dict[str, list[int]] = {}
    abs_diffs: list[float] = []
    choice_diffs = 0
    docs = 0
    for cat in categories:
        lls_a, lls_b = doc_loglikelihoods(a, benchmark, cat), doc_loglikelihoods(b, benchmark, cat)
        shared = sorted(set(lls_a) & set(lls_b) & set(frame_a.index) & set(frame_b.index))
        only = sorted(set(frame_a.index) ^ set(frame_b.index))
        if only:
            missing[cat] = [int(d) for d in only]
        docs = max(docs, len(shared))
        for d in shared:
            (ca, ma), (cb, mb) = argmax_margin(lls_a[d]), argmax_margin(lls_b[d])
            abs_diffs.extend(abs(x - y) for x, y in zip(lls_a[d], lls_b[d]))
            la, lb = int(frame_a.at[d, f"label_{cat}"]), int(frame_b.at[d, f"label_{cat}"])
            choice_diffs += ca != cb
            if la != lb or ca != cb:
                diffs.append(LabelDiff(int(d), cat, la, lb, ca, cb, ma, mb))
    return {
        "docs": docs,
        "label_diffs": [asdict(x) for x in diffs if x.label_a != x.label_b],
        "choice_diffs": choice_diffs,
        "max_abs_ll_diff": max(abs_diffs, default=0.0),
        "mean_abs_ll_diff": math.fsum(abs_diffs) / len(abs_diffs) if abs_diffs else 0.0,
        "missing": missing,
    }


def energy_problems(out_dir: Path, benchmark: str, categories: Sequence[str]) -> list[str]:
    """Rows whose `energy_consumption_<category>` is not finite and > 0 (J), as 'doc_id N (category): value'."""
    frame = pd.read_csv(Path(out_dir) / f"{benchmark}.csv")
    bad = []
    for cat in categories:
        for doc_id, value in zip(frame["doc_id"], frame[f"energy_consumption_{cat}"]):
            if not (math.isfinite(value) and value > 0):
                bad.append(f"doc_id {doc_id} ({cat}): {value}")
    return bad


def energy_sources(out_dir: Path, benchmark: str) -> dict[str, str]:
    """Per category, the manifest's `energy_source` sentence for the benchmark."""
    manifest = json.loads((Path(out_dir) / "manifest.json").read_text(encoding="utf-8"))
    return {m["identity"]["category"]: m["energy_source"] for m in manifest["benchmarks"][benchmark]["models"]}


def labels(out_dir: Path, benchmark: str, category: str) -> dict[int, int]:
    """`label_<category>` per doc_id from the capture's CSV."""
    frame = pd.read_csv(Path(out_dir) / f"{benchmark}.csv")
    return {int(d): int(v) for d, v in zip(frame["doc_id"], frame[f"label_{category}"])}


def label_mismatches(ours: dict[int, int], theirs: dict[int, float]) -> list[int]:
    """doc_ids whose label differs between two label maps, or that only one of them has."""
    return sorted(d for d in set(ours) | set(theirs) if d not in ours or d not in theirs or ours[d] != int(theirs[d]))


def shard_doc_counts(out_dir: Path, benchmark: str, category: str) -> dict[int, int]:
    """How many lines of the shard hold each doc_id (every complete line, duplicates included)."""
    counts: dict[int, int] = {}
    path = shard_path(out_dir, benchmark, category)
    for line in path.read_text(encoding="utf-8").splitlines()[1:]:
        try:
            doc = int(json.loads(line)["doc_id"])
        except (ValueError, KeyError):
            continue  # a torn last line
        counts[doc] = counts.get(doc, 0) + 1
    return counts
