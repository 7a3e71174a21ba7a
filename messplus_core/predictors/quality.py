"""How well a satisfaction predictor ranks requests: ROC AUC on labels it had not yet learned."""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata


def roc_auc(scores: np.ndarray, labels: np.ndarray, threshold: float = 0.5) -> float:
    """Area under the ROC curve of `scores` for the binary labels `labels >= threshold`.

    The Mann-Whitney form: the probability that a random satisfied example scores above a random
    unsatisfied one, ties counted half (average ranks; Hanley & McNeil 1982). Inputs: (n,) each, labels
    in [0, 1] (graded scores are cut at `threshold`). Returns NaN when one class is absent (AUC undefined).
    """
    scores = np.asarray(scores, dtype=np.float64)
    positive = np.asarray(labels, dtype=np.float64) >= threshold
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if not n_pos or not n_neg:
        return float("nan")
    ranks = rankdata(scores)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
